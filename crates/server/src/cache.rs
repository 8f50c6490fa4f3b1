//! Rendered match lists per organisation, reused while the store's fingerprint of that list
//! (`Store::matches_version`) is unchanged. Every request still asks the database for the
//! fingerprint, so a list is never served stale, across processes too.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::web::Bytes;
use store::OrgId;

/// Most organisations whose lists are kept; past that the cache starts afresh.
const CAPACITY: usize = 20_000;

#[derive(Debug, Default)]
pub struct MatchLists {
    lists: Mutex<HashMap<OrgId, (String, Bytes)>>,
}

impl MatchLists {
    pub fn get(&self, org: OrgId, version: &str) -> Option<Bytes> {
        let lists = self.lists.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        lists.get(&org).filter(|(v, _)| v == version).map(|(_, body)| body.clone())
    }

    pub fn put(&self, org: OrgId, version: String, body: Bytes) {
        let mut lists = self.lists.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if lists.len() >= CAPACITY {
            lists.clear();
        }
        lists.insert(org, (version, body));
    }
}
