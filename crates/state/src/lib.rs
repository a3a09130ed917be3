//! The embedded state store: crawl cursors, the robots.txt cache, the seen set, and
//! incidents with their timeline, notification outbox and silences, in one SQLite file
//! in the data directory.
//!
//! SQLite (bundled, WAL mode, `synchronous=FULL`) because one transaction must span the
//! cursors and the seen rows of a commit, and later issues need relational queries over
//! incidents. All access goes through one connection behind a mutex: writes happen once
//! per index commit, reads are point lookups of a few microseconds.
//!
//! Schema changes are migrations keyed on `PRAGMA user_version`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use lauscher_model::MentionId;
use lauscher_text::fingerprint::NearIndex;
use rusqlite::{Connection, OptionalExtension, params};

mod incidents;

pub use incidents::{IncidentRecord, OutboxRow, OutboxStatus, SilenceRow, TimelineRow};

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

/// A crawl cursor as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredCursor {
    /// The `ETag` to send back.
    pub etag: Option<String>,
    /// The `Last-Modified` to send back.
    pub last_modified: Option<String>,
    /// Hash of the last body, for servers that ignore validators.
    pub body_hash: Option<u64>,
}

/// One mention to remember as seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeenRow {
    /// The mention id.
    pub id: MentionId,
    /// Content hash and SimHash, for texts long enough for content dedupe.
    pub fingerprint: Option<(u128, u64)>,
    /// When it was first seen (unix seconds).
    pub first_seen: i64,
}

/// Why a mention counts as already seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Duplicate {
    /// The same id.
    Id,
    /// The same normalised text.
    Content,
    /// A SimHash within the near-duplicate distance.
    Near,
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

