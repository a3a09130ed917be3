//! Lexicon-and-rules sentiment for German and English.

use std::collections::HashMap;

use lauscher_model::{Contribution, Label, Sentiment};
use lauscher_text::token::folded_tokens;
use lauscher_text::{Lang, Stemmer};

/// Scales a negated word's valence (VADER's constant).
const NEGATION: f32 = -0.74;
/// Tokens after a negator that it reaches.
const NEGATION_SCOPE: usize = 3;
/// Added per `!` (at most 3) in the direction of the sum.
const EXCLAMATION: f32 = 0.29;
/// Folded phrases of sarcastic thanks; each scores [`SARCASM_VALENCE`].
const SARCASM: &[&str] = &[
    "danke fur nichts",
    "vielen dank fur nichts",
    "thanks for nothing",
    "thank you for nothing",
];
/// The valence of a sarcastic thanks.
const SARCASM_VALENCE: f32 = -2.8;
/// VADER's normalisation constant: score = x / sqrt(x² + α).
const ALPHA: f32 = 15.0;

struct LangLexicon {
    stemmer: Stemmer,
    /// stem → valence
    words: HashMap<String, f32>,
    /// lowercase word → valence, consulted first; a 0 entry blocks a stem collision
    /// (Snowball drops umlauts, so `schon` would otherwise score like `schön`).
    exact: HashMap<String, f32>,
    negators: &'static [&'static str],
    boosters: &'static [&'static str],
    dampeners: &'static [&'static str],
    contrast: &'static [&'static str],
}

/// Scores text in `[-1, 1]` with an explanation of the cues that moved it.
///
/// Per token it costs one stem (cached per thread) and one hash lookup; rules look at
/// most three tokens back.
pub struct SentimentScorer {
    langs: HashMap<Lang, LangLexicon>,
    neutral_band: f32,
}

