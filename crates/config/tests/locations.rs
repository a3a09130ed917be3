//! Every error in a file a user writes points at the value it is about: one wrong value
//! per key path, in each file kind, reported at its own line and column (issue 18, item
//! 2: a source's `interval: 0s` on line 20 was reported at the crawler's
//! `host_interval`, because positions were found by searching the text for the key).

use lauscher_config::{AlertingConfig, Config, UserLexicon};
use lauscher_model::Lang;
use lauscher_query::{Located, RuleSet};

/// One broken value: the line to change, what it becomes, the text the caret must stand
/// under, and a part of the message.
struct Case {
    line: &'static str,
    becomes: &'static str,
    caret_at: &'static str,
    says: &'static str,
}

const fn case(
    line: &'static str,
    becomes: &'static str,
    caret_at: &'static str,
    says: &'static str,
) -> Case {
    Case {
        line,
        becomes,
        caret_at,
        says,
    }
}

/// Breaks `base` case by case and checks where `load` reports each break.
fn each_error_at_its_value(base: &str, cases: &[Case], load: &dyn Fn(&str) -> Vec<Located>) {
    assert!(
        load(base).is_empty(),
        "the base file is valid: {:?}",
        load(base)
    );
    for c in cases {
        let lines: Vec<&str> = base.lines().collect();
        let n = lines
            .iter()
            .position(|l| *l == c.line)
            .unwrap_or_else(|| panic!("{:?} is a line of the base file", c.line));
        let mut broken = lines.clone();
        broken[n] = c.becomes;
        let text = broken.join("\n") + "\n";
        let errors = load(&text);
        let e = errors
            .first()
            .unwrap_or_else(|| panic!("{:?} is refused", c.becomes));
        let byte = c
            .becomes
            .find(c.caret_at)
            .unwrap_or_else(|| panic!("{:?} holds {:?}", c.becomes, c.caret_at));
        let col = c.becomes[..byte].chars().count() + 1;
        assert_eq!(
            (e.line, e.col),
            (n + 1, col),
            "{:?} is reported at line {}, column {col}, under {:?}:\n{e}",
            c.becomes,
            n + 1,
            c.caret_at
        );
        assert!(e.msg.contains(c.says), "{:?}: {e}", c.becomes);
    }
}

const CONFIG: &str = "version: 1
languages: [de, en]
crawler:
  contact: https://example.org/contact
  host_interval: 5s
index:
  commit_interval: 10s
  commit_docs: 20000
  writer_memory: 64MiB
sentiment:
  neutral_band: {de: 0.25, en: 0.3}
sources:
  - id: news
    kind: feed
    url: https://example.org/feed.xml
    interval: 2m
  - id: blog
    kind: feed
    url: https://example.org/blog.xml
    interval: 5m
    language: de
";

#[test]
fn config_errors_stand_under_their_values() {
    let cases = [
        case("    interval: 5m", "    interval: 0s", "0s", "at least 1s"),
        case(
            "  host_interval: 5s",
            "  host_interval: 5 parsecs",
            "5 parsecs",
            "unknown unit",
        ),
        case(
            "languages: [de, en]",
            "languages: [de, xx]",
            "xx",
            "unsupported language",
        ),
        case(
            "  commit_interval: 10s",
            "  commit_interval: 10ms",
            "10ms",
            "at least 100ms",
        ),
        case(
            "  commit_docs: 20000",
            "  commit_docs: 0",
            "0",
            "at least 1",
        ),
        case(
            "  writer_memory: 64MiB",
            "  writer_memory: 1MiB",
            "1MiB",
            "16MiB",
        ),
        case(
            "  neutral_band: {de: 0.25, en: 0.3}",
            "  neutral_band: {de: 0.25, fr: 0.3}",
            "fr",
            "not among the languages",
        ),
        case(
            "  neutral_band: {de: 0.25, en: 0.3}",
            "  neutral_band: {de: 0.25, en: 1.3}",
            "1.3",
            "[0, 1)",
        ),
        case(
            "  - id: blog",
            "  - id: news",
            "news",
            "duplicate source id",
        ),
        case("  - id: blog", "  - id: Blog!", "Blog!", "invalid id"),
        case(
            "    url: https://example.org/blog.xml",
            "    url: ftp://example.org/blog.xml",
            "ftp",
            "http or https",
        ),
        case(
            "    language: de",
            "    language: xx",
            "xx",
            "unsupported language",
        ),
        case(
            "  contact: https://example.org/contact",
            "  contact: not a url",
            "not a url",
            "relative URL",
        ),
    ];
    each_error_at_its_value(CONFIG, &cases, &|text| {
        Config::from_str_named(text, "lauscher.yaml", &|_| None)
            .err()
            .map(|e| match e {
                lauscher_config::ConfigError::Invalid(l) => vec![*l],
                other => panic!("not a file error: {other}"),
            })
            .unwrap_or_default()
    });
}

const ALERTS: &str = "version: 1
defaults:
  timezone: Europe/Berlin
  budget: 1/90d
