//! The daemon configuration: languages, sources, where the rules are, runtime settings.
//!
//! One YAML file (see `rules/lauscher.yaml` for a commented example). `${NAME}` anywhere
//! in the file is replaced by the environment variable `NAME` before parsing, so secrets
//! stay out of the file; an unset variable is an error at its position.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use lauscher_model::Lang;
use serde::Deserialize;

use crate::error::ConfigError;
use crate::lexicon::UserLexicon;
use crate::value::{ByteSize, HumanDuration, NeutralBand};
use lauscher_query::YamlFile;
use lauscher_query::{Located, check_id, yaml_error};

/// The whole configuration, validated.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Format version; only `1` exists.
    pub version: u32,
    /// Languages analysed and indexed with stemming (ISO 639-1). Default: `[de, en]`.
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
    /// The HTTP API.
    #[serde(default)]
    pub server: ServerConfig,
    /// Crawling politeness and limits.
    #[serde(default)]
    pub crawler: CrawlerConfig,
    /// Index commit cadence and memory.
    #[serde(default)]
    pub index: IndexConfig,
    /// Sentiment settings.
    #[serde(default)]
    pub sentiment: SentimentConfig,
    /// Where mentions come from.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// Topic rule files or directories (every `*.yaml` in them), relative to this
    /// file's directory. Default: `[topics]`.
    #[serde(default = "default_rules")]
    pub rules: Vec<PathBuf>,
    /// The alerting file (alert rules, routing, receivers; see
    /// [`crate::alerting`]), relative to this file. None: no alerting.
    #[serde(default)]
    pub alerts: Option<PathBuf>,
    /// The directory of the config file, which relative paths start from.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

fn default_rules() -> Vec<PathBuf> {
    vec![PathBuf::from("topics")]
}

fn default_languages() -> Vec<String> {
    vec!["de".into(), "en".into()]
}

/// The HTTP API's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on. Default `127.0.0.1:7700`: loopback only, put a reverse proxy
    /// with authentication in front before exposing it.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7700))
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
        }
    }
}

/// Crawling politeness and limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrawlerConfig {
    /// A URL where site owners can reach the operator; sent in the User-Agent
    /// (`Lauscher/<version> (+<contact>)`). Required when any source is configured.
    #[serde(default)]
    pub contact: Option<url::Url>,
    /// Largest response body accepted, after decompression. Default `8MiB`.
    #[serde(default = "default_body_limit")]
    pub body_limit: ByteSize,
    /// Most redirects followed per request. Default 5.
    #[serde(default = "default_max_redirects")]
    pub max_redirects: u8,
    /// Total time for one request. Default `30s`.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// Time to connect. Default `10s`.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
    /// Least time between two requests to one host. Default `5s`; a robots.txt
    /// `Crawl-delay` that is longer wins.
    #[serde(default = "default_host_interval")]
    pub host_interval: HumanDuration,
    /// First retry delay after a failure; doubles per failure, with full jitter. Default `1m`.
    #[serde(default = "default_backoff_min")]
    pub backoff_min: HumanDuration,
    /// Longest retry delay. Default `6h`.
    #[serde(default = "default_backoff_max")]
    pub backoff_max: HumanDuration,
    /// Whether robots.txt is fetched and obeyed. Default true.
    #[serde(default = "default_true")]
    pub robots: bool,
}

fn default_body_limit() -> ByteSize {
    ByteSize(8 << 20)
}
fn default_max_redirects() -> u8 {
    5
}
fn default_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30))
}
fn default_connect_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}
fn default_host_interval() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(5))
}
fn default_backoff_min() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(60))
}
fn default_backoff_max() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(6 * 3600))
}
fn default_true() -> bool {
    true
}

impl Default for CrawlerConfig {
    fn default() -> Self {
        CrawlerConfig {
            contact: None,
            body_limit: default_body_limit(),
            max_redirects: default_max_redirects(),
            timeout: default_timeout(),
            connect_timeout: default_connect_timeout(),
            host_interval: default_host_interval(),
            backoff_min: default_backoff_min(),
            backoff_max: default_backoff_max(),
            robots: true,
        }
    }
}