/// Most recent SimHashes kept in memory for near-duplicate lookups (8 bytes each, so
/// about 32 MiB with the band buckets). Near-duplicates of older mentions are not found;
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
                .prepare("SELECT simhash FROM seen WHERE simhash IS NOT NULL ORDER BY first_seen DESC LIMIT ?1")
                .map_err(err)?;
            let mut rows = stmt.query([NEAR_CAPACITY as i64]).map_err(err)?;
            let mut newest_first = Vec::new();
            while let Some(row) = rows.next().map_err(err)? {
                newest_first.push(row.get::<_, i64>(0).map_err(err)? as u64);
            }
            for simhash in newest_first.into_iter().rev() {
                near.insert(simhash);
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

    /// Returns the stored cursor of `source`.
    pub fn cursor(&self, source: &str) -> Result<Option<StoredCursor>, StateError> {
        self.conn()
            .query_row(
                "SELECT etag, last_modified, body_hash FROM crawl_state WHERE source_id = ?1",
                [source],
                |r| {
                    Ok(StoredCursor {
                        etag: r.get(0)?,
                        last_modified: r.get(1)?,
                        body_hash: r.get::<_, Option<i64>>(2)?.map(|h| h as u64),
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Returns, for each mention, why it duplicates one already committed, if it does.
    ///
    /// Costs two queries per 500 mentions (an `IN (...)` lookup of ids and one of content
    /// hashes); near-duplicates are looked up in memory (see [`NEAR_CAPACITY`]).
    pub fn find_duplicates(
        &self,
        items: &[(MentionId, Option<(u128, u64)>)],
    ) -> Result<Vec<Option<Duplicate>>, StateError> {
        let conn = self.conn();
        let lookup = || -> rusqlite::Result<Vec<Option<Duplicate>>> {
            let ids: Vec<[u8; 16]> = items.iter().map(|(id, _)| id.0.to_be_bytes()).collect();
            let known_ids: HashSet<Vec<u8>> = query_in(
                &conn,
                "SELECT mention_id FROM seen WHERE mention_id IN",
                &ids,
            )?;
            let contents: Vec<[u8; 16]> = items
                .iter()
                .filter_map(|(_, f)| f.map(|(c, _)| c.to_be_bytes()))
                .collect();
            let known_contents: HashSet<Vec<u8>> = query_in(
                &conn,
                "SELECT content_hash FROM seen WHERE content_hash IN",
                &contents,
            )?;
            let near = self.near.lock().unwrap_or_else(|p| p.into_inner());
            Ok(items
                .iter()
                .map(|(id, fingerprint)| {
                    if known_ids.contains(&id.0.to_be_bytes()[..]) {
                        return Some(Duplicate::Id);
                    }
                    let (content, simhash) = (*fingerprint)?;
                    if known_contents.contains(&content.to_be_bytes()[..]) {
                        return Some(Duplicate::Content);
                    }
                    near.contains_near(simhash).then_some(Duplicate::Near)
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
        cursors: &[(String, StoredCursor)],
        seen: &[SeenRow],
        now: i64,
        commit_seq: u64,
    ) -> Result<(), StateError> {
        let mut conn = self.conn();
        let run = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            {
                let mut put_cursor = tx.prepare_cached(
                    "INSERT INTO crawl_state (source_id, etag, last_modified, body_hash, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(source_id) DO UPDATE SET etag = ?2, last_modified = ?3, body_hash = ?4, updated_at = ?5",
                )?;
                for (source, c) in cursors {
                    put_cursor.execute(params![
                        source,
                        c.etag,
                        c.last_modified,
                        c.body_hash.map(|h| h as i64),
                        now
                    ])?;
                }
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('commit_seq', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1",
                    [commit_seq as i64],
                )?;
                let mut put_seen = tx.prepare_cached(
                    "INSERT OR IGNORE INTO seen (mention_id, content_hash, simhash, first_seen) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for row in seen {
                    let (content, simhash) = match row.fingerprint {
                        Some((c, s)) => (Some(c.to_be_bytes().to_vec()), Some(s as i64)),
                        None => (None, None),
                    };
                    put_seen.execute(params![
                        &row.id.0.to_be_bytes()[..],
                        content,
                        simhash,
                        row.first_seen
                    ])?;
                }
            }
            tx.commit()
        };
        run(&mut conn).map_err(|e| self.err(e))?;
        let mut near = self.near.lock().unwrap_or_else(|p| p.into_inner());
        for (_, simhash) in seen.iter().filter_map(|r| r.fingerprint) {
            near.insert(simhash);
        }
        Ok(())
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

/// Runs `prefix (?, ?, ...)` over `values` in chunks; returns the first column's values.
fn query_in(
    conn: &Connection,
    prefix: &str,
    values: &[[u8; 16]],
) -> rusqlite::Result<HashSet<Vec<u8>>> {
    let mut found = HashSet::new();
    for chunk in values.chunks(IN_CHUNK) {
        let sql = format!("{prefix} ({})", placeholders(chunk.len()));
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(chunk.iter().map(|v| &v[..])))?;
        while let Some(row) = rows.next()? {
            found.insert(row.get::<_, Vec<u8>>(0)?);
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
            fingerprint: Some((42, 0xF0F0_F0F0_F0F0_F0F0)),
            first_seen: 100,
        };
        s.record_commit(&[], &[row], 100, 1).expect("commit");
        let queries = [
            (MentionId(1), None),
            (MentionId(2), Some((42, 0))),
            (MentionId(3), Some((7, 0xF0F0_F0F0_F0F0_F0F7))),
            (MentionId(4), Some((7, 0x0F0F_0F0F_0F0F_0F0F))),
        ];
        let found = s.find_duplicates(&queries).expect("lookup");
        assert_eq!(
            found,
            [
                Some(Duplicate::Id),
                Some(Duplicate::Content),
                Some(Duplicate::Near),
                None
            ]
        );
        assert_eq!(s.prune_seen(101).ok(), Some(1));
        assert_eq!(s.find_duplicates(&queries[..1]).expect("lookup"), [None]);
    }

    #[test]
    fn cursors_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let c = StoredCursor {
            etag: Some("\"v1\"".into()),
            last_modified: None,
            body_hash: Some(u64::MAX),
        };
        let seen = SeenRow {
            id: MentionId(1),
            fingerprint: Some((2, 0xAAAA_0000_0000_0000)),
            first_seen: 1,
        };
        StateStore::open(&path)
            .and_then(|s| s.record_commit(&[("feed".into(), c.clone())], &[seen], 1, 7))
            .expect("write");
        let s = StateStore::open(&path).expect("reopen");
        assert_eq!(s.cursor("feed").ok().flatten(), Some(c));
        assert_eq!(s.commit_seq().ok(), Some(7));
        let near = s
            .find_duplicates(&[(MentionId(9), Some((1, 0xAAAA_0000_0000_0001)))])
            .expect("lookup");
        assert_eq!(
            near,
            [Some(Duplicate::Near)],
            "near-duplicate index reloads from disk"
        );
        assert_eq!(s.cursor("other").ok().flatten(), None);
    }
}
