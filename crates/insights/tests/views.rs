//! The views against counts computed independently from a generated fixture.

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use lauscher_index::MentionIndex;
use lauscher_insights::{Filters, InsightsError, share_of_voice, timeline, top};
use lauscher_model::Lang;
use lauscher_model::{Author, Label, Mention, MentionId, ScoredMention, Sentiment};
use lauscher_query::RuleSet;

const RULES: &str = "version: 1
rules:
  - {id: acme, kind: brand, name: Acme, query: acme}
  - {id: blitzbus, kind: competitor, name: Blitzbus, query: blitzbus}
  - {id: rail, kind: industry, name: Rail, query: zug}
";

/// 2026-11-02 00:00 Berlin (a Monday), 23:00 UTC the day before.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 23, 0, 0)
        .single()
        .unwrap_or_default()
}

struct Post {
    at: DateTime<Utc>,
    topic: &'static str,
    author: String,
    reach: u64,
    label: Label,
    score: f64,
    text: String,
}

/// Two weeks: acme every 3 hours, blitzbus every 7 hours, nothing on day 10.
fn fixture() -> Vec<Post> {
    let mut out = Vec::new();
    for h in 0..14 * 24 {
        let at = t0() + Duration::hours(h) + Duration::minutes(h % 60);
        if h / 24 == 10 {
            continue;
        }
        let label = |n: i64| match n % 5 {
            0 | 1 => (Label::Negative, -0.6),
            2 => (Label::Positive, 0.7),
            _ => (Label::Neutral, 0.0),
        };
        if h % 3 == 0 {
            let (label, score) = label(h / 3);
            out.push(Post {
                at,
                topic: "acme",
                author: format!("user{}", h % 17),
                reach: (h % 17) as u64 * 100,
                label,
                score,
                text: format!("acme again #acme{} post {h}", h % 2),
            });
        }
        if h % 7 == 0 {
            let (label, score) = label(h / 7 + 1);
            out.push(Post {
                at,
                topic: "blitzbus",
                author: format!("rider{}", h % 5),
                reach: 0,
                label,
                score,
                text: format!("blitzbus trip {h}"),
            });
        }
    }
    out
}

fn index(posts: &[Post]) -> (tempfile::TempDir, MentionIndex) {
    let langs = [Lang::De, Lang::En];
    let dir = tempfile::tempdir().expect("tempdir");
    let index = MentionIndex::open(dir.path(), &langs).expect("index");
    let mut w = index.writer(32 << 20, 1).expect("writer");
    for (i, p) in posts.iter().enumerate() {
        let m = ScoredMention {
            mention: Mention {
                id: MentionId(i as u128 + 1),
                source: if i % 2 == 0 {
                    "social".into()
                } else {
                    "forum".into()
                },
                url: Some(format!("https://social.example/p/{i}")),
                author: Some(Author {
                    name: p.author.clone(),
                    reach: (p.reach > 0).then_some(p.reach),
                }),
                published_at: p.at,
                fetched_at: p.at,
                title: None,
                text: p.text.clone(),
                lang_hint: None,
                address: None,
                repost_of: None,
                reply_to: None,
            },
            lang: Some(lauscher_model::Lang::En),
            sentiment: Sentiment {
                score: p.score as f32,
                label: p.label,
                explanation: Vec::new(),
            },
            intent: Default::default(),
            topics: vec![p.topic.into()],
            targets: Vec::new(),
            topic_kinds: Vec::new(),
            phrases: lauscher_text::phrases::phrases(&p.text, Some(lauscher_model::Lang::En)),
            simhash: 0,
        };
        w.add(&m, false).expect("add");
    }
    w.commit(0).expect("commit");
    w.close().expect("close");
    index.reload().expect("reload");
    (dir, index)
}

fn rules() -> RuleSet {
    RuleSet::from_texts(&[("t.yaml".into(), RULES.into())], &[Lang::De, Lang::En]).expect("rules")
}

fn berlin() -> Tz {
    "Europe/Berlin".parse().expect("tz")
}

#[test]
fn timeline_counts_equal_the_fixture_per_local_day_with_empty_days() {
    let posts = fixture();
    let (_dir, index) = index(&posts);
    let filters = Filters {
        topics: vec!["acme".into(), "blitzbus".into()],
        since: t0(),
        until: t0() + Duration::days(14),
        ..Filters::default()
    };
    let tl = timeline(
        &index,
        &rules(),
        &filters,
        "1d".parse().expect("1d"),
        berlin(),
    )
    .expect("timeline");
    assert_eq!(tl.series.len(), 2);
    for s in &tl.series {
        let topic = s.topic.as_deref().unwrap_or("");
        assert_eq!(s.buckets.len(), 14, "one bucket per local day");
        assert!(
            s.buckets[0].start.starts_with("2026-11-02T00:00:00+01:00"),
            "{}",
            s.buckets[0].start
        );
        for (d, b) in s.buckets.iter().enumerate() {
            let from = t0() + Duration::days(d as i64);
            let to = from + Duration::days(1);
            let day: Vec<&Post> = posts
                .iter()
                .filter(|p| p.topic == topic && p.at >= from && p.at < to)
                .collect();
            let count = |l: Label| day.iter().filter(|p| p.label == l).count() as u64;
            assert_eq!(b.total, day.len() as u64, "{topic} day {d}");
            assert_eq!(b.labels.negative, count(Label::Negative));
            assert_eq!(b.labels.positive, count(Label::Positive));
            assert_eq!(b.labels.neutral, count(Label::Neutral));
            if day.is_empty() {
                assert_eq!(b.avg_score, None);
            } else {
                let mean = day.iter().map(|p| p.score).sum::<f64>() / day.len() as f64;
                // Scores are stored as f32.
                assert!((b.avg_score.unwrap_or(9.0) - mean).abs() < 1e-6);
            }
            // The bucket's search lists exactly its mentions.
            let page = index.search(&b.search.request(), None).expect("search");
            assert_eq!(page.total, b.total as usize);
        }
        assert_eq!(s.buckets[10].total, 0, "the empty day is there, with zero");
    }
}

