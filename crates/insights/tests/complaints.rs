//! Recurring complaints on a generated corpus: a complaint that recurs in four of six
//! weeks ranks recurring, one that appears only this week ranks new, and a phrase that
//! is frequent everywhere ("new app") is not listed at all.

use chrono::{DateTime, Duration, TimeZone, Utc};
use lauscher_index::MentionIndex;
use lauscher_insights::complaints::Phrase;
use lauscher_insights::{Complaints, Filters, Recurrence, complaints};
use lauscher_model::Lang;
use lauscher_model::{Intent, Label, ScoredMention};
use lauscher_query::RuleSet;

const RULES: &str = "version: 1
rules:
  - {id: acme, kind: brand, name: Acme Bahn, query: acme}
";

fn until() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

const VOCAB: [&str; 40] = [
    "window",
    "seat",
    "coffee",
    "station",
    "morning",
    "evening",
    "weekend",
    "ticket",
    "platform",
    "bicycle",
    "luggage",
    "conductor",
    "announcement",
    "tunnel",
    "bridge",
    "river",
    "village",
    "city",
    "airport",
    "holiday",
    "family",
    "office",
    "meeting",
    "school",
    "concert",
    "museum",
    "market",
    "garden",
    "winter",
    "summer",
    "rain",
    "snow",
    "sunshine",
    "lunch",
    "dinner",
    "breakfast",
    "newspaper",
    "podcast",
    "music",
    "friend",
];

/// (hours before `until`, label, text)
fn corpus() -> Vec<(i64, Label, String)> {
    let mut seed: u64 = 42;
    let mut next = move |n: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) % n as u64) as usize
    };
    let mut out = Vec::new();
    // Ten weeks of chatter (six ranked, four more of background), two posts an hour.
    for h in 0..10 * 7 * 24 {
        let w = |next: &mut dyn FnMut(usize) -> usize| VOCAB[next(VOCAB.len())];
        let app = if next(10) < 3 { "the new app " } else { "" };
        let (a, b) = (w(&mut next), w(&mut next));
        out.push((h, Label::Neutral, format!("Acme Bahn {app}today {a} {b}")));
        let (a, b) = (w(&mut next), w(&mut next));
        let app = if next(10) < 3 { "the new app " } else { "" };
        out.push((h, Label::Negative, format!("Acme Bahn {app}today {a} {b}")));
    }
    // The recurring complaint: weeks 0, 1, 3 and 5 (week 0 ends at `until`).
    for week in [0, 1, 3, 5] {
        for i in 0..15 {
            let h = week * 168 + 3 + i * 10;
            let a = VOCAB[(i as usize * 7) % VOCAB.len()];
            out.push((
                h,
                Label::Negative,
                format!("Acme Bahn login fails after update again {a}"),
            ));
        }
    }
    // Fading: in earlier weeks' lists, not this week's (week 1 lists the wifi first).
    for (text, weeks) in [
        ("wifi connection dropped", [1, 2, 4]),
        ("toilet door jammed", [2, 3, 5]),
    ] {
        for week in weeks {
            for i in 0..15 {
                let a = VOCAB[(i as usize * 11) % VOCAB.len()];
                out.push((
                    week * 168 + 7 + i * 10,
                    Label::Negative,
                    format!("Acme Bahn {text} {a}"),
                ));
            }
        }
    }
    // Twelve weeks back, before every background: only the first mention shows it.
    out.push((
        12 * 168,
        Label::Neutral,
        "Acme Bahn login fails after update again".into(),
    ));
    // New this week only.
    for i in 0..12 {
        let a = VOCAB[(i as usize * 3) % VOCAB.len()];
        out.push((
            5 + i * 12,
            Label::Negative,
            format!("Acme Bahn refund form broken {a}"),
        ));
    }
    out
}

/// When the `i`-th post of the corpus, `h` hours back, was published.
fn published(i: usize, h: i64) -> DateTime<Utc> {
    until() - Duration::hours(h) - Duration::minutes(1 + (i % 50) as i64)
}

/// The first post of the corpus with `needle` (and `label`, when given).
fn first_with(needle: &str, label: Option<Label>) -> Option<String> {
    corpus()
        .into_iter()
        .enumerate()
        .filter(|(_, (_, l, text))| text.contains(needle) && label.is_none_or(|w| w == *l))
        .map(|(i, (h, _, _))| published(i, h))
        .min()
        .map(|t| t.to_rfc3339())
}

/// The listed phrase counted on `key`.
fn listed_phrase<'a>(c: &'a Complaints, key: &str) -> &'a Phrase {
    match c.phrases.iter().find(|p| p.key == key) {
        Some(p) => p,
        None => panic!("{key} is not listed"),
    }
}

/// The `i`-th post of the corpus, `h` hours back.
fn mention(i: usize, h: i64, label: Label, text: &str) -> ScoredMention {
    let score = if label == Label::Negative { -0.5 } else { 0.0 };
    lauscher_testkit::scored(i as u128 + 1, text)
        .source("social")
        .url(Some(&format!("https://social.example/p/{i}")))
        .author(&format!("user{}", i % 97), None)
        .at(published(i, h))
        .lang("en")
        .sentiment(score, label)
        .intent(Intent::Other)
        .build()
}

fn index() -> (tempfile::TempDir, MentionIndex) {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = MentionIndex::open(dir.path(), &[Lang::De, Lang::En]).expect("index");
    let mut w = index.writer(64 << 20, 1).expect("writer");
    for (i, (h, label, text)) in corpus().into_iter().enumerate() {
        w.add(&mention(i, h, label, &text), false).expect("add");
    }
    w.commit(0).expect("commit");
    w.close().expect("close");
    index.reload().expect("reload");
    (dir, index)
}

