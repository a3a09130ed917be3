//! Recurring complaint topics: the phrases significantly more frequent among a topic's
//! negative mentions in a window than in its own background, and whether they are new,
//! recurring or fading.
//!
//! tantivy has no significant-terms aggregation, so the score is computed here: JLH,
//! `(fg% − bg%) · fg% / bg%` with `fg% = fg / fg_total` over the window's negative
//! mentions and `bg% = (bg + 1) / (bg_total + 1)` over all of the topic's mentions in
//! the 28 days before the window. Listed are only phrases whose foreground count stands
//! 3 Poisson standard deviations above what the background rate predicts (and 1.5×
//! it): a phrase found everywhere ("new app") or an ordinary word's chance bump never
//! is; one that appears with the complaints is.
//!
//! Cost: over the last `weeks` weeks, one tally of the foreground (candidate phrases
//! per week with their exact counts) and one of the background (the candidates' counts
//! per week, four more weeks back), each reading the `phrases` fast column of the
//! matching mentions only ([`MentionIndex::phrase_tally`]); the same for a window other
//! than the last week; then, per listed phrase, three stored samples and its earliest
//! posting: the background notes the earliest mention of each phrase it counts, so
//! only the time before it is tallied for that. The background and the earliest
//! postings count selected phrases under the topic's filter, whose counts per day the
//! index keeps per segment: after the first call of a topic they read only the days
//! the weeks' boundaries cut (11 of 70), not the ten weeks.
//!
//! A listed phrase is shown as its newest posts write it most often, so their phrases
//! are extracted again with their written forms (~30 µs a post, up to 50 posts per
//! phrase). The forms of the last [`WRITTEN_KEPT`] posts read are kept, by post and
//! text, for all views of the process (about 2 KiB a post): a dashboard asks again
//! every minute, and the newest posts of its phrases are mostly the ones it read.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;
use std::sync::{Arc, LazyLock, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use lauscher_index::{Buckets, IndexedMention, MentionIndex, PhraseSelection, PhraseTally};
use lauscher_model::{Lang, MentionId};
use lauscher_query::RuleSet;
use lauscher_text::phrases::{PhraseForm, StopWordsOnly, merge_key, phrase_forms, phrases};
use lru::LruCache;
use rayon::prelude::*;
use serde::Serialize;

use crate::{Filters, InsightsError, Search};

/// Newest matching posts read per phrase: its surface form is counted over them, and
/// the first three are its samples.
const NEWEST: usize = 50;

/// Posts whose phrases as written are kept across views ([`written_forms`]).
const WRITTEN_KEPT: usize = 4_096;

/// A post's phrases as written, by its id and a hash of its language and texts (a
/// replaced post has other texts under the same id).
type WrittenCache = Mutex<LruCache<(MentionId, u64), Arc<Vec<PhraseForm>>>>;

/// The phrases as written of the posts read last, for every view of the process.
static WRITTEN: LazyLock<WrittenCache> = LazyLock::new(|| {
    Mutex::new(LruCache::new(
        NonZeroUsize::new(WRITTEN_KEPT).unwrap_or(NonZeroUsize::MIN),
    ))
});

/// Foreground phrases considered per ranking.
const CANDIDATES: usize = 300;
/// A phrase needs this many foreground mentions to be ranked.
const MIN_COUNT: u64 = 3;
/// Background length before each window.
const BACKGROUND_DAYS: i64 = 28;
/// A background with fewer mentions is joined by the window's own mentions.
const MIN_BACKGROUND: u64 = 200;

/// How recurrence is judged.
#[derive(Clone, Copy, Debug)]
pub struct Recurrence {
    /// Weeks looked back, this one included. Default 6.
    pub weeks: usize,
    /// A week's top list length. Default 20.
    pub rank: usize,
    /// Weeks in the top list that make a phrase recurring. Default 3.
    pub min_weeks: usize,
}

impl Default for Recurrence {
    fn default() -> Self {
        Recurrence {
            weeks: 6,
            rank: 20,
            min_weeks: 3,
        }
    }
}

/// A mention quoted as an example.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sample {
    /// Mention id.
    pub id: String,
    /// Published (RFC 3339).
    pub published_at: String,
    /// Link.
    pub url: Option<String>,
    /// The text, up to 280 characters.
    pub text: String,
}

