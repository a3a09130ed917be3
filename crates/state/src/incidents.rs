//! Incidents, their timeline, the notification outbox and silences.
//!
//! An incident transition is one transaction: the incident row (with its new version),
//! the timeline rows and one outbox row per receiver. So a crash either loses the whole
//! transition (the detector fires again on the rebuilt counts) or keeps all of it, and
//! the delivery worker finds the notification on restart. The incident's body is JSON
//! owned by `lauscher-alerts`; the columns beside it are what queries filter on.

use rusqlite::{OptionalExtension, Row, params};

use crate::{StateError, StateStore};

/// An incident as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentRecord {
    /// Row id (0 for one not yet stored).
    pub id: i64,
    /// The alert rule.
    pub rule_id: String,
    /// The topic (or source, for source health).
    pub topic: String,
    /// Start of the window that opened it (unix seconds); part of the unique key.
    pub window_start: i64,
    /// `firing`, `acknowledged` or `resolved`.
    pub status: String,
    /// 1 watch, 2 escalate, 3 shitstorm.
    pub level: u8,
    /// Bumped by every transition.
    pub version: u32,
    /// Last change (unix seconds).
    pub updated_at: i64,
    /// The whole incident, JSON.
    pub body: String,
}

/// One line of an incident's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineRow {
    /// The incident version it belongs to.
    pub version: u32,
    /// When (unix seconds).
    pub at: i64,
    /// What happened (`opened`, `escalated`, `acknowledged`, `notified`, ...).
    pub event: String,
    /// Details, JSON.
    pub detail: String,
}

/// Where a notification stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Waiting for its next attempt.
    Pending,
    /// The receiver accepted it.
    Sent,
    /// The receiver rejected it for good (4xx other than 408/425/429).
    Failed,
    /// Not accepted before its time to live ran out.
    Expired,
    /// A silence matched; kept for the record, never sent.
    Silenced,
    /// A newer version for the same receiver replaced it before it was sent.
    Superseded,
}

impl OutboxStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Failed => "failed",
            OutboxStatus::Expired => "expired",
            OutboxStatus::Silenced => "silenced",
            OutboxStatus::Superseded => "superseded",
        }
    }

    fn parse(s: &str) -> OutboxStatus {
        match s {
            "sent" => OutboxStatus::Sent,
            "failed" => OutboxStatus::Failed,
            "expired" => OutboxStatus::Expired,
            "silenced" => OutboxStatus::Silenced,
            "superseded" => OutboxStatus::Superseded,
            _ => OutboxStatus::Pending,
        }
    }
}

/// One notification to one receiver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxRow {
    /// Row id (0 before it is stored).
    pub id: i64,
    /// The incident; 0 for a notification about none (a scheduled digest; stored as
    /// NULL).
    pub incident_id: i64,
    /// The incident version it announces.
    pub version: u32,
    /// The receiver id.
    pub receiver: String,
    /// `<incident>:<version>:<receiver>`; sent so receivers can drop a repeat.
    pub idempotency_key: String,
    /// The transition it announces (`opened`, `resolved`, ...).
    pub event: String,
    /// The rendered request body.
    pub body: String,
    /// Where it stands.
    pub status: OutboxStatus,
    /// Attempts made.
    pub attempts: u32,
    /// Queued at (unix seconds).
    pub created_at: i64,
    /// Next attempt not before (unix seconds).
    pub next_attempt_at: i64,
    /// Given up after (unix seconds).
    pub expires_at: i64,
    /// When the receiver accepted it.
    pub sent_at: Option<i64>,
    /// The last failure.
    pub last_error: Option<String>,
    /// The route group (route path and grouping label values); rows of one group and
    /// receiver due together are sent as one message where the receiver allows it.
    pub group_key: String,
}

