//! A kill -9 loses nothing committed, and a restart re-ingests the rest without
//! duplicates.

use wiremock::{MockServer, ResponseTemplate};

use crate::util::{Dir, serve, source};

fn numbered_feed(n: usize) -> ResponseTemplate {
    let items: String = (0..n)
        .map(|i| format!("<item><link>https://k.example/{i}</link><description>Acme Bahn Meldung Nummer {i}: Zug {i} fährt heute von Gleis {i}</description></item>"))
        .collect();
    let body = format!("<rss version=\"2.0\"><channel><title>k</title>{items}</channel></rss>");
    ResponseTemplate::new(200)
        .set_body_raw(body, "application/rss+xml")
        .insert_header("etag", "\"k1\"")
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_after_commit_loses_nothing_and_a_restart_adds_no_duplicates() {
    let server = MockServer::start().await;
    serve(&server, "/feed.xml", numbered_feed(40), None).await;
    let dir = Dir::new();
    dir.write_config(&source("k", &format!("{}/feed.xml", server.uri())));
    tokio::task::spawn_blocking(move || {
        let d = dir.start_daemon();
        d.wait_for("q=", |p| p["total"] == 40);
        d.kill9();
        assert_eq!(dir.total(&[]), 40, "committed mentions survive kill -9");
        dir.run_once();
        dir.run_once();
        assert_eq!(dir.total(&[]), 40, "no duplicates after restarts");
    })
    .await
    .expect("test body");
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_before_commit_replays_on_restart() {
    let server = MockServer::start().await;
    serve(&server, "/feed.xml", numbered_feed(25), None).await;
    let dir = Dir::new();
    // A long commit interval: the daemon is killed with mentions fetched but uncommitted.
    dir.write_config(&source("k", &format!("{}/feed.xml", server.uri())));
    let config = std::fs::read_to_string(dir.config())
        .expect("config")
        .replace("commit_interval: 200ms", "commit_interval: 1h");
    std::fs::write(dir.config(), config).expect("config");
    tokio::task::spawn_blocking(move || {
        let d = dir.start_daemon();
        // Wait until the feed was fetched (the metric counts parsed mentions).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let (_, metrics) = d.get("/metrics");
            if metrics.contains("lauscher_mentions_fetched_total{source=\"k\"} 25") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "feed never fetched:\n{metrics}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        d.kill9();
        // Nothing was committed, and the cursor did not advance: the restart refetches
        // (no 304 short-cut) and indexes everything once.
        dir.run_once();
        assert_eq!(dir.total(&[]), 25);
        dir.run_once();
        assert_eq!(dir.total(&[]), 25);
    })
    .await
    .expect("test body");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_state_write_lost_after_an_index_commit_replays_without_duplicates() {
    let server = MockServer::start().await;
    serve(&server, "/feed.xml", numbered_feed(30), None).await;
    let dir = Dir::new();
    dir.write_config(&source("k", &format!("{}/feed.xml", server.uri())));
    tokio::task::spawn_blocking(move || {
        dir.run_once();
        assert_eq!(dir.total(&[]), 30);
        // The crash window: the index committed, the state store's transaction (cursor,
        // seen set, commit number) never happened.
        for f in ["state.db", "state.db-wal", "state.db-shm"] {
            let _ = std::fs::remove_file(dir.data().join(f));
        }
        let out = dir.run_once();
        assert!(String::from_utf8_lossy(&out.stderr).contains("index and state store disagree"));
        assert_eq!(
            dir.total(&[]),
            30,
            "the replay replaced documents instead of duplicating them"
        );
        dir.run_once();
        assert_eq!(dir.total(&[]), 30);
    })
    .await
    .expect("test body");
}