/// One complaint phrase.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Phrase {
    /// As people wrote it: the most frequent surface form among the matching posts
    /// (`Hotline`, `cancelled flight`), the key when no post shows it.
    pub phrase: String,
    /// The stemmed key it is counted on (`hotlin`, `cancel flight`), the most frequent
    /// of its merged keys.
    pub key: String,
    /// Near-identical keys merged into it.
    pub variants: Vec<String>,
    /// Foreground mentions with it (merged forms summed).
    pub count: u64,
    /// count / foreground mentions.
    pub share: f64,
    /// fg% / bg%.
    pub lift: f64,
    /// The JLH score.
    pub score: f64,
    /// `new` (top list this week only), `recurring` (top list in ≥ min_weeks weeks),
    /// `fading` (recurring before, not this week) or `""`.
    pub status: String,
    /// Weeks (of the last `weeks`) in whose top list it was.
    pub weeks_in_top: usize,
    /// Foreground mentions per week, oldest first (the last is the week ending at
    /// `until`).
    pub weekly: Vec<u64>,
    /// First mention of the topic with it, as far as the index goes back.
    pub first_seen: Option<String>,
    /// Up to three foreground mentions with it, newest first.
    pub samples: Vec<Sample>,
    /// The foreground mentions with it.
    pub search: Search,
}

/// The complaints view.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Complaints {
    /// The topic (or every topic).
    pub topic: Option<String>,
    /// Negative (or the asked label / intent) mentions in the window.
    pub foreground: u64,
    /// The topic's mentions in the 28 days before.
    pub background: u64,
    /// The foreground search.
    pub search: Search,
    /// Ranked phrases.
    pub phrases: Vec<Phrase>,
    /// Phrases that are new this week.
    pub new: Vec<String>,
    /// Phrases that recur.
    pub recurring: Vec<String>,
    /// Phrases that recurred and are gone from this week's list.
    pub fading: Vec<Phrase>,
}

/// Near-identical phrases counted together.
struct Group {
    /// Their merge key.
    key: String,
    /// The forms with their foreground counts, most frequent first.
    forms: Vec<(String, u64)>,
    /// Foreground count (forms summed).
    fg: u64,
    /// Background count.
    bg: u64,
}

/// Counts of phrases in a foreground and its background.
struct Ranking {
    fg_total: u64,
    bg_total: u64,
    /// (merge key) → (phrase forms with fg counts, fg sum, bg sum).
    groups: Vec<Group>,
}

impl Ranking {
    /// JLH score of a group.
    fn jlh(&self, fg: u64, bg: u64) -> Option<(f64, f64)> {
        if self.fg_total == 0 || fg < MIN_COUNT {
            return None;
        }
        let fg_p = fg as f64 / self.fg_total as f64;
        let bg_p = (bg as f64 + 1.0) / (self.bg_total as f64 + 1.0);
        let lift = fg_p / bg_p;
        // JLH ranks; significance decides what is listed at all: the foreground count
        // must stand 3 Poisson standard deviations above what the background rate
        // predicts, and 1.5× it, so chance fluctuations of ordinary words stay out.
        let expected = self.fg_total as f64 * bg_p;
        let z = (fg as f64 - expected) / expected.max(1.0).sqrt();
        (z >= 3.0 && lift >= 1.5).then_some(((fg_p - bg_p) * lift, lift))
    }

    /// Merge keys, best first, with score and lift.
    fn ranked(&self) -> Vec<(usize, f64, f64)> {
        let mut out: Vec<(usize, f64, f64)> = self
            .groups
            .iter()
            .enumerate()
            .filter_map(|(i, g)| self.jlh(g.fg, g.bg).map(|(s, l)| (i, s, l)))
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }
}

/// Words of the topic's own name (stemmed in German and English): never a complaint.
fn brand_words(rules: &RuleSet, topic: Option<&str>) -> HashSet<String> {
    let mut out = HashSet::new();
    if let Some(t) = topic.and_then(|t| rules.position(t).map(|p| &rules.rules()[p])) {
        for text in [t.name.as_str(), t.id.as_str()] {
            let text = text.replace(['-', '_'], " ");
            for lang in [Lang::De, Lang::En] {
                out.extend(
                    phrases(&text, Some(lang))
                        .into_iter()
                        .filter(|p| !p.contains(' ')),
                );
            }
        }
    }
    out
}

