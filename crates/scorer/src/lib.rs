//! Analysis of a mention: language, sentiment, intent and topics, each explained.
//!
//! [`Scorer`] is the one entry point the pipeline calls per mention:
//!
//! - [`lauscher_text::social`] decodes and tokenizes social text (entities, escapes,
//!   hashtags, emoji);
//! - [`lexicon`] resolves words to valences (bundled + user lexicons, stems, compounds);
//! - [`sentiment`] applies the rules (negation, boosters, contrast, sarcasm, emphasis);
//! - [`service`] finds service-failure language (lost, cancelled, on hold, seit 3 Tagen);
//! - [`intent`] decides complaint / question / praise / other;
//! - topics come from the topic rules ([`lauscher_query::RuleSet`]), matched live, and
//!   each matched topic gets the sentiment of the clauses that mention it;
//! - [`eval`] measures all of it on labeled posts.

pub mod eval;
pub mod intent;
pub mod lexicon;
pub mod pack;
pub mod sentiment;
pub mod service;

use lauscher_config::Config;
use lauscher_model::Lang;
use lauscher_model::{IntentDecision, Mention, ScoredMention, Sentiment, TargetSentiment};
use lauscher_query::{MentionFields, RuleSet};
use lauscher_text::lang::Detected;
use lauscher_text::{Fingerprint, LanguageDetector};

pub use sentiment::{Analysis, SentimentScorer, TopicWords};

/// The weight of a switch cue for the target.
const SWITCH_WEIGHT: f32 = 2.0;

/// The scorer's knowledge as a phrase vocabulary: lexicon entries and rule words are
/// evaluative, service cues are terms.
pub struct Vocabulary<'a>(pub &'a SentimentScorer);

impl lauscher_text::phrases::PhraseVocabulary for Vocabulary<'_> {
    fn is_evaluative(&self, lang: Lang, word: &str) -> bool {
        self.0.is_evaluative(lang, word)
    }
    fn is_term(&self, lang: Lang, first: &str, second: &str) -> bool {
        self.0.is_service_term(lang, first, second)
    }
}

/// What the scorer says about one text, without topics.
#[derive(Clone, Debug)]
pub struct Scored {
    /// The language used (`und` when undetermined).
    pub lang: Detected,
    /// Overall sentiment.
    pub sentiment: Sentiment,
    /// Intent with its cues.
    pub intent: IntentDecision,
    /// Tokens, clauses and cues, for target sentiment.
    pub analysis: Analysis,
}

/// Language detection, sentiment, intent and topic matching for the configured
/// languages. Build once, share across threads (`&self` only; caches are per thread).
pub struct Scorer {
    detector: LanguageDetector,
    sentiment: SentimentScorer,
}

impl Scorer {
    /// Builds the scorer for `config`'s languages, neutral bands and user lexicons.
    pub fn new(config: &Config) -> Scorer {
        let langs = config.langs();
        Scorer {
            detector: LanguageDetector::new(&langs),
            sentiment: SentimentScorer::new(&langs, &config.sentiment),
        }
    }

    /// Scores `text`: in `lang` when given (a source's declared language is given as a
    /// hint instead), else in the detected language.
    pub fn score_text(&self, text: &str, lang: Option<Lang>, hint: Option<&str>) -> Scored {
        let detected = match lang {
            Some(l) => Detected::Lang {
                lang: l,
                reliable: true,
            },
            None => self.detector.detect(text, hint),
        };
        self.score_detected(text, detected, &TopicWords::default())
    }

    /// Scores `text` in an already detected language, `topics`' words carrying no
    /// sentiment.
    fn score_detected(&self, text: &str, detected: Detected, topics: &TopicWords) -> Scored {
        let analysis = self.sentiment.analyse_about(text, detected.lang(), topics);
        let sentiment = self.sentiment.sentiment(&analysis, None);
        let intent = intent::classify(&analysis, &sentiment);
        Scored {
            lang: detected,
            sentiment,
            intent,
            analysis,
        }
    }

    /// Analyses one mention and tags it with the topic rules of `rules` it matches.
    /// Title and text are scored together; rules see them as separate fields.
    pub fn score(
        &self,
        mention: Mention,
        fingerprint: &Fingerprint,
        rules: &RuleSet,
    ) -> ScoredMention {
        let mut scored = self.analyse(mention, rules, true);
        scored.simhash = fingerprint.simhash;
        scored
    }

    /// What [`score`](Self::score) finds, without the phrases and the SimHash: the
    /// analysis an explanation shows (sentiment and intent with their cues, topics,
    /// per-topic sentiment), for about two thirds of the cost.
    pub fn explain(&self, mention: Mention, rules: &RuleSet) -> ScoredMention {
        self.analyse(mention, rules, false)
    }

