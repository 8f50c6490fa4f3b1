//! Throttles that every process shares: each attempt that a rate limit counts is a row of
//! `throttle_events` under an opaque key (the server hashes what it counts against, so the
//! table holds no addresses), and an attempt is taken only while each of its keys has fewer
//! rows than its limit within the window. Rows that left the window no longer count, and are
//! deleted now and then ([`Store::throttle_sweep`]); taking an attempt deletes nothing, so it
//! never waits on a sweep's row locks, nor a sweep on it.
//!
//! Taking an attempt is one transaction that checks every key and records on each, so requests
//! sent at the same moment, to one process or several, cannot all pass the check before any
//! records. On PostgreSQL the transaction holds an advisory lock per key (taken in one order,
//! so two attempts never wait on each other in a circle); on SQLite it begins `IMMEDIATE`,
//! holding the database's one write lock before anything is read.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, FromQueryResult};

use crate::{Store, StoreError, statement};

/// The first key of the advisory locks of throttles ("MWTH"), so that they never meet other
/// advisory locks.
const LOCK_CLASS: i32 = 0x4d57_5448;

/// The second key of `key`'s advisory lock: a stable hash (FNV-1a) of the key. Two keys that
/// share it only wait on each other.
fn lock_of(key: &str) -> i32 {
    let hash = key.bytes().fold(0x811c_9dc5u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193));
    i32::from_ne_bytes(hash.to_ne_bytes())
}

#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

impl Store {
    /// Takes an attempt at `now`: when each key has fewer than its limit of attempts within
    /// `window` before `now`, records one on every key and answers `true`; otherwise records
    /// nothing and answers `false`.
    pub async fn throttle_acquire(
        &self,
        keys: &[(&str, usize)],
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<bool, StoreError> {
        let backend = self.backend();
        let txn = self.write().await?;
        if backend == DatabaseBackend::Postgres {
            // An attempt lost in a crash in the instant after it was counted costs nothing;
            // waiting for the disk on every search and login would.
            txn.execute_unprepared("SET LOCAL synchronous_commit = off").await?;
            let mut locks: Vec<i32> = keys.iter().map(|(key, _)| lock_of(key)).collect();
            locks.sort_unstable();
            locks.dedup();
            for lock in locks {
                let sql = "SELECT pg_advisory_xact_lock(?, ?)";
                txn.execute_raw(statement(backend, sql, [LOCK_CLASS.into(), lock.into()])).await?;
            }
        }
        let since = now - window;
        for (key, limit) in keys {
            let sql = "SELECT COUNT(*) AS n FROM throttle_events WHERE key = ? AND at > ?";
            let count = Count::find_by_statement(statement(backend, sql, [(*key).into(), since.into()]))
                .one(&txn)
                .await?
                .map_or(0, |c| c.n);
            if usize::try_from(count).unwrap_or(usize::MAX) >= *limit {
                txn.commit().await?;
                return Ok(false);
            }
        }
        for (key, _) in keys {
            let sql = "INSERT INTO throttle_events (key, at) VALUES (?, ?)";
            txn.execute_raw(statement(backend, sql, [(*key).into(), now.into()])).await?;
        }
        txn.commit().await?;
        Ok(true)
    }

    /// Gives back the latest attempt on `key` (one that turned out not to count).
    pub async fn throttle_release(&self, key: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM throttle_events WHERE id = (SELECT MAX(id) FROM throttle_events WHERE key = ?)";
        self.db.execute_raw(statement(self.backend(), sql, [key.into()])).await?;
        Ok(())
    }

    /// Forgets every attempt on `key` (after a success that should not count against it).
    pub async fn throttle_clear(&self, key: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM throttle_events WHERE key = ?";
        self.db.execute_raw(statement(self.backend(), sql, [key.into()])).await?;
        Ok(())
    }

    /// Attempts on `key` within `window` before `now`.
    pub async fn throttle_count(&self, key: &str, now: DateTime<Utc>, window: Duration) -> Result<usize, StoreError> {
        let sql = "SELECT COUNT(*) AS n FROM throttle_events WHERE key = ? AND at > ?";
        let count = Count::find_by_statement(statement(self.backend(), sql, [key.into(), (now - window).into()]))
            .one(&self.read)
            .await?
            .map_or(0, |c| c.n);
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// Deletes every attempt made at or before `before` (of keys that nobody used since);
    /// how many.
    pub async fn throttle_sweep(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let sql = "DELETE FROM throttle_events WHERE at <= ?";
        let done = self.db.execute_raw(statement(self.backend(), sql, [before.into()])).await?;
        Ok(done.rows_affected())
    }

    /// Attempts held, of every key (for tests and metrics).
    pub async fn throttle_rows(&self) -> Result<u64, StoreError> {
        let sql = "SELECT COUNT(*) AS n FROM throttle_events";
        let count =
            Count::find_by_statement(statement(self.backend(), sql, [])).one(&self.read).await?.map_or(0, |c| c.n);
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::lock_of;

    #[test]
    fn a_key_always_has_the_same_lock_and_keys_spread_over_locks() {
        assert_eq!(lock_of("login:a"), lock_of("login:a"));
        let locks: std::collections::HashSet<i32> = (0..1000).map(|i| lock_of(&format!("key-{i}"))).collect();
        assert!(locks.len() > 990, "{}", locks.len());
    }
}
