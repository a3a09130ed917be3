//! Phrases: the stemmed uni- and bigrams of a post that recurring complaint topics are
//! counted on (`login fails after update` → `login`, `fail`, `updat`, `login fail`),
//! each with the surface form it was written in (`Login`, `fails`, `update`).
//!
//! A complaint topic names a problem, so what only says how the author feels or how
//! strongly never forms a phrase on its own: stop words, question words, and the words a
//! [`PhraseVocabulary`] calls evaluative (the scorer's: every lexicon entry, negators,
//! intensifiers) are dropped as unigrams, and a bigram needs one word that is none of
//! these (`customer service`, `worst service`, but not `really bad`). Service terms the
//! vocabulary knows (`on hold`, `keine Erstattung`) are bigrams even across stop words.
//! German compounds the [`Compounds`] splitter splits count as the whole word and as
//! their parts (`Stellwerksstörung` → `stellwerksstor`, `stellwerk`, `storung`, `stellwerk
//! storung`). Handles, hashtags, URLs, numbers and one-letter tokens never make a phrase.
//! Bigrams join tokens that stand next to each other in the text, so a stopword between
//! two words (`crash *at* login`) makes no bigram of them. At most [`MAX_PHRASES`] per
//! post.
//!
//! Cost: one tokenizer pass, one cached stem per word, for German one compound split per
//! word of six letters or more (see [`crate::compound`]).

use crate::compound::Compounds;
use crate::stem::Stemmer;
use crate::stopwords::is_stopword;
use crate::token::{fold, fold_into, is_url, sigil, tokenize};
use lauscher_model::Lang;
use std::hash::BuildHasher;

/// Most phrases kept per post (unigrams first, in text order).
pub const MAX_PHRASES: usize = 24;

/// Question words: they ask, they name nothing.
fn is_question_word(lower: &str) -> bool {
    // A match compiles to a branch on the length and a few comparisons, where a list
    // compared every word against all 27.
    matches!(
        lower,
        "why"
            | "what"
            | "how"
            | "when"
            | "where"
            | "who"
            | "whom"
            | "whose"
            | "which"
            | "warum"
            | "wieso"
            | "weshalb"
            | "weswegen"
            | "was"
            | "wie"
            | "wann"
            | "wo"
            | "wer"
            | "wen"
            | "wem"
            | "wessen"
            | "welche"
            | "welcher"
            | "welches"
            | "welchen"
            | "woher"
            | "wohin"
    )
}

/// What the phrase extractor must know beyond stop words: which words only evaluate,
/// and which word pairs are service terms. The scorer implements it from its lexicons.
pub trait PhraseVocabulary {
    /// Whether the lowercase `word` of `lang` only evaluates or modifies (a sentiment
    /// entry, a negator, an intensifier): never a phrase on its own.
    fn is_evaluative(&self, lang: Lang, word: &str) -> bool;
    /// Whether the lowercase pair is a service term (`on hold`), kept as a bigram even
    /// when its words are stop words.
    fn is_term(&self, lang: Lang, first: &str, second: &str) -> bool;
}

/// A vocabulary that knows no evaluative words and no terms: stop words only.
pub struct StopWordsOnly;

impl PhraseVocabulary for StopWordsOnly {
    fn is_evaluative(&self, _: Lang, _: &str) -> bool {
        false
    }
    fn is_term(&self, _: Lang, _: &str, _: &str) -> bool {
        false
    }
}

/// One phrase: the stemmed key it is counted on and the form it was written in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhraseForm {
    /// The stemmed key (`cancel flight`).
    pub key: String,
    /// As written (`cancelled flight`; compound parts as their listed words).
    pub surface: String,
}

/// The phrase keys of `text` in `lang` with stop words only (see [`phrase_forms`]).
pub fn phrases(text: &str, lang: Option<Lang>) -> Vec<String> {
    phrase_keys(text, lang, &StopWordsOnly)
}

/// The keys of [`phrase_forms`] without their surface forms: what a mention stores,
/// for about a fifth less than the forms (no copy of each word and pair as written).
pub fn phrase_keys(
    text: &str,
    lang: Option<Lang>,
    vocabulary: &dyn PhraseVocabulary,
) -> Vec<String> {
    extract(text, lang, vocabulary, false)
        .into_iter()
        .map(|p| p.key)
        .collect()
}

/// A word of the post on its way to phrases.
struct Word<'a> {
    position: usize,
    text: &'a str,
    stem: String,
    /// Dropped as a unigram, usable in a bigram beside a strong word.
    weak: bool,
}

/// The phrases of `text` in `lang` with their surface forms (stemmed with `lang`'s
/// Snowball stemmer, stopwords of `lang` and English removed; other languages are
/// folded, not stemmed).
pub fn phrase_forms(
    text: &str,
    lang: Option<Lang>,
    vocabulary: &dyn PhraseVocabulary,
) -> Vec<PhraseForm> {
    extract(text, lang, vocabulary, true)
}

