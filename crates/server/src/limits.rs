//! In-memory rate limits for logins and registrations: a sliding window of recent events per
//! key (an email or a client address). Per process; with several processes each one limits
//! on its own, which still bounds guessing.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct RateLimiter {
    events: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// Events recorded for `key` within `window`.
    pub fn count(&self, key: &str, window: Duration) -> usize {
        let now = Instant::now();
        let mut events = self.events.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(queue) = events.get_mut(key) else { return 0 };
        while queue.front().is_some_and(|t| now.duration_since(*t) > window) {
            queue.pop_front();
        }
        queue.len()
    }

    pub fn record(&self, key: &str) {
        let mut events = self.events.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if events.len() > 100_000 {
            events.clear();
        }
        events.entry(key.to_owned()).or_default().push_back(Instant::now());
    }

    pub fn clear(&self, key: &str) {
        let mut events = self.events.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        events.remove(key);
    }
}
