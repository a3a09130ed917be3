//! Phrases written at ingest: the scorer's compound splits join them.

use chrono::{TimeZone, Utc};
use lauscher_index::{MentionIndex, SearchRequest};
use lauscher_model::Lang;
use lauscher_model::{Contribution, Intent, Label, TopicKind};

#[test]
fn compounds_the_scorer_split_are_counted_by_their_parts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = MentionIndex::open(dir.path(), &[Lang::De, Lang::En]).expect("index");
    let mut w = index.writer(32 << 20, 1).expect("writer");
    let at = Utc
        .with_ymd_and_hms(2026, 11, 1, 8, 0, 0)
        .single()
        .unwrap_or_default();
    let m = lauscher_testkit::scored(1, "Schon wieder ein Busausfall @acme https://x.example/p")
        .source("social")
        .url(None)
        .at(at)
        .sentiment(-0.7, Label::Negative)
        .explanation(vec![Contribution {
            cue: "busausfall (compound bus|ausfall)".into(),
            weight: -2.0,
        }])
        .intent(Intent::Other)
        .topics(&[], TopicKind::Brand)
        .build();
    w.add(&m, false).expect("add");
    w.commit(0).expect("commit");
    w.close().expect("close");
    index.reload().expect("reload");
    let r = index
        .aggregate(
            &SearchRequest::default(),
            None,
            serde_json::json!({"p": {"terms": {"field": "phrases", "size": 50}}}),
        )
        .expect("aggregate");
    let phrases: Vec<&str> = r["p"]["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .filter_map(|b| b["key"].as_str())
        .collect();
    for want in ["busausfall", "bus", "ausfall", "bus ausfall"] {
        assert!(phrases.contains(&want), "{want}: {phrases:?}");
    }
    assert!(
        !phrases
            .iter()
            .any(|p| p.contains("acme") || p.contains("example")),
        "no handles or links: {phrases:?}"
    );
}