/// Index commit cadence and memory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexConfig {
    /// Commit this long after the first uncommitted mention. Default `10s`; alert latency
    /// is the poll interval plus this.
    #[serde(default = "default_commit_interval")]
    pub commit_interval: HumanDuration,
    /// Commit after this many uncommitted mentions. Default 100,000: each commit flushes
    /// and later merges segments, and on 73k real posts an import ran at 11.4k posts/s
    /// committing every 20,000 and 17.8k every 100,000 (`commit_interval` still makes
    /// live mentions searchable within seconds).
    #[serde(default = "default_commit_docs")]
    pub commit_docs: usize,
    /// Memory for tantivy's indexing buffers, shared by its indexing threads. Default
    /// `64MiB`: importing 1M real-shaped posts (a long tail of words) peaked at 407–423
    /// MiB of RSS with it and at 450–480 MiB with 128 MiB, at the same speed (53–58 s
    /// either way); on 1M generated posts both peaked near 400 MiB, and 64 MiB left 12
    /// segments instead of 6 after the import (an index 3 % larger until later merges).
    #[serde(default = "default_writer_memory")]
    pub writer_memory: ByteSize,
    /// How long mentions are kept (`400d`): older ones are deleted from the index and the
    /// seen set at start and every hour. Default: kept for ever.
    #[serde(default)]
    pub retention: Option<HumanDuration>,
}

fn default_commit_interval() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}
fn default_commit_docs() -> usize {
    100_000
}
fn default_writer_memory() -> ByteSize {
    ByteSize(64 << 20)
}

impl IndexConfig {
    /// The retention in whole days (rounded up), for the insight views' check.
    pub fn retention_days(&self) -> Option<u32> {
        self.retention
            .map(|r| u32::try_from(r.0.as_secs().div_ceil(86_400)).unwrap_or(u32::MAX))
    }
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            commit_interval: default_commit_interval(),
            commit_docs: default_commit_docs(),
            writer_memory: default_writer_memory(),
            retention: None,
        }
    }
}

/// Sentiment settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentimentConfig {
    /// Per language, the scores labeled neutral ([`NeutralBand`]: `{de: 0.3}` or
    /// `{en: {negative: 0.24, positive: 0.3}}`); languages not listed use the scorer's
    /// defaults, which were set on development tweets.
    #[serde(default)]
    pub neutral_band: BTreeMap<String, NeutralBand>,
    /// User lexicon files (see [`crate::lexicon`]), relative to the config file, merged
    /// over the bundled lexicons in order.
    #[serde(default)]
    pub lexicons: Vec<PathBuf>,
    /// The loaded user lexicons (filled by [`Config::load`]).
    #[serde(skip)]
    pub user_lexicons: Vec<UserLexicon>,
}

/// The kinds of source. Each is one module in `lauscher_crawler::sources` (push is the
/// API's `/api/v1/ingest`); the settings each reads are listed in [`SourceConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// An RSS 0.9x/1.0/2.0, Atom or JSON Feed document at `url`.
    Feed,
    /// Hashtag timelines (`hashtags`) or the public timeline of a Mastodon instance at
    /// `url`, with an optional app `token`.
    Mastodon,
    /// Hacker News stories and comments matching `query`, through Algolia's search API.
    Hackernews,
    /// Reddit posts matching `query`, through Reddit's search feed (anonymous).
    Reddit,
    /// The videos of a YouTube `channel`, through its feed (no key).
    Youtube,
    /// Posts and comments matching `query` on the Lemmy instance at `url`.
    Lemmy,
    /// Bluesky posts streamed from Jetstream (`url`: one instance's `wss://…/subscribe`;
    /// default: the four public instances in turn). Needs the daemon: `run --once` skips
    /// streams.
    Jetstream,
    /// Mentions pushed to `POST /api/v1/ingest` with the source's bearer `token`.
    Push,
}

impl SourceKind {
    /// The name written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Feed => "feed",
            SourceKind::Mastodon => "mastodon",
            SourceKind::Hackernews => "hackernews",
            SourceKind::Reddit => "reddit",
            SourceKind::Youtube => "youtube",
            SourceKind::Lemmy => "lemmy",
            SourceKind::Jetstream => "jetstream",
            SourceKind::Push => "push",
        }
    }

    /// The API a kind reads when `url` is not given.
    pub fn default_url(self) -> Option<&'static str> {
        match self {
            SourceKind::Hackernews => Some("https://hn.algolia.com/"),
            SourceKind::Reddit => Some("https://www.reddit.com/"),
            SourceKind::Youtube => Some("https://www.youtube.com/"),
            SourceKind::Jetstream => Some("wss://jetstream1.us-east.bsky.network/subscribe"),
            _ => None,
        }
    }
}

