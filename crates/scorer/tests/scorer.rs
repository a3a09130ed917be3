//! The scorer through its public interface: a regression file of tricky posts we wrote,
//! target sentiment through topic rules, and properties on arbitrary input.

use lauscher_model::{Author, Intent, Label, Mention, MentionId};
use lauscher_rules::{Config, RuleSet};
use lauscher_scorer::Scorer;
use lauscher_scorer::eval::read_labeled;
use lauscher_text::{Fingerprint, Lang};
use proptest::prelude::*;

fn config() -> Config {
    Config::from_str_named("version: 1\nlanguages: [de, en]\n", "test", &|_| None)
        .expect("valid config")
}

#[test]
fn regression_posts_keep_their_labels_and_intents() {
    let data = include_str!("regression.tsv");
    let (posts, skipped) = read_labeled(data.as_bytes()).expect("readable");
    assert!(skipped.is_empty(), "{skipped:?}");
    let intents: Vec<&str> = data
        .lines()
        .skip(1)
        .map(|l| l.split('\t').nth(3).unwrap_or(""))
        .collect();
    let scorer = Scorer::new(&config());
    let mut failures = Vec::new();
    for (post, want_intent) in posts.iter().zip(intents) {
        let lang: Lang = post.lang.parse().expect("lang");
        let s = scorer.score_text(&post.text, Some(lang), None);
        if s.sentiment.label != post.label || s.intent.intent.as_str() != want_intent {
            failures.push(format!(
                "{} {:?}: want {}/{want_intent}, got {}/{} ({:+.2}) {:?} {:?}",
                post.id,
                post.text,
                post.label,
                s.sentiment.label,
                s.intent.intent,
                s.sentiment.score,
                s.sentiment.explanation,
                s.intent.cues
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn mention(text: &str) -> Mention {
    Mention {
        id: MentionId(1),
        source: "test".into(),
        url: None,
        author: Some(Author {
            name: "kunde".into(),
            reach: None,
        }),
        published_at: chrono::Utc::now(),
        fetched_at: chrono::Utc::now(),
        title: None,
        text: text.into(),
        lang_hint: Some("de".into()),
        repost_of: None,
    }
}

const RULES: &str = r#"version: 1
rules:
  - id: acme
    kind: brand
    name: Acme
    query: acme
  - id: konkurrent
    kind: competitor
    name: Konkurrent X
    query: '"konkurrent x"'
"#;

#[test]
fn each_topic_gets_the_sentiment_of_its_own_clauses() {
    let rules = RuleSet::from_texts(&[("t.yaml".into(), RULES.into())], &[Lang::De, Lang::En])
        .expect("rules");
    let scorer = Scorer::new(&config());
    let text = "Konkurrent X ist mies, wechsle zu Acme";
    let m = scorer.score(mention(text), &Fingerprint::of(text), &rules);
    let target = |id: &str| {
        m.targets
            .iter()
            .find(|t| t.topic == id)
            .unwrap_or_else(|| panic!("no target {id}: {:?}", m.targets))
    };
    assert_eq!(target("konkurrent").label, Label::Negative);
    assert_eq!(
        target("acme").label,
        Label::Positive,
        "{:?}",
        target("acme")
    );
    assert!(
        target("acme").explanation[0]
            .cue
            .starts_with("switching to")
    );

    // Separate sentences: each topic its own.
    let text = "Acme war heute super pünktlich. Konkurrent X hatte wieder Verspätung.";
    let m = scorer.score(mention(text), &Fingerprint::of(text), &rules);
    let acme = m.targets.iter().find(|t| t.topic == "acme").expect("acme");
    let other = m
        .targets
        .iter()
        .find(|t| t.topic == "konkurrent")
        .expect("x");
    assert_eq!(
        (acme.label, other.label),
        (Label::Positive, Label::Negative)
    );
}

#[test]
fn intent_names_its_cues() {
    let scorer = Scorer::new(&config());
    let s = scorer.score_text("Wie bekomme ich eine Erstattung?", Some(Lang::De), None);
    assert_eq!(s.intent.intent, Intent::Question);
    assert!(
        s.intent.cues.iter().any(|c| c == "service: erstatt"),
        "{:?}",
        s.intent.cues
    );
    let s = scorer.score_text("Still waiting for my refund, day 5", Some(Lang::En), None);
    assert_eq!(s.intent.intent, Intent::Complaint, "{s:?}");
    assert!(s.intent.cues.iter().any(|c| c.starts_with("persistence")));
    let s = scorer.score_text("Danke, das Team war großartig", Some(Lang::De), None);
    assert_eq!(s.intent.intent, Intent::Praise);
    let s = scorer.score_text("Neuer Fahrplan ab Dezember", Some(Lang::De), None);
    assert_eq!(s.intent.intent, Intent::Other);
}

#[test]
fn exports_are_decoded_before_scoring() {
    let scorer = Scorer::new(&config());
    let s = scorer.score_text(
        "I can\\u2019t wait &amp; I&#39;m so happy &lt;3",
        Some(Lang::En),
        None,
    );
    assert_eq!(s.sentiment.label, Label::Positive, "{s:?}");
    let s = scorer.score_text("#NeverAgain #WorstServiceEver", Some(Lang::En), None);
    assert_eq!(s.sentiment.label, Label::Negative, "{s:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn scoring_never_panics_and_is_deterministic(text in "\\PC{0,200}", lang in 0..3u8) {
        let scorer = Scorer::new(&config());
        let lang = [Some(Lang::De), Some(Lang::En), None][usize::from(lang)];
        let a = scorer.score_text(&text, lang, None);
        let b = scorer.score_text(&text, lang, None);
        prop_assert!((-1.0..=1.0).contains(&a.sentiment.score));
        prop_assert_eq!(a.sentiment, b.sentiment);
        prop_assert_eq!(a.intent, b.intent);
    }

    #[test]
    fn social_noise_never_panics(text in "([#@:;()<3\\\\u&!?. ]|[a-zäöüß]{1,6}|\\\\u[0-9a-f]{0,4}|&[a-z#0-9]{0,5};?|😡|🙂){0,40}") {
        let scorer = Scorer::new(&config());
        let s = scorer.score_text(&text, Some(Lang::De), None);
        prop_assert!(s.sentiment.score.is_finite());
    }
}
