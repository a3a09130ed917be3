//! Intent: complaint, question, praise or other, from the tokens and the sentiment of a
//! post, with the cues that fired.
//!
//! The decision, in order (service leads route on it, so it stays explainable):
//!
//! 1. **other** when the post is a report about someone, not by someone in need: no
//!    first- or second-person word and no handle addressed, and a shared link, a
//!    reporting word (`laut`, `berichtet`, `according to`, `says`) or a headline's colon
//!    (`Streik bei der Bahn: …`). A headline about a strike is news; "my train is
//!    cancelled again" is a complaint;
//! 2. **complaint** when the post is negative; or, when it is not positive, when its
//!    service-failure cues ([`crate::service`]: failures, waits, persistence, negated
//!    negatives) weigh −1.4 or more, when it asks for help without asking a question
//!    (`please fix`, `bitte melden Sie sich`), or when it has two service words;
//! 3. **question** when a sentence ends in `?` or a question phrase opens it
//!    (`weiß jemand`, `does anyone know`);
//! 4. **praise** when the post is positive;
//! 5. **other**.
//!
//! Service vocabulary (`Erstattung`, `Kündigung`, `Hotline`, `refund`, `cancel`) is
//! reported as cues either way, so a neutral "Wie bekomme ich eine Erstattung?" is a
//! question that still shows what it is about.

use lauscher_config::ServiceKind;
use lauscher_model::{Intent, IntentDecision, Label, Sentiment};

use crate::sentiment::Analysis;
use lauscher_text::social::Kind;

/// Service cues of these kinds weigh together toward a complaint.
fn tells_a_problem(kind: ServiceKind) -> bool {
    matches!(
        kind,
        ServiceKind::Failure
            | ServiceKind::Waiting
            | ServiceKind::Persistence
            | ServiceKind::Negated
    )
}

/// Problem cues weighing this much (summed) make a post that is not positive a
/// complaint: one clear failure ("lost my luggage", "seit 3 Tagen") does.
const PROBLEM_WEIGHT: f32 = -1.4;

/// Decides the intent of an analysed post with its overall sentiment.
pub fn classify(analysis: &Analysis, sentiment: &Sentiment) -> IntentDecision {
    let (service, ask): (&[&str], &[&[&str]]) = match analysis.lang.and_then(crate::pack::of) {
        Some(p) => (p.service_words, p.ask),
        None => (&[], &[]),
    };
    let words: Vec<&str> = analysis
        .tokens
        .iter()
        .filter(|t| t.is_word())
        .map(|t| t.text.as_str())
        .collect();
    let mut cues: Vec<String> = analysis.service.iter().map(|s| s.cue.clone()).collect();
    let problem: f32 = analysis
        .service
        .iter()
        .filter(|s| tells_a_problem(s.kind))
        .map(|s| s.weight)
        .sum();
    let request = analysis
        .service
        .iter()
        .any(|s| s.kind == ServiceKind::Request);
    let mut service_hits = 0;
    for w in &words {
        if let Some(s) = service.iter().find(|s| w.starts_with(**s))
            && !cues.iter().any(|c: &String| c.ends_with(s))
        {
            cues.push(format!("service: {s}"));
            service_hits += 1;
        }
    }
    let question_mark = analysis
        .tokens
        .iter()
        .any(|t| t.kind == Kind::Punct && t.text == "?");
    let asks = ask
        .iter()
        .find(|p| words.windows(p.len()).any(|w| w == **p))
        .map(|p| p.join(" "));
    let asking = question_mark || asks.is_some();
    let not_positive = sentiment.label != Label::Positive;
    let intent = if let Some(report) = &analysis.report {
        // News about the brand: the author reports, nobody waits for an answer.
        cues.insert(0, report.clone());
        Intent::Other
    } else if sentiment.label == Label::Negative {
        cues.insert(0, "negative sentiment".into());
        Intent::Complaint
    } else if not_positive && problem <= PROBLEM_WEIGHT {
        cues.insert(0, "service failure".into());
        Intent::Complaint
    } else if not_positive && ((request && !asking) || service_hits >= 2) {
        cues.insert(
            0,
            if request && !asking {
                "request for help".into()
            } else {
                "service words".into()
            },
        );
        Intent::Complaint
    } else if asking {
        cues.insert(
            0,
            asks.map_or_else(|| "question mark".into(), |a| format!("asks: {a}")),
        );
        Intent::Question
    } else if sentiment.label == Label::Positive {
        cues.insert(0, "positive sentiment".into());
        Intent::Praise
    } else {
        Intent::Other
    };
    IntentDecision { intent, cues }
}