rules:
  - id: storm
    kind: spike
    topics: [acme]
    label: negative
    intent: [complaint]
    lang: [de, en]
    window: 60m
    step: 5m
    min_ratio: 3
routing:
  receivers: [hook]
  group_by: [topic]
  mute:
    - times: 22:00-07:00
      weekdays: [sat, sun]
  routes:
    - matchers: ['level=\"3\"']
      receivers: [hook]
      escalation:
        after: 30m
        receivers: [hook]
receivers:
  - id: hook
    kind: webhook
    url: https://hooks.example.org/x
    rate: 1/s
  - id: mail
    kind: email
    url: smtps://u:p@mail.example.org:465
    from: Lauscher <lauscher@example.org>
    to: [service@example.org]
  - id: zammad
    kind: zammad
    url: https://zammad.example.org
    secret: hub-secret
    ticket: {token: t0ken, queue: Social Media, customer: social@example.org}
digests:
  - id: weekly
    every: week
    at: 08:00
    language: de
    receivers: [mail]
incidents:
  sla: 1h
  sla_warn: 45m
";

#[test]
fn alerting_errors_stand_under_their_values() {
    let cases = [
        case(
            "  timezone: Europe/Berlin",
            "  timezone: Mars/Olympus",
            "Mars",
            "unknown time zone",
        ),
        case(
            "  budget: 1/90d",
            "  budget: 0/90d",
            "0/90d",
            "invalid budget",
        ),
        case("  - id: storm", "  - id: Storm!", "Storm!", "invalid id"),
        case(
            "    topics: [acme]",
            "    topics: [nope]",
            "nope",
            "unknown topic",
        ),
        case(
            "    label: negative",
            "    label: angry",
            "angry",
            "unknown variant",
        ),
        case(
            "    intent: [complaint]",
            "    intent: [rant]",
            "rant",
            "unknown variant",
        ),
        case(
            "    window: 60m",
            "    window: 7m",
            "7m",
            "multiple of the step",
        ),
        case(
            "    min_ratio: 3",
            "    min_ratio: 300",
            "300",
            "between 1 and 100",
        ),
        case(
            "  receivers: [hook]",
            "  receivers: [nobody]",
            "nobody",
            "unknown receiver",
        ),
        case(
            "  group_by: [topic]",
            "  group_by: [colour]",
            "colour",
            "group_by",
        ),
        case(
            "    - times: 22:00-07:00",
            "    - times: 25:00-07:00",
            "25:00",
            "invalid mute times",
        ),
        case(
            "      weekdays: [sat, sun]",
            "      weekdays: [sat, someday]",
            "someday",
            "unknown variant",
        ),
        case(
            "    - matchers: ['level=\"3\"']",
            "    - matchers: ['colour=\"3\"']",
            "'colour",
            "unknown label",
        ),
        case(
            "      receivers: [hook]",
            "      receivers: [hook, nobody]",
            "nobody",
            "unknown receiver",
        ),
        case(
            "        receivers: [hook]",
            "        receivers: [nobody]",
            "nobody",
            "unknown receiver",
        ),
        case(
            "    url: https://hooks.example.org/x",
            "    url: ftp://hooks.example.org/x",
            "ftp",
            "http or https",
        ),
        case(
            "    rate: 1/s",
            "    rate: 1/week",
            "1/week",
            "invalid rate",
        ),
        case(
            "    to: [service@example.org]",
            "    to: [service@example.org, no address]",
            "no address",
            "invalid email address",
        ),
        case(
            "    every: week",
            "    every: month",
            "month",
            "unknown variant",
        ),
        case("    at: 08:00", "    at: 25:61", "25:61", "invalid time"),
        case(
            "    language: de",
            "    language: fr",
            "fr",
            "expected de or en",
        ),
        case(
            "    receivers: [mail]",
            "    receivers: [mail, nobody]",
            "nobody",
            "unknown receiver",
        ),
        case(
            "    receivers: [mail]",
            "    receivers: [zammad]",
            "zammad",
            "takes desk hand-offs only",
        ),
        case(
            "    ticket: {token: t0ken, queue: Social Media, customer: social@example.org}",
            "    ticket: {queue: Social Media, customer: social@example.org}",
            "{queue",
            "zammad needs ticket.token",
        ),
        case(
            "    ticket: {token: t0ken, queue: Social Media, customer: social@example.org}",
            "    ticket: {token: t0ken, queue: Social Media, customer: social-media}",
            "{token",
            "e-mail address (found or created) or a user id",
        ),
        case(
            "  sla_warn: 45m",
            "  sla_warn: 2h",
            "2h",
            "not be later than sla",
        ),
    ];
    each_error_at_its_value(ALERTS, &cases, &|text| {
        AlertingConfig::parse(text, "alerts.yaml", &["acme".to_owned()], &|_| None)
            .err()
            .into_iter()
            .collect()
    });
}

const DESK: &str = "version: 1
receivers:
  - id: chat
    kind: slack
    url: https://hooks.example.org/x
