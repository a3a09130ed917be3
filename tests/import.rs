//! `lauscher import` of JSON Lines.

use crate::util::Dir;

#[test]
fn import_indexes_valid_lines_and_reports_bad_ones_by_line_number() {
    let dir = Dir::new();
    dir.write_config("");
    let file = dir.write(
        "posts.jsonl",
        concat!(
            "{\"id\":\"1\",\"text\":\"Acme Bahn app crashes at login\",\"published_at\":\"2026-11-20T10:00:00Z\",\"author\":\"@a\",\"followers\":1200,\"lang\":\"en\"}\n",
            "not json at all\n",
            "\n",
            "{\"url\":\"https://x.example/p/2?utm_source=a\",\"text\":\"Blitzbus war pünktlich und freundlich\",\"published_at\":1763632800}\n",
            "{\"id\":\"3\",\"published_at\":\"2026-11-20T10:00:00Z\"}\n",
            "{\"id\":\"4\",\"text\":\"Acme Bahn app crashes at login\",\"published_at\":\"2026-11-20T10:05:00Z\"}\n",
            "{\"id\":\"5\",\"text\":\"Nothing to see here about weather\",\"published_at\":\"2026-11-20T10:05:00Z\"}\n",
            "{\"id\":\"6\",\"text\":\"Acme\",\"published_at\":\"tomorrow\"}\n",
        ),
    );
    let s = dir.import(&file);
    assert_eq!(s["read"], 7);
    // Line 6 is line 1's text by someone else (no author: the source): a repost.
    assert_eq!(s["indexed"], 3, "{s}");
    assert_eq!(s["duplicates"], 0, "{s}");
    assert_eq!(s["unmatched"], 1);
    assert_eq!(s["rejected"], 3);
    let lines: Vec<u64> = s["rejected_lines"]
        .as_array()
        .expect("lines")
        .iter()
        .filter_map(|r| r["line"].as_u64())
        .collect();
    assert_eq!(lines, [2, 5, 8]);
    let page = dir.search(&["crash"]);
    // Newest first: the repost (line 6), then its original.
    assert_eq!(page["hits"][1]["author"], "@a");
    assert_eq!(page["hits"][1]["author_reach"], 1200);
    assert_eq!(page["hits"][0]["repost_of"], page["hits"][1]["id"]);
    assert_eq!(
        dir.search(&["blitzbus"])["hits"][0]["url"],
        "https://x.example/p/2"
    );
    // Importing again adds nothing.
    let s = dir.import(&file);
    assert_eq!(s["indexed"], 0);
    assert_eq!(dir.total(&[]), 3);
}

/// A shitstorm is many people posting the same words: each is a mention. The same
/// author posting the same text again is not.
#[test]
fn the_same_complaint_by_other_authors_and_their_retweets_are_mentions() {
    let dir = Dir::new();
    dir.write_config("");
    let complaint = "Acme Bahn app crashes at login again, third time today";
    let line = |id: &str, author: &str, text: &str, extra: &str| {
        format!(
            "{{\"id\":\"{id}\",\"text\":\"{text}\",\"author\":\"{author}\",\"published_at\":\"2026-11-20T10:0{}:00Z\",\"lang\":\"en\"{extra}}}\n",
            id.len() % 10
        )
    };
    let file = dir.write(
        "storm.jsonl",
        &[
            line("1", "@a", complaint, ""),
            line("22", "@b", complaint, ""),
            line("333", "@c", &format!("RT @a: {complaint}"), ""),
            line("4444", "@a", complaint, ""),
            line("55555", "@d", "Acme Bahn: so true", ",\"repost_of\":\"1\""),
        ]
        .concat(),
    );
    let s = dir.import(&file);
    assert_eq!(s["indexed"], 4, "{s}");
    assert_eq!(s["duplicates"], 1, "@a's second copy is a duplicate: {s}");
    let page = dir.search(&["login"]);
    let hits = page["hits"].as_array().expect("hits");
    let original = hits
        .iter()
        .find(|h| h["author"] == "@a")
        .expect("the original");
    for author in ["@b", "@c"] {
        let repost = hits.iter().find(|h| h["author"] == author).expect(author);
        assert_eq!(repost["repost_of"], original["id"], "{author}: {page}");
    }
    let quote = dir.search(&["true"]);
    assert_eq!(quote["hits"][0]["repost_of"], original["id"], "{quote}");
    let collapsed = dir.search(&["login", "--collapse", "reposts"]);
    assert_eq!(collapsed["total"], 1, "{collapsed}");
    assert_eq!(collapsed["hits"][0]["reposts"], 3, "{collapsed}");
}

