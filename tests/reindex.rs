//! `lauscher reindex`: the index rebuilt from its own stored mentions, and a deleted
//! index that does not turn old mentions into duplicates.

use crate::util::{Dir, TOPICS};

const POSTS: &str = concat!(
    "{\"id\":\"1\",\"text\":\"Acme Bahn app crashes at login\",\"published_at\":\"2026-11-20T10:00:00Z\",\"author\":\"@a\",\"followers\":1200,\"lang\":\"en\"}\n",
    "{\"id\":\"2\",\"text\":\"Blitzbus war pünktlich und freundlich\",\"published_at\":\"2026-11-20T11:00:00Z\",\"author\":\"@b\",\"url\":\"https://x.example/p/2\"}\n",
    "{\"id\":\"3\",\"text\":\"Zugspitze im Schnee, herrlich\",\"published_at\":\"2026-11-20T12:00:00Z\",\"reply_to\":\"https://x.example/p/1\"}\n",
    "{\"id\":\"4\",\"text\":\"RT @a: Acme Bahn app crashes at login\",\"published_at\":\"2026-11-20T12:30:00Z\",\"author\":\"@c\"}\n",
);

fn reindex(dir: &Dir) -> serde_json::Value {
    let out = dir
        .cmd(&["reindex", "--json", "--config"])
        .arg(dir.config())
        .arg("--data-dir")
        .arg(dir.data())
        .output()
        .expect("run reindex");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json summary")
}

#[test]
fn reindex_keeps_every_mention_and_tags_it_with_the_current_rules() {
    let dir = Dir::new();
    dir.write_config("");
    let file = dir.write("posts.jsonl", POSTS);
    let s = dir.import_with(&file, &["--keep-all"]);
    assert_eq!(s["indexed"], 4, "{s}");
    let before = dir.search(&[]);

    // A new rule: the mention about the mountain gets a topic only by reindexing.
    dir.write_rules(&format!(
        "{TOPICS}  - id: berge\n    kind: industry\n    name: Berge\n    query: zugspitze\n"
    ));
    assert_eq!(dir.total(&["--topic", "berge"]), 0);
    let r = reindex(&dir);
    assert_eq!(r["mentions"], 4, "{r}");
    assert!(dir.data().join("index.previous").is_dir());

    let after = dir.search(&[]);
    assert_eq!(after["total"], 4);
    for (a, b) in before["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .zip(after["hits"].as_array().expect("hits"))
    {
        for key in [
            "id",
            "text",
            "author",
            "author_reach",
            "url",
            "published_at",
            "lang",
            "repost_of",
            "reply_to",
            "label",
        ] {
            assert_eq!(a[key], b[key], "{key}: {a} vs {b}");
        }
    }
    assert_eq!(dir.total(&["--topic", "berge"]), 1);
    assert_eq!(dir.total(&["--topic", "acme"]), 2);
    // The state store still knows every mention: importing again adds nothing.
    let again = dir.import_with(&file, &["--keep-all"]);
    assert_eq!(again["indexed"], 0, "{again}");
    assert_eq!(again["duplicates"], 4, "{again}");
}

/// Under a running daemon, `lauscher reindex` asks it to rebuild online: the daemon
/// keeps serving, the rebuilt index carries the current rules, and the daemon writes
/// into it afterwards.
#[test]
fn reindex_under_a_running_daemon_rebuilds_online() {
    let dir = Dir::new();
    dir.write_config("");
    let file = dir.write("posts.jsonl", POSTS);
    let s = dir.import_with(&file, &["--keep-all"]);
    assert_eq!(s["indexed"], 4, "{s}");
    dir.write_rules(&format!(
        "{TOPICS}  - id: berge\n    kind: industry\n    name: Berge\n    query: zugspitze\n"
    ));
    let daemon = dir.start_daemon();
    let berge = |d: &crate::util::Daemon| d.get_json("/api/v1/search?topic=berge")["total"].clone();
    assert_eq!(berge(&daemon), 0);
    let out = dir
        .cmd(&["reindex", "--json", "--config"])
        .arg(dir.config())
        .arg("--data-dir")
        .arg(dir.data())
        .arg("--api")
        .arg(&daemon.base)
        .output()
        .expect("run reindex");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("rebuild online"), "{err}");
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(status["state"], "done", "{status}");
    assert_eq!(status["done"], 4, "{status}");
    // The daemon answers from the new index, with the new rule's topic.
    assert_eq!(berge(&daemon), 1);
    assert_eq!(daemon.get_json("/api/v1/search")["total"], 4);
    assert!(dir.data().join("index.previous").is_dir());
    assert!(!dir.data().join("index.reindex").exists());
    // A second rebuild in a row works the same way.
    let (code, body) = daemon.post("/api/v1/index/rebuild", &[], "");
    assert_eq!(code, 202, "{body}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while daemon.get_json("/api/v1/index/rebuild")["state"] == "running" {
        assert!(std::time::Instant::now() < deadline, "rebuild did not end");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(daemon.get_json("/api/v1/index/rebuild")["state"], "done");
    let (ok, log) = daemon.terminate();
    assert!(ok, "{log}");
    assert_eq!(dir.total(&[]), 4);
    assert_eq!(dir.total(&["--topic", "berge"]), 1);
}

#[test]
fn a_deleted_index_is_filled_again_by_the_same_import() {
    let dir = Dir::new();
    dir.write_config("");
    let file = dir.write("posts.jsonl", POSTS);
    assert_eq!(dir.import(&file)["indexed"], 3);
    std::fs::remove_dir_all(dir.data().join("index")).expect("delete index");
    let s = dir.import(&file);
    assert_eq!(s["indexed"], 3, "not duplicates of a lost index: {s}");
    assert_eq!(dir.total(&[]), 3);
}
