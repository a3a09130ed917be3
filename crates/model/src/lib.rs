//! Message types shared by every stage of the pipeline.
//!
//! Nothing here does IO or runs async code: the types describe what flows from a source
//! through analysis into the index, so that every crate agrees on one vocabulary.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod lang;

pub use lang::{Lang, UnsupportedLang};

/// Identifies one mention across polls, sources and restarts.
///
/// It is the xxh3-128 hash of a stable key (the canonical URL, else the source id and the
/// source's native id, else the source id and a content hash), so the same post always
/// gets the same id. The derivation is frozen: changing it would re-index every mention
/// as new. Printed as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MentionId(pub u128);

impl MentionId {
    /// Returns the id for a stable key, e.g. `url:https://example.org/a`.
    pub fn from_key(key: &str) -> Self {
        MentionId(xxhash_rust::xxh3::xxh3_128(key.as_bytes()))
    }
}

impl fmt::Display for MentionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for MentionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MentionId({self})")
    }
}

/// The error for a string that is not 32 hex digits.
#[derive(Debug, thiserror::Error)]
#[error("invalid mention id {0:?}: expected 32 hex digits")]
pub struct InvalidMentionId(pub String);

impl FromStr for MentionId {
    type Err = InvalidMentionId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 32 {
            return Err(InvalidMentionId(s.to_owned()));
        }
        u128::from_str_radix(s, 16)
            .map(MentionId)
            .map_err(|_| InvalidMentionId(s.to_owned()))
    }
}

impl Serialize for MentionId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MentionId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Who wrote a mention, as far as the source tells.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Author {
    /// Handle or display name, as the source gives it.
    pub name: String,
    /// Followers or subscribers, when the source reports them.
    pub reach: Option<u64>,
}

/// One post, article or comment as it arrives from a source, before analysis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    /// Stable id (see [`MentionId`]).
    pub id: MentionId,
    /// The configured source it came from (`import` for pushed files).
    pub source: String,
    /// Canonical URL, when there is one.
    pub url: Option<String>,
    /// The author, when known.
    pub author: Option<Author>,
    /// When it was published; `fetched_at` when the source gave no usable date.
    pub published_at: DateTime<Utc>,
    /// When Lauscher first fetched it.
    pub fetched_at: DateTime<Utc>,
    /// Headline or title, plain text.
    pub title: Option<String>,
    /// Body, plain text (HTML already stripped).
    pub text: String,
    /// A language the source itself declares (ISO 639-1), preferred over detection.
    pub lang_hint: Option<String>,
    /// The mention this one reposts (a boost, reblog or retweet the source reported,
    /// or the same text by another author, found by dedupe). A repost is a mention of
    /// its own: it counts in volume, share of voice and authors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repost_of: Option<MentionId>,
    /// The post this one answers, as the source names it: the parent's URL where the
    /// source gives one (Hacker News, Lemmy, YouTube), else its own address
    /// (`at://…` on Bluesky, the status API URL on Mastodon). The service desk follows
    /// threads with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// How replies name this post where that is not its URL: the status API URL on
    /// Mastodon (replies carry only the parent's id), the `at://` URI on Bluesky. With
    /// [`Mention::reply_to`] it lets the service desk follow a thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl Mention {
    /// The addresses replies may name this post by: its own [`Mention::address`] and its
    /// URL.
    pub fn addresses(&self) -> impl Iterator<Item = &str> {
        self.address
            .as_deref()
            .into_iter()
            .chain(self.url.as_deref())
    }
}

/// The sentiment class of a mention.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// Clearly negative.
    Negative,
    /// Neither, or inside the neutral band.
    Neutral,
    /// Clearly positive.
    Positive,
}

impl Label {
    /// Returns the lowercase name used in the index, the API and labeled files.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Negative => "negative",
            Label::Neutral => "neutral",
            Label::Positive => "positive",
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for an unknown label name.
#[derive(Debug, thiserror::Error)]
#[error("unknown label {0:?}: expected negative, neutral or positive")]
pub struct UnknownLabel(pub String);

impl FromStr for Label {
    type Err = UnknownLabel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "negative" => Ok(Label::Negative),
            "neutral" => Ok(Label::Neutral),
            "positive" => Ok(Label::Positive),
            _ => Err(UnknownLabel(s.to_owned())),
        }
    }
}

