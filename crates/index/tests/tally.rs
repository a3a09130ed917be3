//! Tallies equal counts computed from the fixture, however the index is cut into
//! segments and whatever was replaced.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, TimeZone, Utc};
use lauscher_index::{Buckets, MentionIndex, PhraseSelection, SearchRequest};
use lauscher_model::Lang;
use lauscher_model::{Author, Label, Mention, MentionId, ScoredMention, Sentiment};

const WORDS: [&str; 6] = ["login", "refund", "delay", "crash", "seat", "wifi"];

struct Post {
    at: DateTime<Utc>,
    author: String,
    label: Label,
    score: f32,
    text: String,
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// 600 posts over 12 days, 40 authors, words drawn by a fixed rule.
fn fixture() -> Vec<Post> {
    (0..600u32)
        .map(|i| {
            let label = [Label::Negative, Label::Neutral, Label::Positive][(i % 3) as usize];
            let a = WORDS[(i * 7 % 6) as usize];
            let b = WORDS[(i * 11 % 5) as usize];
            Post {
                at: t0() + Duration::minutes(i64::from(i) * 29),
                author: format!("user{}", i * 13 % 40),
                label,
                score: match label {
                    Label::Negative => -0.5,
                    Label::Positive => 0.75,
                    Label::Neutral => 0.0,
                },
                text: format!("{a} problems today with {b}"),
            }
        })
        .collect()
}

fn mention(i: usize, p: &Post) -> ScoredMention {
    ScoredMention {
        mention: Mention {
            id: MentionId(i as u128 + 1),
            source: "social".into(),
            url: Some(format!("https://social.example/p/{i}")),
            author: Some(Author {
                name: p.author.clone(),
                reach: None,
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
            score: p.score,
            label: p.label,
            explanation: Vec::new(),
        },
        intent: Default::default(),
        topics: vec!["acme".into()],
        targets: Vec::new(),
        topic_kinds: Vec::new(),
        phrases: lauscher_text::phrases::phrases(&p.text, Some(lauscher_model::Lang::En)),
        simhash: 0,
    }
}

/// The fixture indexed in one commit, or committed every 37 posts with every fifth
/// post indexed twice (the second add replaces the first: deletes in old segments).
fn index(posts: &[Post], segmented: bool) -> (tempfile::TempDir, MentionIndex) {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = MentionIndex::open(dir.path(), &[Lang::De, Lang::En]).expect("index");
    let mut w = index.writer(32 << 20, 1).expect("writer");
    for (i, p) in posts.iter().enumerate() {
        w.add(&mention(i, p), false).expect("add");
        if segmented && i % 37 == 36 {
            w.commit(0).expect("commit");
        }
    }
    if segmented {
        for (i, p) in posts.iter().enumerate().step_by(5) {
            w.add(&mention(i, p), true).expect("replace");
        }
    }
    w.commit(0).expect("commit");
    w.close().expect("close");
    index.reload().expect("reload");
    assert_eq!(index.num_segments() > 1, segmented);
    (dir, index)
}

/// The fixture written out of publication order in one segment: a day's mentions lie
/// all over it.
fn index_out_of_order(posts: &[Post]) -> (tempfile::TempDir, MentionIndex) {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = MentionIndex::open(dir.path(), &[Lang::De, Lang::En]).expect("index");
    let mut w = index.writer(32 << 20, 1).expect("writer");
    for k in 0..posts.len() {
        let i = k * 7 % posts.len();
        w.add(&mention(i, &posts[i]), false).expect("add");
    }
    w.commit(0).expect("commit");
    w.close().expect("close");
    index.reload().expect("reload");
    (dir, index)
}

/// The fixture as a merge leaves it in one segment: two runs of posts in publication
/// order one after the other (every other post, then the rest), so that each hour's
/// posts lie in two runs far apart.
fn index_interleaved(posts: &[Post]) -> (tempfile::TempDir, MentionIndex) {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = MentionIndex::open(dir.path(), &[Lang::De, Lang::En]).expect("index");
    let mut w = index.writer(32 << 20, 1).expect("writer");
    for i in (0..posts.len())
        .step_by(2)
        .chain((1..posts.len()).step_by(2))
    {
        w.add(&mention(i, &posts[i]), false).expect("add");
    }
    w.commit(0).expect("commit");
    w.close().expect("close");
    index.reload().expect("reload");
    (dir, index)
}

/// A time window finds exactly the mentions published in it, its start included and
/// its end not, whatever order they were written in and however they are segmented.
#[test]
fn windows_find_the_mentions_published_in_them_in_any_write_order() {
    let posts = fixture();
    let edges: Vec<Option<DateTime<Utc>>> = vec![
        None,
        Some(t0() - Duration::days(1)),
        Some(t0()),
        // A post's own second, and the second after it.
        Some(t0() + Duration::minutes(29 * 100)),
        Some(t0() + Duration::minutes(29 * 100) + Duration::seconds(1)),
        Some(t0() + Duration::days(3) + Duration::hours(7)),
        Some(t0() + Duration::days(11) + Duration::hours(23)),
        Some(t0() + Duration::days(30)),
    ];
    for (name, (_dir, index)) in [
        ("one segment", index(&posts, false)),
        ("segmented", index(&posts, true)),
        ("out of order", index_out_of_order(&posts)),
        ("interleaved", index_interleaved(&posts)),
    ] {
        for since in &edges {
            for until in &edges {
                for label in [None, Some(Label::Negative)] {
                    let req = SearchRequest {
                        since: *since,
                        until: *until,
                        label,
                        limit: 1,
                        ..SearchRequest::default()
                    };
                    let expected = posts
                        .iter()
                        .filter(|p| since.is_none_or(|s| p.at >= s))
                        .filter(|p| until.is_none_or(|u| p.at < u))
                        .filter(|p| label.is_none_or(|l| p.label == l))
                        .count();
                    let got = index.search(&req, None).expect("search").total;
                    assert_eq!(got, expected, "{name}: {since:?}..{until:?}, {label:?}");
                }
            }
        }
    }
}

/// A case's request and buckets: `(origin, step, count)`, a window (else the buckets'
/// span) and a label.
fn case_request(
    (origin, step, count): (DateTime<Utc>, Duration, usize),
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    label: Option<Label>,
) -> (SearchRequest, Buckets) {
    let (since, until) = window.unwrap_or((origin, origin + step * count as i32));
    let req = SearchRequest {
        label,
        since: Some(since),
        until: Some(until),
        ..SearchRequest::default()
    };
    (
        req,
        Buckets {
            origin,
            step,
            count,
        },
    )
}

fn days(origin: DateTime<Utc>, count: usize) -> Buckets {
    Buckets {
        origin,
        step: Duration::days(1),
        count,
    }
}

#[test]
fn label_tallies_equal_the_fixture_in_one_segment_and_in_many() {
    let posts = fixture();
    let since = t0() + Duration::hours(30);
    let until = since + Duration::days(8);
    let req = SearchRequest {
        since: Some(since),
        until: Some(until),
        ..SearchRequest::default()
    };
    let buckets = days(since, 8);
    // Expected per day: (negative, neutral, positive, score sum, authors).
    let mut expected = vec![(0u64, 0u64, 0u64, 0.0f64, BTreeSet::new()); 8];
    for p in posts.iter().filter(|p| p.at >= since && p.at < until) {
        let e = &mut expected[((p.at - since).num_seconds() / 86_400) as usize];
        match p.label {
            Label::Negative => e.0 += 1,
            Label::Neutral => e.1 += 1,
            Label::Positive => e.2 += 1,
        }
        e.3 += f64::from(p.score);
        e.4.insert(p.author.as_str());
    }
    for segmented in [false, true] {
        let (_dir, index) = index(&posts, segmented);
        let tallies = index.label_tally(&req, None, buckets, true).expect("tally");
        assert_eq!(tallies.len(), 8);
        for (t, e) in tallies.iter().zip(&expected) {
            assert_eq!((t.negative, t.neutral, t.positive), (e.0, e.1, e.2));
            assert!(
                (t.score_sum - e.3).abs() < 1e-6,
                "{} vs {}",
                t.score_sum,
                e.3
            );
            assert_eq!(t.authors, e.4.len() as u64, "segmented: {segmented}");
        }
        // Without authors, buckets count the same and authors stay 0.
        let plain = index
            .label_tally(&req, None, buckets, false)
            .expect("tally");
        assert!(plain.iter().all(|t| t.authors == 0));
        assert_eq!(
            plain.iter().map(|t| t.total()).sum::<u64>(),
            tallies.iter().map(|t| t.total()).sum::<u64>()
        );
    }
}

#[test]
fn phrase_tallies_equal_the_fixture_in_one_segment_and_in_many() {
    let posts = fixture();
    let origin = t0();
    let buckets = days(origin, 12);
    let negative = SearchRequest {
        label: Some(lauscher_model::Label::Negative),
        since: Some(origin),
        until: Some(origin + Duration::days(12)),
        ..SearchRequest::default()
    };
    // Expected: per phrase (here: single words), negative posts per day.
    let mut expected: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let mut docs = vec![0u64; 12];
    let mut first: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    let until = origin + Duration::days(12);
    for p in posts
        .iter()
        .filter(|p| p.label == Label::Negative && p.at < until)
    {
        let day = ((p.at - origin).num_seconds() / 86_400) as usize;
        docs[day] += 1;
        let words: BTreeSet<&str> = p.text.split(' ').filter(|w| WORDS.contains(w)).collect();
        for w in words {
            expected.entry(w).or_insert_with(|| vec![0; 12])[day] += 1;
            let at = first.entry(w).or_insert(p.at);
            *at = (*at).min(p.at);
        }
    }
    let asked: Vec<String> = ["login", "refund", "never-said"]
        .into_iter()
        .map(String::from)
        .collect();
    for segmented in [false, true] {
        let (_dir, index) = index(&posts, segmented);
        let only = index
            .phrase_tally(&negative, None, buckets, PhraseSelection::Only(&asked))
            .expect("tally");
        assert_eq!(only.docs, docs, "segmented: {segmented}");
        assert_eq!(only.phrases.len(), 3);
        for w in ["login", "refund"] {
            assert_eq!(only.phrases[w], expected[w], "{w}, segmented: {segmented}");
        }
        assert_eq!(only.phrases["never-said"], vec![0; 12]);
        assert_eq!(
            only.earliest.get("login"),
            first.get("login"),
            "segmented: {segmented}"
        );
        assert_eq!(only.earliest.get("refund"), first.get("refund"));
        assert_eq!(only.earliest.get("never-said"), None);
        // Top lists name the frequent words with their counts (every segment's top
        // list holds all six words here, so the counts are exact).
        let top = index
            .phrase_tally(&negative, None, buckets, PhraseSelection::Top(10))
            .expect("tally");
        let counted: HashMap<&str, &Vec<u64>> =
            top.phrases.iter().map(|(k, v)| (k.as_str(), v)).collect();
        for (w, counts) in &expected {
            assert_eq!(counted.get(w), Some(&counts), "{w}, segmented: {segmented}");
        }
    }
}

#[test]
fn earliest_is_the_first_matching_post() {
    let posts = fixture();
    let (_dir, index) = index(&posts, true);
    let req = SearchRequest {
        phrases: vec!["wifi".into()],
        ..SearchRequest::default()
    };
    let first = posts
        .iter()
        .filter(|p| p.text.split(' ').any(|w| w == "wifi"))
        .map(|p| p.at)
        .min();
    assert_eq!(index.earliest(&req, None).expect("earliest"), first);
    let none = SearchRequest {
        phrases: vec!["teleport".into()],
        ..SearchRequest::default()
    };
    assert_eq!(index.earliest(&none, None).expect("earliest"), None);
}

/// Per bucket of `[origin, origin + step·count)` ∩ `[since, until)`: the posts (with
/// `label`, if given), and per word of `words` the posts with it and the earliest.
#[allow(clippy::type_complexity)]
fn expected_words(
    posts: &[Post],
    (origin, step, count): (DateTime<Utc>, Duration, usize),
    (since, until): (DateTime<Utc>, DateTime<Utc>),
    label: Option<Label>,
    words: &[&str],
) -> (
    Vec<u64>,
    BTreeMap<String, Vec<u64>>,
    BTreeMap<String, DateTime<Utc>>,
) {
    let mut docs = vec![0; count];
    let mut counts: BTreeMap<String, Vec<u64>> = words
        .iter()
        .map(|w| ((*w).to_owned(), vec![0; count]))
        .collect();
    let mut first = BTreeMap::new();
    for p in posts {
        let in_window = p.at >= since && p.at < until && p.at >= origin;
        let b = ((p.at - origin).num_seconds() / step.num_seconds()) as usize;
        if !in_window || b >= count || label.is_some_and(|l| l != p.label) {
            continue;
        }
        docs[b] += 1;
        for w in words {
            if p.text.split(' ').any(|x| x == *w) {
                counts.entry((*w).to_owned()).or_default()[b] += 1;
                let at = first.entry((*w).to_owned()).or_insert(p.at);
                *at = (*at).min(p.at);
            }
        }
    }
    (docs, counts, first)
}

/// Tallies of selected phrases over buckets of days take the days lying wholly inside a
/// bucket from counts the index keeps per segment and filter, and scan the days a
/// boundary cuts: the answer equals the fixture's with boundaries anywhere in a day, for
/// windows narrowed by the request, moved by a day (the kept counts gain the new day),
/// at a first call and the next, and after posts were replaced and added (a segment's
/// new deletes and a new segment are counted afresh).
#[test]
fn tallies_over_weeks_equal_the_fixture_again_and_after_changes() {
    let words = ["login", "refund", "crash", "never-said"];
    // A phrase asked twice counts once.
    let asked: Vec<String> = words
        .iter()
        .chain(&["login"])
        .map(|w| (*w).to_owned())
        .collect();
    let odd = Duration::hours(7) + Duration::minutes(13) + Duration::seconds(20);
    // (origin, step, count), (since, until), label.
    let cases = [
        ((t0() + odd, Duration::days(2), 5), None, None),
        // A day later: the kept counts lack one day.
        (
            (t0() + odd + Duration::days(1), Duration::days(2), 5),
            None,
            None,
        ),
        (
            (t0() + odd, Duration::days(2), 5),
            None,
            Some(Label::Negative),
        ),
        (
            (t0() + Duration::hours(12), Duration::days(3), 3),
            Some((
                t0() + Duration::days(1) + odd,
                t0() + Duration::days(9) + odd,
            )),
            None,
        ),
        ((t0() - Duration::days(1), Duration::days(7), 2), None, None),
    ];
    let check = |index: &MentionIndex, posts: &[Post], what: &str| {
        for (i, ((origin, step, count), window, label)) in cases.iter().enumerate() {
            let (req, buckets) = case_request((*origin, *step, *count), *window, *label);
            let (since, until) = (req.since.expect("since"), req.until.expect("until"));
            let (docs, counts, first) = expected_words(
                posts,
                (*origin, *step, *count),
                (since, until),
                *label,
                &words,
            );
            for call in ["first", "second"] {
                let got = index
                    .phrase_tally(&req, None, buckets, PhraseSelection::Only(&asked))
                    .expect("tally");
                let at = format!("{what}, case {i}, {call} call");
                assert_eq!(got.docs, docs, "{at}");
                for w in words {
                    assert_eq!(got.phrases[w], counts[w], "{w}, {at}");
                    assert_eq!(got.earliest.get(w), first.get(w), "{w}, {at}");
                }
            }
        }
    };
    for order in ["one segment", "segmented", "out of order", "interleaved"] {
        let mut posts = fixture();
        let (_dir, index) = match order {
            "out of order" => index_out_of_order(&posts),
            "interleaved" => index_interleaved(&posts),
            o => index(&posts, o == "segmented"),
        };
        check(&index, &posts, order);
        // Every 25th post now says something else, and 60 posts join on days 3 to 5.
        let mut w = index.writer(32 << 20, 1).expect("writer");
        for i in (0..posts.len()).step_by(25) {
            posts[i].text = "crash problems today with refund".into();
            w.add(&mention(i, &posts[i]), true).expect("replace");
        }
        w.commit(0).expect("commit");
        add_late(&index, w, &mut posts, Label::Negative, -0.5);
        check(&index, &posts, &format!("{order}, changed"));
    }
}

/// Adds 60 posts of an author "late" on days 3 to 5 through `w`, commits, closes it
/// and reloads `index`.
fn add_late(
    index: &MentionIndex,
    mut w: lauscher_index::MentionWriter,
    posts: &mut Vec<Post>,
    label: Label,
    score: f32,
) {
    for k in 0..60u32 {
        posts.push(Post {
            at: t0() + Duration::days(3) + Duration::minutes(i64::from(k) * 71),
            author: "late".into(),
            label,
            score,
            text: "login problems today with crash".into(),
        });
        let i = posts.len() - 1;
        w.add(&mention(i, &posts[i]), false).expect("add");
    }
    w.commit(0).expect("commit");
    w.close().expect("close");
    index.reload().expect("reload");
}

/// Label tallies in buckets of hours and days (a timeline's grid) equal the fixture's
/// counts and score sums, exactly, at a first and a second call (the second from kept
/// hour counts), for windows cut anywhere in an hour, moved by a day, filtered by a
/// label, on grids the kept counts do not serve, and after replacements and a new
/// segment; in one segment, many, and written out of order.
#[test]
fn label_tallies_over_hours_equal_the_fixture_again_and_after_changes() {
    let h = Duration::hours;
    let odd = h(7) + Duration::minutes(13) + Duration::seconds(20);
    // (origin, step, count), (since, until) or the grid's, label.
    let cases = [
        (
            (t0() + h(7), h(1), 24 * 11),
            Some((t0() + odd, t0() + h(245) + Duration::seconds(9))),
            None,
        ),
        ((t0() - h(1), Duration::days(1), 10), None, None),
        // A day later: the kept counts lack one day.
        ((t0() + h(23), Duration::days(1), 10), None, None),
        (
            (t0() - h(1), Duration::days(1), 10),
            None,
            Some(Label::Negative),
        ),
        (
            (t0() + h(5), Duration::weeks(1), 2),
            Some((t0() + odd, t0() + h(300))),
            None,
        ),
        // Buckets of eight hours: a few authors each.
        (
            (t0() + h(3), h(8), 8),
            Some((t0() + odd, t0() + h(62))),
            Some(Label::Positive),
        ),
        // Not whole hours, or too short a window: scanned.
        ((t0() + odd, Duration::days(1), 8), None, None),
        ((t0() + h(7), Duration::minutes(15), 4 * 40), None, None),
        ((t0() + h(7), h(1), 30), None, None),
    ];
    let check = |index: &MentionIndex, posts: &[Post], what: &str| {
        for (i, ((origin, step, count), window, label)) in cases.iter().enumerate() {
            let (req, buckets) = case_request((*origin, *step, *count), *window, *label);
            let end = *origin + *step * *count as i32;
            let (since, until) = (req.since.expect("since"), req.until.expect("until"));
            // Per bucket: negative, neutral, positive, score sum in ten-thousandths; and
            // the authors.
            let mut expected = vec![[0i64; 4]; *count];
            let mut authors = vec![BTreeSet::new(); *count];
            for p in posts.iter().filter(|p| {
                p.at >= since.max(*origin)
                    && p.at < until.min(end)
                    && label.is_none_or(|l| l == p.label)
            }) {
                let b = ((p.at - *origin).num_seconds() / step.num_seconds()) as usize;
                authors[b].insert(p.author.as_str());
                let e = &mut expected[b];
                e[match p.label {
                    Label::Negative => 0,
                    Label::Neutral => 1,
                    Label::Positive => 2,
                }] += 1;
                e[3] += (f64::from(p.score) * 10_000.0).round() as i64;
            }
            for call in ["first", "second"] {
                let got = index
                    .label_tally(&req, None, buckets, false)
                    .expect("tally");
                let got: Vec<[i64; 4]> = got
                    .iter()
                    .map(|t| {
                        assert_eq!(t.score_sum, (t.score_sum * 10_000.0).round() / 10_000.0);
                        [
                            t.negative as i64,
                            t.neutral as i64,
                            t.positive as i64,
                            (t.score_sum * 10_000.0).round() as i64,
                        ]
                    })
                    .collect();
                assert_eq!(got, expected, "{what}, case {i}, {call} call");
            }
            // With authors (a few buckets): the same counts, and each bucket's authors.
            if *count <= 10 {
                let got = index.label_tally(&req, None, buckets, true).expect("tally");
                let got: Vec<(u64, usize)> = got
                    .iter()
                    .map(|t| (t.total(), t.authors as usize))
                    .collect();
                let want: Vec<(u64, usize)> = expected
                    .iter()
                    .zip(&authors)
                    .map(|(e, a)| ((e[0] + e[1] + e[2]) as u64, a.len()))
                    .collect();
                assert_eq!(got, want, "{what}, case {i}, authors");
            }
        }
        // An unbounded request counts what its buckets hold, as one bounded by them.
        for grid in [cases[1].0, cases[4].0] {
            let (bounded, buckets) = case_request(grid, None, None);
            for authors in [false, true] {
                let open = index
                    .label_tally(&SearchRequest::default(), None, buckets, authors)
                    .expect("tally");
                let closed = index
                    .label_tally(&bounded, None, buckets, authors)
                    .expect("tally");
                assert_eq!(open, closed, "{what}, unbounded, authors: {authors}");
            }
        }
    };
    for order in ["one segment", "segmented", "out of order", "interleaved"] {
        let mut posts = fixture();
        let (_dir, index) = match order {
            "out of order" => index_out_of_order(&posts),
            "interleaved" => index_interleaved(&posts),
            o => index(&posts, o == "segmented"),
        };
        check(&index, &posts, order);
        // Every 25th post is now negative, and 60 posts join on days 3 to 5.
        let mut w = index.writer(32 << 20, 1).expect("writer");
        for i in (0..posts.len()).step_by(25) {
            posts[i].label = Label::Negative;
            posts[i].score = -0.5;
            w.add(&mention(i, &posts[i]), true).expect("replace");
        }
        w.commit(0).expect("commit");
        add_late(&index, w, &mut posts, Label::Positive, 0.25);
        check(&index, &posts, &format!("{order}, changed"));
    }
}

/// Candidates are the phrases the segments' own top lists rank highest, all buckets
/// together; asked again they are the same, and a segment written since adds its own.
#[test]
fn candidates_are_the_top_phrases_of_every_segment() {
    let mut posts = fixture();
    let (_dir, index) = index(&posts, true);
    let buckets = Buckets {
        origin: t0(),
        step: Duration::days(6),
        count: 2,
    };
    let req = SearchRequest {
        since: Some(t0()),
        until: Some(t0() + Duration::days(12)),
        ..SearchRequest::default()
    };
    let first = index
        .phrase_candidates(&req, None, buckets, 10)
        .expect("candidates");
    // At most 2·n per bucket; the words every post has and each complaint word.
    assert!(first.len() <= 2 * 2 * 10, "{first:?}");
    for w in WORDS.iter().chain(&["problem", "today"]) {
        assert!(first.iter().any(|p| p == w), "{w} in {first:?}");
    }
    assert_eq!(
        index
            .phrase_candidates(&req, None, buckets, 10)
            .expect("candidates"),
        first
    );
    let mut w = index.writer(32 << 20, 1).expect("writer");
    for k in 0..400u32 {
        posts.push(Post {
            at: t0() + Duration::days(8) + Duration::minutes(i64::from(k)),
            author: "late".into(),
            label: Label::Negative,
            score: -0.5,
            text: "teleport broken".into(),
        });
        let i = posts.len() - 1;
        w.add(&mention(i, &posts[i]), false).expect("add");
    }
    w.commit(0).expect("commit");
    w.close().expect("close");
    index.reload().expect("reload");
    let again = index
        .phrase_candidates(&req, None, buckets, 10)
        .expect("candidates");
    assert!(again.iter().any(|p| p.starts_with("teleport")), "{again:?}");
}
