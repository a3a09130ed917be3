//! API tokens: a name, a role and the SHA-256 of the secret (tokens are 256 random bits,
//! so a fast hash is enough; the secret itself is shown once, when it is made, and never
//! stored).

use rusqlite::{OptionalExtension, params};

use crate::{StateError, StateStore};

/// A token as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    /// Who acts with it (audit entries name it).
    pub name: String,
    /// `viewer`, `agent` or `admin`.
    pub role: String,
    /// Made at (unix seconds).
    pub created_at: i64,
    /// Revoked at.
    pub revoked_at: Option<i64>,
}

impl StateStore {
    /// Stores a token; false when the name is taken.
    pub fn add_token(
        &self,
        name: &str,
        role: &str,
        hash: &[u8],
        now: i64,
    ) -> Result<bool, StateError> {
        self.conn()
            .execute(
                "INSERT OR IGNORE INTO api_tokens (name, role, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![name, role, hash, now],
            )
            .map(|n| n == 1)
            .map_err(|e| self.err(e))
    }

    /// Revokes the token `name`; false when there is no live one.
    pub fn revoke_token(&self, name: &str, now: i64) -> Result<bool, StateError> {
        self.conn()
            .execute(
                "UPDATE api_tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
                params![name, now],
            )
            .map(|n| n == 1)
            .map_err(|e| self.err(e))
    }

    /// Every token, revoked ones too.
    pub fn tokens(&self) -> Result<Vec<TokenRow>, StateError> {
        let conn = self.conn();
        let run = || -> rusqlite::Result<Vec<TokenRow>> {
            let mut stmt = conn.prepare_cached(
                "SELECT name, role, created_at, revoked_at FROM api_tokens ORDER BY created_at, name",
            )?;
            stmt.query_map([], |r| {
                Ok(TokenRow {
                    name: r.get(0)?,
                    role: r.get(1)?,
                    created_at: r.get(2)?,
                    revoked_at: r.get(3)?,
                })
            })?
            .collect()
        };
        run().map_err(|e| self.err(e))
    }

    /// Live tokens: `(hash, name, role)`.
    pub fn live_tokens(&self) -> Result<Vec<(Vec<u8>, String, String)>, StateError> {
        let conn = self.conn();
        let run = || -> rusqlite::Result<Vec<(Vec<u8>, String, String)>> {
            let mut stmt = conn.prepare_cached(
                "SELECT hash, name, role FROM api_tokens WHERE revoked_at IS NULL",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        };
        run().map_err(|e| self.err(e))
    }

    /// Whether any token was ever made (the API then requires one).
    pub fn has_tokens(&self) -> Result<bool, StateError> {
        self.conn()
            .query_row("SELECT EXISTS (SELECT 1 FROM api_tokens)", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// The live token with this hash: `(name, role)`.
    pub fn token(&self, hash: &[u8]) -> Result<Option<(String, String)>, StateError> {
        self.conn()
            .query_row(
                "SELECT name, role FROM api_tokens WHERE hash = ?1 AND revoked_at IS NULL",
                [hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }
}
