//! `lauscher check` and config errors.

use crate::util::Dir;

#[test]
fn the_example_config_is_valid() {
    let dir = Dir::new();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/lauscher.yaml");
    let out = dir
        .cmd(&["check", "--config", example])
        .env("LAUSCHER_WEBHOOK_URL", "https://hooks.example.org/lauscher")
        .env("LAUSCHER_WEBHOOK_SECRET", "s3cret")
        .env(
            "SLACK_WEBHOOK_URL",
            "https://hooks.slack.com/services/T/B/X",
        )
        .env("TEAMS_WORKFLOW_URL", "https://prod.api.powerplatform.com/x")
        .env("PAGERDUTY_ROUTING_KEY", "R0UT1NGKEY")
        .env(
            "LAUSCHER_SMTP_URL",
            "smtps://lauscher:pw@mail.example.org:465",
        )
        .output()
        .expect("run check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ok (1 sources, languages de, en)"),
        "{stdout}"
    );
    // The starter rules load and every example in them passes.
    assert!(stdout.contains("examples pass"), "{stdout}");
    assert!(
        stdout.contains("alerts.yaml: ok (4 alert rules, 5 receivers)"),
        "{stdout}"
    );
}

#[test]
fn a_broken_config_names_file_line_and_column() {
    let dir = Dir::new();
    let file = dir.write(
        "broken.yaml",
        "version: 1\nsources:\n  - id: acme\n    kind: fed\n    url: https://example.org/\n",
    );
    let out = dir
        .cmd(&["check", "--config"])
        .arg(&file)
        .output()
        .expect("run check");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.yaml:4:11: sources[0].kind: unknown variant `fed`, expected one of `feed`, `mastodon`"),
        "{err}"
    );
    assert!(err.contains("4 |     kind: fed"), "{err}");
    // run refuses it the same way, with exit code 2.
    let out = dir
        .cmd(&["run", "--once", "--data-dir", "d", "--config"])
        .arg(&file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.yaml:4:11"));
}

#[test]
fn search_without_an_index_says_what_to_do() {
    let dir = Dir::new();
    let out = dir
        .cmd(&["search", "acme", "--data-dir", "nowhere"])
        .output()
        .expect("run search");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("run `lauscher run` or `lauscher import` first")
    );
}

#[test]
fn the_demo_runs_offline_and_finds_the_complaint_burst() {
    let dir = Dir::new();
    let out = dir.cmd(&["demo", "--once"]).output().expect("run demo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("mentions indexed"), "{stdout}");
    assert!(stdout.contains("acme-bahn"), "{stdout}");
    assert!(stdout.contains("(a complaint burst)"), "{stdout}");
    // The app-login complaint recurs (weeks 0, 2 and 4 of the bundled history).
    let login = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("login "))
        .unwrap_or("");
    assert!(login.contains("recurring"), "{stdout}");
    // The fresh burst of complaints opens an incident, delivered through the outbox.
    assert!(
        stdout.contains("incident 1 opened → service-team"),
        "{stdout}"
    );
    // The service desk: the complaints and the question wait; the brand's reply and the
    // agent's receipt count as answers, the bot's auto-reply does not; the troll is
    // counted apart.
    assert!(
        stdout.contains("items waiting, most urgent SLA first"),
        "{stdout}"
    );
    assert!(stdout.contains("answered 2 "), "{stdout}");
    assert!(stdout.contains("abusive apart 1"), "{stdout}");
}

#[test]
fn a_broken_alerting_file_names_file_line_and_column() {
    let dir = Dir::new();
    dir.write_config("");
    let config = std::fs::read_to_string(dir.config()).expect("config");
    std::fs::write(dir.config(), format!("{config}alerts: alerts.yaml\n")).expect("write");
    dir.write(
        "alerts.yaml",
        "version: 1
rules:
  - id: storm
    kind: spike
    topics: [acme]
routing:
  receivers: [pager]
",
    );
    let out = dir
        .cmd(&["check", "--config"])
        .arg(dir.config())
        .output()
        .expect("run check");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("alerts.yaml:7:15: unknown receiver \"pager\""),
        "{stderr}"
    );
}