/// The phrases of `text`; with `surfaces` unset, each form's `surface` is left empty
/// (a compound's parts aside, which are few).
fn extract(
    text: &str,
    lang: Option<Lang>,
    vocabulary: &dyn PhraseVocabulary,
    surfaces: bool,
) -> Vec<PhraseForm> {
    let stemmer = lang.and_then(Stemmer::new);
    // Byte ranges of URLs: their tokens (`https`, `example`, `p`) are no phrases.
    let urls: Vec<(usize, usize)> = text
        .split_whitespace()
        .filter(|w| is_url(w))
        .map(|w| {
            // `w` is a slice of `text`: its offset is the distance between the two.
            let start = w.as_ptr() as usize - text.as_ptr() as usize;
            (start, start + w.len())
        })
        .collect();
    // A written form, made only when asked for.
    let written = |make: &dyn Fn() -> String| if surfaces { make() } else { String::new() };
    let stem_of = |w: &str| match &stemmer {
        Some(s) => s.stem(w),
        None => fold(w),
    };
    let mut kept: Vec<Word<'_>> = Vec::new();
    // Service terms across stop words, as (position, key, surface).
    let mut terms: Vec<PhraseForm> = Vec::new();
    // The word before (position, as written); its lowercase form is `before_lower`.
    let mut previous: Option<(usize, &str)> = None;
    // Compound parts, added after the text's own unigrams.
    let mut parts: Vec<PhraseForm> = Vec::new();
    // Buffers reused from word to word: the lowercase word, the one before, the folded
    // word (an ASCII word's folded form is its lowercase one).
    let (mut lower, mut before_lower, mut folded_buf) =
        (String::new(), String::new(), String::new());
    for t in tokenize(text) {
        let noise = sigil(text, t.start).is_some()
            || urls.iter().any(|&(s, e)| t.start >= s && t.end <= e)
            || t.text.chars().count() < 2
            || t.text.chars().all(|c| c.is_ascii_digit());
        if noise {
            previous = None;
            continue;
        }
        let ascii = t.text.is_ascii();
        lower.clear();
        if ascii {
            lower.push_str(t.text);
            lower.make_ascii_lowercase();
        } else {
            lower.push_str(&t.text.to_lowercase());
        }
        if let (Some(l), Some((p, before))) = (lang, previous)
            && p + 1 == t.position
            && vocabulary.is_term(l, &before_lower, &lower)
        {
            terms.push(PhraseForm {
                key: format!("{} {}", stem_of(before), stem_of(t.text)),
                surface: written(&|| format!("{before} {}", t.text)),
            });
        }
        previous = Some((t.position, t.text));
        before_lower.clear();
        before_lower.push_str(&lower);
        let folded: &str = if ascii {
            &lower
        } else {
            folded_buf.clear();
            fold_into(t.text, &mut folded_buf);
            &folded_buf
        };
        let stop = |l| is_stopword(l, &lower) || (!ascii && is_stopword(l, folded));
        if lang.is_some_and(stop) || stop(Lang::En) || is_question_word(&lower) {
            continue;
        }
        // The lowercase word stems as the word (the stemmer lowercases first).
        let stem = match &stemmer {
            Some(s) => s.stem(&lower),
            None => folded.to_owned(),
        };
        if stem.chars().count() < 2 {
            continue;
        }
        let weak = lang.is_some_and(|l| vocabulary.is_evaluative(l, &lower));
        if lang == Some(Lang::De)
            && let Some(split) = Compounds::german().split(&lower)
        {
            let (a, b) = (stem_of(&split.modifier), stem_of(&split.head));
            if a.chars().count() >= 2 && b.chars().count() >= 3 {
                let (sa, sb) = (capitalized(&split.modifier), capitalized(&split.lemma));
                parts.push(PhraseForm {
                    key: format!("{a} {b}"),
                    surface: format!("{sa} {sb}"),
                });
                parts.push(PhraseForm {
                    key: a,
                    surface: sa,
                });
                parts.push(PhraseForm {
                    key: b,
                    surface: sb,
                });
            }
        }
        kept.push(Word {
            position: t.position,
            text: t.text,
            stem,
            weak,
        });
    }
    // The bigrams are made first (from the words' stems, which the unigrams then take
    // over) and added last.
    let mut bigrams: Vec<PhraseForm> = Vec::new();
    for pair in kept.windows(2) {
        let [a, b] = pair else { continue };
        if b.position == a.position + 1 && a.stem != b.stem && !(a.weak && b.weak) {
            bigrams.push(PhraseForm {
                key: format!("{} {}", a.stem, b.stem),
                surface: written(&|| format!("{} {}", a.text, b.text)),
            });
        }
    }
    let mut out: Vec<PhraseForm> = Vec::with_capacity(MAX_PHRASES);
    // A hash per kept key: a new key is compared with the keys of equal hash only.
    let mut hashes: Vec<u64> = Vec::with_capacity(MAX_PHRASES);
    let mut push = |p: PhraseForm, out: &mut Vec<PhraseForm>| {
        if out.len() >= MAX_PHRASES {
            return;
        }
        let h = rustc_hash::FxBuildHasher.hash_one(&p.key);
        let seen = hashes
            .iter()
            .zip(out.iter())
            .any(|(o, kept)| *o == h && kept.key == p.key);
        if !seen {
            hashes.push(h);
            out.push(p);
        }
    };
    for w in kept.into_iter().filter(|w| !w.weak) {
        let surface = written(&|| w.text.to_owned());
        push(
            PhraseForm {
                key: w.stem,
                surface,
            },
            &mut out,
        );
    }
    for t in terms {
        push(t, &mut out);
    }
    for p in parts {
        // A compound's part that only evaluates (`Scheiß|service` → `scheiß`) is dropped.
        let evaluative = lang.is_some_and(|l| {
            !p.key.contains(' ') && vocabulary.is_evaluative(l, &p.surface.to_lowercase())
        });
        if !evaluative {
            push(p, &mut out);
        }
    }
    for p in bigrams {
        push(p, &mut out);
    }
    out
}

