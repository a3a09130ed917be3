//! The embedded state store: source checkpoints, the robots.txt cache, the seen set,
//! incidents with their timeline, notification outbox and silences, and the service
//! desk's items and event log, in one SQLite file in the data directory.
//!
//! SQLite (bundled, WAL mode, `synchronous=FULL`) because one transaction must span the
//! cursors and the seen rows of a commit, and later issues need relational queries over
//! incidents. All access goes through one connection behind a mutex: writes happen once
//! per index commit, reads are point lookups of a few microseconds.
//!
//! Schema changes are migrations keyed on `PRAGMA user_version`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use lauscher_model::MentionId;
use lauscher_text::fingerprint::NearIndex;
use rusqlite::{Connection, OptionalExtension, params};

mod desk;
mod incidents;
mod tokens;

pub use desk::{AuthorFlagRow, DeskEventRow, DeskItemRow, DeskWrite, StaleItem};
pub use incidents::{IncidentRecord, OutboxRow, OutboxStatus, SilenceRow, TimelineRow};
pub use tokens::TokenRow;

/// Why the state store failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// SQLite reported an error.
    #[error("state store {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The database was written by a newer Lauscher.
    #[error(
        "state store {path}: schema version {found} is newer than this build supports ({supported})"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// The version found.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
}

/// Where a source stands, as the source itself encodes it: opaque to the store (HTTP
/// validators and a body hash for feeds, a `min_id` for Mastodon, `time_us` for
/// Jetstream). One row per source in `crawl_state`, advanced only in the transaction
/// that records the index commit holding the mentions read up to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checkpoint(pub String);

/// One indexed mention to remember as seen.
///
/// The seen set holds what was *indexed*: a mention that matched no topic is not
/// remembered, so importing it again with `--keep-all` or after adding a rule indexes
/// it (its analysis runs again, which is cheap next to a missed mention).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeenRow {
    /// The mention id.
    pub id: MentionId,
    /// Hash of the author key ([`author_hash`]).
    pub author: u64,
    /// Content hash and SimHash, for texts long enough for content dedupe.
    pub fingerprint: Option<(u128, u64)>,
    /// The original, when this mention is a repost.
    pub repost_of: Option<MentionId>,
    /// When it was first seen (unix seconds).
    pub first_seen: i64,
}

/// What dedupe asks about one mention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeenQuery {
    /// The mention id.
    pub id: MentionId,
    /// Hash of the author key ([`author_hash`]).
    pub author: u64,
    /// Content hash and SimHash, for texts long enough for content dedupe.
    pub fingerprint: Option<(u128, u64)>,
}

/// Why a mention counts as already seen: a true duplicate, dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Duplicate {
    /// The same id (the same source item, or the same URL in two feeds).
    Id,
    /// The same normalised text by the same author.
    Content,
    /// A SimHash within the near-duplicate distance, by the same author.
    Near,
}

/// What the seen set says about a mention that is not new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// A true duplicate: drop it.
    Duplicate(Duplicate),
    /// The same normalised text as `original` by another author: a repost, indexed
    /// as a mention of its own.
    RepostOf(MentionId),
}

/// The hash an author key is remembered by.
pub fn author_hash(author_key: &str) -> u64 {
    lauscher_text::fingerprint::hash64(author_key.as_bytes())
}

/// The key of one author's text: content hash and author hash, mixed.
fn author_content(content: u128, author: u64) -> [u8; 16] {
    let mut key = content.to_be_bytes();
    let mut input = [0u8; 24];
    input[..16].copy_from_slice(&key);
    input[16..].copy_from_slice(&author.to_be_bytes());
    let a = lauscher_text::fingerprint::hash64(&input);
    key[..8].copy_from_slice(&a.to_be_bytes());
    key
}

impl Duplicate {
    /// Returns the metric label for this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Duplicate::Id => "id",
            Duplicate::Content => "content",
            Duplicate::Near => "near",
        }
    }
}

