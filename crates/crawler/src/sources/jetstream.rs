//! Bluesky through Jetstream: the whole network's posts as a WebSocket stream.
//!
//! `wss://…/subscribe?wantedCollections=app.bsky.feed.post&cursor=<time_us>` sends
//! every post, update and delete as JSON events, far fewer than a core can filter (about
//! 50 posts/s across the network); topic rules pick what is kept, as for every source.
//! The checkpoint is the `time_us` of the last event read; a reconnect asks from five
//! seconds before it, and the ids (from the post's `at://` address) make what is read
//! twice a duplicate. A `delete` removes the post from the index. Reconnects back off
//! and go round the configured instances.
//!
//! With `keywords`, only posts containing one of them (case-insensitive) are handed on,
//! and their authors' profiles are looked up (`app.bsky.actor.getProfile` on the public
//! AppView, no auth) for their handle and follower count, cached for a day. Without
//! keywords every post is handed on and topic rules pick; no profile is looked up, as
//! that would be a request per post of the whole network.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures_util::StreamExt;
use lauscher_model::{Author, Mention, MentionId};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use url::Url;

use crate::address;
use crate::canonical::{canonical_url, mention_id};
use crate::error::FetchError;
use crate::source::Crawler;
use crate::sources::api::get_json;

/// How far a reconnect rewinds the cursor.
pub const REWIND: Duration = Duration::from_secs(5);
/// Events gathered before a batch is handed on (or after [`FLUSH_EVERY`]).
const BATCH_EVENTS: usize = 500;
/// Longest time events wait to be handed on.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Largest event accepted.
const MAX_MESSAGE: usize = 1 << 20;

/// A Jetstream source.
pub struct JetstreamSource {
    /// The source id.
    pub id: String,
    /// The instances' subscribe URLs, tried in turn.
    pub endpoints: Vec<Url>,
    /// The configured language, which beats the post's own.
    pub language: Option<String>,
    /// Whether it may reach private addresses.
    pub allow_private: bool,
    /// Words a post must contain one of (lowercase); empty: every post.
    pub keywords: Vec<String>,
    /// The AppView for profile lookups, `https://public.api.bsky.app/`.
    pub profiles: Url,
    /// Handles and follower counts by DID, with when they were looked up.
    pub profile_cache:
        std::sync::Mutex<std::collections::HashMap<String, (Profile, std::time::Instant)>>,
}

/// What a profile lookup tells about an author.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// The handle (`ana.bsky.social`).
    #[serde(default)]
    pub handle: Option<String>,
    /// Followers.
    #[serde(default)]
    pub followers_count: Option<u64>,
}

/// How long a looked-up profile is kept.
const PROFILE_TTL: Duration = Duration::from_secs(24 * 3600);
/// Most profiles kept.
const PROFILE_CACHE: usize = 100_000;