/// `störung` → `Störung`: a German noun as it is written.
fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The key near-identical phrases merge on: each word cut to its first 6 letters when
/// it has 7 or more (`verspat`/`verspatung` → `verspa`), so stems Snowball leaves
/// apart (`verspätet`, `Verspätung`) land together.
pub fn merge_key(phrase: &str) -> String {
    phrase
        .split(' ')
        .map(|w| {
            if w.chars().count() >= 7 {
                w.chars().take(6).collect()
            } else {
                w.to_owned()
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stemmed_unigrams_and_adjacent_bigrams_without_noise() {
        let p = phrases(
            "@AcmeBahn App crashes at login again!! #fail https://x.example/p/2 2026",
            Some(Lang::En),
        );
        assert_eq!(
            p,
            ["app", "crash", "login", "again", "app crash", "login again"],
            "{p:?}"
        );
        let q = phrases("App crashing, app crashed", Some(Lang::En));
        assert!(q.contains(&"app crash".to_owned()), "{q:?}");
        let d = phrases("Der Zug ist schon wieder verspätet", Some(Lang::De));
        assert!(d.contains(&"zug".to_owned()), "{d:?}");
        assert!(!d.iter().any(|w| w == "der" || w == "ist"), "{d:?}");
    }

    #[test]
    fn near_identical_phrases_share_a_merge_key() {
        let a = phrases("verspätet", Some(Lang::De));
        let b = phrases("Verspätung", Some(Lang::De));
        assert_eq!(merge_key(&a[0]), merge_key(&b[0]), "{a:?} {b:?}");
        assert_ne!(merge_key("login"), merge_key("logout"));
    }

    #[test]
    fn compounds_count_whole_and_as_parts_in_their_written_form() {
        let p = phrase_forms(
            "Schon wieder eine Stellwerksstörung",
            Some(Lang::De),
            &StopWordsOnly,
        );
        let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
        for want in [
            "stellwerksstor",
            "stellwerk",
            "storung",
            "stellwerk storung",
        ] {
            assert!(keys.contains(&want), "{want}: {keys:?}");
        }
        let part = p.iter().find(|p| p.key == "storung").expect("part");
        assert_eq!(part.surface, "Störung");
        assert!(
            !phrases("Danke fürs schnelle Reagieren", Some(Lang::De))
                .iter()
                .any(|p| p.contains("gier"))
        );
    }

    #[test]
    fn evaluative_and_question_words_make_no_phrase_alone() {
        struct Lex;
        impl PhraseVocabulary for Lex {
            fn is_evaluative(&self, _: Lang, w: &str) -> bool {
                matches!(w, "worst" | "terrible" | "really")
            }
            fn is_term(&self, _: Lang, a: &str, b: &str) -> bool {
                (a, b) == ("on", "hold")
            }
        }
        let p = phrase_forms(
            "Why is this the worst customer service, really terrible. 2 hours on hold",
            Some(Lang::En),
            &Lex,
        );
        let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
        assert!(keys.contains(&"custom servic"), "{keys:?}");
        assert!(keys.contains(&"worst custom"), "{keys:?}");
        assert!(keys.contains(&"on hold"), "{keys:?}");
        for never in ["whi", "worst", "terribl", "realli terribl"] {
            assert!(!keys.contains(&never), "{never}: {keys:?}");
        }
        let forms: Vec<&str> = p.iter().map(|p| p.surface.as_str()).collect();
        assert!(forms.contains(&"customer service"), "{forms:?}");
    }

    #[test]
    fn at_most_24_phrases() {
        let text = (0..100)
            .map(|i| format!("wort{i}x"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(phrases(&text, Some(Lang::De)).len(), MAX_PHRASES);
    }
}