desk:
  intents: [complaint, question]
  own_accounts:
    acme: [AcmeBahn]
  follow_up: 7d
  routes:
    - matchers: ['topic=\"acme\"']
      team: service-de
  calendars:
    - id: office
      timezone: Europe/Berlin
      week:
        mon: [08:00-12:00, 12:30-20:00]
        sat: [09:00-14:00]
      holidays: [2026-12-25]
  sla:
    - name: standard
      matchers: ['intent=\"complaint\"']
      calendar: office
      first_response: {urgent: 15m, normal: 1h}
      next_response: 4h
      warn: 0.75
      receivers: [chat]
";

#[test]
fn desk_errors_stand_under_their_values() {
    let cases = [
        case(
            "  intents: [complaint, question]",
            "  intents: [complaint, rant]",
            "rant",
            "unknown variant",
        ),
        case(
            "    acme: [AcmeBahn]",
            "    acmex: [AcmeBahn]",
            "acmex",
            "unknown topic",
        ),
        case("  follow_up: 7d", "  follow_up: 7", "7", "duration"),
        case(
            "    - matchers: ['topic=\"acme\"']",
            "    - matchers: ['rule=\"acme\"']",
            "'rule",
            "unknown label",
        ),
        case(
            "      team: service-de",
            "      team: Service DE",
            "Service DE",
            "invalid id",
        ),
        case(
            "        mon: [08:00-12:00, 12:30-20:00]",
            "        mon: [08:00-12:00, 11:30-20:00]",
            "[08:00",
            "overlap",
        ),
        case(
            "        sat: [09:00-14:00]",
            "        sat: [14:00-09:00]",
            "14:00-09:00",
            "end must be after the start",
        ),
        case(
            "        sat: [09:00-14:00]",
            "        someday: [09:00-14:00]",
            "someday",
            "unknown variant",
        ),
        case(
            "      holidays: [2026-12-25]",
            "      holidays: [2026-02-30]",
            "2026-02-30",
            "invalid date",
        ),
        case(
            "      timezone: Europe/Berlin",
            "      timezone: Mars/Olympus",
            "Mars/Olympus",
            "unknown time zone",
        ),
        case(
            "      calendar: office",
            "      calendar: shop",
            "shop",
            "unknown calendar",
        ),
        case(
            "      first_response: {urgent: 15m, normal: 1h}",
            "      first_response: {urgent: 15m}",
            "{urgent",
            "need normal",
        ),
        case(
            "      first_response: {urgent: 15m, normal: 1h}",
            "      first_response: {urgent: 15m, normal: 1h, asap: 1m}",
            "asap",
            "unknown priority",
        ),
        case(
            "      warn: 0.75",
            "      warn: 1.5",
            "1.5",
            "share in (0, 1]",
        ),
        case(
            "      receivers: [chat]",
            "      receivers: [chat, nobody]",
            "nobody",
            "unknown receiver",
        ),
    ];
    each_error_at_its_value(DESK, &cases, &|text| {
        AlertingConfig::parse(text, "alerts.yaml", &["acme".to_owned()], &|_| None)
            .err()
            .into_iter()
            .collect()
    });
}

const LEXICON: &str = "version: 1
lang: de
words:
  toll: 2
  mies: -2
service:
  \"zug fällt aus\": failure
";

#[test]
fn lexicon_errors_stand_under_their_entries() {
    let cases = [
        case(
            "lang: de",
            "lang: fr",
            "fr",
            "not among the configured languages",
        ),
        case("version: 1", "version: 2", "2", "unsupported version"),
        case("  mies: -2", "  mies: -9", "mies", "outside -4 .. 4"),
        case(
            "  \"zug fällt aus\": failure",
            "  \"zug fällt aus\": grumble",
            "grumble",
            "",
        ),
    ];
    each_error_at_its_value(LEXICON, &cases, &|text| {
        UserLexicon::parse(text, "words.yaml", &[Lang::De, Lang::En])
            .err()
            .into_iter()
            .collect()
    });
}

const RULES: &str = "version: 1
rules:
  - id: acme
    kind: brand
    name: Acme
    query: '\"acme bahn\" OR #acmebahn'
    exclude: [\"{noise}\"]
    examples:
      match: [\"Acme Bahn ist spät\"]
  - id: noise
    kind: pack
    query: gewinnspiel
";

#[test]
fn rule_file_errors_stand_under_their_values() {
    let cases = [
        case("  - id: noise", "  - id: acme", "acme", "duplicate rule id"),
        case(
            "    kind: pack",
            "    kind: bundle",
            "bundle",
            "unknown variant",
        ),
        case(
            "    exclude: [\"{noise}\"]",
            "    exclude: [\"{nois}\"]",
            "{nois}",
            "unknown rule {nois}",
        ),
        case(
            "    query: gewinnspiel",
            "    query: gewinnspiel AND preis OR rabatt",
            "OR",
            "parentheses",
        ),
    ];
    each_error_at_its_value(RULES, &cases, &|text| {
        RuleSet::from_texts(
            &[("topics.yaml".into(), text.into())],
            &[Lang::De, Lang::En],
        )
        .err()
        .map(|e| e.problems)
        .unwrap_or_default()
    });
}
