//! Rate limits. On PostgreSQL, the database of a fleet, the attempts are counted in the
//! database (`Store::throttle_acquire`), so that N `serve` processes give an attacker the same
//! number of tries as one; what an attempt is counted against (an address and a client, a
//! client, a member) is stored only as a keyed hash, under a key derived from the server's
//! secret, so the table tells nobody which addresses were tried. On SQLite, which one process
//! serves, they are counted in memory (`memory.rs`): a database write per search would
//! wait on the one writer and a disk flush, a third of the search throughput for nothing.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Utc;
use hmac::Mac;
use store::{Store, StoreError};

/// Attempts between sweeps of every expired attempt (the keys in use are swept as they go).
const SWEEP_EVERY: usize = 1024;

mod memory;

/// Where attempts are counted.
enum Counts {
    Shared(Store),
    Memory(memory::RateLimiter),
}

pub struct Throttle {
    counts: Counts,
    key: [u8; 32],
    window: chrono::Duration,
    attempts: AtomicUsize,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle").field("window", &self.window).finish_non_exhaustive()
    }
}

impl Throttle {
    /// Limits counted over `window`, with keys hashed under a key derived from `secret`: in
    /// `store` when it is PostgreSQL, in memory otherwise.
    pub fn new(store: Store, secret: &[u8], window: std::time::Duration) -> Throttle {
        let counts =
            if store.is_postgres() { Counts::Shared(store) } else { Counts::Memory(memory::RateLimiter::new(window)) };
        Throttle {
            counts,
            key: crate::keys::derive(secret, b"matchwell rate limit keys"),
            window: chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX),
            attempts: AtomicUsize::new(0),
        }
    }

    /// The stored form of `key`: 128 bits of its HMAC, in hex.
    fn hashed(&self, key: &str) -> String {
        let mut mac = crate::keys::hmac(&self.key);
        mac.update(key.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// Takes an attempt: when every key is under its limit, counts one on each and answers
    /// `true`; otherwise counts nothing. Checked and counted in one step, for every process.
    pub async fn acquire(&self, keys: &[(&str, usize)]) -> Result<bool, StoreError> {
        let hashed: Vec<String> = keys.iter().map(|(key, _)| self.hashed(key)).collect();
        let limits: Vec<(&str, usize)> = hashed.iter().map(String::as_str).zip(keys.iter().map(|(_, n)| *n)).collect();
        let store = match &self.counts {
            Counts::Memory(limiter) => return Ok(limiter.acquire(&limits)),
            Counts::Shared(store) => store,
        };
        let now = Utc::now();
        let taken = store.throttle_acquire(&limits, now, self.window).await?;
        if self.attempts.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            match store.throttle_sweep(now - self.window).await {
                Ok(swept) => tracing::debug!(swept, "expired rate-limit attempts deleted"),
                Err(error) => tracing::warn!(error = %error, "failed to delete expired rate-limit attempts"),
            }
        }
        Ok(taken)
    }

    /// Gives back the latest attempt on `key` (one that turned out not to count). A failure
    /// leaves it counted, which errs on the safe side.
    pub async fn release(&self, key: &str) {
        match &self.counts {
            Counts::Memory(limiter) => limiter.release(&self.hashed(key)),
            Counts::Shared(store) => {
                if let Err(error) = store.throttle_release(&self.hashed(key)).await {
                    tracing::warn!(error = %error, "failed to give back a rate-limited attempt");
                }
            }
        }
    }

    /// Forgets `key` (after a success that should not count against it).
    pub async fn clear(&self, key: &str) {
        match &self.counts {
            Counts::Memory(limiter) => limiter.clear(&self.hashed(key)),
            Counts::Shared(store) => {
                if let Err(error) = store.throttle_clear(&self.hashed(key)).await {
                    tracing::warn!(error = %error, "failed to clear a rate limit");
                }
            }
        }
    }
}
