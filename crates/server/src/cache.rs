//! Rendered match lists per organisation. A list is served from memory for up to a second
//! after it was last confirmed current; after that, its version from the store
//! (`Store::matches_version`: a per-organisation counter that every change to the list
//! increases in its own transaction, and the population generation) confirms it or forces a
//! rebuild. Changes made through this process (reveals, declines, outcomes, profile edits,
//! scoring passes) drop the affected lists at once, and so do changes made by another process
//! on PostgreSQL, which tells every listening process (`notices.rs`); only on SQLite, or while
//! that connection is down, can another process's change show up to a second late.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use store::OrgId;
use store::matches::ListVersion;

/// Most organisations whose lists are kept; past that the cache starts afresh.
const CAPACITY: usize = 20_000;
/// How long a confirmed list is served without asking the store.
pub const FRESH: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Entry {
    version: ListVersion,
    body: Bytes,
    confirmed: Instant,
}

/// What the cache knows of one organisation's list.
#[derive(Debug)]
pub enum Cached {
    /// Confirmed less than [`FRESH`] ago.
    Fresh(Bytes),
    /// Older: current only if the store's fingerprint is still this one.
    Stale {
        version: ListVersion,
        body: Bytes,
    },
    Missing,
}

#[derive(Debug, Default)]
pub struct MatchLists {
    lists: Mutex<HashMap<OrgId, Entry>>,
}

impl MatchLists {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<OrgId, Entry>> {
        self.lists.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached list. Once it is older than [`FRESH`], the first caller gets it as `Stale`
    /// and checks it with the store, while callers meanwhile keep getting it as `Fresh`, so a
    /// burst of requests makes one check, not one each.
    pub fn get(&self, org: OrgId) -> Cached {
        match self.lock().get_mut(&org) {
            Some(entry) if entry.confirmed.elapsed() < FRESH => Cached::Fresh(entry.body.clone()),
            Some(entry) => {
                entry.confirmed = Instant::now();
                Cached::Stale { version: entry.version, body: entry.body.clone() }
            }
            None => Cached::Missing,
        }
    }

    pub fn put(&self, org: OrgId, version: ListVersion, body: Bytes) {
        let mut lists = self.lock();
        if lists.len() >= CAPACITY {
            lists.clear();
        }
        lists.insert(org, Entry { version, body, confirmed: Instant::now() });
    }

    /// Drops the lists of these organisations.
    pub fn forget(&self, orgs: &[OrgId]) {
        let mut lists = self.lock();
        for org in orgs {
            lists.remove(org);
        }
    }

    /// Drops every list (after a change that may touch many).
    pub fn clear(&self) {
        self.lock().clear();
    }
}