impl OutboxRow {
    /// A notification about no incident (a digest, a desk notice) for `receiver`, due
    /// at `now`, given up after `ttl` seconds.
    pub fn pending(
        receiver: &str,
        idempotency_key: String,
        event: &str,
        body: String,
        now: i64,
        ttl: i64,
    ) -> OutboxRow {
        OutboxRow {
            id: 0,
            incident_id: 0,
            version: 1,
            receiver: receiver.to_owned(),
            idempotency_key,
            event: event.to_owned(),
            body,
            status: OutboxStatus::Pending,
            attempts: 0,
            created_at: now,
            next_attempt_at: now,
            expires_at: now + ttl,
            sent_at: None,
            last_error: None,
            group_key: String::new(),
        }
    }
}

/// A silence: notifications of matching incidents are kept, not sent, in its time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SilenceRow {
    /// Row id (0 before it is stored).
    pub id: i64,
    /// The matchers, JSON array of strings (`topic="acme"`).
    pub matchers: String,
    /// From (unix seconds).
    pub starts_at: i64,
    /// Until (unix seconds); expiring sets it to now.
    pub ends_at: i64,
    /// Who created it.
    pub created_by: String,
    /// Why.
    pub comment: String,
    /// When it was created.
    pub created_at: i64,
}

const INCIDENT_COLUMNS: &str =
    "id, rule_id, topic, window_start, status, level, version, updated_at, body";
const OUTBOX_COLUMNS: &str = "id, COALESCE(incident_id, 0), version, receiver, idempotency_key, event, body, status, attempts, created_at, next_attempt_at, expires_at, sent_at, last_error, group_key";

fn incident_row(r: &Row<'_>) -> rusqlite::Result<IncidentRecord> {
    Ok(IncidentRecord {
        id: r.get(0)?,
        rule_id: r.get(1)?,
        topic: r.get(2)?,
        window_start: r.get(3)?,
        status: r.get(4)?,
        level: r.get::<_, i64>(5)? as u8,
        version: r.get::<_, i64>(6)? as u32,
        updated_at: r.get(7)?,
        body: r.get(8)?,
    })
}

/// Inserts `o` for incident `id`; an empty idempotency key becomes
/// `<incident>:<version>:<receiver>`. A row with the same key is kept as it is.
pub(crate) fn put_outbox(
    conn: &rusqlite::Connection,
    id: i64,
    o: &OutboxRow,
) -> rusqlite::Result<()> {
    let key = if o.idempotency_key.is_empty() {
        format!("{id}:{}:{}", o.version, o.receiver)
    } else {
        o.idempotency_key.clone()
    };
    conn.prepare_cached(
        "INSERT OR IGNORE INTO alert_outbox (incident_id, version, receiver, idempotency_key, event, body, status, attempts, created_at, next_attempt_at, expires_at, group_key) VALUES (NULLIF(?1, 0), ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        id,
        o.version as i64,
        o.receiver,
        key,
        o.event,
        o.body,
        o.status.as_str(),
        o.created_at,
        o.next_attempt_at,
        o.expires_at,
        o.group_key
    ])
    .map(|_| ())
}

fn outbox_row(r: &Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.get(0)?,
        incident_id: r.get(1)?,
        version: r.get::<_, i64>(2)? as u32,
        receiver: r.get(3)?,
        idempotency_key: r.get(4)?,
        event: r.get(5)?,
        body: r.get(6)?,
        status: OutboxStatus::parse(&r.get::<_, String>(7)?),
        attempts: r.get::<_, i64>(8)? as u32,
        created_at: r.get(9)?,
        next_attempt_at: r.get(10)?,
        expires_at: r.get(11)?,
        sent_at: r.get(12)?,
        last_error: r.get(13)?,
        group_key: r.get(14)?,
    })
}

fn silence_row(r: &Row<'_>) -> rusqlite::Result<SilenceRow> {
    Ok(SilenceRow {
        id: r.get(0)?,
        matchers: r.get(1)?,
        starts_at: r.get(2)?,
        ends_at: r.get(3)?,
        created_by: r.get(4)?,
        comment: r.get(5)?,
        created_at: r.get(6)?,
    })
}