    /// The analysis of `mention`, with its phrases when `phrases` is set; SimHash 0.
    fn analyse(&self, mention: Mention, rules: &RuleSet, phrases: bool) -> ScoredMention {
        let full = match &mention.title {
            Some(t) if !mention.text.starts_with(t.as_str()) => format!("{t}. {}", mention.text),
            _ => mention.text.clone(),
        };
        let detected = self.detector.detect(&full, mention.lang_hint.as_deref());
        let code = detected.code();
        let matched = rules.topics(&MentionFields::of(&mention, code));
        // Brand-directed: the words of the matched topics' own rules are names here.
        let mut words = TopicWords::default();
        for r in matched.iter().filter(|r| r.kind.topic_kind().is_some()) {
            for w in r.words() {
                words.add(&w);
            }
        }
        let scored = self.score_detected(&full, detected, &words);
        let lang = scored.lang.lang();
        let vocabulary = Vocabulary(&self.sentiment);
        let mut keys: Vec<String> = Vec::new();
        if phrases {
            let texts = [Some(mention.text.as_str()), mention.title.as_deref()];
            for text in texts.into_iter().flatten() {
                for key in lauscher_text::phrases::phrase_keys(text, lang, &vocabulary) {
                    if keys.len() < lauscher_text::phrases::MAX_PHRASES && !keys.contains(&key) {
                        keys.push(key);
                    }
                }
            }
        }
        let mut topic_kinds = Vec::new();
        for kind in matched.iter().filter_map(|r| r.kind.topic_kind()) {
            if !topic_kinds.contains(&kind) {
                topic_kinds.push(kind);
            }
        }
        let targets = self.targets(&scored, &mention, &matched, rules);
        ScoredMention {
            lang,
            sentiment: scored.sentiment,
            intent: scored.intent,
            topics: matched.iter().map(|r| r.id.clone()).collect(),
            targets,
            topic_kinds,
            phrases: keys,
            simhash: 0,
            mention,
        }
    }

    /// Sentiment toward each matched topic: the sentences that mention it (only its own
    /// clauses where a sentence names other matched topics too), plus a switch cue
    /// (`wechsle zu`, `switching to`). A topic found in no single clause (its rule needs
    /// words from several sentences) gets the post's sentiment.
    fn targets(
        &self,
        scored: &Scored,
        mention: &Mention,
        matched: &[&lauscher_query::Rule],
        rules: &RuleSet,
    ) -> Vec<TargetSentiment> {
        let a = &scored.analysis;
        let code = scored.lang.code();
        let topics: Vec<(usize, &str)> = matched
            .iter()
            .filter(|r| r.kind.topic_kind().is_some())
            .filter_map(|r| rules.position(&r.id).map(|p| (p, r.id.as_str())))
            .collect();
        if topics.is_empty() {
            return Vec::new();
        }
        // mentions[t][c]: whether topic t's rule matches clause c alone. A post of one
        // clause needs no matching: the topic matched it whole.
        let mentions: Vec<Vec<bool>> = topics
            .iter()
            .map(|(p, _)| {
                if a.clauses.len() <= 1 {
                    return vec![true; a.clauses.len()];
                }
                (0..a.clauses.len())
                    .map(|c| {
                        let fields = MentionFields {
                            text: a.clause_text(c),
                            title: None,
                            ..MentionFields::of(mention, code)
                        };
                        rules.matches(*p, &fields)
                    })
                    .collect()
            })
            .collect();
        let sentences = a.sentences();
        let mut out = Vec::new();
        for (t, (_, id)) in topics.iter().enumerate() {
            let mut clauses = Vec::new();
            for s in &sentences {
                if !s.clone().any(|c| mentions[t][c]) {
                    continue;
                }
                let shared = (0..topics.len())
                    .any(|o| o != t && s.clone().any(|c| mentions[o][c] && !mentions[t][c]));
                if shared {
                    clauses.extend(s.clone().filter(|&c| mentions[t][c]));
                } else {
                    clauses.extend(s.clone());
                }
            }
            let mut sentiment = if clauses.is_empty() {
                scored.sentiment.clone()
            } else {
                self.sentiment.sentiment(a, Some(&clauses))
            };
            let switch = clauses.iter().find_map(|&c| {
                a.tokens[a.clauses[c].clone()]
                    .iter()
                    .find(|tok| crate::pack::switches_to(&tok.text))
                    .map(|tok| tok.text.clone())
            });
            if let Some(word) = switch {
                let sum: f32 =
                    sentiment.explanation.iter().map(|c| c.weight).sum::<f32>() + SWITCH_WEIGHT;
                sentiment.explanation.insert(
                    0,
                    lauscher_model::Contribution {
                        cue: format!("switching to: {word}"),
                        weight: SWITCH_WEIGHT,
                    },
                );
                sentiment.score = sentiment::normalise(sum);
                sentiment.label = self.sentiment.label(sentiment.score, scored.lang.lang());
            }
            out.push(TargetSentiment {
                topic: (*id).to_owned(),
                score: sentiment.score,
                label: sentiment.label,
                explanation: sentiment.explanation,
            });
        }
        out
    }
}