/// What a topic stands for in share-of-voice views.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TopicKind {
    /// The user's own brand.
    Brand,
    /// A competitor's brand.
    Competitor,
    /// The industry or market at large.
    Industry,
}

impl TopicKind {
    /// Returns the lowercase name used in config and the index.
    pub fn as_str(self) -> &'static str {
        match self {
            TopicKind::Brand => "brand",
            TopicKind::Competitor => "competitor",
            TopicKind::Industry => "industry",
        }
    }
}

/// One word or rule that moved a score, for explanations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// The token or rule name.
    pub cue: String,
    /// How much it moved the raw score.
    pub weight: f32,
}

/// A sentiment decision with the reasons behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    /// Score in `[-1, 1]`.
    pub score: f32,
    /// The class the score falls into.
    pub label: Label,
    /// The cues that moved the score, largest first.
    pub explanation: Vec<Contribution>,
}

/// The error for an unknown intent name.
#[derive(Debug, thiserror::Error)]
#[error("unknown intent {0:?}: expected complaint, question, praise or other")]
pub struct UnknownIntent(pub String);

impl FromStr for Intent {
    type Err = UnknownIntent;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "complaint" => Ok(Intent::Complaint),
            "question" => Ok(Intent::Question),
            "praise" => Ok(Intent::Praise),
            "other" => Ok(Intent::Other),
            _ => Err(UnknownIntent(s.to_owned())),
        }
    }
}

/// What the author wants, as far as the words tell; service leads route on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Intent {
    /// Something went wrong and the author says so.
    Complaint,
    /// The author asks something.
    Question,
    /// The author praises or thanks.
    Praise,
    /// None of these: news, chatter, announcements.
    Other,
}

impl Intent {
    /// Returns the lowercase name used in the index and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Complaint => "complaint",
            Intent::Question => "question",
            Intent::Praise => "praise",
            Intent::Other => "other",
        }
    }
}

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent a service desk item is, lowest first (so `max` picks the most urgent).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Can wait.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Wide reach or an escalated incident on the topic.
    High,
    /// Very wide reach, a shitstorm on the topic, or a threat.
    Urgent,
}

impl Priority {
    /// Every priority, lowest first.
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// One step more urgent (urgent stays urgent).
    pub fn raised(self) -> Priority {
        match self {
            Priority::Low => Priority::Normal,
            Priority::Normal => Priority::High,
            Priority::High | Priority::Urgent => Priority::Urgent,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown priority {s:?}: expected low, normal, high or urgent"))
    }
}

/// An intent decision with the cues that fired.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntentDecision {
    /// The decided intent.
    pub intent: Intent,
    /// The cues behind it (`question mark`, `service: erstattung`, `negative sentiment`).
    pub cues: Vec<String>,
}

impl Default for IntentDecision {
    fn default() -> Self {
        IntentDecision {
            intent: Intent::Other,
            cues: Vec::new(),
        }
    }
}

/// Sentiment toward one matched topic: the clauses that mention it, scored alone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetSentiment {
    /// The topic id.
    pub topic: String,
    /// Score in `[-1, 1]`.
    pub score: f32,
    /// The class the score falls into.
    pub label: Label,
    /// The cues that moved it, largest first.
    pub explanation: Vec<Contribution>,
}

