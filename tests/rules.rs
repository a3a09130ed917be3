//! Topic rules: `lauscher check --rules`, retro-search, and reloads without a restart.

use std::process::Command;

use crate::util::{Dir, TOPICS};

const FAILING: &str = r#"version: 1
rules:
  - id: acme
    kind: brand
    name: Acme
    query: '"acme bahn" AND NOT {jobs}'
    examples:
      match:
        - "Acme Bahn ist zu spät"
        - "Acme ist zu spät"
      no_match:
        - "Acme Bahn sucht Azubis (m/w/d)"
  - id: jobs
    kind: pack
    query: 'azubi* OR "m/w/d"'
"#;

/// `lauscher check --rules rules.yaml` in `dir`.
fn check_rules(dir: &Dir) -> std::process::Output {
    dir.cmd(&["check", "--rules", "rules.yaml"])
        .output()
        .expect("run check")
}

#[test]
fn check_runs_examples_and_names_the_deciding_clause() {
    let dir = Dir::new();
    dir.write("rules.yaml", FAILING);
    let out = check_rules(&dir);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "rules.yaml:10:12: rule \"acme\" should match but does not: \"Acme ist zu spät\""
        ),
        "{err}"
    );
    assert!(
        err.contains("decided by rules.yaml:6:13: `\"acme bahn\"` did not match"),
        "{err}"
    );
    assert!(err.contains("1 of 3 examples failed"), "{err}");

    dir.write(
        "rules.yaml",
        &FAILING.replace("        - \"Acme ist zu spät\"\n", ""),
    );
    let out = check_rules(&dir);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("ok (2 rules: 1 topics, 1 packs; 2 examples pass)")
    );
}

#[test]
fn a_broken_query_is_reported_with_a_caret() {
    let dir = Dir::new();
    dir.write(
        "rules.yaml",
        &FAILING.replace(
            "'\"acme bahn\" AND NOT {jobs}'",
            "'\"acme bahn\" AND (NOT {jobs}'",
        ),
    );
    let out = check_rules(&dir);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rules.yaml:6:40: expected ')' to close the '('"),
        "{err}"
    );
    assert!(
        err.contains("6 |     query: '\"acme bahn\" AND (NOT {jobs}'"),
        "{err}"
    );
}

const CORPUS: &str = concat!(
    "{\"id\":\"1\",\"text\":\"Acme Bahn: Zug fällt aus, schon wieder\",\"published_at\":\"2026-11-20T10:00:00Z\",\"lang\":\"de\"}\n",
    "{\"id\":\"2\",\"text\":\"Acme Bahn app crashes at login\",\"published_at\":\"2026-11-20T10:01:00Z\",\"lang\":\"en\"}\n",
    "{\"id\":\"3\",\"text\":\"Blitzbus war pünktlich\",\"published_at\":\"2026-11-20T10:02:00Z\",\"lang\":\"de\"}\n",
    "{\"id\":\"4\",\"text\":\"Der Zug ist verspätet, sagt #AcmeBahn\",\"published_at\":\"2026-11-20T10:03:00Z\",\"lang\":\"de\"}\n",
    "{\"id\":\"5\",\"text\":\"Nothing about trains here\",\"published_at\":\"2026-11-20T10:04:00Z\",\"lang\":\"en\"}\n",
);