/// Posts that matched no topic are not remembered: importing them again with
/// `--keep-all` (or after adding a rule) indexes them.
#[test]
fn unmatched_posts_import_again_with_keep_all() {
    let dir = Dir::new();
    dir.write_config("");
    let file = dir.write(
        "weather.jsonl",
        "{\"id\":\"1\",\"text\":\"Nothing to see here about the weather today\",\"published_at\":\"2026-11-20T10:00:00Z\"}\n",
    );
    let s = dir.import(&file);
    assert_eq!(
        (s["indexed"].as_u64(), s["unmatched"].as_u64()),
        (Some(0), Some(1)),
        "{s}"
    );
    let s = dir.import_with(&file, &["--keep-all"]);
    assert_eq!(s["indexed"], 1, "{s}");
    assert_eq!(s["duplicates"], 0, "{s}");
    assert_eq!(dir.total(&[]), 1);
}

/// `index.retention` deletes mentions published before it when the daemon runs (at
/// start and every hour), and keeps the rest.
#[test]
fn retention_deletes_mentions_older_than_it_keeps() {
    let dir = Dir::new();
    dir.write_config("");
    let config = std::fs::read_to_string(dir.config()).expect("config");
    std::fs::write(
        dir.config(),
        config.replace(
            "  writer_memory: 32MiB\n",
            "  writer_memory: 32MiB\n  retention: 400d\n",
        ),
    )
    .expect("config");
    let old = (chrono::Utc::now() - chrono::Duration::days(500)).to_rfc3339();
    let recent = (chrono::Utc::now() - chrono::Duration::days(10)).to_rfc3339();
    let file = dir.write(
        "posts.jsonl",
        &format!(
            "{{\"id\":\"1\",\"text\":\"Acme Bahn was late again\",\"published_at\":\"{old}\"}}\n\
             {{\"id\":\"2\",\"text\":\"Acme Bahn app crashes at login\",\"published_at\":\"{recent}\"}}\n"
        ),
    );
    dir.import(&file);
    assert_eq!(dir.total(&[]), 2, "import keeps what it is given");
    dir.run_once();
    assert_eq!(dir.total(&[]), 1);
    assert_eq!(dir.total(&["crashes"]), 1);
    // Insight windows reaching past the retention are refused: their counts would be short.
    let out = dir
        .cmd(&[
            "insights",
            "timeline",
            "--since",
            "450d",
            "--interval",
            "1w",
            "--config",
        ])
        .arg(dir.config())
        .arg("--data-dir")
        .arg(dir.data())
        .output()
        .expect("run insights");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("before the retention of 400 days"), "{err}");
}