/// One place mentions come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Short unique id (`[a-z0-9_-]`), used in metrics, the index and the API.
    pub id: String,
    /// What kind of source it is.
    pub kind: SourceKind,
    /// Where to fetch it: the feed (feed), the instance (mastodon, lemmy), or another
    /// API base than the public one (hackernews, reddit, youtube; tests use this).
    #[serde(default)]
    pub url: Option<url::Url>,
    /// Mastodon: the hashtags to follow (without `#`); none means the public timeline.
    #[serde(default)]
    pub hashtags: Vec<String>,
    /// Mastodon: only posts of the instance itself (`local=true`). Default false.
    #[serde(default)]
    pub local: bool,
    /// Hacker News, Reddit, Lemmy: the search query.
    #[serde(default)]
    pub query: Option<String>,
    /// YouTube: the channel id (`UC…`).
    #[serde(default)]
    pub channel: Option<String>,
    /// Mastodon: an app token with `read:statuses` (for instances without public
    /// preview). Push: the bearer token clients send. Write `${ENV_VAR}`, not the secret.
    #[serde(default)]
    pub token: Option<Secret>,
    /// Push: a secret for HMAC-SHA256 signatures; when set, every request must carry
    /// `X-Lauscher-Signature: sha256=<hex HMAC of the body>`.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Reddit over OAuth (opt-in): the app's client id; with `client_secret` and
    /// `user_agent`. Without it, Reddit's anonymous search feed is read.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Reddit over OAuth: the app's secret.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// Reddit over OAuth: the User-Agent Reddit requires,
    /// `<platform>:<app ID>:<version> (by /u/<name>)`.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// YouTube: the operator's Data API key; with it, the comments on the channel's
    /// videos of the last 14 days are read too (within 95 % of the daily quota).
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// Time between polls; each poll is jittered by ±10%. Default `5m`.
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
    /// The language of its posts, when the source is known to be monolingual; preferred
    /// over the feed's own `<language>` and over detection.
    #[serde(default)]
    pub language: Option<String>,
    /// Index every mention, also those matching no topic. Default false.
    #[serde(default)]
    pub keep_all: bool,
    /// Let this source reach loopback, private and link-local addresses (an intranet
    /// feed, or a test server on 127.0.0.1). Default false: a feed URL or a redirect that
    /// resolves to such an address is refused, so a feed cannot make the daemon fetch
    /// from its own machine or network (cloud metadata, the local API).
    #[serde(default)]
    pub allow_private: bool,
}

impl SourceConfig {
    /// The URL it reads: `url`, else its kind's public API.
    pub fn base_url(&self) -> Option<url::Url> {
        self.url.clone().or_else(|| {
            self.kind
                .default_url()
                .and_then(|u| url::Url::parse(u).ok())
        })
    }

    /// Where the source reads from, for logs and errors.
    pub fn location(&self) -> String {
        match self.base_url() {
            Some(u) => u.to_string(),
            None => format!("{} source {}", self.kind.as_str(), self.id),
        }
    }
}

/// A secret from the config (a token): shown as `***` in logs, errors and `Debug`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