impl SentimentScorer {
    /// Builds the scorer for `langs` (those without a bundled lexicon score 0).
    pub fn new(langs: &[Lang], neutral_band: f32) -> SentimentScorer {
        let mut map = HashMap::new();
        for &lang in langs {
            let (data, negators, boosters, dampeners, contrast): (
                &str,
                &[&str],
                &[&str],
                &[&str],
                &[&str],
            ) = match lang {
                Lang::De => (
                    include_str!("../lexicon/de.tsv"),
                    &[
                        "nicht", "kein", "keine", "keinen", "keiner", "keinem", "nie", "niemals",
                        "nichts", "ohne",
                    ],
                    &[
                        "sehr",
                        "total",
                        "extrem",
                        "voll",
                        "echt",
                        "mega",
                        "richtig",
                        "absolut",
                        "wirklich",
                        "so",
                        "besonders",
                        "unglaublich",
                    ],
                    &["kaum", "etwas", "bisschen", "ziemlich", "eher", "leicht"],
                    &["aber", "jedoch", "allerdings", "trotzdem", "doch"],
                ),
                Lang::En => (
                    include_str!("../lexicon/en.tsv"),
                    &[
                        "not", "no", "never", "nothing", "dont", "doesnt", "didnt", "isnt",
                        "wasnt", "cant", "wont", "without", "nobody",
                    ],
                    &[
                        "very",
                        "really",
                        "so",
                        "extremely",
                        "totally",
                        "absolutely",
                        "incredibly",
                        "super",
                        "completely",
                    ],
                    &["slightly", "somewhat", "barely", "hardly", "kinda", "bit"],
                    &["but", "however", "though", "yet"],
                ),
                _ => continue,
            };
            let Some(stemmer) = Stemmer::new(lang) else {
                continue;
            };
            let entries: Vec<(&str, f32)> = data
                .lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| {
                    let (w, v) = l.split_once('\t')?;
                    Some((w.trim(), v.trim().parse::<f32>().ok()?))
                })
                .collect();
            let exact = entries
                .iter()
                .map(|(w, v)| (w.to_lowercase(), *v))
                .collect();
            let words = entries
                .iter()
                .filter(|(_, v)| *v != 0.0)
                .map(|(w, v)| (stemmer.stem_lower(w), *v))
                .collect();
            map.insert(
                lang,
                LangLexicon {
                    stemmer,
                    words,
                    exact,
                    negators,
                    boosters,
                    dampeners,
                    contrast,
                },
            );
        }
        SentimentScorer {
            langs: map,
            neutral_band,
        }
    }

    /// Scores `text` in `lang` (`None`: undetermined, only emoji count).
    pub fn score(&self, text: &str, lang: Option<Lang>) -> Sentiment {
        let tokens = folded_tokens(text);
        self.score_tokens(text, &tokens, lang)
    }

    /// Like [`SentimentScorer::score`], over the text's tokens as (folded, surface).
    pub fn score_tokens(
        &self,
        text: &str,
        tokens: &[(String, &str)],
        lang: Option<Lang>,
    ) -> Sentiment {
        let lex = lang.and_then(|l| self.langs.get(&l));
        let mut contributions: Vec<Contribution> = Vec::new();
        let mut sum = 0.0f32;
        if let Some(lex) = lex {
            // Sarcastic thanks ("danke für nichts") flips the thanks; its words are consumed.
            let mut consumed = vec![false; tokens.len()];
            for phrase in SARCASM {
                let words: Vec<&str> = phrase.split(' ').collect();
                for start in 0..tokens.len().saturating_sub(words.len() - 1) {
                    if tokens[start..start + words.len()]
                        .iter()
                        .zip(&words)
                        .all(|((t, _), w)| t == w)
                    {
                        consumed[start..start + words.len()]
                            .iter_mut()
                            .for_each(|c| *c = true);
                        sum += SARCASM_VALENCE;
                        contributions.push(Contribution {
                            cue: format!("sarcasm: {phrase}"),
                            weight: SARCASM_VALENCE,
                        });
                    }
                }
            }
            // Clauses before a contrast word count half, after it one and a half.
            let contrast_at = tokens
                .iter()
                .rposition(|(w, _)| lex.contrast.contains(&w.as_str()));
            for (i, (_, surface)) in tokens.iter().enumerate() {
                if consumed[i] {
                    continue;
                }
                let lower: std::borrow::Cow<'_, str> = if surface
                    .bytes()
                    .any(|b| !b.is_ascii() || b.is_ascii_uppercase())
                {
                    std::borrow::Cow::Owned(surface.to_lowercase())
                } else {
                    std::borrow::Cow::Borrowed(surface)
                };
                let valence = match lex.exact.get(lower.as_ref()) {
                    Some(v) => *v,
                    None => match lex
                        .stemmer
                        .with_stems(&lower, |stem, _| lex.words.get(stem).copied())
                    {
                        Some(v) => v,
                        None => continue,
                    },
                };
                if valence == 0.0 {
                    continue;
                }
                let mut v = valence;
                let mut cue = (*surface).to_owned();
                let window = &tokens[i.saturating_sub(NEGATION_SCOPE)..i];
                if let Some((b, _)) = window
                    .last()
                    .filter(|(w, _)| lex.boosters.contains(&w.as_str()))
                {
                    v *= 1.5;
                    cue = format!("{b} {cue}");
                } else if let Some((d, _)) = window
                    .last()
                    .filter(|(w, _)| lex.dampeners.contains(&w.as_str()))
                {
                    v *= 0.5;
                    cue = format!("{d} {cue}");
                }
                if let Some((n, _)) = window.iter().find(|(w, _)| {
                    is_negator(lex, w, tokens.get(i.saturating_sub(NEGATION_SCOPE)..i))
                }) {
                    v *= NEGATION;
                    cue = format!("{n}… {cue}");
                }
                if surface.chars().count() > 2
                    && surface.chars().all(|c| !c.is_lowercase())
                    && text.chars().any(|c| c.is_lowercase())
                {
                    v *= 1.3;
                    cue.push_str(" (caps)");
                }
                match contrast_at {
                    Some(c) if i < c => v *= 0.5,
                    Some(c) if i > c => v *= 1.5,
                    _ => {}
                }
                sum += v;
                contributions.push(Contribution { cue, weight: v });
            }
        }
        for c in text.chars() {
            let v = emoji_valence(c);
            if v != 0.0 {
                sum += v;
                contributions.push(Contribution {
                    cue: c.to_string(),
                    weight: v,
                });
            }
        }
        if sum != 0.0 {
            let bangs = text.matches('!').count().min(3) as f32;
            if bangs > 0.0 {
                let e = EXCLAMATION * bangs * sum.signum();
                sum += e;
                contributions.push(Contribution {
                    cue: "!".repeat(bangs as usize),
                    weight: e,
                });
            }
        }
        let score = (sum / (sum * sum + ALPHA).sqrt()).clamp(-1.0, 1.0);
        let label = if score > self.neutral_band {
            Label::Positive
        } else if score < -self.neutral_band {
            Label::Negative
        } else {
            Label::Neutral
        };
        contributions.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()));
        Sentiment {
            score,
            label,
            explanation: contributions,
        }
    }
}