/// What a stream hands on: mentions, deletions and the checkpoint after them.
#[derive(Debug, Default)]
pub struct StreamBatch {
    /// New posts.
    pub mentions: Vec<Mention>,
    /// Posts deleted at the source.
    pub deletes: Vec<MentionId>,
    /// The checkpoint after these events.
    pub checkpoint: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Checkpoint {
    time_us: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Event {
    did: String,
    time_us: i64,
    kind: String,
    #[serde(default)]
    commit: Option<Commit>,
}

#[derive(Debug, Deserialize)]
struct Commit {
    operation: String,
    collection: String,
    rkey: String,
    #[serde(default)]
    record: Option<Post>,
}

#[derive(Debug, Deserialize)]
struct Post {
    #[serde(default)]
    text: String,
    #[serde(default, rename = "createdAt")]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    langs: Vec<String>,
    #[serde(default)]
    reply: Option<ReplyRef>,
}

#[derive(Debug, Deserialize)]
struct ReplyRef {
    parent: StrongRef,
}

#[derive(Debug, Deserialize)]
struct StrongRef {
    uri: String,
}

impl JetstreamSource {
    /// The subscribe URL of `endpoint` from `checkpoint`, rewound by [`REWIND`].
    pub fn subscribe_url(endpoint: &Url, checkpoint: &str) -> Url {
        let state: Checkpoint = serde_json::from_str(checkpoint).unwrap_or_default();
        let mut url = endpoint.clone();
        url.query_pairs_mut()
            .append_pair("wantedCollections", "app.bsky.feed.post");
        if let Some(t) = state.time_us {
            let from = t - REWIND.as_micros() as i64;
            url.query_pairs_mut()
                .append_pair("cursor", &from.to_string());
        }
        url
    }

    /// Reads `endpoint` from `checkpoint`, handing batches to `out`, until the
    /// connection ends (`Ok`) or fails. The checkpoint of every batch is the last event
    /// in it, so the caller reconnects from there.
    pub async fn stream(
        &self,
        crawler: &Crawler,
        endpoint: &Url,
        checkpoint: &str,
        out: &mpsc::Sender<StreamBatch>,
    ) -> Result<(), FetchError> {
        let url = Self::subscribe_url(endpoint, checkpoint);
        let transport = |detail: String| FetchError::Transport {
            url: url.to_string(),
            detail,
        };
        let tcp = self.connect(&url).await?;
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let (mut ws, _) =
            tokio_tungstenite::client_async_tls_with_config(url.as_str(), tcp, Some(config), None)
                .await
                .map_err(|e| match e {
                    tokio_tungstenite::tungstenite::Error::Http(resp) => FetchError::Status {
                        url: url.to_string(),
                        status: resp.status().as_u16(),
                        retry_after: None,
                    },
                    other => transport(other.to_string()),
                })?;
        let mut last: Option<i64> = serde_json::from_str::<Checkpoint>(checkpoint)
            .unwrap_or_default()
            .time_us;
        let mut batch = StreamBatch::default();
        let mut ticker = tokio::time::interval(FLUSH_EVERY);
        let flush = |batch: &mut StreamBatch, last: Option<i64>| {
            let mut full = std::mem::take(batch);
            full.checkpoint =
                serde_json::to_string(&Checkpoint { time_us: last }).unwrap_or_default();
            full
        };
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    if (!batch.mentions.is_empty() || !batch.deletes.is_empty())
                        && out.send(flush(&mut batch, last)).await.is_err()
                    {
                        return Ok(());
                    }
                }
                message = ws.next() => {
                    let text = match message {
                        None => break,
                        Some(Err(e)) => {
                            // What was read counts: hand it on, then report the failure.
                            let _ = out.send(flush(&mut batch, last)).await;
                            return Err(transport(e.to_string()));
                        }
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(_))) => break,
                        Some(Ok(_)) => continue,
                    };
                    let Ok(event) = serde_json::from_str::<Event>(text.as_str()) else {
                        tracing::debug!(source = %self.id, "unreadable jetstream event skipped");
                        continue;
                    };
                    last = Some(last.map_or(event.time_us, |l| l.max(event.time_us)));
                    let before = batch.mentions.len();
                    self.read(event, &mut batch);
                    if batch.mentions.len() > before
                        && !self.keywords.is_empty()
                        && let Some(m) = batch.mentions.last_mut()
                    {
                        self.add_profile(crawler, m).await;
                    }
                    if batch.mentions.len() + batch.deletes.len() >= BATCH_EVENTS
                        && out.send(flush(&mut batch, last)).await.is_err()
                    {
                        return Ok(());
                    }
                }
            }
        }
        let _ = out.send(flush(&mut batch, last)).await;
        Ok(())
    }

    /// Connects to the host of `url` after checking where its name resolves.
    async fn connect(&self, url: &Url) -> Result<tokio::net::TcpStream, FetchError> {
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| FetchError::Transport {
                url: url.to_string(),
                detail: e.to_string(),
            })?
            .filter(|a| self.allow_private || address::is_public(a.ip()))
            .collect();
        let Some(addr) = addrs.first() else {
            return Err(FetchError::PrivateAddress {
                url: url.to_string(),
                detail: format!("{host} resolves to no public address"),
            });
        };
        tokio::time::timeout(
            Duration::from_secs(10),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        .map_err(|_| FetchError::Timeout {
            url: url.to_string(),
        })?
        .map_err(|e| FetchError::Transport {
            url: url.to_string(),
            detail: e.to_string(),
        })
    }

    /// The id of the post `rkey` of `did`: its `bsky.app` address.
    fn post_url(did: &str, rkey: &str) -> Option<Url> {
        canonical_url(&format!("https://bsky.app/profile/{did}/post/{rkey}"), None)
    }

    /// Sets the author's handle and reach from the profile (cached for a day); a failed
    /// lookup leaves the DID and no reach.
    async fn add_profile(&self, crawler: &Crawler, m: &mut Mention) {
        let Some(did) = m.author.as_ref().map(|a| a.name.clone()) else {
            return;
        };
        let cached = self.profile_cache.lock().ok().and_then(|c| {
            c.get(&did)
                .filter(|(_, at)| at.elapsed() < PROFILE_TTL)
                .cloned()
        });
        let profile = match cached {
            Some((p, _)) => p,
            None => {
                let Ok(mut url) = self.profiles.join("xrpc/app.bsky.actor.getProfile") else {
                    return;
                };
                url.query_pairs_mut().append_pair("actor", &did);
                let Ok((p, _)) =
                    get_json::<Profile>(crawler, self.allow_private, &url, None, &[]).await
                else {
                    return;
                };
                if let Ok(mut c) = self.profile_cache.lock() {
                    if c.len() >= PROFILE_CACHE {
                        c.clear();
                    }
                    c.insert(did.clone(), (p.clone(), std::time::Instant::now()));
                }
                p
            }
        };
        m.author = Some(Author {
            name: profile.handle.unwrap_or(did),
            reach: profile.followers_count,
        });
    }

    fn read(&self, event: Event, batch: &mut StreamBatch) {
        let Some(commit) = event.commit.filter(|_| event.kind == "commit") else {
            return;
        };
        if commit.collection != "app.bsky.feed.post" {
            return;
        }
        let url = Self::post_url(&event.did, &commit.rkey);
        let native = format!("at://{}/app.bsky.feed.post/{}", event.did, commit.rkey);
        match commit.operation.as_str() {
            "delete" => batch
                .deletes
                .push(mention_id(&self.id, url.as_ref(), Some(&native), || 0)),
            "create" | "update" => {
                let Some(post) = commit.record else { return };
                if !self.keywords.is_empty() {
                    let lower = post.text.to_lowercase();
                    if !self.keywords.iter().any(|k| lower.contains(k.as_str())) {
                        return;
                    }
                }
                let now = Utc::now();
                let seen_at = Utc.timestamp_micros(event.time_us).single().unwrap_or(now);
                let text = post.text.trim().to_owned();
                batch.mentions.push(Mention {
                    id: mention_id(&self.id, url.as_ref(), Some(&native), || {
                        lauscher_text::Fingerprint::of(&text).content_hash
                    }),
                    source: self.id.clone(),
                    url: url.map(String::from),
                    author: Some(Author {
                        name: event.did.clone(),
                        reach: None,
                    }),
                    published_at: post.created_at.unwrap_or(seen_at).min(now),
                    fetched_at: now,
                    title: None,
                    text,
                    lang_hint: self
                        .language
                        .clone()
                        .or_else(|| post.langs.first().cloned()),
                    repost_of: None,
                    address: Some(native),
                    reply_to: post.reply.map(|r| r.parent.uri),
                });
            }
            _ => {}
        }
    }
}
