//! Explanations are computed when a mention is shown, from the scorer and rules in
//! force, and say so when those analyse it differently from what the index stored.

use std::sync::Arc;

use lauscher_config::Config;
use lauscher_model::{Lang, MentionId};
use lauscher_pipeline::{Batch, Pipeline};
use lauscher_query::{ActiveRules, RuleSet};

fn rule_set(query: &str) -> RuleSet {
    let text = format!(
        "version: 1\nrules:\n  - id: acme\n    kind: brand\n    name: Acme\n    query: {query}\n"
    );
    RuleSet::from_texts(&[("t.yaml".into(), text)], &[Lang::De, Lang::En]).expect("rules")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shown_mention_is_explained_again_and_a_changed_analysis_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::from_str_named(
        "version: 1\nindex:\n  commit_interval: 1h\n",
        "t.yaml",
        &|_| None,
    )
    .expect("config");
    let rules = Arc::new(ActiveRules::new(rule_set("acme")));
    let p = Pipeline::start(&config, dir.path(), rules.clone()).expect("start");
    let text =
        "Acme hat meinen Zug schon wieder gestrichen, einfach furchtbar. Wann fährt der nächste?";
    p.sender()
        .send(Batch {
            source: "s".into(),
            mentions: vec![lauscher_testkit::scored(7, text).build().mention],
            checkpoint: None,
            deletes: Vec::new(),
            keep_all: false,
            ack: None,
        })
        .await
        .expect("send");
    p.flush().await.expect("flush");
    let stored = p.index().get(MentionId(7)).expect("get").expect("indexed");
    // The index keeps the figures, not the cues.
    assert_eq!(stored.label, "negative");
    assert!(stored.explanation.is_empty() && stored.targets.is_empty());

    let mut shown = stored.clone();
    p.explainer().explain(&mut shown, &rules.get());
    assert!(
        shown
            .explanation
            .iter()
            .any(|c| c.cue.contains("furchtbar")),
        "{:?}",
        shown.explanation
    );
    assert_eq!(shown.targets[0].topic, "acme");
    assert_eq!(shown.explanation_note, None, "same scorer and rules");
    assert_eq!(
        (shown.sentiment, &shown.label),
        (stored.sentiment, &stored.label)
    );

    // The rule no longer matches: the cues explain today's analysis, and say so.
    rules.replace(rule_set("blitzbus"));
    let mut shown = stored.clone();
    p.explainer().explain(&mut shown, &rules.get());
    let note = shown.explanation_note.expect("a note");
    assert!(note.contains("topics [] (stored [acme])"), "{note}");
    assert!(note.contains("lauscher reindex"), "{note}");
    assert_eq!(shown.sentiment, stored.sentiment, "the stored figures stay");
    p.shutdown().await.expect("shutdown");
}