#[test]
fn share_of_voice_equals_the_fixture_against_the_previous_week() {
    let posts = fixture();
    let (_dir, index) = index(&posts);
    let week = Duration::days(7);
    let filters = Filters {
        since: t0() + week,
        until: t0() + week + week,
        ..Filters::default()
    };
    let sov = share_of_voice(&index, &rules(), &filters).expect("sov");
    let topics: Vec<&str> = sov.topics.iter().map(|t| t.topic.as_str()).collect();
    assert_eq!(
        topics,
        ["acme", "blitzbus"],
        "brands and competitors, loudest first"
    );
    let in_window = |topic: &str, from: DateTime<Utc>| -> Vec<&Post> {
        posts
            .iter()
            .filter(|p| p.topic == topic && p.at >= from && p.at < from + week)
            .collect()
    };
    let total = in_window("acme", filters.since).len() + in_window("blitzbus", filters.since).len();
    assert_eq!(sov.total, total as u64);
    for t in &sov.topics {
        for (period, from) in [
            (&t.current, filters.since),
            (&t.previous, filters.since - week),
        ] {
            let ps = in_window(&t.topic, from);
            let neg = ps.iter().filter(|p| p.label == Label::Negative).count() as f64;
            let pos = ps.iter().filter(|p| p.label == Label::Positive).count() as f64;
            let mut authors: Vec<&str> = ps.iter().map(|p| p.author.as_str()).collect();
            authors.sort_unstable();
            authors.dedup();
            assert_eq!(period.mentions, ps.len() as u64, "{}", t.topic);
            assert_eq!(period.authors, authors.len() as u64, "{}", t.topic);
            assert!((period.net_sentiment - (pos - neg) / ps.len() as f64).abs() < 1e-9);
            assert!((period.negative_share - neg / ps.len() as f64).abs() < 1e-9);
        }
        assert_eq!(
            t.mentions_change,
            t.current.mentions as i64 - t.previous.mentions as i64
        );
    }
    let share: f64 = sov.topics.iter().map(|t| t.current.share).sum();
    assert!((share - 1.0).abs() < 1e-9);
}

#[test]
fn top_lists_match_the_fixture() {
    let posts = fixture();
    let (_dir, index) = index(&posts);
    let filters = Filters {
        topics: vec!["acme".into()],
        since: t0(),
        until: t0() + Duration::days(14),
        ..Filters::default()
    };
    let top = top(&index, &rules(), &filters, 3).expect("top");
    let acme: Vec<&Post> = posts.iter().filter(|p| p.topic == "acme").collect();
    let mut volume: std::collections::BTreeMap<&str, u64> = Default::default();
    for p in &acme {
        *volume.entry(p.author.as_str()).or_default() += 1;
    }
    let best = volume.values().max().copied().unwrap_or(0);
    assert_eq!(top.authors_by_volume.len(), 3);
    assert_eq!(top.authors_by_volume[0].mentions, best);
    let reach = acme.iter().map(|p| p.reach).max().unwrap_or(0);
    assert_eq!(top.authors_by_reach[0].reach, Some(reach));
    assert_eq!(top.authors_by_reach[0].key, "user16");
    let tags: Vec<&str> = top.hashtags.iter().map(|e| e.key.as_str()).collect();
    assert!(
        tags.contains(&"#acme0") && tags.contains(&"#acme1"),
        "{tags:?}"
    );
    assert_eq!(
        top.hashtags.iter().map(|e| e.mentions).sum::<u64>(),
        acme.len() as u64
    );
    // Each entry's search lists its mentions.
    for e in top
        .authors_by_volume
        .iter()
        .chain(&top.hashtags)
        .chain(&top.sources)
    {
        let page = index.search(&e.search.request(), None).expect("search");
        assert_eq!(page.total as u64, e.mentions, "{}: {:?}", e.key, e.search);
    }
}

#[test]
fn bad_windows_and_topics_are_refused_with_what_is_allowed() {
    let (_dir, index) = index(&fixture());
    let rules = rules();
    let inverted = Filters {
        since: t0() + Duration::days(2),
        until: t0(),
        ..Filters::default()
    };
    assert!(matches!(
        inverted.check(&rules, None),
        Err(InsightsError::Inverted { .. })
    ));
    let unknown = Filters {
        topics: vec!["nope".into()],
        since: t0(),
        until: t0() + Duration::days(1),
        ..Filters::default()
    };
    let e = unknown.check(&rules, None).expect_err("unknown topic");
    assert!(e.to_string().contains("nope") && e.is_bad_request());
    let long = Filters {
        since: t0(),
        until: t0() + Duration::days(60),
        ..Filters::default()
    };
    let e =
        timeline(&index, &rules, &long, "5m".parse().expect("5m"), berlin()).expect_err("too many");
    assert!(e.to_string().contains("at most 10000"), "{e}");
    let old = Filters {
        since: Utc::now() - Duration::days(400),
        until: Utc::now(),
        ..Filters::default()
    };
    let e = old.check(&rules, Some(365)).expect_err("retention");
    assert!(e.to_string().contains("retention of 365 days"), "{e}");
}
