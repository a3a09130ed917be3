//! Analysis of a mention: language, sentiment and topics, each explainable.
//!
//! [`Scorer`] is the one entry point the pipeline calls per mention. Sentiment here is a
//! lexicon-and-rules scorer in the spirit of VADER (negation scope, boosters, contrast,
//! emphasis, emoji), over stems so German inflection matches; topics come from the topic
//! rules ([`lauscher_rules::RuleSet`]), matched live.

pub mod sentiment;

use lauscher_model::{Mention, ScoredMention};
use lauscher_rules::{Config, MentionFields, RuleSet};
use lauscher_text::token::folded_tokens;
use lauscher_text::{Fingerprint, LanguageDetector};

pub use sentiment::SentimentScorer;

/// Language detection, sentiment and topic matching for the configured languages.
/// Build once, share across threads (`&self` only; stemming caches per thread).
pub struct Scorer {
    detector: LanguageDetector,
    sentiment: SentimentScorer,
}

impl Scorer {
    /// Builds the scorer for `config`'s languages and sentiment settings.
    pub fn new(config: &Config) -> Scorer {
        let langs = config.langs();
        Scorer {
            detector: LanguageDetector::new(&langs),
            sentiment: SentimentScorer::new(&langs, config.sentiment.neutral_band),
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
        let full = match &mention.title {
            Some(t) if !mention.text.starts_with(t.as_str()) => format!("{t}. {}", mention.text),
            _ => mention.text.clone(),
        };
        let detected = self.detector.detect(&full, mention.lang_hint.as_deref());
        let tokens = folded_tokens(&full);
        let sentiment = self.sentiment.score_tokens(&full, &tokens, detected.lang());
        let matched = rules.topics(&MentionFields::of(&mention, detected.code()));
        let topics = matched.iter().map(|r| r.id.clone()).collect();
        let mut topic_kinds = Vec::new();
        for kind in matched.iter().filter_map(|r| r.kind.topic_kind()) {
            if !topic_kinds.contains(&kind) {
                topic_kinds.push(kind);
            }
        }
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
