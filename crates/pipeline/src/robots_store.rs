//! robots.txt answers kept in the state store, so restarts do not refetch them.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use lauscher_crawler::{RobotsStore, StoredRobots};
use lauscher_state::StateStore;
use tracing::warn;

/// [`RobotsStore`] over the state store's `robots` table.
pub struct StateRobotsStore(pub Arc<StateStore>);

impl RobotsStore for StateRobotsStore {
    fn load(&self, origin: &str) -> Option<StoredRobots> {
        match self.0.robots(origin) {
            Ok(Some((status, body, at))) => Some(StoredRobots {
                status,
                body,
                fetched_at: Utc.timestamp_opt(at, 0).single()?,
            }),
            Ok(None) => None,
            Err(e) => {
                warn!(origin, error = %e, "robots cache read failed");
                None
            }
        }
    }

    fn save(&self, origin: &str, robots: &StoredRobots) {
        if let Err(e) = self.0.put_robots(
            origin,
            robots.status,
            &robots.body,
            robots.fetched_at.timestamp(),
        ) {
            warn!(origin, error = %e, "robots cache write failed");
        }
    }
}