fn groups_of(
    fg: &[(String, u64)],
    bg: &HashMap<String, u64>,
    brand: &HashSet<String>,
) -> Vec<Group> {
    let mut by_key: BTreeMap<String, Group> = BTreeMap::new();
    for (p, n) in fg {
        if p.split(' ').any(|w| brand.contains(w)) {
            continue;
        }
        let key = merge_key(p);
        let g = by_key.entry(key.clone()).or_insert_with(|| Group {
            key,
            forms: Vec::new(),
            fg: 0,
            bg: 0,
        });
        g.forms.push((p.clone(), *n));
        g.fg += n;
        g.bg += bg.get(p).copied().unwrap_or(0);
    }
    by_key
        .into_values()
        .map(|mut g| {
            g.forms.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            g
        })
        .collect()
}

/// The foreground search: the filters, negative unless a label or intent is given.
fn foreground(
    filters: &Filters,
    topic: Option<&str>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Search {
    let mut s = filters.search(topic, since, until);
    if s.label.is_none() && s.intent.is_none() {
        s.label = Some(lauscher_model::Label::Negative);
    }
    s
}

/// `count` buckets of `step` ending at `until`, oldest first.
fn ending(until: DateTime<Utc>, step: Duration, count: usize) -> Buckets {
    Buckets {
        origin: until - step * count as i32,
        step,
        count,
    }
}

/// The foreground of each time bucket: its mentions and its candidate phrases.
struct Candidates {
    /// Mentions per bucket.
    docs: Vec<u64>,
    /// Per bucket, the candidates with their exact counts, most frequent first.
    phrases: Vec<Vec<(String, u64)>>,
    /// Every phrase counted (sorted): the same all day, so a background counting them
    /// all finds the index's kept day counts for each at the next call.
    counted: Vec<String>,
}

/// The foreground's candidate phrases per bucket, counted exactly: the `CANDIDATES`
/// most frequent per bucket with at least `MIN_COUNT` mentions, among the phrases the
/// segments' own top lists name ([`MentionIndex::phrase_candidates`]).
///
/// Which phrases are counted is chosen over the same buckets moved to end at the next
/// midnight (UTC): they stay the same all day, so a call a little later (the API's
/// windows end "now") finds the index's kept top lists and day counts for them and
/// reads only the days its own boundaries cut. Their counts are exact for `buckets`;
/// only a phrase found solely in the first hours of the oldest bucket, which the moved
/// buckets leave out, can be missed.
fn candidates(
    index: &MentionIndex,
    rules: &RuleSet,
    search: &Search,
    buckets: Buckets,
) -> Result<Candidates, InsightsError> {
    let req = search.request();
    let end = buckets.origin + buckets.step * buckets.count as i32;
    let day = 86_400;
    let rest = end.timestamp().rem_euclid(day);
    let shift = Duration::seconds(if rest == 0 { 0 } else { day - rest });
    let mut moved = req.clone();
    moved.since = req.since.map(|t| t + shift);
    moved.until = req.until.map(|t| t + shift);
    let names = index.phrase_candidates(
        &moved,
        Some(rules),
        Buckets {
            origin: buckets.origin + shift,
            ..buckets
        },
        CANDIDATES,
    )?;
    let exact = index.phrase_tally(&req, Some(rules), buckets, PhraseSelection::Only(&names))?;
    let mut per_bucket: Vec<Vec<(String, u64)>> = vec![Vec::new(); buckets.count];
    for (phrase, counts) in &exact.phrases {
        for (b, n) in counts.iter().enumerate() {
            if *n >= MIN_COUNT {
                per_bucket[b].push((phrase.clone(), *n));
            }
        }
    }
    for list in &mut per_bucket {
        list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        list.truncate(CANDIDATES);
    }
    Ok(Candidates {
        docs: exact.docs,
        phrases: per_bucket,
        counted: names,
    })
}

/// Counts of `phrases` per bucket over all of `search`'s mentions, whatever their
/// label: the background.
fn background(
    index: &MentionIndex,
    rules: &RuleSet,
    search: &Search,
    buckets: Buckets,
    phrases: &[String],
) -> Result<PhraseTally, InsightsError> {
    let mut search = search.clone();
    search.label = None;
    search.intent = None;
    Ok(index.phrase_tally(
        &search.request(),
        Some(rules),
        buckets,
        PhraseSelection::Only(phrases),
    )?)
}

/// Ranks the phrases of `[since, until)` against the 28 days before.
fn rank(
    index: &MentionIndex,
    rules: &RuleSet,
    filters: &Filters,
    topic: Option<&str>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    brand: &HashSet<String>,
) -> Result<Ranking, InsightsError> {
    let fg_search = foreground(filters, topic, since, until);
    let window = ending(until, until - since, 1);
    let Candidates {
        docs: fg_docs,
        phrases: mut fg_lists,
        ..
    } = candidates(index, rules, &fg_search, window)?;
    let fg_counts = fg_lists.pop().unwrap_or_default();
    let include: Vec<String> = fg_counts.iter().map(|(k, _)| k.clone()).collect();
    let sum = |t: &PhraseTally| -> (HashMap<String, u64>, u64) {
        let counts = t
            .phrases
            .iter()
            .map(|(k, c)| (k.clone(), c.iter().sum()))
            .collect();
        (counts, t.docs.iter().sum())
    };
    // The background: all of the topic's mentions before, whatever their label.
    let before = ending(since, Duration::days(BACKGROUND_DAYS), 1);
    let bg_search = filters.search(topic, before.origin, since);
    let (mut bg_counts, mut bg_total) =
        sum(&background(index, rules, &bg_search, before, &include)?);
    if bg_total < MIN_BACKGROUND {
        // A topic too young for a background of its own: the window's mentions of every
        // label join it (Elasticsearch's default, the foreground inside its background),
        // so a complaint still stands out against the topic's other talk.
        let own = filters.search(topic, since, until);
        let (counts, total) = sum(&background(index, rules, &own, window, &include)?);
        for (k, n) in counts {
            *bg_counts.entry(k).or_default() += n;
        }
        bg_total += total;
    }
    Ok(Ranking {
        fg_total: fg_docs.iter().sum(),
        bg_total,
        groups: groups_of(&fg_counts, &bg_counts, brand),
    })
}

/// The weekly rankings, and what their background scan saw.
struct Weekly {
    /// Index 0: the week ending at `until`.
    rankings: Vec<Ranking>,
    /// The phrases the background counted (sorted).
    counted: Vec<String>,
    /// The background's start: it read every mention of the filters (any label) from
    /// here to `until`.
    since: DateTime<Utc>,
    /// The earliest mention with each counted phrase since then.
    earliest: HashMap<String, DateTime<Utc>>,
}

/// The rankings of the last `weeks` weeks (index 0: the week ending at `until`): the
/// foreground's candidate phrases per week, then their background counts per week,
/// each week's background being the four weeks before it.
fn weekly_rankings(
    index: &MentionIndex,
    rules: &RuleSet,
    filters: &Filters,
    topic: Option<&str>,
    weeks: usize,
    brand: &HashSet<String>,
) -> Result<Weekly, InsightsError> {
    let bg_weeks = (BACKGROUND_DAYS / 7) as usize;
    let until = filters.until;
    let week = Duration::weeks(1);
    let fg_buckets = ending(until, week, weeks);
    let fg_search = foreground(filters, topic, fg_buckets.origin, until);
    let Candidates {
        docs: fg_docs,
        phrases: fg_lists,
        counted: include,
    } = candidates(index, rules, &fg_search, fg_buckets)?;
    // Background counts per week over every label, `bg_weeks` more weeks back.
    let all = bg_weeks + weeks;
    let bg_buckets = ending(until, week, all);
    let bg_search = filters.search(topic, bg_buckets.origin, until);
    let bg = background(index, rules, &bg_search, bg_buckets, &include)?;
    // Buckets run oldest first; rankings newest first.
    let newest = |v: &[u64], k: usize| v[v.len() - 1 - k];
    let mut out = Vec::with_capacity(weeks);
    for k in 0..weeks {
        let fg_counts = &fg_lists[weeks - 1 - k];
        let mut span = k + 1..k + 1 + bg_weeks;
        let total = |span: &std::ops::Range<usize>| -> u64 {
            span.clone().map(|w| newest(&bg.docs, w)).sum()
        };
        let mut bg_total = total(&span);
        if bg_total < MIN_BACKGROUND {
            // As in `rank`: a young topic's own week joins its background.
            span = k..k + 1 + bg_weeks;
            bg_total = total(&span);
        }
        let counts: HashMap<String, u64> = fg_counts
            .iter()
            .map(|(p, _)| {
                let n = bg
                    .phrases
                    .get(p)
                    .map_or(0, |c| span.clone().map(|w| newest(c, w)).sum());
                (p.clone(), n)
            })
            .collect();
        out.push(Ranking {
            fg_total: newest(&fg_docs, k),
            bg_total,
            groups: groups_of(fg_counts, &counts, brand),
        });
    }
    Ok(Weekly {
        rankings: out,
        counted: include,
        since: bg_buckets.origin,
        earliest: bg.earliest,
    })
}

/// A phrase to list: its key, its forms with their counts, its foreground count, score
/// and lift.
struct Chosen {
    key: String,
    forms: Vec<(String, u64)>,
    fg: u64,
    score: f64,
    lift: f64,
}

/// Recurring complaint topics of the first of `filters.topics` (or of every mention)
/// in the window, with `n` phrases listed.
pub fn complaints(
    index: &MentionIndex,
    rules: &RuleSet,
    filters: &Filters,
    n: usize,
    recurrence: Recurrence,
) -> Result<Complaints, InsightsError> {
    let topic = filters.topics.first().map(String::as_str);
    let brand = brand_words(rules, topic);
    // Week k is [until − (k+1)·7d, until − k·7d); week 0 is the current week.
    let weeks = recurrence.weeks.clamp(1, 52);
    let weekly_scan = weekly_rankings(index, rules, filters, topic, weeks, &brand)?;
    let week_ranks = &weekly_scan.rankings;
    let current = if filters.until - filters.since == Duration::weeks(1) {
        None
    } else {
        Some(rank(
            index,
            rules,
            filters,
            topic,
            filters.since,
            filters.until,
            &brand,
        )?)
    };
    let current = current.as_ref().unwrap_or(&week_ranks[0]);
    // Per week, newest first, its top list in rank order (a fading phrase is listed in
    // the order it was last ranked, the same at every call).
    let mut tops: Vec<Vec<String>> = Vec::with_capacity(weeks);
    let mut weekly: HashMap<String, Vec<u64>> = HashMap::new();
    for (k, r) in week_ranks.iter().enumerate() {
        for g in &r.groups {
            weekly
                .entry(g.key.clone())
                .or_insert_with(|| vec![0; weeks])[weeks - 1 - k] = g.fg;
        }
        tops.push(
            r.ranked()
                .into_iter()
                .take(recurrence.rank)
                .map(|(i, _, _)| r.groups[i].key.clone())
                .collect(),
        );
    }
    let status_of = |key: &str| -> (String, usize) {
        let in_top = tops.iter().filter(|t| t.iter().any(|k| k == key)).count();
        let this_week = tops[0].iter().any(|k| k == key);
        let status = if in_top >= recurrence.min_weeks && this_week {
            "recurring"
        } else if this_week && in_top == 1 {
            "new"
        } else if !this_week && in_top >= recurrence.min_weeks.saturating_sub(1).max(2) {
            "fading"
        } else {
            ""
        };
        (status.to_owned(), in_top)
    };
    // The phrases listed, then the fading ones.
    let mut chosen: Vec<Chosen> = Vec::new();
    for (i, score, lift) in current.ranked().into_iter().take(n.clamp(1, 100)) {
        let g = &current.groups[i];
        chosen.push(Chosen {
            key: g.key.clone(),
            forms: g.forms.clone(),
            fg: g.fg,
            score,
            lift,
        });
    }
    let listed_len = chosen.len();
    // Fading: recurred in earlier weeks, out of this week's list.
    let mut seen: HashSet<&String> = HashSet::new();
    for top in tops.iter().skip(1) {
        for key in top {
            if !seen.insert(key) || tops[0].contains(key) {
                continue;
            }
            if status_of(key).0 == "fading" {
                chosen.push(Chosen {
                    key: key.clone(),
                    forms: vec![(key.clone(), 0)],
                    fg: 0,
                    score: 0.0,
                    lift: 0.0,
                });
            }
        }
    }
    let groups: Vec<Vec<String>> = chosen
        .iter()
        .map(|c| c.forms.iter().map(|(f, _)| f.clone()).collect())
        .collect();
    let window = foreground(filters, topic, filters.since, filters.until);
    let newest = newest(index, rules, &window, &groups)?;
    let first = first_seen(
        index,
        rules,
        filters,
        topic,
        &groups[..listed_len],
        &weekly_scan,
    )?;
    let mut listed = Vec::with_capacity(listed_len);
    let mut fading = Vec::new();
    let written = written_forms(&newest);
    for (i, (chosen, (newest, group))) in chosen
        .into_iter()
        .zip(newest.into_iter().zip(groups))
        .enumerate()
    {
        let Chosen {
            key,
            forms,
            fg,
            score,
            lift,
        } = chosen;
        let (status, weeks_in_top) = status_of(&key);
        let mut search = window.clone();
        search.phrases = group;
        let main_form = forms.first().map(|f| f.0.clone()).unwrap_or_default();
        let keys: Vec<&str> = forms.iter().map(|f| f.0.as_str()).collect();
        let phrase = Phrase {
            phrase: surface(&newest, &keys, &written).unwrap_or_else(|| main_form.clone()),
            key: main_form,
            variants: forms.iter().skip(1).map(|f| f.0.clone()).collect(),
            count: fg,
            share: if current.fg_total == 0 {
                0.0
            } else {
                fg as f64 / current.fg_total as f64
            },
            lift,
            score,
            status,
            weeks_in_top,
            weekly: weekly.get(&key).cloned().unwrap_or_else(|| vec![0; weeks]),
            first_seen: first.get(i).copied().flatten().map(|t| t.to_rfc3339()),
            samples: samples(&newest),
            search,
        };
        if i < listed_len {
            listed.push(phrase);
        } else {
            fading.push(phrase);
        }
    }
    let pick = |status: &str| -> Vec<String> {
        listed
            .iter()
            .filter(|p| p.status == status)
            .map(|p| p.phrase.clone())
            .collect()
    };
    Ok(Complaints {
        topic: topic.map(str::to_owned),
        foreground: current.fg_total,
        background: current.bg_total,
        search: foreground(filters, topic, filters.since, filters.until),
        new: pick("new"),
        recurring: pick("recurring"),
        phrases: listed,
        fading,
    })
}

/// Per group of phrase forms, the newest [`NEWEST`] mentions matching `search` with
/// any of them, reposts left out (their original counts): they serve the phrase's
/// surface form and its samples. One scan for all groups.
fn newest(
    index: &MentionIndex,
    rules: &RuleSet,
    search: &Search,
    groups: &[Vec<String>],
) -> Result<Vec<Vec<IndexedMention>>, InsightsError> {
    let mut req = search.request();
    req.collapse = Some(lauscher_index::Collapse::Reposts);
    Ok(index
        .phrase_mentions(&req, Some(rules), groups, NEWEST)?
        .into_iter()
        .map(|m| m.newest)
        .collect())
}

/// The phrases of `m` as written (English lowercased: its capitals mostly open
/// sentences, "Login" is "login").
fn forms_of(m: &IndexedMention) -> Vec<PhraseForm> {
    let lang = m.lang.parse::<Lang>().ok();
    let texts = [Some(m.text.as_str()), m.title.as_deref()];
    let mut forms: Vec<PhraseForm> = texts
        .into_iter()
        .flatten()
        .flat_map(|text| phrase_forms(text, lang, &StopWordsOnly))
        .collect();
    if lang == Some(Lang::En) {
        for f in &mut forms {
            f.surface = f.surface.to_lowercase();
        }
    }
    forms
}

/// The phrases as written of every post of `newest` with an id: kept ones from
/// [`WRITTEN`], the others extracted on all cores, each post once (the listed phrases'
/// newest posts overlap: a complaint's bigrams share their posts).
fn written_forms(newest: &[Vec<IndexedMention>]) -> HashMap<MentionId, Arc<Vec<PhraseForm>>> {
    let text_key = |m: &IndexedMention| {
        let mut h = std::hash::DefaultHasher::new();
        (&m.lang, &m.text, &m.title).hash(&mut h);
        h.finish()
    };
    let mut out: HashMap<MentionId, Arc<Vec<PhraseForm>>> = HashMap::new();
    let mut missing: Vec<(&IndexedMention, u64)> = Vec::new();
    let mut seen = HashSet::new();
    {
        let mut kept = WRITTEN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for m in newest.iter().flatten() {
            if m.id.0 == 0 || !seen.insert(m.id) {
                continue;
            }
            let key = text_key(m);
            match kept.get(&(m.id, key)) {
                Some(forms) => {
                    out.insert(m.id, forms.clone());
                }
                None => missing.push((m, key)),
            }
        }
    }
    let fresh: Vec<(MentionId, u64, Arc<Vec<PhraseForm>>)> = missing
        .into_par_iter()
        .map(|(m, key)| (m.id, key, Arc::new(forms_of(m))))
        .collect();
    let mut kept = WRITTEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (id, key, forms) in fresh {
        kept.put((id, key), forms.clone());
        out.insert(id, forms);
    }
    out
}

/// The most frequent way `posts` write a phrase counted under one of `keys`, case kept
/// (English lowercased); ties go to the form seen first. `written` holds the posts'
/// phrases as written ([`written_forms`]).
fn surface(
    posts: &[IndexedMention],
    keys: &[&str],
    written: &HashMap<MentionId, Arc<Vec<PhraseForm>>>,
) -> Option<String> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    let mut unkept: Vec<PhraseForm>;
    for m in posts {
        // A post without an id (none is indexed so) is not kept under one.
        let forms = match written.get(&m.id) {
            Some(forms) => forms.as_slice(),
            None => {
                unkept = forms_of(m);
                &unkept
            }
        };
        for p in forms.iter() {
            if !keys.contains(&p.key.as_str()) {
                continue;
            }
            match counts.iter_mut().find(|(f, _)| *f == p.surface) {
                Some((_, n)) => *n += 1,
                None => counts.push((p.surface.clone(), 1)),
            }
        }
    }
    let mut best: Option<(String, usize)> = None;
    for (form, n) in counts {
        if best.as_ref().is_none_or(|(_, b)| n > *b) {
            best = Some((form, n));
        }
    }
    best.map(|(f, _)| f)
}