impl StateStore {
    /// Runs `sql` with `params` and maps every row with `row`.
    fn rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        row: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StateError> {
        let conn = self.conn();
        let run = || -> rusqlite::Result<Vec<T>> {
            let mut stmt = conn.prepare_cached(sql)?;
            stmt.query_map(params, row)?.collect()
        };
        run().map_err(|e| self.err(e))
    }
    /// Stores an incident transition atomically: the incident (inserted when `id` is 0,
    /// else updated only if the stored version is older), its timeline rows and its
    /// outbox rows. Returns the incident id, or `None` when the stored version is
    /// already as new (a replay), in which case nothing is written.
    ///
    /// An outbox row for the same receiver that is still pending and `coalesce`s is
    /// marked superseded, so chat receivers get the newest state, not every step.
    pub fn record_transition(
        &self,
        incident: &IncidentRecord,
        timeline: &[TimelineRow],
        outbox: &[OutboxRow],
        coalesce: &dyn Fn(&str) -> bool,
    ) -> Result<Option<i64>, StateError> {
        let mut conn = self.conn();
        let run = |conn: &mut rusqlite::Connection| -> rusqlite::Result<Option<i64>> {
            let tx = conn.transaction()?;
            // Version 1 is the opening: a new row (with the id the caller reserved, if
            // any), unless the same wave is stored already.
            let id = if incident.version == 1 {
                let existing: Option<i64> = tx
                    .query_row(
                        "SELECT id FROM incidents WHERE rule_id = ?1 AND topic = ?2 AND window_start = ?3",
                        params![incident.rule_id, incident.topic, incident.window_start],
                        |r| r.get(0),
                    )
                    .optional()?;
                if existing.is_some() {
                    return Ok(None);
                }
                tx.execute(
                    "INSERT INTO incidents (id, rule_id, topic, window_start, status, level, version, updated_at, body) VALUES (NULLIF(?9, 0), ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        incident.rule_id,
                        incident.topic,
                        incident.window_start,
                        incident.status,
                        incident.level as i64,
                        incident.version as i64,
                        incident.updated_at,
                        incident.body,
                        incident.id
                    ],
                )?;
                tx.last_insert_rowid()
            } else {
                let changed = tx.execute(
                    "UPDATE incidents SET status = ?2, level = ?3, version = ?4, updated_at = ?5, body = ?6 WHERE id = ?1 AND version < ?4",
                    params![
                        incident.id,
                        incident.status,
                        incident.level as i64,
                        incident.version as i64,
                        incident.updated_at,
                        incident.body
                    ],
                )?;
                if changed == 0 {
                    return Ok(None);
                }
                incident.id
            };
            {
                let mut put = tx.prepare_cached(
                    "INSERT INTO incident_timeline (incident_id, version, at, event, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for t in timeline {
                    put.execute(params![id, t.version as i64, t.at, t.event, t.detail])?;
                }
                let mut supersede = tx.prepare_cached(
                    "UPDATE alert_outbox SET status = 'superseded' WHERE incident_id = ?1 AND receiver = ?2 AND status = 'pending' AND attempts = 0",
                )?;
                for o in outbox {
                    if o.status == OutboxStatus::Pending && coalesce(&o.receiver) {
                        supersede.execute(params![id, o.receiver])?;
                    }
                    put_outbox(&tx, id, o)?;
                }
            }
            tx.commit()?;
            Ok(Some(id))
        };
        run(&mut conn).map_err(|e| self.err(e))
    }

    /// Replaces the stored body of incident `id` at `version` (newer numbers, no
    /// transition); a no-op when the stored version differs.
    pub fn update_incident_body(
        &self,
        id: i64,
        version: u32,
        body: &str,
    ) -> Result<(), StateError> {
        self.conn()
            .execute(
                "UPDATE incidents SET body = ?3 WHERE id = ?1 AND version = ?2",
                params![id, version as i64, body],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Incidents not resolved, or resolved at or after `resolved_since` (unix seconds),
    /// oldest first: what the router loads at start-up.
    pub fn live_incidents(&self, resolved_since: i64) -> Result<Vec<IncidentRecord>, StateError> {
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE status != 'resolved' OR updated_at >= ?1 ORDER BY id"
        );
        self.rows(&sql, [resolved_since], incident_row)
    }

    /// Rule and topic of every incident whose window started at or after `since` (unix
    /// seconds): what `lauscher check` holds against the budgets.
    pub fn incidents_opened_since(&self, since: i64) -> Result<Vec<(String, String)>, StateError> {
        self.rows(
            "SELECT rule_id, topic FROM incidents WHERE window_start >= ?1",
            [since],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// Incidents, newest first, optionally only those with `status`.
    pub fn list_incidents(
        &self,
        status: Option<&str>,
        limit: usize,
    ) -> Result<Vec<IncidentRecord>, StateError> {
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE ?1 IS NULL OR status = ?1 ORDER BY updated_at DESC, id DESC LIMIT ?2"
        );
        self.rows(&sql, params![status, limit as i64], incident_row)
    }

    /// One incident.
    pub fn incident(&self, id: i64) -> Result<Option<IncidentRecord>, StateError> {
        let conn = self.conn();
        conn.query_row(
            &format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1"),
            [id],
            incident_row,
        )
        .optional()
        .map_err(|e| self.err(e))
    }

    /// An incident's timeline, oldest first.
    pub fn timeline(&self, incident_id: i64) -> Result<Vec<TimelineRow>, StateError> {
        let sql = "SELECT version, at, event, detail FROM incident_timeline WHERE incident_id = ?1 ORDER BY rowid";
        self.rows(sql, [incident_id], |r| {
            Ok(TimelineRow {
                version: r.get::<_, i64>(0)? as u32,
                at: r.get(1)?,
                event: r.get(2)?,
                detail: r.get(3)?,
            })
        })
    }

    /// Appends a timeline row outside a transition (delivery outcomes, inhibitions).
    pub fn append_timeline(&self, incident_id: i64, row: &TimelineRow) -> Result<(), StateError> {
        self.conn()
            .execute(
                "INSERT INTO incident_timeline (incident_id, version, at, event, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![incident_id, row.version as i64, row.at, row.event, row.detail],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Pending notifications due at `now`, oldest version first, at most one per
    /// (incident, receiver) so that each pair is delivered in order.
    pub fn due_notifications(&self, now: i64, limit: usize) -> Result<Vec<OutboxRow>, StateError> {
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM alert_outbox o WHERE status = 'pending'
                   AND id = (SELECT MIN(id) FROM alert_outbox p WHERE p.incident_id IS o.incident_id AND p.receiver = o.receiver AND p.status = 'pending')
                   AND next_attempt_at <= ?1
                 ORDER BY id LIMIT ?2"
        );
        self.rows(&sql, params![now, limit as i64], outbox_row)
    }

    /// The id the next new incident will get, so its first messages can name it. The
    /// router is the only writer of incidents, so the reservation holds.
    pub fn next_incident_id(&self) -> Result<i64, StateError> {
        self.conn()
            .query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM incidents", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// Queues one notification outside an incident transition (a receiver-health
    /// notice to the fallback). A row with the same idempotency key is kept as it is.
    pub fn enqueue_notification(&self, o: &OutboxRow) -> Result<(), StateError> {
        put_outbox(&self.conn(), o.incident_id, o).map_err(|e| self.err(e))
    }

    /// Moves a pending notification's next attempt to `at` without counting an
    /// attempt (a rate limit spaced it).
    pub fn defer_notification(&self, id: i64, at: i64) -> Result<(), StateError> {
        self.conn()
            .execute(
                "UPDATE alert_outbox SET next_attempt_at = ?2 WHERE id = ?1 AND status = 'pending'",
                params![id, at],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Per (receiver, group): when its latest message went or goes out, for groups
    /// active since `since`: the grouping clock survives a restart.
    pub fn group_flushes(&self, since: i64) -> Result<Vec<(String, String, i64)>, StateError> {
        self.rows(
            "SELECT receiver, group_key, MAX(CASE status WHEN 'sent' THEN sent_at ELSE next_attempt_at END)
               FROM alert_outbox
              WHERE group_key != '' AND status IN ('sent', 'pending') AND created_at >= ?1
              GROUP BY receiver, group_key",
            [since],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    }

    /// The earliest pending attempt time, for the worker's sleep.
    pub fn next_notification_at(&self) -> Result<Option<i64>, StateError> {
        self.conn()
            .query_row(
                "SELECT MIN(next_attempt_at) FROM alert_outbox WHERE status = 'pending'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// Records an attempt's outcome: the new status, attempts, next attempt and error.
    pub fn record_attempt(
        &self,
        id: i64,
        status: OutboxStatus,
        attempts: u32,
        next_attempt_at: i64,
        at: i64,
        error: Option<&str>,
    ) -> Result<(), StateError> {
        let sent_at = (status == OutboxStatus::Sent).then_some(at);
        self.conn()
            .execute(
                "UPDATE alert_outbox SET status = ?2, attempts = ?3, next_attempt_at = ?4, sent_at = ?5, last_error = ?6 WHERE id = ?1",
                params![id, status.as_str(), attempts as i64, next_attempt_at, sent_at, error],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// An incident's notifications, oldest first.
    pub fn notifications(&self, incident_id: i64) -> Result<Vec<OutboxRow>, StateError> {
        self.rows(
            &format!(
                "SELECT {OUTBOX_COLUMNS} FROM alert_outbox WHERE incident_id = ?1 ORDER BY id"
            ),
            [incident_id],
            outbox_row,
        )
    }

    /// Pending notifications per receiver, for the gauge.
    pub fn pending_per_receiver(&self) -> Result<Vec<(String, u64)>, StateError> {
        let sql = "SELECT receiver, COUNT(*) FROM alert_outbox WHERE status = 'pending' GROUP BY receiver";
        self.rows(sql, [], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
    }

    /// Stores a silence; returns its id.
    pub fn add_silence(&self, s: &SilenceRow) -> Result<i64, StateError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO silences (matchers, starts_at, ends_at, created_by, comment, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![s.matchers, s.starts_at, s.ends_at, s.created_by, s.comment, s.created_at],
        )
        .map(|_| conn.last_insert_rowid())
        .map_err(|e| self.err(e))
    }

    /// Ends a silence at `now`; false when there is no such silence or it already ended.
    pub fn expire_silence(&self, id: i64, now: i64) -> Result<bool, StateError> {
        self.conn()
            .execute(
                "UPDATE silences SET ends_at = ?2 WHERE id = ?1 AND ends_at > ?2",
                params![id, now],
            )
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }

    /// Silences that have not ended at `now`, oldest first.
    pub fn silences(&self, now: i64) -> Result<Vec<SilenceRow>, StateError> {
        let sql = "SELECT id, matchers, starts_at, ends_at, created_by, comment, created_at FROM silences WHERE ends_at > ?1 ORDER BY id";
        self.rows(sql, [now], silence_row)
    }

    /// A key-value integer in the meta table (for example the first time alerting ran).
    pub fn meta(&self, key: &str) -> Result<Option<i64>, StateError> {
        self.conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Sets a key-value integer in the meta table when it is not set yet; returns the
    /// value in force.
    pub fn meta_init(&self, key: &str, value: i64) -> Result<i64, StateError> {
        let conn = self.conn();
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
            params![key, value],
        )
        .and_then(|_| conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)))
        .map_err(|e| self.err(e))
    }
}
