//! The service desk's tables: items (a cached fold of their events), the append-only
//! event log, the mentions each item holds and the thread addresses that lead to it.
//!
//! A desk change is one transaction: the item row (guarded by its version), its new
//! events, its mentions and addresses, and the outbox rows of any SLA notice. Item and
//! event bodies are JSON owned by `lauscher-desk`; the columns beside them are what
//! queries filter on.

use std::collections::HashSet;

use lauscher_model::MentionId;
use rusqlite::{OptionalExtension, Row, params};

use crate::incidents::put_outbox;
use crate::{OutboxRow, StateError, StateStore};

/// A desk item as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeskItemRow {
    /// Id (given by the desk).
    pub id: i64,
    /// `new`, `open`, `pending`, `resolved`, `dismissed`, `merged`.
    pub state: String,
    /// The team.
    pub team: String,
    /// The owning agent.
    pub assignee: Option<String>,
    /// 0 low … 3 urgent.
    pub priority: u8,
    /// When the author posted (unix seconds).
    pub posted_at: i64,
    /// Last change (unix seconds).
    pub updated_at: i64,
    /// Events applied.
    pub version: u32,
    /// The item, JSON.
    pub body: String,
}

/// One stored event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeskEventRow {
    /// The item.
    pub item_id: i64,
    /// 1, 2, 3, … per item.
    pub seq: u32,
    /// When (unix seconds).
    pub at: i64,
    /// Who (`user:anna`, `system`).
    pub actor: String,
    /// The action's name.
    pub action: String,
    /// The whole event, JSON.
    pub data: String,
}

/// Everything one desk change writes.
#[derive(Clone, Debug, Default)]
pub struct DeskWrite {
    /// The item after the change.
    pub item: Option<DeskItemRow>,
    /// The version the change was made on (0: a new item).
    pub base_version: u32,
    /// The change's events.
    pub events: Vec<DeskEventRow>,
    /// Mentions the item now holds, with their role (`opening`, `follow_up`,
    /// `brand_reply`).
    pub mentions: Vec<(MentionId, &'static str)>,
    /// Addresses that now lead to the item (its posts' URLs and addresses).
    pub addresses: Vec<String>,
    /// Notifications to queue.
    pub notifications: Vec<OutboxRow>,
}

/// A desk write refused because the item changed since it was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaleItem {
    /// The item.
    pub id: i64,
}

fn item_row(r: &Row<'_>) -> rusqlite::Result<DeskItemRow> {
    Ok(DeskItemRow {
        id: r.get(0)?,
        state: r.get(1)?,
        team: r.get(2)?,
        assignee: r.get(3)?,
        priority: r.get::<_, i64>(4)? as u8,
        posted_at: r.get(5)?,
        updated_at: r.get(6)?,
        version: r.get::<_, i64>(7)? as u32,
        body: r.get(8)?,
    })
}

const ITEM_COLUMNS: &str =
    "id, state, team, assignee, priority, posted_at, updated_at, version, body";

fn event_row(r: &Row<'_>) -> rusqlite::Result<DeskEventRow> {
    Ok(DeskEventRow {
        item_id: r.get(0)?,
        seq: r.get::<_, i64>(1)? as u32,
        at: r.get(2)?,
        actor: r.get(3)?,
        action: r.get(4)?,
        data: r.get(5)?,
    })
}

impl StateStore {
    /// Writes `writes` in one transaction. An item whose stored version is not the
    /// write's `base_version` (or that exists when the write creates it) refuses the
    /// whole transaction with [`StaleItem`].
    pub fn desk_commit(&self, writes: &[DeskWrite]) -> Result<Result<(), StaleItem>, StateError> {
        let mut conn = self.conn();
        let run = |conn: &mut rusqlite::Connection| -> rusqlite::Result<Result<(), StaleItem>> {
            let tx = conn.transaction()?;
            for w in writes {
                if let Some(item) = &w.item {
                    let changed = if w.base_version == 0 {
                        tx.execute(
                            "INSERT OR IGNORE INTO desk_items (id, state, team, assignee, priority, posted_at, updated_at, version, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                            params![item.id, item.state, item.team, item.assignee, item.priority as i64, item.posted_at, item.updated_at, item.version as i64, item.body],
                        )?
                    } else {
                        tx.execute(
                            "UPDATE desk_items SET state = ?2, team = ?3, assignee = ?4, priority = ?5, updated_at = ?6, version = ?7, body = ?8 WHERE id = ?1 AND version = ?9",
                            params![item.id, item.state, item.team, item.assignee, item.priority as i64, item.updated_at, item.version as i64, item.body, w.base_version as i64],
                        )?
                    };
                    if changed == 0 {
                        return Ok(Err(StaleItem { id: item.id }));
                    }
                }
                let mut put = tx.prepare_cached(
                    "INSERT INTO desk_events (item_id, seq, at, actor, action, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for e in &w.events {
                    put.execute(params![
                        e.item_id,
                        e.seq as i64,
                        e.at,
                        e.actor,
                        e.action,
                        e.data
                    ])?;
                }
                let item_id = w.item.as_ref().map_or(0, |i| i.id);
                let mut mention = tx.prepare_cached(
                    "INSERT OR IGNORE INTO desk_mentions (mention_id, item_id, role) VALUES (?1, ?2, ?3)",
                )?;
                for (id, role) in &w.mentions {
                    mention.execute(params![id.0.to_be_bytes().to_vec(), item_id, role])?;
                }
                let mut address = tx.prepare_cached(
                    "INSERT OR REPLACE INTO desk_threads (address, item_id) VALUES (?1, ?2)",
                )?;
                for a in &w.addresses {
                    address.execute(params![a, item_id])?;
                }
                for o in &w.notifications {
                    put_outbox(&tx, o.incident_id, o)?;
                }
            }
            tx.commit()?;
            Ok(Ok(()))
        };
        run(&mut conn).map_err(|e| self.err(e))
    }

