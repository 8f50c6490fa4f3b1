//! Rate limits in the memory of one process, for SQLite (one `serve` process per database): a
//! sliding window of recent events per key.
//!
//! Keys whose events have all left the window are evicted as the table is used, so the table
//! stays small without ever being wiped whole (wiping it would hand an attacker a fresh start).
//! If distinct live keys ever exceed the capacity, the keys idle longest go first.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most keys kept; past this the longest-idle keys are evicted.
const CAPACITY: usize = 200_000;
/// Records between sweeps of expired keys.
const SWEEP_EVERY: usize = 1024;

#[derive(Debug)]
struct Table {
    events: HashMap<String, VecDeque<Instant>>,
    records: usize,
}

#[derive(Debug)]
pub struct RateLimiter {
    window: Duration,
    table: Mutex<Table>,
}

impl RateLimiter {
    /// A limiter counting events over `window`.
    pub fn new(window: Duration) -> RateLimiter {
        RateLimiter { window, table: Mutex::new(Table { events: HashMap::new(), records: 0 }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Events recorded for `key` within the window.
    #[cfg(test)]
    pub fn count(&self, key: &str) -> usize {
        self.count_at(key, Instant::now())
    }

    #[cfg(test)]
    fn count_at(&self, key: &str, now: Instant) -> usize {
        let mut table = self.lock();
        let Some(queue) = table.events.get_mut(key) else { return 0 };
        while queue.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            queue.pop_front();
        }
        let n = queue.len();
        if n == 0 {
            table.events.remove(key);
        }
        n
    }

    #[cfg(test)]
    fn record_at(&self, key: &str, now: Instant) {
        let mut table = self.lock();
        self.record_in(&mut table, key, now);
    }

    fn record_in(&self, table: &mut Table, key: &str, now: Instant) {
        table.records += 1;
        if table.records.is_multiple_of(SWEEP_EVERY) || table.events.len() >= CAPACITY {
            self.sweep(table, now);
        }
        table.events.entry(key.to_owned()).or_default().push_back(now);
    }

    /// Takes an attempt: when every key is under its limit, records one event on each and
    /// answers `true`; otherwise records nothing. Checking and recording under one lock means
    /// that requests sent at the same moment cannot all pass the check before any records.
    pub fn acquire(&self, keys: &[(&str, usize)]) -> bool {
        let now = Instant::now();
        let mut table = self.lock();
        for (key, limit) in keys {
            if let Some(queue) = table.events.get_mut(*key) {
                while queue.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
                    queue.pop_front();
                }
                if queue.len() >= *limit {
                    return false;
                }
            } else if *limit == 0 {
                return false;
            }
        }
        for (key, _) in keys {
            self.record_in(&mut table, key, now);
        }
        true
    }

    /// Gives back the latest event of `key` (an attempt that turned out not to count).
    pub fn release(&self, key: &str) {
        let mut table = self.lock();
        if let Some(queue) = table.events.get_mut(key) {
            queue.pop_back();
            if queue.is_empty() {
                table.events.remove(key);
            }
        }
    }

    /// Forgets `key` (after a success that should not count against it).
    pub fn clear(&self, key: &str) {
        self.lock().events.remove(key);
    }

    /// Keys currently held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    /// Drops the keys whose last event left the window; if the table is still full, the
    /// longest-idle tenth of it.
    fn sweep(&self, table: &mut Table, now: Instant) {
        table.events.retain(|_, queue| queue.back().is_some_and(|t| now.duration_since(*t) < self.window));
        if table.events.len() >= CAPACITY {
            let mut idle: Vec<(Instant, String)> =
                table.events.iter().filter_map(|(key, q)| q.back().map(|t| (*t, key.clone()))).collect();
            idle.sort_unstable();
            for (_, key) in idle.into_iter().take(CAPACITY / 10) {
                table.events.remove(&key);
            }
        }
    }

    #[cfg(test)]
    fn sweep_now(&self, now: Instant) {
        let mut table = self.lock();
        self.sweep(&mut table, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_leave_the_window_and_expired_keys_are_evicted_one_by_one() {
        let limiter = RateLimiter::new(Duration::from_secs(60));
        let start = Instant::now();
        for _ in 0..3 {
            limiter.record_at("old", start);
        }
        limiter.record_at("recent", start + Duration::from_secs(50));
        assert_eq!(limiter.count_at("old", start + Duration::from_secs(30)), 3);
        let later = start + Duration::from_secs(70);
        assert_eq!(limiter.count_at("old", later), 0, "older than the window");
        assert_eq!(limiter.count_at("recent", later), 1);
        limiter.record_at("stale", start);
        limiter.sweep_now(later);
        assert_eq!(limiter.len(), 1, "the expired keys went, the live one stayed");
        assert_eq!(limiter.count_at("recent", later), 1, "never wiped whole");
    }

    #[test]
    fn acquiring_checks_and_records_every_key_at_once() {
        let limiter = RateLimiter::new(Duration::from_secs(60));
        assert!(limiter.acquire(&[("a", 2), ("b", 3)]));
        assert!(limiter.acquire(&[("a", 2), ("b", 3)]));
        assert!(!limiter.acquire(&[("a", 2), ("b", 3)]), "a is full");
        assert_eq!(limiter.count("b"), 2, "nothing recorded when refused");
        limiter.release("a");
        assert!(limiter.acquire(&[("a", 2), ("b", 3)]));
        assert!(!limiter.acquire(&[("c", 5), ("b", 3)]), "b is full now");
        assert_eq!(limiter.count("c"), 0);
    }

    #[test]
    fn concurrent_attempts_never_pass_the_limit() {
        let limiter = std::sync::Arc::new(RateLimiter::new(Duration::from_secs(60)));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let limiter = limiter.clone();
                std::thread::spawn(move || (0..10).filter(|_| limiter.acquire(&[("k", 5)])).count())
            })
            .collect();
        let passed: usize = threads.into_iter().map(|t| t.join().expect("thread")).sum();
        assert_eq!(passed, 5);
    }

    #[test]
    fn a_full_table_sheds_its_longest_idle_keys_not_the_live_ones() {
        let limiter = RateLimiter::new(Duration::from_secs(3600));
        let start = Instant::now();
        for i in 0..CAPACITY {
            limiter.record_at(&format!("k{i}"), start + Duration::from_millis(i as u64 / 100));
        }
        limiter.record_at("attacker", start + Duration::from_secs(10));
        limiter.record_at("attacker", start + Duration::from_secs(10));
        assert!(limiter.len() <= CAPACITY - CAPACITY / 10 + 1);
        assert_eq!(limiter.count_at("attacker", start + Duration::from_secs(11)), 2);
        assert_eq!(limiter.count_at(&format!("k{}", CAPACITY - 1), start + Duration::from_secs(11)), 1);
    }
}