fn is_negator(lex: &LangLexicon, word: &str, window: Option<&[(String, &str)]>) -> bool {
    if lex.negators.contains(&word) {
        return true;
    }
    // English "n't" tokenizes as "don" + "t".
    word == "t" && window.is_some_and(|w| w.iter().any(|(p, _)| p.ends_with('n')))
}

fn emoji_valence(c: char) -> f32 {
    match c {
        '😡' | '🤬' | '😠' | '👎' | '💩' | '🙄' => -2.0,
        '😞' | '😢' | '😭' | '😤' | '😩' | '😫' | '☹' | '🙁' | '😒' => -1.5,
        '😍' | '🥰' | '❤' | '💕' | '😻' => 2.5,
        '👍' | '😊' | '🙂' | '😀' | '😃' | '😄' | '🎉' | '👏' | '💪' | '🙏' => {
            1.6
        }
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scorer() -> SentimentScorer {
        SentimentScorer::new(&[Lang::De, Lang::En], 0.05)
    }

    #[test]
    fn labels_clear_cases_in_both_languages() {
        let s = scorer();
        assert_eq!(
            s.score("Der Service war super freundlich, danke!", Some(Lang::De))
                .label,
            Label::Positive
        );
        assert_eq!(
            s.score(
                "Schon wieder Verspätungen, echt ärgerlich 😡",
                Some(Lang::De)
            )
            .label,
            Label::Negative
        );
        assert_eq!(
            s.score("The app keeps crashing, terrible update", Some(Lang::En))
                .label,
            Label::Negative
        );
        assert_eq!(
            s.score("The train leaves at nine", Some(Lang::En)).label,
            Label::Neutral
        );
    }

    #[test]
    fn negation_flips_and_is_explained() {
        let s = scorer();
        let r = s.score("Das war nicht gut", Some(Lang::De));
        assert_eq!(r.label, Label::Negative);
        assert!(
            r.explanation[0].cue.contains("nicht"),
            "{:?}",
            r.explanation
        );
        assert_eq!(
            s.score("This isn't good", Some(Lang::En)).label,
            Label::Negative
        );
    }

    #[test]
    fn sarcastic_thanks_and_umlaut_collisions() {
        let s = scorer();
        assert_eq!(
            s.score(
                "Danke für nichts, Acme Bahn. Anschluss verpasst.",
                Some(Lang::De)
            )
            .label,
            Label::Negative
        );
        assert_eq!(
            s.score("Wagen 7 ist schon wieder gesperrt", Some(Lang::De))
                .label,
            Label::Neutral
        );
    }
}