fn ids(page: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = page["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn search_by_rule_finds_what_live_matching_tagged_and_new_rules_find_history() {
    let dir = Dir::new();
    dir.write_config("");
    let file = dir.write("posts.jsonl", CORPUS);
    let cmd = |d: &Dir| {
        let mut c = d.cmd(&["import", "--json", "--keep-all", "--config"]);
        c.arg(d.config()).arg("--data-dir").arg(d.data()).arg(&file);
        c
    };
    assert!(cmd(&dir).output().expect("import").status.success());
    // Live tags and retro-search agree for the rule that tagged at ingest.
    assert_eq!(
        ids(&dir.search(&["--topic", "acme"])),
        ids(&dir.search(&["--rule", "acme"]))
    );
    // A rule added later searches the whole history.
    dir.write_rules(&format!(
        "{TOPICS}  - id: delays\n    kind: industry\n    name: Delays\n    query: 'zug NEAR/3 (verspät* OR \"fällt aus\")'\n"
    ));
    assert_eq!(
        ids(&dir.search(&["--rule", "delays"])),
        [
            "Acme Bahn: Zug fällt aus, schon wieder",
            "Der Zug ist verspätet, sagt #AcmeBahn"
        ]
    );
    let out = dir
        .cmd(&["search", "--rule", "nope", "--config"])
        .arg(dir.config())
        .arg("--data-dir")
        .arg(dir.data())
        .output()
        .expect("search");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown rule \"nope\""));
}

fn post(base: &str, path: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let resp = reqwest::Client::new()
            .post(format!("{base}{path}"))
            .send()
            .await
            .expect("api request");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    })
}

fn rule_ids(d: &crate::util::Daemon) -> Vec<String> {
    d.get_json("/api/v1/rules")["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn rules_reload_on_request_and_on_sighup_and_a_broken_set_keeps_the_old_one() {
    let dir = Dir::new();
    dir.write_config("");
    let daemon = dir.start_daemon();
    assert_eq!(rule_ids(&daemon), ["acme", "blitzbus"]);
    // Retro-search over the API, with unknown rules as bad requests.
    assert_eq!(daemon.get_json("/api/v1/search?rule=acme")["total"], 0);
    let (status, body) = daemon.get("/api/v1/search?rule=nope");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("unknown rule"), "{body}");

    // A broken rule set is rejected with its place; the old rules stay in force.
    dir.write_rules(&TOPICS.replace("query: blitzbus", "query: blitzbus OR (bus"));
    let (status, body) = post(&daemon.base, "/api/v1/reload");
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("topics.yaml:12:"), "{body}");
    assert!(body.contains("expected ')'"), "{body}");
    assert_eq!(rule_ids(&daemon), ["acme", "blitzbus"]);

    // A failing example rejects the set too.
    dir.write_rules(&TOPICS.replace("Acme Bahn again", "Bahn again"));
    let (status, body) = post(&daemon.base, "/api/v1/reload");
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("should match but does not"), "{body}");

    // A valid set is put in force.
    dir.write_rules(&format!(
        "{TOPICS}  - id: zug\n    kind: industry\n    name: Zug\n    query: zug\n"
    ));
    let (status, body) = post(&daemon.base, "/api/v1/reload");
    assert_eq!(status, 200, "{body}");
    assert_eq!(rule_ids(&daemon), ["acme", "blitzbus", "zug"]);
    let (_, metrics) = daemon.get("/metrics");
    assert!(
        metrics.contains("lauscher_rule_reloads_total{outcome=\"rejected\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("lauscher_rules_loaded 3"), "{metrics}");

    // SIGHUP does the same.
    dir.write_rules(TOPICS);
    let pid = daemon.pid().to_string();
    let _ = Command::new("kill").args(["-HUP", &pid]).status();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while rule_ids(&daemon).len() != 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "SIGHUP did not reload"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (ok, _) = daemon.terminate();
    assert!(ok);
}

#[test]
fn the_daemon_refuses_to_start_with_failing_examples() {
    let dir = Dir::new();
    dir.write_config("");
    dir.write_rules(&TOPICS.replace("Acme Bahn again", "Bahn again"));
    let out = dir
        .cmd(&["run", "--once", "--listen", "127.0.0.1:0", "--config"])
        .arg(dir.config())
        .arg("--data-dir")
        .arg(dir.data())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rules rejected"), "{err}");
    assert!(
        err.contains("topics.yaml:8:16: rule \"acme\" should match but does not: \"Bahn again\""),
        "{err}"
    );
}