/// A listed phrase is shown as its newest posts write it now: edited posts (the same
/// ids, other texts) show their new words at the next call, though the view keeps the
/// phrases as written of the posts it read.
#[test]
fn the_written_form_follows_edited_posts() {
    let (_dir, index) = index();
    let rules = rules();
    let first =
        complaints(&index, &rules, &this_week(), 20, Recurrence::default()).expect("complaints");
    assert_eq!(listed_phrase(&first, "login fail").phrase, "login fails");
    let mut w = index.writer(64 << 20, 1).expect("writer");
    for (i, (h, label, text)) in corpus().into_iter().enumerate() {
        if h < 168 && text.contains("login fails") {
            let edited = text.replace("login fails", "login failing");
            w.add(&mention(i, h, label, &edited), true)
                .expect("replace");
        }
    }
    w.commit(0).expect("commit");
    w.close().expect("close");
    index.reload().expect("reload");
    let again =
        complaints(&index, &rules, &this_week(), 20, Recurrence::default()).expect("complaints");
    assert_eq!(listed_phrase(&again, "login fail").phrase, "login failing");
}

fn rules() -> RuleSet {
    RuleSet::from_texts(&[("t.yaml".into(), RULES.into())], &[Lang::De, Lang::En]).expect("rules")
}

/// The brand's last week.
fn this_week() -> Filters {
    Filters {
        topics: vec!["acme".into()],
        since: until() - Duration::weeks(1),
        until: until(),
        ..Filters::default()
    }
}

#[test]
fn recurring_new_and_everywhere_phrases_are_told_apart() {
    let (_dir, index) = index();
    let rules = rules();
    let filters = this_week();
    let c = complaints(&index, &rules, &filters, 20, Recurrence::default()).expect("complaints");
    let listed: Vec<(&str, &str)> = c
        .phrases
        .iter()
        .map(|p| (p.phrase.as_str(), p.status.as_str()))
        .collect();
    let status = |needle: &str| {
        c.phrases
            .iter()
            .find(|p| p.key == needle || p.variants.iter().any(|v| v == needle))
            .map(|p| p.status.as_str())
    };
    assert_eq!(status("login fail"), Some("recurring"), "{listed:?}");
    assert_eq!(status("refund form"), Some("new"), "{listed:?}");
    assert!(
        !c.phrases.iter().any(|p| p.phrase.contains("app")),
        "\"new app\" is everywhere, never a complaint: {listed:?}"
    );
    assert!(
        !c.phrases.iter().any(|p| p
            .phrase
            .split(' ')
            .any(|w| w == "acm" || w == "acme" || w == "bahn")),
        "the brand's name is no complaint: {listed:?}"
    );
    let login = listed_phrase(&c, "login fail");
    assert_eq!(login.phrase, "login fails", "shown as people write it");
    assert_eq!(login.count, 15);
    assert_eq!(login.weekly, [15, 0, 15, 0, 15, 15], "oldest week first");
    assert_eq!(login.samples.len(), 3);
    assert!(login.samples.iter().all(|s| s.text.contains("login fails")));
    assert_eq!(
        login.first_seen,
        first_with("login fails", None),
        "first seen as far as the index goes back, before every background"
    );
    let refund = listed_phrase(&c, "refund form");
    assert_eq!(refund.first_seen, first_with("refund form", None));
    let page = index
        .search(&login.search.request(), Some(&rules))
        .expect("search");
    assert_eq!(
        page.total as u64, login.count,
        "the phrase's search lists its mentions"
    );
    assert!(c.recurring.contains(&"login fails".to_owned()));
    // Chatter words that come and go by chance are not complaints.
    for p in &c.phrases {
        assert!(
            [
                "login", "fail", "updat", "again", "refund", "form", "broken"
            ]
            .iter()
            .any(|w| p.phrase.contains(w)),
            "{listed:?}"
        );
    }
    assert!(c.new.iter().any(|p| p.starts_with("refund")), "{:?}", c.new);
}

/// Fading phrases come in the order their latest week ranked them, and the view
/// answers the same at every call.
#[test]
fn fading_phrases_are_listed_in_a_stable_order() {
    let (_dir, index) = index();
    let rules = rules();
    let filters = this_week();
    let view = || complaints(&index, &rules, &filters, 20, Recurrence::default());
    let c = view().expect("complaints");
    let fading: Vec<&str> = c.fading.iter().map(|p| p.key.as_str()).collect();
    let first = |w: &str| fading.iter().position(|k| k.contains(w));
    let (Some(wifi), Some(toilet)) = (first("wifi"), first("toilet")) else {
        panic!("both fade: {fading:?}");
    };
    assert!(wifi < toilet, "{fading:?}");
    assert!(
        c.fading
            .iter()
            .all(|p| p.status == "fading" && p.count == 0)
    );
    for _ in 0..3 {
        assert_eq!(view().expect("complaints"), c);
    }
}

#[test]
fn first_seen_keeps_to_the_asked_label() {
    let (_dir, index) = index();
    let rules = rules();
    let filters = Filters {
        label: Some(Label::Negative),
        ..this_week()
    };
    let c = complaints(&index, &rules, &filters, 20, Recurrence::default()).expect("complaints");
    let login = listed_phrase(&c, "login fail");
    assert_eq!(
        login.first_seen,
        first_with("login fails", Some(Label::Negative)),
        "the neutral mention twelve weeks back is no negative one"
    );
    assert_ne!(login.first_seen, first_with("login fails", None));
}