    /// One item.
    pub fn desk_item(&self, id: i64) -> Result<Option<DeskItemRow>, StateError> {
        self.conn()
            .query_row(
                &format!("SELECT {ITEM_COLUMNS} FROM desk_items WHERE id = ?1"),
                [id],
                item_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Items in any of `states` (all when empty), oldest post first, at most `limit`.
    pub fn desk_items(
        &self,
        states: &[&str],
        limit: usize,
    ) -> Result<Vec<DeskItemRow>, StateError> {
        let conn = self.conn();
        let run = || -> rusqlite::Result<Vec<DeskItemRow>> {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS} FROM desk_items WHERE (?1 = '' OR instr(?1, ',' || state || ',') > 0) ORDER BY posted_at, id LIMIT ?2"
            ))?;
            let filter = if states.is_empty() {
                String::new()
            } else {
                format!(",{},", states.join(","))
            };
            stmt.query_map(params![filter, limit as i64], item_row)?
                .collect()
        };
        run().map_err(|e| self.err(e))
    }

    /// Every event of items posted in `[since, until)` or still in one of `live` states,
    /// grouped by item, oldest first.
    pub fn desk_event_log(
        &self,
        since: i64,
        until: i64,
        live: &[&str],
    ) -> Result<Vec<Vec<DeskEventRow>>, StateError> {
        let conn = self.conn();
        let run = || -> rusqlite::Result<Vec<Vec<DeskEventRow>>> {
            let mut stmt = conn.prepare_cached(
                "SELECT e.item_id, e.seq, e.at, e.actor, e.action, e.data FROM desk_events e JOIN desk_items i ON i.id = e.item_id WHERE (i.posted_at >= ?1 AND i.posted_at < ?2) OR (i.posted_at < ?2 AND instr(?3, ',' || i.state || ',') > 0) ORDER BY e.item_id, e.seq",
            )?;
            let live = format!(",{},", live.join(","));
            let mut out: Vec<Vec<DeskEventRow>> = Vec::new();
            for row in stmt.query_map(params![since, until, live], event_row)? {
                let row = row?;
                match out.last_mut() {
                    Some(v) if v.last().is_some_and(|l| l.item_id == row.item_id) => v.push(row),
                    _ => out.push(vec![row]),
                }
            }
            Ok(out)
        };
        run().map_err(|e| self.err(e))
    }

    /// Items with at least one event of `action`.
    pub fn desk_items_with_action(&self, action: &str) -> Result<Vec<DeskItemRow>, StateError> {
        let conn = self.conn();
        let run = || -> rusqlite::Result<Vec<DeskItemRow>> {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS} FROM desk_items WHERE id IN (SELECT item_id FROM desk_events WHERE action = ?1) ORDER BY id"
            ))?;
            stmt.query_map([action], item_row)?.collect()
        };
        run().map_err(|e| self.err(e))
    }

    /// The events of one item, oldest first.
    pub fn desk_events(&self, item: i64) -> Result<Vec<DeskEventRow>, StateError> {
        let conn = self.conn();
        let run = || -> rusqlite::Result<Vec<DeskEventRow>> {
            let mut stmt = conn.prepare_cached(
                "SELECT item_id, seq, at, actor, action, data FROM desk_events WHERE item_id = ?1 ORDER BY seq",
            )?;
            stmt.query_map([item], event_row)?.collect()
        };
        run().map_err(|e| self.err(e))
    }

    /// The item an address leads to.
    pub fn desk_thread(&self, address: &str) -> Result<Option<i64>, StateError> {
        self.conn()
            .query_row(
                "SELECT item_id FROM desk_threads WHERE address = ?1",
                [address],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Which of `ids` the desk holds already.
    pub fn desk_known(&self, ids: &[MentionId]) -> Result<HashSet<MentionId>, StateError> {
        let conn = self.conn();
        let run = || -> rusqlite::Result<HashSet<MentionId>> {
            let mut stmt =
                conn.prepare_cached("SELECT 1 FROM desk_mentions WHERE mention_id = ?1")?;
            let mut out = HashSet::new();
            for id in ids {
                if stmt.exists([id.0.to_be_bytes().to_vec()])? {
                    out.insert(*id);
                }
            }
            Ok(out)
        };
        run().map_err(|e| self.err(e))
    }

    /// The next free item id.
    pub fn desk_next_id(&self) -> Result<i64, StateError> {
        self.conn()
            .query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM desk_items", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }
}

/// An agent's flag on an author.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorFlagRow {
    /// The author key (folded handle).
    pub author: String,
    /// `troll` or `vip`.
    pub flag: String,
    /// Why.
    pub reason: String,
    /// Who set it (`user:anna`).
    pub set_by: String,
    /// When (unix seconds).
    pub set_at: i64,
}

impl StateStore {
    /// Sets (or with `None` clears) the flag of `author`.
    pub fn set_author_flag(
        &self,
        author: &str,
        flag: Option<&AuthorFlagRow>,
    ) -> Result<(), StateError> {
        let conn = self.conn();
        let r = match flag {
            Some(f) => conn.execute(
                "INSERT OR REPLACE INTO desk_authors (author_key, flag, reason, set_by, set_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![author, f.flag, f.reason, f.set_by, f.set_at],
            ),
            None => conn.execute("DELETE FROM desk_authors WHERE author_key = ?1", [author]),
        };
        r.map(|_| ()).map_err(|e| self.err(e))
    }

    /// The flag of `author`.
    pub fn author_flag(&self, author: &str) -> Result<Option<AuthorFlagRow>, StateError> {
        self.conn()
            .query_row(
                "SELECT author_key, flag, reason, set_by, set_at FROM desk_authors WHERE author_key = ?1",
                [author],
                |r| {
                    Ok(AuthorFlagRow {
                        author: r.get(0)?,
                        flag: r.get(1)?,
                        reason: r.get(2)?,
                        set_by: r.get(3)?,
                        set_at: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }
}

impl StateStore {
    /// Marks `agent` away (or back, with `away` false).
    pub fn set_agent_away(
        &self,
        agent: &str,
        away: bool,
        set_by: &str,
        at: i64,
    ) -> Result<(), StateError> {
        let conn = self.conn();
        let r = if away {
            conn.execute(
                "INSERT OR REPLACE INTO desk_agents_away (agent, set_by, set_at) VALUES (?1, ?2, ?3)",
                params![agent, set_by, at],
            )
        } else {
            conn.execute("DELETE FROM desk_agents_away WHERE agent = ?1", [agent])
        };
        r.map(|_| ()).map_err(|e| self.err(e))
    }

    /// The agents who are away: `(agent, set by, since)`.
    pub fn agents_away(&self) -> Result<Vec<(String, String, i64)>, StateError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT agent, set_by, set_at FROM desk_agents_away ORDER BY agent")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}

impl StateStore {
    /// Keeps a brand reply whose parent is not (yet) an item, by the parent's address;
    /// forgets kept replies older than `forget_before`.
    pub fn desk_keep_early_reply(
        &self,
        id: MentionId,
        address: &str,
        post: &str,
        now: i64,
        forget_before: i64,
    ) -> Result<(), StateError> {
        let conn = self.conn();
        conn.execute(
            "DELETE FROM desk_early_replies WHERE kept_at < ?1",
            [forget_before],
        )
        .and_then(|_| {
            conn.execute(
                "INSERT OR IGNORE INTO desk_early_replies (mention_id, address, post, kept_at) VALUES (?1, ?2, ?3, ?4)",
                params![id.0.to_be_bytes().to_vec(), address, post, now],
            )
        })
        .map(|_| ())
        .map_err(|e| self.err(e))
    }

    /// Kept brand replies to any of `addresses`, oldest kept first, as stored.
    pub fn desk_early_replies(&self, addresses: &[String]) -> Result<Vec<String>, StateError> {
        let conn = self.conn();
        let run = || -> rusqlite::Result<Vec<String>> {
            let mut stmt = conn.prepare_cached(
                "SELECT post FROM desk_early_replies WHERE address = ?1 ORDER BY kept_at",
            )?;
            let mut out = Vec::new();
            for a in addresses {
                for row in stmt.query_map([a], |r| r.get::<_, String>(0))? {
                    out.push(row?);
                }
            }
            Ok(out)
        };
        run().map_err(|e| self.err(e))
    }
}