fn default_interval() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(300))
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            file: path.to_owned(),
            source,
        })?;
        let mut config = Config::from_str_named(&text, &path.display().to_string(), &|name| {
            std::env::var(name).ok()
        })?;
        config.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let langs = config.langs();
        for file in &config.sentiment.lexicons {
            let lexicon = UserLexicon::load(&config.base_dir.join(file), &langs)?;
            config.sentiment.user_lexicons.push(lexicon);
        }
        Ok(config)
    }

    /// Returns the rule paths resolved against the config file's directory.
    pub fn rule_paths(&self) -> Vec<PathBuf> {
        self.rules.iter().map(|p| self.base_dir.join(p)).collect()
    }

    /// Returns the alerting file resolved against the config file's directory.
    pub fn alerts_path(&self) -> Option<PathBuf> {
        self.alerts.as_ref().map(|p| self.base_dir.join(p))
    }

    /// Parses and validates `text`, naming it `file` in errors; `env` resolves `${NAME}`.
    pub fn from_str_named(
        text: &str,
        file: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let expanded = expand_env(text, file, env)?;
        let config: Config =
            serde_norway::from_str(&expanded).map_err(|e| yaml_error(&e, file, text))?;
        config.validate(&YamlFile::new(file, text))?;
        Ok(config)
    }

    /// Returns the configured languages, parsed (validation guarantees they parse).
    pub fn langs(&self) -> Vec<Lang> {
        self.languages
            .iter()
            .filter_map(|l| l.parse().ok())
            .collect()
    }

    fn validate(&self, f: &YamlFile<'_>) -> Result<(), Located> {
        if self.version != 1 {
            return Err(f.at(
                "version",
                format!("unsupported version {}: expected 1", self.version),
            ));
        }
        if self.languages.is_empty() {
            return Err(f.at("languages", "at least one language is required"));
        }
        for (i, lang) in self.languages.iter().enumerate() {
            if let Err(e) = lang.parse::<Lang>() {
                return Err(f.at(&format!("languages[{i}]"), e.to_string()));
            }
        }
        for lang in self.sentiment.neutral_band.keys() {
            if !self.languages.contains(lang) {
                return Err(f.at_key(
                    &format!("sentiment.neutral_band.{lang}"),
                    format!("neutral_band for {lang}, which is not among the languages"),
                ));
            }
        }
        if self.index.commit_interval.0 < std::time::Duration::from_millis(100) {
            return Err(f.at(
                "index.commit_interval",
                "commit_interval must be at least 100ms",
            ));
        }
        if self
            .index
            .retention
            .is_some_and(|r| r.0 < std::time::Duration::from_secs(86_400))
        {
            return Err(f.at("index.retention", "retention must be at least 1d"));
        }
        if self.index.commit_docs == 0 {
            return Err(f.at("index.commit_docs", "commit_docs must be at least 1"));
        }
        if self.index.writer_memory.0 < 16 << 20 {
            return Err(f.at(
                "index.writer_memory",
                "writer_memory must be at least 16MiB",
            ));
        }
        if !self.sources.is_empty() && self.crawler.contact.is_none() {
            return Err(f.at(
                "crawler.contact",
                "crawler.contact is required when sources are configured: a URL where site owners can reach you, sent in the User-Agent",
            ));
        }
        let mut seen = HashSet::new();
        let mut push_tokens = HashSet::new();
        for (i, s) in self.sources.iter().enumerate() {
            let at = |key: &str, msg: String| f.at(&format!("sources[{i}].{key}"), msg);
            check_id(&s.id).map_err(|m| at("id", m))?;
            if !seen.insert(s.id.as_str()) {
                return Err(at("id", format!("duplicate source id {:?}", s.id)));
            }
            check_source_kind(s).map_err(|(key, m)| at(key, m))?;
            if s.kind == SourceKind::Push
                && let Some(token) = &s.token
                && !push_tokens.insert(token.0.as_str())
            {
                return Err(at(
                    "token",
                    format!("source {:?}: another push source has the same token", s.id),
                ));
            }
            if s.interval.0 < std::time::Duration::from_secs(1) {
                return Err(at(
                    "interval",
                    format!("source {:?}: interval must be at least 1s", s.id),
                ));
            }
            if let Some(lang) = &s.language
                && lang.parse::<Lang>().is_err()
            {
                return Err(at(
                    "language",
                    format!("source {:?}: unsupported language {lang:?}", s.id),
                ));
            }
        }
        Ok(())
    }
}

