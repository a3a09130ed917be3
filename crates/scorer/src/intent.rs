//! Intent: complaint, question, praise or other, from the tokens and the sentiment of a
//! post, with the cues that fired.
//!
//! The decision, in order (service leads route on it, so it stays explainable):
//!
//! 1. **complaint** when the post is negative, or when it carries a persistence cue
//!    (`immer noch`, `seit Tagen`, `still waiting`, `again`) or two service cues and is
//!    not positive;
//! 2. **question** when a sentence ends in `?` or a question phrase opens it
//!    (`weiß jemand`, `does anyone know`);
//! 3. **praise** when the post is positive;
//! 4. **other**.
//!
//! Service vocabulary (`Erstattung`, `Kündigung`, `Hotline`, `refund`, `cancel`) is
//! reported as cues either way, so a neutral "Wie bekomme ich eine Erstattung?" is a
//! question that still shows what it is about.

use lauscher_model::{Intent, IntentDecision, Label, Sentiment};
use lauscher_text::Lang;

use crate::sentiment::Analysis;
use crate::social::Kind;

/// Service words: what people write when they need the service team. Matched on word
/// prefixes (`erstatt` covers `Erstattung`, `erstattet`).
const SERVICE_DE: &[&str] = &[
    "erstatt",
    "rückerstatt",
    "entschädig",
    "kündig",
    "hotline",
    "kundenservice",
    "kundendienst",
    "service",
    "beschwerde",
    "reklamation",
    "störung",
    "ausfall",
    "ausgefallen",
    "verspät",
    "kaputt",
    "defekt",
    "rechnung",
    "abbuchung",
    "abgebucht",
    "lieferung",
    "geliefert",
    "paket",
    "bestellung",
    "vertrag",
    "support",
    "hilfe",
    "erreichbar",
    "warteschleife",
    "fahrgastrecht",
    "anschluss",
    "storn",
    "gutschrift",
    "passwort",
    "login",
    "einloggen",
    "absturz",
    "stürzt",
    "fehler",
    "problem",
];
const SERVICE_EN: &[&str] = &[
    "refund",
    "reimburs",
    "compensat",
    "cancel",
    "hotline",
    "customer",
    "service",
    "support",
    "complain",
    "complaint",
    "outage",
    "broken",
    "delay",
    "charged",
    "overcharg",
    "bill",
    "invoice",
    "deliver",
    "package",
    "parcel",
    "order",
    "contract",
    "subscription",
    "account",
    "password",
    "login",
    "log in",
    "crash",
    "error",
    "bug",
    "issue",
    "problem",
    "fix",
    "help",
    "reply",
    "respond",
    "response",
    "waiting",
    "hold",
];

/// Persistence: the complaint has been going on.
const PERSIST_DE: &[&[&str]] = &[
    &["immer", "noch"],
    &["noch", "immer"],
    &["seit", "tagen"],
    &["seit", "wochen"],
    &["seit", "stunden"],
    &["seit", "monaten"],
    &["schon", "wieder"],
    &["schonwieder"],
    &["wieder", "mal"],
    &["wiedermal"],
    &["keine", "antwort"],
    &["keine", "reaktion"],
    &["nicht", "erreichbar"],
    &["funktioniert", "nicht"],
    &["geht", "nicht"],
    &["warte", "seit"],
];
const PERSIST_EN: &[&[&str]] = &[
    &["still", "waiting"],
    &["still", "no"],
    &["still", "not"],
    &["for", "days"],
    &["for", "weeks"],
    &["for", "hours"],
    &["for", "months"],
    &["again"],
    &["no", "response"],
    &["no", "reply"],
    &["no", "answer"],
    &["not", "working"],
    &["doesn't", "work"],
    &["doesnt", "work"],
    &["on", "hold"],
    &["been", "waiting"],
];

/// Phrases that ask without a question mark.
const ASK_DE: &[&[&str]] = &[
    &["weiß", "jemand"],
    &["weiss", "jemand"],
    &["kann", "mir", "jemand"],
    &["kann", "jemand"],
    &["hat", "jemand"],
    &["wie", "kann", "ich"],
    &["was", "kann", "ich"],
    &["an", "wen", "kann"],
];
const ASK_EN: &[&[&str]] = &[
    &["does", "anyone"],
    &["anyone", "know"],
    &["can", "anyone"],
    &["can", "someone"],
    &["how", "do", "i"],
    &["how", "can", "i"],
    &["who", "do", "i"],
    &["any", "idea"],
];

/// Decides the intent of an analysed post with its overall sentiment.
pub fn classify(analysis: &Analysis, sentiment: &Sentiment) -> IntentDecision {
    let (service, persist, ask): (&[&str], &[&[&str]], &[&[&str]]) = match analysis.lang {
        Some(Lang::De) => (SERVICE_DE, PERSIST_DE, ASK_DE),
        Some(Lang::En) => (SERVICE_EN, PERSIST_EN, ASK_EN),
        _ => (&[], &[], &[]),
    };
    let words: Vec<&str> = analysis
        .tokens
        .iter()
        .filter(|t| t.is_word())
        .map(|t| t.text.as_str())
        .collect();
    let mut cues = Vec::new();
    let mut service_hits = 0;
    for w in &words {
        if let Some(s) = service.iter().find(|s| w.starts_with(**s))
            && !cues.iter().any(|c: &String| c.ends_with(s))
        {
            cues.push(format!("service: {s}"));
            service_hits += 1;
        }
    }
    let persistent: Vec<String> = persist
        .iter()
        .filter(|p| words.windows(p.len()).any(|w| w == **p))
        .map(|p| p.join(" "))
        .collect();
    for p in &persistent {
        cues.push(format!("persistence: {p}"));
    }
    let question_mark = analysis
        .tokens
        .iter()
        .any(|t| t.kind == Kind::Punct && t.text == "?");
    let asks = ask
        .iter()
        .find(|p| words.windows(p.len()).any(|w| w == **p))
        .map(|p| p.join(" "));
    let intent = if sentiment.label == Label::Negative {
        cues.insert(0, "negative sentiment".into());
        Intent::Complaint
    } else if sentiment.label != Label::Positive && (!persistent.is_empty() || service_hits >= 2) {
        Intent::Complaint
    } else if question_mark || asks.is_some() {
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
