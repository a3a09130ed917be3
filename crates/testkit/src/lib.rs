//! Test support shared by the crates' tests; never a dependency of production code.
//!
//! - [`fuzz_config`]: how many cases every property test of a parser of untrusted input
//!   runs: 10,000 by default (what CI runs), more with `LAUSCHER_FUZZ_CASES` for a
//!   longer run (`LAUSCHER_FUZZ_CASES=1000000 cargo nextest run -E 'test(never_panic)'`);
//! - [`scored`] and [`summary`]: a scored mention or a mention summary with sensible
//!   defaults (a negative German complaint about topic `acme`, 2026-11-20 10:00 UTC),
//!   changed field by field, instead of a literal of every field in each test.

use chrono::{DateTime, TimeZone, Utc};
use lauscher_model::{
    Author, Contribution, Intent, IntentDecision, Label, Mention, MentionId, MentionSummary,
    ScoredMention, Sentiment, TopicKind,
};
use proptest::test_runner::Config;

/// Cases a fuzz property runs when `LAUSCHER_FUZZ_CASES` is not set.
pub const FUZZ_CASES: u32 = 10_000;

/// The property-test settings of parsers of untrusted input: [`FUZZ_CASES`] cases, or
/// `LAUSCHER_FUZZ_CASES`.
pub fn fuzz_config() -> Config {
    let cases = std::env::var("LAUSCHER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(FUZZ_CASES);
    Config {
        cases,
        // Failures are printed with their input; a regressions file per test binary
        // keeps each one as a case forever.
        ..Config::default()
    }
}

/// Returns unix seconds `t` as a time.
pub fn at(t: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(t, 0).single().unwrap_or_default()
}

/// 2026-11-20 10:00:00 UTC, the default time of built mentions.
pub const DEFAULT_TIME: i64 = 1_795_168_800;

/// Builds a [`ScoredMention`] (see [`scored`]).
#[derive(Clone, Debug)]
pub struct ScoredBuilder(ScoredMention);

/// Returns a builder of mention `id` saying `text`: German, negative (−0.5), a
/// complaint, about topic `acme` (a brand), from source `feed`, by nobody, at
/// [`DEFAULT_TIME`]; [`ScoredBuilder::build`] adds the phrases of its title and text.
pub fn scored(id: u128, text: &str) -> ScoredBuilder {
    let time = at(DEFAULT_TIME);
    ScoredBuilder(ScoredMention {
        mention: Mention {
            id: MentionId(id),
            source: "feed".into(),
            url: Some(format!("https://example.org/{id}")),
            author: None,
            published_at: time,
            fetched_at: time,
            title: None,
            text: text.into(),
            lang_hint: None,
            address: None,
            repost_of: None,
            reply_to: None,
        },
        lang: Some(lauscher_model::Lang::De),
        sentiment: Sentiment {
            score: -0.5,
            label: Label::Negative,
            explanation: Vec::new(),
        },
        intent: IntentDecision {
            intent: Intent::Complaint,
            cues: vec!["negative sentiment".into()],
        },
        topics: vec!["acme".into()],
        targets: Vec::new(),
        topic_kinds: vec![TopicKind::Brand],
        phrases: Vec::new(),
        simhash: 0,
    })
}

impl ScoredBuilder {
    /// Sets the language by its code (`und` or an unknown code: undetermined).
    pub fn lang(mut self, code: &str) -> Self {
        self.0.lang = code.parse().ok();
        self
    }

    /// Sets the publication and fetch time.
    pub fn at(mut self, time: DateTime<Utc>) -> Self {
        self.0.mention.published_at = time;
        self.0.mention.fetched_at = time;
        self
    }

    /// Sets the topics, all of `kind` (none: no kinds either).
    pub fn topics(mut self, topics: &[&str], kind: TopicKind) -> Self {
        self.0.topics = topics.iter().map(|t| (*t).to_owned()).collect();
        self.0.topic_kinds = if topics.is_empty() {
            Vec::new()
        } else {
            vec![kind]
        };
        self
    }

    /// Sets the sentiment.
    pub fn sentiment(mut self, score: f32, label: Label) -> Self {
        self.0.sentiment.score = score;
        self.0.sentiment.label = label;
        self
    }

    /// Sets the intent, without cues.
    pub fn intent(mut self, intent: Intent) -> Self {
        self.0.intent = IntentDecision {
            intent,
            cues: Vec::new(),
        };
        self
    }

    /// Sets the cues behind the sentiment.
    pub fn explanation(mut self, explanation: Vec<Contribution>) -> Self {
        self.0.sentiment.explanation = explanation;
        self
    }

    /// Sets the source.
    pub fn source(mut self, source: &str) -> Self {
        self.0.mention.source = source.into();
        self
    }

    /// Sets the author and reach.
    pub fn author(mut self, name: &str, reach: Option<u64>) -> Self {
        self.0.mention.author = Some(Author {
            name: name.into(),
            reach,
        });
        self
    }

    /// Sets the URL.
    pub fn url(mut self, url: Option<&str>) -> Self {
        self.0.mention.url = url.map(str::to_owned);
        self
    }

    /// Sets the title.
    pub fn title(mut self, title: &str) -> Self {
        self.0.mention.title = Some(title.into());
        self
    }

    /// The mention, with the phrases of its title and text in its language.
    pub fn build(mut self) -> ScoredMention {
        let m = &self.0.mention;
        let text = match &m.title {
            Some(t) => format!("{t} {}", m.text),
            None => m.text.clone(),
        };
        self.0.phrases = lauscher_text::phrases::phrases(&text, self.0.lang);
        self.0
    }
}

/// Returns the summary of mention `n` at unix seconds `t` by author `a<n>`, otherwise
/// as [`scored`] builds it; change it with the builder first (`scored(..).build()` and
/// [`MentionSummary::of`]) or its fields after.
pub fn summary(n: u64, t: i64) -> MentionSummary {
    let mut s = MentionSummary::of(&scored(u128::from(n), "").at(at(t)).url(None).build());
    s.author_key = format!("a{n}");
    s
}