/// Three foreground mentions with the phrase, newest first; reposts collapse under
/// their original, so three samples are three different posts.
fn samples(newest: &[IndexedMention]) -> Vec<Sample> {
    newest
        .iter()
        .take(3)
        .map(|m| Sample {
            id: m.id.to_string(),
            published_at: m.published_at.to_rfc3339(),
            url: m.url.clone(),
            text: m.text.chars().take(280).collect(),
        })
        .collect()
}

/// The earliest mention of the topic with any form of each listed phrase, at any time
/// (since 1900): one tally of the listed phrases' earliest times.
///
/// The weekly background already read the last weeks of every label: when the filters
/// ask for no label or intent and it counted every phrase of the groups, only the time
/// before it is tallied and its earliest times join the tally's. That tally's filter is
/// then the background's (the topic, any label), whose day counts the index keeps: it
/// reads only the day the background's start cuts.
fn first_seen(
    index: &MentionIndex,
    rules: &RuleSet,
    filters: &Filters,
    topic: Option<&str>,
    groups: &[Vec<String>],
    weekly: &Weekly,
) -> Result<Vec<Option<DateTime<Utc>>>, InsightsError> {
    let mut phrases: Vec<String> = groups.iter().flatten().cloned().collect();
    phrases.sort_unstable();
    phrases.dedup();
    let known = filters.label.is_none()
        && filters.intent.is_none()
        && phrases
            .iter()
            .all(|p| weekly.counted.binary_search(p).is_ok());
    let until = if known { weekly.since } else { filters.until };
    let since = Utc
        .with_ymd_and_hms(1900, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH);
    let tally = if phrases.is_empty() || until <= since {
        PhraseTally::default()
    } else {
        index.phrase_tally(
            &filters.search(topic, since, until).request(),
            Some(rules),
            Buckets {
                origin: since,
                step: until - since,
                count: 1,
            },
            PhraseSelection::Only(&phrases),
        )?
    };
    Ok(groups
        .iter()
        .map(|group| {
            group
                .iter()
                .filter_map(|p| tally.earliest.get(p).copied())
                .chain(
                    group
                        .iter()
                        .filter(|_| known)
                        .filter_map(|p| weekly.earliest.get(p).copied()),
                )
                .min()
        })
        .collect())
}
