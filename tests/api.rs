//! The HTTP API of a running daemon.

use wiremock::MockServer;

use crate::util::{Dir, feed, serve, source};

#[tokio::test(flavor = "multi_thread")]
async fn the_api_searches_serves_mentions_health_and_metrics() {
    let server = MockServer::start().await;
    serve(&server, "/feed.xml", feed("feeds/rss2.xml"), None).await;
    let dir = Dir::new();
    dir.write_config(&source("news", &format!("{}/feed.xml", server.uri())));
    tokio::task::spawn_blocking(move || {
        let d = dir.start_daemon();
        assert_eq!(d.get("/healthz").0, 200);
        let page = d.wait_for("q=", |p| p["total"] == 2);
        assert_eq!(d.get("/readyz").0, 200);
        let id = page["hits"][0]["id"].as_str().expect("id").to_owned();
        let filtered = d.get_json(
            "/api/v1/search?q=verspätung&topic=acme&since=2026-11-01&label=negative&lang=de",
        );
        assert_eq!(filtered["total"], 1);
        assert_eq!(d.get_json("/api/v1/search?topic=blitzbus")["total"], 1);
        let m = d.get_json(&format!("/api/v1/mentions/{id}"));
        assert_eq!(m["id"], id.as_str());
        assert!(
            m["explanation"].as_array().is_some_and(|e| !e.is_empty()),
            "{m}"
        );
        let complaints = d.get_json("/api/v1/search?intent=complaint&topic=acme");
        assert_eq!(complaints["total"], 1, "{complaints}");
        let hit = &complaints["hits"][0];
        assert_eq!(hit["intent"], "complaint");
        assert!(
            hit["intent_cues"].as_array().is_some_and(|c| !c.is_empty()),
            "{hit}"
        );
        assert_eq!(hit["targets"][0]["topic"], "acme", "{hit}");
        assert_eq!(hit["targets"][0]["label"], "negative", "{hit}");
        let (status, body) = d.get("/api/v1/search?intent=rant");
        assert_eq!(status, 400);
        assert!(
            body.contains("intent: unknown variant `rant`, expected one of `complaint`"),
            "{body}"
        );
        assert_eq!(
            d.get("/api/v1/mentions/00000000000000000000000000000000").0,
            404
        );
        let (status, body) = d.get("/api/v1/search?since=yesterday-ish");
        assert_eq!(status, 400);
        assert!(body.contains("invalid time"), "{body}");
        assert_eq!(d.get("/api/v1/search?q=(").0, 400);
        assert_eq!(d.get("/api/v1/search?bogus=1").0, 400);
        let (_, metrics) = d.get("/metrics");
        for name in [
            "lauscher_mentions_fetched_total{source=\"news\"} 3",
            "lauscher_mentions_indexed_total{source=\"news\",topic=\"acme\"} 1",
            "lauscher_mentions_unmatched_total{source=\"news\"} 1",
            "lauscher_index_docs 2",
            "lauscher_fetch_duration_seconds_bucket",
            "lauscher_commit_duration_seconds_count",
            "lauscher_queue_depth",
        ] {
            assert!(metrics.contains(name), "missing {name} in:\n{metrics}");
        }
        let (ok, log) = d.terminate();
        assert!(ok, "{log}");
        assert!(log.contains("stopped"), "{log}");
    })
    .await
    .expect("test body");
}
