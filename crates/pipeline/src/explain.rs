//! Explanations of stored mentions, computed when they are shown.
//!
//! The index keeps a mention's score, label, intent and topics as columns but not the
//! cues behind them (index layout 5): stored as JSON they were a fifth of the doc store
//! (0.21 × the raw text on 73k real posts), while analysing one mention again costs
//! about 40 µs ([`Scorer::explain`]: no phrases): a page of 50 hits took 1.5 ms, and
//! 3.4 ms explained (p50, `cargo bench --bench insights`). [`Explainer`] analyses a
//! loaded mention again with the scorer and the topic rules the search used, and fills
//! in its sentiment cues, intent cues and per-topic sentiment.
//!
//! Decision: when the analysis now differs from the stored one (an earlier scorer, a
//! lexicon or topic rules changed since), the stored figures stay what the API shows —
//! they are what every count was made of — and `explanation_note` says what the
//! current analysis gives instead, so the cues never silently explain another score.
//! `lauscher reindex` brings the stored analysis up to date.

use std::sync::Arc;

use lauscher_config::Config;
use lauscher_index::{IndexedMention, SearchPage};
use lauscher_model::ScoredMention;
use lauscher_query::RuleSet;
use lauscher_scorer::Scorer;

/// Fills in the explanations of loaded mentions: one analysis each.
#[derive(Clone)]
pub struct Explainer {
    scorer: Arc<Scorer>,
}

impl Explainer {
    /// Explains with `scorer` (the pipeline's, shared).
    pub fn new(scorer: Arc<Scorer>) -> Explainer {
        Explainer { scorer }
    }

    /// Explains with a scorer built from `config` (its languages and lexicons), where no
    /// pipeline runs (the CLI).
    pub fn for_config(config: &Config) -> Explainer {
        Explainer::new(Arc::new(Scorer::new(config)))
    }

    /// Explains every hit of `page` with `rules` (the set the search ran with, so a
    /// reload between the two cannot mix rule sets).
    pub fn explain_page(&self, page: &mut SearchPage, rules: &RuleSet) {
        for hit in &mut page.hits {
            self.explain(hit, rules);
        }
    }

    /// Fills in `m`'s cues from analysing it again with `rules`; notes where that
    /// analysis differs from the stored one.
    pub fn explain(&self, m: &mut IndexedMention, rules: &RuleSet) {
        let now = self.scorer.explain(m.to_mention(), rules);
        m.explanation_note = difference(m, &now);
        m.explanation = now.sentiment.explanation;
        m.intent_cues = now.intent.cues;
        m.targets = now.targets;
    }
}

/// What the analysis `now` gives that the stored figures of `m` do not, in words; `None`
/// when they agree (the score to the four decimals the index keeps).
fn difference(m: &IndexedMention, now: &ScoredMention) -> Option<String> {
    let mut parts = Vec::new();
    let score = (f64::from(now.sentiment.score) * 10_000.0).round() / 10_000.0;
    if (score - m.sentiment).abs() > 0.000_05 || now.sentiment.label.as_str() != m.label {
        parts.push(format!(
            "sentiment {score:.4} {} (stored {:.4} {})",
            now.sentiment.label.as_str(),
            m.sentiment,
            m.label
        ));
    }
    if now.intent.intent.as_str() != m.intent {
        parts.push(format!(
            "intent {} (stored {})",
            now.intent.intent.as_str(),
            m.intent
        ));
    }
    let (mut a, mut b) = (now.topics.clone(), m.topics.clone());
    a.sort();
    b.sort();
    if a != b {
        parts.push(format!(
            "topics [{}] (stored [{}])",
            a.join(", "),
            b.join(", ")
        ));
    }
    (!parts.is_empty()).then(|| {
        format!(
            "the current scorer and topic rules analyse it differently, and the cues explain \
             their analysis: {}; `lauscher reindex` re-analyses stored mentions",
            parts.join("; ")
        )
    })
}
