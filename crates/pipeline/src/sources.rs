//! How each configured source runs, and which [`Poller`] or stream it is: one line per
//! kind.
//!
//! Reddit without an app and YouTube are feeds their platforms publish (Reddit's search
//! feed answers anonymously; a YouTube channel's feed needs no key), so they run the
//! feed source at a URL made from the query or channel; YouTube adds comments with a
//! key. Reddit's feed is asked without robots.txt, which disallows every unknown
//! crawler on the whole site: the search feed is an interface Reddit offers feed
//! readers, polled at its published pace.

use std::sync::Arc;

use lauscher_config::{SourceConfig, SourceKind};
use lauscher_crawler::sources::{
    FeedSource, HackerNewsSource, JetstreamSource, LemmySource, MastodonSource, RedditSource,
    YouTubeSource,
};
use lauscher_crawler::{Crawler, Poller};
use url::Url;

use crate::polling::Polling;
use crate::source::Source;
use crate::streaming::Streaming;

/// How `source` runs: polled, streamed, or (push) not at all.
pub fn source(source: &SourceConfig, crawler: &Arc<Crawler>) -> Option<Box<dyn Source>> {
    if let Some(stream) = stream(source) {
        return Some(Box::new(Streaming {
            stream,
            crawler: crawler.clone(),
        }));
    }
    Some(Box::new(Polling {
        poller: poller(source)?,
        crawler: crawler.clone(),
    }))
}

/// The poller of `source`; `None` for kinds that are not polled (push, streams).
pub fn poller(source: &SourceConfig) -> Option<Box<dyn Poller>> {
    let id = source.id.clone();
    let base = source.base_url()?;
    let language = source.language.clone();
    let allow_private = source.allow_private;
    let feed = |url: Url, robots: bool| -> Box<dyn Poller> {
        Box::new(FeedSource {
            id: id.clone(),
            url,
            language: language.clone(),
            allow_private,
            robots,
        })
    };
    let query = source.query.clone().unwrap_or_default();
    Some(match source.kind {
        SourceKind::Feed => feed(base, true),
        SourceKind::Reddit if source.client_id.is_some() => Box::new(RedditSource {
            id,
            api: source
                .url
                .clone()
                .or_else(|| Url::parse("https://oauth.reddit.com/").ok())?,
            token_url: source
                .url
                .as_ref()
                .map_or_else(
                    || Url::parse("https://www.reddit.com/api/v1/access_token"),
                    |u| u.join("api/v1/access_token"),
                )
                .ok()?,
            query,
            client_id: source.client_id.clone().unwrap_or_default(),
            client_secret: source
                .client_secret
                .as_ref()
                .map(|s| s.0.clone())
                .unwrap_or_default(),
            user_agent: source.user_agent.clone().unwrap_or_default(),
            allow_private,
            token: tokio::sync::Mutex::new(None),
        }),
        SourceKind::Reddit => feed(
            with_query(&base, "search.rss", &[("q", &query), ("sort", "new")])?,
            false,
        ),
        SourceKind::Youtube => {
            let channel = source.channel.clone().unwrap_or_default();
            Box::new(YouTubeSource {
                id: id.clone(),
                feed: FeedSource {
                    id: id.clone(),
                    url: with_query(&base, "feeds/videos.xml", &[("channel_id", &channel)])?,
                    language: language.clone(),
                    allow_private,
                    robots: true,
                },
                // Tests point `url` at one server for the feed and the Data API.
                api: match &source.url {
                    Some(u) => u.clone(),
                    None => Url::parse("https://www.googleapis.com/").ok()?,
                },
                api_key: source.api_key.as_ref().map(|k| k.0.clone()),
                allow_private,
            })
        }
        SourceKind::Mastodon => Box::new(MastodonSource {
            id,
            instance: base,
            hashtags: source.hashtags.clone(),
            local: source.local,
            token: source.token.as_ref().map(|t| t.0.clone()),
            language,
            allow_private,
        }),
        SourceKind::Hackernews => Box::new(HackerNewsSource {
            id,
            api: base,
            query,
            allow_private,
        }),
        SourceKind::Lemmy => Box::new(LemmySource {
            id,
            instance: base,
            query,
            allow_private,
            search_limit: std::sync::OnceLock::new(),
        }),
        SourceKind::Push | SourceKind::Jetstream => return None,
    })
}

/// The public Jetstream instances, tried in turn when no `url` is configured.
const JETSTREAMS: [&str; 4] = [
    "wss://jetstream1.us-east.bsky.network/subscribe",
    "wss://jetstream2.us-east.bsky.network/subscribe",
    "wss://jetstream1.us-west.bsky.network/subscribe",
    "wss://jetstream2.us-west.bsky.network/subscribe",
];

/// The stream of `source`, for kinds that stream.
pub fn stream(source: &SourceConfig) -> Option<JetstreamSource> {
    if source.kind != SourceKind::Jetstream {
        return None;
    }
    let endpoints = match &source.url {
        Some(url) => vec![url.clone()],
        None => JETSTREAMS
            .iter()
            .filter_map(|u| Url::parse(u).ok())
            .collect(),
    };
    // Tests point `url` at one server for the stream and the profile lookups.
    let profiles = match &source.url {
        Some(u) => {
            let mut http = u.clone();
            let _ = http.set_scheme(if u.scheme() == "wss" { "https" } else { "http" });
            http.join("/").ok()?
        }
        None => Url::parse("https://public.api.bsky.app/").ok()?,
    };
    Some(JetstreamSource {
        id: source.id.clone(),
        endpoints,
        language: source.language.clone(),
        allow_private: source.allow_private,
        keywords: source
            .query
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_lowercase)
            .collect(),
        profiles,
        profile_cache: Default::default(),
    })
}

fn with_query(base: &Url, path: &str, pairs: &[(&str, &str)]) -> Option<Url> {
    let mut url = base.join(path).ok()?;
    url.query_pairs_mut().extend_pairs(pairs);
    Some(url)
}