/// The newest schema version this build writes.
const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE crawl_state (
    source_id     TEXT PRIMARY KEY,
    etag          TEXT,
    last_modified TEXT,
    body_hash     INTEGER,
    updated_at    INTEGER NOT NULL
);
CREATE TABLE robots (
    origin     TEXT PRIMARY KEY,
    status     INTEGER NOT NULL,
    body       BLOB NOT NULL,
    fetched_at INTEGER NOT NULL
);
CREATE TABLE seen (
    mention_id   BLOB PRIMARY KEY,
    content_hash BLOB,
    simhash      INTEGER,
    first_seen   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX seen_content ON seen(content_hash) WHERE content_hash IS NOT NULL;
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
",
    "
CREATE TABLE incidents (
    id           INTEGER PRIMARY KEY,
    rule_id      TEXT NOT NULL,
    topic        TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    status       TEXT NOT NULL,
    level        INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    body         TEXT NOT NULL,
    UNIQUE(rule_id, topic, window_start)
);
CREATE INDEX incidents_status ON incidents(status, updated_at);
CREATE TABLE incident_timeline (
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    version     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    event       TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX incident_timeline_incident ON incident_timeline(incident_id);
CREATE TABLE alert_outbox (
    id              INTEGER PRIMARY KEY,
    incident_id     INTEGER NOT NULL REFERENCES incidents(id),
    version         INTEGER NOT NULL,
    receiver        TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    event           TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    last_error      TEXT
);
CREATE INDEX alert_outbox_due ON alert_outbox(status, next_attempt_at);
CREATE TABLE silences (
    id         INTEGER PRIMARY KEY,
    matchers   TEXT NOT NULL,
    starts_at  INTEGER NOT NULL,
    ends_at    INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    comment    TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
",
    // Grouping: notifications of one route group and receiver go out together.
    "
ALTER TABLE alert_outbox ADD COLUMN group_key TEXT NOT NULL DEFAULT '';
CREATE INDEX alert_outbox_group ON alert_outbox(receiver, group_key, id);
",
    // Digests: notifications about no incident (incident_id NULL).
    "
CREATE TABLE alert_outbox_new (
    id              INTEGER PRIMARY KEY,
    incident_id     INTEGER REFERENCES incidents(id),
    version         INTEGER NOT NULL,
    receiver        TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    event           TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    last_error      TEXT,
    group_key       TEXT NOT NULL DEFAULT ''
);
INSERT INTO alert_outbox_new SELECT id, incident_id, version, receiver, idempotency_key, event, body, status, attempts, created_at, next_attempt_at, expires_at, sent_at, last_error, group_key FROM alert_outbox;
DROP TABLE alert_outbox;
ALTER TABLE alert_outbox_new RENAME TO alert_outbox;
CREATE INDEX alert_outbox_due ON alert_outbox(status, next_attempt_at);
CREATE INDEX alert_outbox_group ON alert_outbox(receiver, group_key, id);
",
    // Reposts: the same text by another author is a mention of its own. Content
    // dedupe is per author (author_content); originals are found by content hash.
    // Rows from before have no author: they count as originals.
    "
ALTER TABLE seen ADD COLUMN author_hash INTEGER;
ALTER TABLE seen ADD COLUMN author_content BLOB;
ALTER TABLE seen ADD COLUMN repost_of BLOB;
DROP INDEX seen_content;
CREATE INDEX seen_original ON seen(content_hash) WHERE content_hash IS NOT NULL AND repost_of IS NULL;
CREATE INDEX seen_author_content ON seen(author_content) WHERE author_content IS NOT NULL;
",
    // Checkpoints: one opaque text per source, whatever its kind. A feed's validators
    // and body hash move into the JSON the feed source reads.
    "
ALTER TABLE crawl_state ADD COLUMN checkpoint TEXT NOT NULL DEFAULT '';
UPDATE crawl_state SET checkpoint = json_object(
    'etag', etag,
    'last_modified', last_modified,
    'body_hash', CASE WHEN body_hash IS NULL THEN NULL ELSE printf('%016x', body_hash) END
);
ALTER TABLE crawl_state DROP COLUMN etag;
ALTER TABLE crawl_state DROP COLUMN last_modified;
ALTER TABLE crawl_state DROP COLUMN body_hash;
",
    // The service desk: items, their append-only events, the mentions they hold and the
    // thread addresses that lead to them.
    "
CREATE TABLE desk_items (
    id         INTEGER PRIMARY KEY,
    state      TEXT NOT NULL,
    team       TEXT NOT NULL,
    assignee   TEXT,
    priority   INTEGER NOT NULL,
    posted_at  INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX desk_items_state ON desk_items(state, posted_at);
CREATE INDEX desk_items_posted ON desk_items(posted_at);
CREATE TABLE desk_events (
    item_id INTEGER NOT NULL REFERENCES desk_items(id),
    seq     INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    data    TEXT NOT NULL,
    PRIMARY KEY (item_id, seq)
) WITHOUT ROWID;
CREATE TABLE desk_mentions (
    mention_id BLOB PRIMARY KEY,
    item_id    INTEGER NOT NULL,
    role       TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE desk_threads (
    address TEXT PRIMARY KEY,
    item_id INTEGER NOT NULL
) WITHOUT ROWID;
",
    // API tokens: a SHA-256 of each secret, never the secret.
    "
CREATE TABLE api_tokens (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
",
    // Author flags set by agents (troll, vip), with who and why; one row per author.
    "
CREATE TABLE desk_authors (
    author_key TEXT PRIMARY KEY,
    flag       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    set_by     TEXT NOT NULL,
    set_at     INTEGER NOT NULL
) WITHOUT ROWID;
",
    // Brand replies that arrived before the post they answer (sources polled apart).
    "
CREATE TABLE desk_early_replies (
    mention_id BLOB PRIMARY KEY,
    address    TEXT NOT NULL,
    post       TEXT NOT NULL,
    kept_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX desk_early_replies_address ON desk_early_replies(address);
",
    // Agents who are away: auto-assignment passes them over.
    "
CREATE TABLE desk_agents_away (
    agent  TEXT PRIMARY KEY,
    set_by TEXT NOT NULL,
    set_at INTEGER NOT NULL
) WITHOUT ROWID;
",
];

/// The state store. Cheap to share behind an `Arc`; every call takes the one connection.
pub struct StateStore {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// The SimHash bands of recent mentions, in memory: band values cluster on real
    /// text (a brand name in every post biases the same bits), so SQL band lookups
    /// returned tens of rows per post, and four band indexes made every insert dirty
    /// most of their pages.
    near: Mutex<NearIndex>,
}

/// Most recent SimHashes kept in memory for near-duplicate lookups (24 bytes each with
/// their bucket links, so about 26 MiB). Near-duplicates of older mentions are not found;
/// exact duplicates (same id or text) are, through SQLite, for the whole retention.
pub const NEAR_CAPACITY: usize = 1_000_000;

impl StateStore {
    /// Opens (creating and migrating when needed) the database at `path`.
    pub fn open(path: &Path) -> Result<StateStore, StateError> {
        let err = |source| StateError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let mut conn = Connection::open(path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        // The seen set's four B-trees have random keys (hashes): with SQLite's default
        // 2 MiB page cache a commit of 100k seen rows spilled pages to the WAL mid-
        // transaction (9 % of an import's CPU). 32 MiB holds a commit's working set.
        conn.pragma_update(None, "cache_size", -32_768)
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        if version > SCHEMA_VERSION {
            return Err(StateError::TooNew {
                path: path.to_owned(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(err)?;
            tx.commit().map_err(err)?;
        }
        let mut near = NearIndex::new(NEAR_CAPACITY);
        {
            let mut stmt = conn
                .prepare("SELECT simhash, author_hash FROM seen WHERE simhash IS NOT NULL ORDER BY first_seen DESC LIMIT ?1")
                .map_err(err)?;
            let mut rows = stmt.query([NEAR_CAPACITY as i64]).map_err(err)?;
            let mut newest_first = Vec::new();
            while let Some(row) = rows.next().map_err(err)? {
                let simhash = row.get::<_, i64>(0).map_err(err)? as u64;
                let author = row.get::<_, Option<i64>>(1).map_err(err)?.unwrap_or(0) as u64;
                newest_first.push((simhash, author));
            }
            for (simhash, author) in newest_first.into_iter().rev() {
                near.insert(simhash, author);
            }
        }
        Ok(StateStore {
            path: path.to_owned(),
            conn: Mutex::new(conn),
            near: Mutex::new(near),
        })
    }

    fn err(&self, source: rusqlite::Error) -> StateError {
        StateError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll
        // back on drop), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Returns the stored checkpoint of `source`.
    pub fn checkpoint(&self, source: &str) -> Result<Option<Checkpoint>, StateError> {
        self.conn()
            .query_row(
                "SELECT checkpoint FROM crawl_state WHERE source_id = ?1",
                [source],
                |r| Ok(Checkpoint(r.get(0)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Returns, for each mention, whether it duplicates one already committed (the
    /// same id; the same or a near text by the same author) or reposts one (the same
    /// text by another author).
    ///
    /// Costs three queries per 500 mentions (`IN (...)` lookups of ids, of author and
    /// text, and of originals by text); near-duplicates are looked up in memory (see
    /// [`NEAR_CAPACITY`]).
    pub fn find_duplicates(&self, items: &[SeenQuery]) -> Result<Vec<Option<Seen>>, StateError> {
        let conn = self.conn();
        let lookup = || -> rusqlite::Result<Vec<Option<Seen>>> {
            let ids: Vec<[u8; 16]> = items.iter().map(|q| q.id.0.to_be_bytes()).collect();
            let known_ids = query_in(
                &conn,
                "SELECT mention_id, mention_id FROM seen WHERE mention_id IN",
                &ids,
            )?;
            let keys: Vec<[u8; 16]> = items
                .iter()
                .filter_map(|q| q.fingerprint.map(|(c, _)| author_content(c, q.author)))
                .collect();
            let known_keys = query_in(
                &conn,
                "SELECT author_content, author_content FROM seen WHERE author_content IN",
                &keys,
            )?;
            let contents: Vec<[u8; 16]> = items
                .iter()
                .filter_map(|q| q.fingerprint.map(|(c, _)| c.to_be_bytes()))
                .collect();
            let originals = query_in(
                &conn,
                "SELECT content_hash, mention_id FROM seen WHERE repost_of IS NULL AND content_hash IN",
                &contents,
            )?;
            let near = self.near.lock().unwrap_or_else(|p| p.into_inner());
            Ok(items
                .iter()
                .map(|q| {
                    if known_ids.contains_key(&q.id.0.to_be_bytes()[..]) {
                        return Some(Seen::Duplicate(Duplicate::Id));
                    }
                    let (content, simhash) = q.fingerprint?;
                    if known_keys.contains_key(&author_content(content, q.author)[..]) {
                        return Some(Seen::Duplicate(Duplicate::Content));
                    }
                    if near.contains_near(simhash, q.author) {
                        return Some(Seen::Duplicate(Duplicate::Near));
                    }
                    originals
                        .get(&content.to_be_bytes()[..])
                        .and_then(|id| <[u8; 16]>::try_from(&id[..]).ok())
                        .map(|id| Seen::RepostOf(MentionId(u128::from_be_bytes(id))))
                })
                .collect())
        };
        lookup().map_err(|e| self.err(e))
    }

    /// Returns the sequence number of the last index commit recorded here (0: none).
    pub fn commit_seq(&self) -> Result<u64, StateError> {
        self.conn()
            .query_row("SELECT value FROM meta WHERE key = 'commit_seq'", [], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .map(|v| v.unwrap_or(0) as u64)
            .map_err(|e| self.err(e))
    }

    /// Records index commit `commit_seq`: advances cursors and remembers seen mentions,
    /// atomically.
    ///
    /// Called only after the index commit that holds these mentions, so a crash before
    /// this call replays the batches instead of losing them; the index's own commit
    /// carries the same sequence number, so a restart can tell that it happened.
    pub fn record_commit(
        &self,
        checkpoints: &[(String, Checkpoint)],
        seen: &[SeenRow],
        now: i64,
        commit_seq: u64,
    ) -> Result<(), StateError> {
        let mut conn = self.conn();
        let run = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            {
                let mut put_checkpoint = tx.prepare_cached(
                    "INSERT INTO crawl_state (source_id, checkpoint, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(source_id) DO UPDATE SET checkpoint = ?2, updated_at = ?3",
                )?;
                for (source, c) in checkpoints {
                    put_checkpoint.execute(params![source, c.0, now])?;
                }
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('commit_seq', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1",
                    [commit_seq as i64],
                )?;
                let mut put_seen = tx.prepare_cached(
                    "INSERT OR IGNORE INTO seen (mention_id, content_hash, simhash, first_seen, author_hash, author_content, repost_of) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for row in seen {
                    let (content, simhash, key) = match row.fingerprint {
                        Some((c, s)) => (
                            Some(c.to_be_bytes().to_vec()),
                            Some(s as i64),
                            Some(author_content(c, row.author).to_vec()),
                        ),
                        None => (None, None, None),
                    };
                    put_seen.execute(params![
                        &row.id.0.to_be_bytes()[..],
                        content,
                        simhash,
                        row.first_seen,
                        row.author as i64,
                        key,
                        row.repost_of.map(|r| r.0.to_be_bytes().to_vec()),
                    ])?;
                }
            }
            tx.commit()
        };
        run(&mut conn).map_err(|e| self.err(e))?;
        let mut near = self.near.lock().unwrap_or_else(|p| p.into_inner());
        for row in seen {
            if let Some((_, simhash)) = row.fingerprint {
                near.insert(simhash, row.author);
            }
        }
        Ok(())
    }

    /// Forgets every seen mention, every source's checkpoint and the commit number: what
    /// the store remembers of an index that is gone (deleted by its user). Without this,
    /// every mention of the lost index would come in again as a duplicate of itself and
    /// be dropped, and sources would resume after posts the new index never had. Returns
    /// the seen rows forgotten.
    pub fn forget_index(&self) -> Result<usize, StateError> {
        let mut conn = self.conn();
        let run = |conn: &mut Connection| -> rusqlite::Result<usize> {
            let tx = conn.transaction()?;
            let n = tx.execute("DELETE FROM seen", [])?;
            tx.execute("DELETE FROM crawl_state", [])?;
            tx.execute("DELETE FROM meta WHERE key = 'commit_seq'", [])?;
            tx.commit()?;
            Ok(n)
        };
        let n = run(&mut conn).map_err(|e| self.err(e))?;
        *self.near.lock().unwrap_or_else(|p| p.into_inner()) = NearIndex::new(NEAR_CAPACITY);
        Ok(n)
    }

    /// Forgets seen mentions first seen before `before` (unix seconds); returns how many.
    /// Scans the table (no index on `first_seen`, to keep inserts cheap): run it at
    /// start-up, not per batch.
    pub fn prune_seen(&self, before: i64) -> Result<usize, StateError> {
        self.conn()
            .execute("DELETE FROM seen WHERE first_seen < ?1", [before])
            .map_err(|e| self.err(e))
    }

    /// Returns the stored robots.txt answer for `origin`: status, body, fetched-at.
    pub fn robots(&self, origin: &str) -> Result<Option<(u16, Vec<u8>, i64)>, StateError> {
        self.conn()
            .query_row(
                "SELECT status, body, fetched_at FROM robots WHERE origin = ?1",
                [origin],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Stores the robots.txt answer for `origin`.
    pub fn put_robots(
        &self,
        origin: &str,
        status: u16,
        body: &[u8],
        fetched_at: i64,
    ) -> Result<(), StateError> {
        self.conn()
            .execute(
                "INSERT INTO robots (origin, status, body, fetched_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(origin) DO UPDATE SET status = ?2, body = ?3, fetched_at = ?4",
                params![origin, status, body, fetched_at],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }
}

/// Values bound per `IN (...)` query (SQLite allows 32,766 since 3.32).
const IN_CHUNK: usize = 500;

fn placeholders(n: usize) -> String {
    let mut s = "?,".repeat(n);
    s.pop();
    s
}

/// Runs `prefix (?, ?, ...)` over `values` in chunks; returns the first column's values
/// with the second's (the first row's, when several share a key).
fn query_in(
    conn: &Connection,
    prefix: &str,
    values: &[[u8; 16]],
) -> rusqlite::Result<HashMap<Vec<u8>, Vec<u8>>> {
    let mut found = HashMap::new();
    let unique: HashSet<&[u8; 16]> = values.iter().collect();
    let unique: Vec<&[u8; 16]> = unique.into_iter().collect();
    for chunk in unique.chunks(IN_CHUNK) {
        let sql = format!("{prefix} ({})", placeholders(chunk.len()));
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(chunk.iter().map(|v| &v[..])))?;
        while let Some(row) = rows.next()? {
            found
                .entry(row.get::<_, Vec<u8>>(0)?)
                .or_insert(row.get::<_, Vec<u8>>(1)?);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, StateStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = StateStore::open(&dir.path().join("state.db")).expect("open");
        (dir, s)
    }

    #[test]
    fn finds_duplicates_by_id_content_and_simhash() {
        let (_d, s) = store();
        let row = SeenRow {
            id: MentionId(1),
            author: 10,
            fingerprint: Some((42, 0xF0F0_F0F0_F0F0_F0F0)),
            repost_of: None,
            first_seen: 100,
        };
        s.record_commit(&[], &[row], 100, 1).expect("commit");
        let q = |id, author, fingerprint| SeenQuery {
            id: MentionId(id),
            author,
            fingerprint,
        };
        let queries = [
            q(1, 10, None),
            q(2, 10, Some((42, 0))),
            q(3, 10, Some((7, 0xF0F0_F0F0_F0F0_F0F7))),
            q(4, 10, Some((7, 0x0F0F_0F0F_0F0F_0F0F))),
            q(5, 11, Some((42, 0x0F0F_0F0F_0F0F_0F0F))),
            q(6, 11, Some((7, 0xF0F0_F0F0_F0F0_F0F7))),
        ];
        let found = s.find_duplicates(&queries).expect("lookup");
        assert_eq!(
            found,
            [
                Some(Seen::Duplicate(Duplicate::Id)),
                Some(Seen::Duplicate(Duplicate::Content)),
                Some(Seen::Duplicate(Duplicate::Near)),
                None,
                Some(Seen::RepostOf(MentionId(1))),
                None,
            ],
            "the same text by another author is a repost; a near text by another is new"
        );
        assert_eq!(s.prune_seen(101).ok(), Some(1));
        assert_eq!(s.find_duplicates(&queries[..1]).expect("lookup"), [None]);
    }

    #[test]
    fn checkpoints_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let c = Checkpoint("{\"etag\":\"v1\"}".into());
        let seen = SeenRow {
            id: MentionId(1),
            author: 3,
            fingerprint: Some((2, 0xAAAA_0000_0000_0000)),
            repost_of: None,
            first_seen: 1,
        };
        StateStore::open(&path)
            .and_then(|s| s.record_commit(&[("feed".into(), c.clone())], &[seen], 1, 7))
            .expect("write");
        let s = StateStore::open(&path).expect("reopen");
        assert_eq!(s.checkpoint("feed").ok().flatten(), Some(c));
        assert_eq!(s.commit_seq().ok(), Some(7));
        let near = s
            .find_duplicates(&[SeenQuery {
                id: MentionId(9),
                author: 3,
                fingerprint: Some((1, 0xAAAA_0000_0000_0001)),
            }])
            .expect("lookup");
        assert_eq!(
            near,
            [Some(Seen::Duplicate(Duplicate::Near))],
            "near-duplicate index reloads from disk"
        );
        assert_eq!(s.checkpoint("other").ok().flatten(), None);
    }
}