/// An import killed with SIGKILL after some of its commits loses nothing: importing the
/// file again leaves every post in the index exactly once.
#[test]
fn an_import_killed_midway_completes_on_the_next_run_without_duplicates() {
    let dir = Dir::new();
    dir.write_config("");
    let n = 20_000;
    let file = dir.write("many.jsonl", &numbered_posts(n));
    let mut child = dir
        .cmd(&["import", "--json", "--config"])
        .arg(dir.config())
        .arg("--data-dir")
        .arg(dir.data())
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start import");
    // Killed once its first commit is searchable (commits come every 200 ms here); the
    // index does not exist before it.
    let searchable = || dir.try_total().unwrap_or(0);
    let started = std::time::Instant::now();
    let mut finished = false;
    while searchable() == 0 {
        if child.try_wait().expect("import status").is_some() {
            finished = true;
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "no commit within 2 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let committed = dir.total(&[]);
    assert!(
        finished || committed < n as u64,
        "killed before the end: {committed}"
    );
    let s = dir.import(&file);
    assert_eq!(s["read"], n, "{s}");
    assert_eq!(
        s["indexed"].as_u64().unwrap_or(0) + s["duplicates"].as_u64().unwrap_or(0),
        n as u64,
        "{s}"
    );
    // The seen set is written just after each index commit, so a kill between the two
    // leaves the index one commit ahead: those posts are read again as new and replace
    // their documents by id (tests/crash.rs covers that window on its own). The seen set
    // is never ahead of the index.
    let duplicates = s["duplicates"].as_u64().unwrap_or(u64::MAX);
    assert!(
        duplicates <= committed,
        "what the first run committed ({committed}): {s}"
    );
    assert_eq!(dir.total(&[]), n as u64, "every post once");
}

/// The window a kill can hit between an index commit and its seen rows, opened on
/// purpose: the state store is lost after an import, so the index holds posts the seen
/// set does not know. Importing again replaces them by id: every post is there once.
#[test]
fn an_import_after_its_seen_rows_were_lost_replaces_its_posts_instead_of_adding_them_again() {
    let dir = Dir::new();
    dir.write_config("");
    let n = 300;
    let file = dir.write("many.jsonl", &numbered_posts(n));
    assert_eq!(dir.import(&file)["indexed"], n);
    for f in ["state.db", "state.db-wal", "state.db-shm"] {
        let _ = std::fs::remove_file(dir.data().join(f));
    }
    let s = dir.import(&file);
    assert_eq!(
        (s["indexed"].as_u64(), s["duplicates"].as_u64()),
        (Some(n as u64), Some(0)),
        "{s}"
    );
    assert_eq!(dir.total(&[]), n as u64, "replaced, not added again");
    assert_eq!(dir.import(&file)["duplicates"], n, "and known from now on");
}

/// An import's commits each leave a segment; its last step merges them into one (a
/// smaller index, one segment to read), and every post is found as before.
#[test]
fn an_import_ends_with_its_posts_in_one_segment() {
    let dir = Dir::new();
    dir.write_config("");
    let config = std::fs::read_to_string(dir.config()).expect("read config");
    dir.write(
        "lauscher.yaml",
        &config.replace("index:\n", "index:\n  commit_docs: 1000\n"),
    );
    let n = 5_000;
    let s = dir.import(&dir.write("many.jsonl", &numbered_posts(n)));
    assert_eq!(s["indexed"], n, "{s}");
    let meta = std::fs::read_to_string(dir.data().join("index/meta.json")).expect("meta.json");
    let meta: serde_json::Value = serde_json::from_str(&meta).expect("meta.json is JSON");
    assert_eq!(meta["segments"].as_array().map(Vec::len), Some(1), "{meta}");
    assert_eq!(dir.total(&[]), n as u64);
    let crash = (0..n).filter(|i| i % 8 == 1 || (i / 8) % 8 == 1).count();
    assert_eq!(dir.total(&["crash"]), crash as u64);
}

/// `n` import lines mentioning Acme Bahn with two of eight complaint words each, every
/// post by its own author (near-identical texts are no duplicates then).
fn numbered_posts(n: usize) -> String {
    let words = [
        "late", "crash", "refund", "wifi", "seat", "hotline", "app", "login",
    ];
    (0..n)
        .map(|i| {
            format!(
                "{{\"id\":\"{i}\",\"text\":\"Acme Bahn {} {} post number {i}\",\"author\":\"@u{i}\",\"published_at\":{}}}\n",
                words[i % words.len()],
                words[(i / 8) % words.len()],
                1_763_632_800 + i
            )
        })
        .collect()
}
