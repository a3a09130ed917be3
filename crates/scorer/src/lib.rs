//! Analysis of a mention: language, sentiment and topics, each explainable.
//!
//! [`Scorer`] is the one entry point the pipeline calls per mention. Sentiment here is a
//! lexicon-and-rules scorer in the spirit of VADER (negation scope, boosters, contrast,
//! emphasis, emoji), over stems so German inflection matches; topics are whole-word
//! keyword matches.

pub mod sentiment;
pub mod topics;

use lauscher_model::{Mention, ScoredMention};
use lauscher_rules::Config;
use lauscher_text::token::folded_tokens;
use lauscher_text::{Fingerprint, LanguageDetector};

pub use sentiment::SentimentScorer;
pub use topics::TopicMatcher;

/// Language detection, sentiment and topic matching for the configured languages and
/// topics. Build once, share across threads (`&self` only; stemming caches per thread).
pub struct Scorer {
    detector: LanguageDetector,
    sentiment: SentimentScorer,
    topics: TopicMatcher,
}

impl Scorer {
    /// Builds the scorer for `config`'s languages, sentiment settings and topics.
    pub fn new(config: &Config) -> Scorer {
        let langs = config.langs();
        Scorer {
            detector: LanguageDetector::new(&langs),
            sentiment: SentimentScorer::new(&langs, config.sentiment.neutral_band),
            topics: TopicMatcher::new(&config.topics),
        }
    }

    /// Analyses one mention. Title and text are analysed together.
    pub fn score(&self, mention: Mention, fingerprint: &Fingerprint) -> ScoredMention {
        let full = match &mention.title {
            Some(t) if !mention.text.starts_with(t.as_str()) => format!("{t}. {}", mention.text),
            _ => mention.text.clone(),
        };
        let detected = self.detector.detect(&full, mention.lang_hint.as_deref());
        // One tokenisation serves topics and sentiment.
        let tokens = folded_tokens(&full);
        let sentiment = self.sentiment.score_tokens(&full, &tokens, detected.lang());
        let words: Vec<&str> = tokens.iter().map(|(folded, _)| folded.as_str()).collect();
        let (topics, topic_kinds) = self.topics.matches_words(&words);
        ScoredMention {
            lang: detected.code().to_owned(),
            sentiment,
            topics,
            topic_kinds,
            simhash: fingerprint.simhash,
            mention,
        }
    }
}