/// A mention after analysis: language, sentiment and topics, ready for the index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoredMention {
    /// The mention itself.
    pub mention: Mention,
    /// The detected (or declared) language; `None` when undetermined (stored as `und`).
    #[serde(with = "lang::code")]
    pub lang: Option<Lang>,
    /// Sentiment with its explanation.
    pub sentiment: Sentiment,
    /// What the author wants, with the cues.
    #[serde(default)]
    pub intent: IntentDecision,
    /// Ids of the topics it matched.
    pub topics: Vec<String>,
    /// Sentiment toward each matched topic, when its clauses could be told apart.
    #[serde(default)]
    pub targets: Vec<TargetSentiment>,
    /// Kinds of the matched topics (deduplicated).
    pub topic_kinds: Vec<TopicKind>,
    /// The phrase keys complaint topics are counted on (stemmed uni- and bigrams of its
    /// title and text, evaluative words left out), computed by the scorer.
    #[serde(default)]
    pub phrases: Vec<String>,
    /// 64-bit SimHash of the normalised text, for near-duplicate detection.
    pub simhash: u64,
}

/// What the alert router needs of a committed mention: small, cheap to clone, and
/// rebuilt from the index's stored fields at start-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MentionSummary {
    /// The mention id.
    pub id: MentionId,
    /// The source id.
    pub source: String,
    /// Who counts as the author: the account's folded name, else the URL's host (news
    /// without a byline), else the source.
    pub author_key: String,
    /// Followers, when the source reports them.
    pub reach: Option<u64>,
    /// Event time.
    pub published_at: DateTime<Utc>,
    /// When it was fetched (imports set it to `published_at`).
    pub fetched_at: DateTime<Utc>,
    /// The language; `None` when undetermined.
    #[serde(with = "lang::code")]
    pub lang: Option<Lang>,
    /// Sentiment score in `[-1, 1]`.
    pub score: f32,
    /// Sentiment label.
    pub label: Label,
    /// Intent.
    pub intent: Intent,
    /// Matched topic ids.
    pub topics: Vec<String>,
    /// The URL, for links in alerts.
    pub url: Option<String>,
    /// The first 200 characters of the text, for samples in alerts.
    pub snippet: String,
    /// The post this one answers ([`Mention::reply_to`]); not kept in the index, so
    /// `None` in summaries rebuilt from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// [`Mention::address`]; `None` in summaries rebuilt from the index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl MentionSummary {
    /// Longest snippet kept, in characters.
    pub const SNIPPET_CHARS: usize = 200;

    /// Summarises a scored mention.
    pub fn of(s: &ScoredMention) -> MentionSummary {
        let m = &s.mention;
        MentionSummary {
            id: m.id,
            source: m.source.clone(),
            author_key: author_key(
                m.author.as_ref().map(|a| a.name.as_str()),
                m.url.as_deref(),
                &m.source,
            ),
            reach: m.author.as_ref().and_then(|a| a.reach),
            published_at: m.published_at,
            fetched_at: m.fetched_at,
            lang: s.lang,
            score: s.sentiment.score,
            label: s.sentiment.label,
            intent: s.intent.intent,
            topics: s.topics.clone(),
            url: m.url.clone(),
            snippet: snippet(&m.text),
            reply_to: m.reply_to.clone(),
            address: m.address.clone(),
        }
    }
}

/// The key an author counts under: the folded account name, else the URL's host, else
/// the source.
pub fn author_key(name: Option<&str>, url: Option<&str>, source: &str) -> String {
    if let Some(n) = name.map(str::trim).filter(|n| !n.is_empty()) {
        return n.trim_start_matches('@').to_lowercase();
    }
    if let Some(host) = url
        .and_then(|u| u.split_once("://"))
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(rest))
        .filter(|h| !h.is_empty())
    {
        return format!("site:{}", host.trim_start_matches("www.").to_lowercase());
    }
    format!("source:{source}")
}

/// The first [`MentionSummary::SNIPPET_CHARS`] characters of `text`, whitespace folded.
pub fn snippet(text: &str) -> String {
    let mut out = String::new();
    for (n, word) in text.split_whitespace().enumerate() {
        if n > 0 {
            out.push(' ');
        }
        out.push_str(word);
        if out.chars().count() >= MentionSummary::SNIPPET_CHARS {
            let cut: String = out
                .chars()
                .take(MentionSummary::SNIPPET_CHARS - 1)
                .collect();
            return format!("{cut}…");
        }
    }
    out
}