/// Checks that a source has the settings its kind needs and none it ignores; returns
/// the key to point at and the message.
fn check_source_kind(s: &SourceConfig) -> Result<(), (&'static str, String)> {
    use SourceKind as K;
    let kind = s.kind.as_str();
    let id = &s.id;
    let given: [(&'static str, bool, &[SourceKind]); 11] = [
        (
            "url",
            s.url.is_some(),
            &[
                K::Feed,
                K::Mastodon,
                K::Lemmy,
                K::Hackernews,
                K::Reddit,
                K::Youtube,
                K::Jetstream,
            ],
        ),
        ("hashtags", !s.hashtags.is_empty(), &[K::Mastodon]),
        ("local", s.local, &[K::Mastodon]),
        (
            "query",
            s.query.is_some(),
            &[K::Hackernews, K::Reddit, K::Lemmy, K::Jetstream],
        ),
        ("channel", s.channel.is_some(), &[K::Youtube]),
        ("token", s.token.is_some(), &[K::Mastodon, K::Push]),
        ("secret", s.secret.is_some(), &[K::Push]),
        ("client_id", s.client_id.is_some(), &[K::Reddit]),
        ("client_secret", s.client_secret.is_some(), &[K::Reddit]),
        ("user_agent", s.user_agent.is_some(), &[K::Reddit]),
        ("api_key", s.api_key.is_some(), &[K::Youtube]),
    ];
    for (key, set, kinds) in given {
        if set && !kinds.contains(&s.kind) {
            return Err((
                key,
                format!("source {id:?}: {key} is not a setting of kind {kind}"),
            ));
        }
    }
    let needs: &[&'static str] = match s.kind {
        K::Feed | K::Mastodon => &["url"],
        K::Lemmy => &["url", "query"],
        K::Hackernews | K::Reddit => &["query"],
        K::Youtube => &["channel"],
        K::Push => &["token"],
        K::Jetstream => &[],
    };
    for key in needs {
        let missing = match *key {
            "url" => s.url.is_none(),
            "query" => s.query.as_deref().is_none_or(|q| q.trim().is_empty()),
            "channel" => s.channel.is_none(),
            _ => s.token.as_ref().is_none_or(|t| t.0.trim().is_empty()),
        };
        if missing {
            return Err(("kind", format!("source {id:?}: kind {kind} needs {key}")));
        }
    }
    if s.client_id.is_some() || s.client_secret.is_some() || s.user_agent.is_some() {
        if s.client_id.is_none() || s.client_secret.is_none() {
            return Err((
                "client_id",
                format!("source {id:?}: Reddit over OAuth needs client_id and client_secret"),
            ));
        }
        match &s.user_agent {
            None => {
                return Err((
                    "client_id",
                    format!("source {id:?}: Reddit over OAuth needs user_agent"),
                ));
            }
            Some(ua) if !reddit_user_agent(ua) => {
                return Err((
                    "user_agent",
                    format!(
                        "source {id:?}: Reddit requires a User-Agent like \"linux:com.example.lauscher:v1.0 (by /u/yourname)\", not {ua:?}"
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(url) = &s.url {
        let schemes: &[&str] = match s.kind {
            K::Jetstream => &["ws", "wss"],
            _ => &["http", "https"],
        };
        if !schemes.contains(&url.scheme()) {
            return Err((
                "url",
                format!("source {id:?}: url must be {}", schemes.join(" or ")),
            ));
        }
    }
    if let Some(tag) = s
        .hashtags
        .iter()
        .find(|t| t.is_empty() || !t.chars().all(|c| c.is_alphanumeric() || c == '_'))
    {
        return Err((
            "hashtags",
            format!("source {id:?}: hashtag {tag:?} must be letters, digits and _ (no #)"),
        ));
    }
    if let Some(c) = &s.channel
        && !(c.starts_with("UC")
            && c.len() == 24
            && c.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    {
        return Err((
            "channel",
            format!("source {id:?}: channel {c:?} must be a channel id (UC and 22 letters)"),
        ));
    }
    Ok(())
}

/// Whether `ua` has the form Reddit's API rules ask for:
/// `<platform>:<app ID>:<version string> (by /u/<reddit username>)`.
fn reddit_user_agent(ua: &str) -> bool {
    let Some((app, by)) = ua.split_once(" (by /u/") else {
        return false;
    };
    let Some(name) = by.strip_suffix(')') else {
        return false;
    };
    let word = |s: &str, extra: &[char]| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
    };
    let mut parts = app.splitn(3, ':');
    let (Some(platform), Some(app_id), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    word(platform, &[])
        && word(app_id, &['.', '_', '-'])
        && word(version, &['.', '_', '-'])
        && word(name, &['_', '-'])
}

/// Replaces `${NAME}` by the variable's value.
pub(crate) fn expand_env(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Located> {
    if !text.contains("${") {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    for (lineno, full_line) in text.split_inclusive('\n').enumerate() {
        // Comments are copied as they are: `${...}` in a comment is documentation.
        let (line, comment) = full_line.split_at(comment_start(full_line));
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let col = line.len() - rest.len() + start;
            let col = line[..col].chars().count() + 1;
            let Some(end) = rest[start..].find('}') else {
                return Err(Located::new(
                    file,
                    text,
                    lineno + 1,
                    col,
                    "unclosed ${: expected ${NAME}",
                ));
            };
            let name = &rest[start + 2..start + end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Located::new(
                    file,
                    text,
                    lineno + 1,
                    col,
                    format!("invalid variable name {name:?}"),
                ));
            }
            match env(name) {
                Some(value) => out.push_str(&value),
                None => {
                    return Err(Located::new(
                        file,
                        text,
                        lineno + 1,
                        col,
                        format!("environment variable {name} is not set"),
                    ));
                }
            }
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        out.push_str(comment);
    }
    Ok(out)
}

/// Returns the byte offset where a YAML comment starts in `line` (its length if none):
/// a `#` at the start or after whitespace, outside quotes.
fn comment_start(line: &str) -> usize {
    let mut quote = None;
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if prev_space => return i,
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    line.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_str_named(text, "test.yaml", &|n| {
            (n == "TOKEN").then(|| "s3cret".to_owned())
        })
    }

    const OK: &str = "version: 1
crawler:
  contact: https://example.org/contact
sources:
  - id: news
    kind: feed
    url: https://example.org/feed.xml
    interval: 2m
rules: [topics, extra.yaml]
";

    #[test]
    fn loads_a_valid_config_with_defaults() {
        let c = load(OK).expect("valid");
        assert_eq!(c.langs(), vec![Lang::De, Lang::En]);
        assert_eq!(c.sources[0].interval.0.as_secs(), 120);
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:7700");
    }

    #[test]
    fn unknown_keys_are_errors_at_their_position() {
        let text = OK.replace("    interval: 2m", "    intervall: 2m");
        let err = load(&text).expect_err("unknown key").to_string();
        assert!(err.starts_with("test.yaml:8:5: "), "{err}");
        assert!(err.contains("unknown field `intervall`"), "{err}");
        assert!(err.contains("8 |     intervall: 2m"), "{err}");
    }

    #[test]
    fn bad_values_name_what_was_expected() {
        let err = load(&OK.replace("2m", "2 minutes"))
            .expect_err("bad duration")
            .to_string();
        assert!(err.starts_with("test.yaml:8:"), "{err}");
        assert!(err.contains("unknown unit"), "{err}");
    }

    #[test]
    fn duplicate_ids_point_at_the_second_one() {
        let text = format!(
            "{}  - id: news\n    kind: feed\n    url: https://example.org/b.xml\n",
            OK.replace("rules: [topics, extra.yaml]\n", "")
        );
        let err = load(&text).expect_err("duplicate").to_string();
        assert!(
            err.starts_with("test.yaml:9:9: duplicate source id"),
            "{err}"
        );
    }

    #[test]
    fn environment_variables_expand_and_missing_ones_are_located() {
        let c = load(&OK.replace("example.org/contact", "example.org/${TOKEN}")).expect("expands");
        assert_eq!(
            c.crawler.contact.map(|u| u.to_string()).as_deref(),
            Some("https://example.org/s3cret")
        );
        let err = load(&OK.replace("example.org/contact", "example.org/${NOPE}"))
            .expect_err("unset")
            .to_string();
        assert!(
            err.starts_with("test.yaml:3:32: environment variable NOPE is not set"),
            "{err}"
        );
    }

    #[test]
    fn variables_in_comments_are_left_alone() {
        let text =
            format!("# set ${{NOPE}} here\n{OK}").replace("version: 1\n", "version: 1 # ${NOPE}\n");
        assert!(load(&text).is_ok());
    }

    #[test]
    fn retention_is_a_duration_of_at_least_a_day() {
        let with = |r: &str| OK.replace("rules:", &format!("index:\n  retention: {r}\nrules:"));
        let c = load(&with("400d")).expect("valid");
        assert_eq!(c.index.retention.map(|r| r.0.as_secs()), Some(400 * 86_400));
        let err = load(&with("12h")).expect_err("too short").to_string();
        assert!(err.contains("retention must be at least 1d"), "{err}");
        assert!(err.starts_with("test.yaml:10:14: "), "{err}");
    }

    #[test]
    fn sources_need_a_contact_url() {
        let err = load(&OK.replace(
            "  contact: https://example.org/contact\n",
            "  robots: true\n",
        ))
        .expect_err("contact")
        .to_string();
        assert!(err.contains("crawler.contact is required"), "{err}");
    }
}
