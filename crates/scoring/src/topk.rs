//! Bounded best-k lists per organisation: fixed-size rows, best first, ties broken by the
//! lower partner index so that results do not depend on the order pairs are visited.
//!
//! A row may keep `slack` entries beyond `k`, so that an organisation leaving a list after an
//! update seldom forces that list to be recomputed: each row knows how many of its leading
//! entries are exactly the best (`exact`), and whether it has ever dropped a candidate.

/// One partner in a top-k list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Partner {
    pub index: u32,
    pub score: f32,
}

impl Partner {
    pub(crate) fn beats(self, other: Partner) -> bool {
        self.score > other.score || (self.score == other.score && self.index < other.index)
    }
}

const EMPTY: Partner = Partner { index: 0, score: 0.0 };

/// The top-k partners of every organisation, in one flat allocation (`rows * (k + slack)`).
#[derive(Debug, Clone, PartialEq)]
pub struct TopK {
    k: usize,
    capacity: usize,
    entries: Vec<Partner>,
    lens: Vec<u32>,
    /// Leading entries of a row known to be its true best.
    exact: Vec<u32>,
    /// Whether a row holds every candidate (set when a row is computed in full, cleared when
    /// an update makes a full row turn one away).
    complete: Vec<bool>,
    /// Score of the last entry of a full row, `-inf` while the row has room: a cheap first test.
    floors: Vec<f32>,
}

impl TopK {
    /// Lists of `k` partners for `rows` organisations.
    pub fn new(rows: usize, k: usize) -> TopK {
        TopK::with_slack(rows, k, 0)
    }

    /// Lists of `k` partners that keep up to `slack` more, for incremental updates.
    pub fn with_slack(rows: usize, k: usize, slack: usize) -> TopK {
        let capacity = k + slack;
        TopK {
            k,
            capacity,
            entries: vec![EMPTY; rows * capacity],
            lens: vec![0; rows],
            exact: vec![0; rows],
            complete: vec![true; rows],
            floors: vec![empty_floor(capacity); rows],
        }
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn slack(&self) -> usize {
        self.capacity - self.k
    }

    pub fn rows(&self) -> usize {
        self.lens.len()
    }

    /// The best partners of `row`, best first: `k` of them, or fewer when there are fewer
    /// candidates.
    pub fn row(&self, row: usize) -> &[Partner] {
        &self.entries[row * self.capacity..][..(self.lens[row] as usize).min(self.k)]
    }

    /// A score below this cannot enter `row`.
    #[inline]
    pub(crate) fn floor(&self, row: usize) -> f32 {
        self.floors[row]
    }

    #[inline]
    pub(crate) fn floors(&self) -> &[f32] {
        &self.floors
    }

    /// Raises the floor of `row` to `floor`, the score of the last of `k + slack` partners that
    /// `row` has in another table to be merged into this one (another thread's): nothing below
    /// it can make the merged list.
    pub(crate) fn raise_floor(&mut self, row: usize, floor: f32) {
        if floor > self.floors[row] {
            self.floors[row] = floor;
        }
    }

    /// Adds rows for organisations appended to the population.
    pub fn grow(&mut self, rows: usize) {
        if rows > self.rows() {
            self.entries.resize(rows * self.capacity, EMPTY);
            self.lens.resize(rows, 0);
            self.exact.resize(rows, 0);
            self.complete.resize(rows, true);
            self.floors.resize(rows, empty_floor(self.capacity));
        }
    }

    /// Offers `partner` to `row`; kept if the row has room or it beats the last entry.
    #[inline]
    pub fn offer(&mut self, row: usize, partner: Partner) {
        if partner.score < self.floors[row] {
            return;
        }
        self.insert(row, partner);
    }

    /// Inserts `partner` in order; its position, or `None` when it did not make the list.
    #[inline(never)]
    fn insert(&mut self, row: usize, partner: Partner) -> Option<usize> {
        let capacity = self.capacity;
        if capacity == 0 {
            return None;
        }
        let len = self.lens[row] as usize;
        let entries = &mut self.entries[row * capacity..][..capacity];
        if len == capacity {
            if !partner.beats(entries[capacity - 1]) {
                self.complete[row] = false;
                return None;
            }
            self.complete[row] = false;
        }
        let mut at = len.min(capacity - 1);
        while at > 0 && partner.beats(entries[at - 1]) {
            entries[at] = entries[at - 1];
            at -= 1;
        }
        entries[at] = partner;
        if len < capacity {
            self.lens[row] += 1;
        }
        if self.lens[row] as usize == capacity {
            self.floors[row] = self.floors[row].max(entries[capacity - 1].score);
        }
        Some(at)
    }

    /// Marks every row as exact after a full computation. A row that filled up may have turned
    /// candidates away; one with room never did.
    pub(crate) fn seal(&mut self) {
        self.exact.copy_from_slice(&self.lens);
        for (complete, len) in self.complete.iter_mut().zip(&self.lens) {
            *complete = (*len as usize) < self.capacity;
        }
    }

    /// Recomputes one row from scratch: empties it, then `fill` offers every candidate.
    pub(crate) fn rebuild(&mut self, row: usize, fill: impl FnOnce(&mut TopK)) {
        self.lens[row] = 0;
        self.floors[row] = empty_floor(self.capacity);
        fill(self);
        self.exact[row] = self.lens[row];
        self.complete[row] = (self.lens[row] as usize) < self.capacity;
    }

    /// Replaces `partner.index`'s entry in `row` with `partner` (or removes it, with `None`),
    /// keeping track of how much of the row is still exact.
    pub(crate) fn update(&mut self, row: usize, index: u32, partner: Option<Partner>) {
        let capacity = self.capacity;
        let len = self.lens[row] as usize;
        let entries = &mut self.entries[row * capacity..][..len];
        if let Some(at) = entries.iter().position(|p| p.index == index) {
            entries.copy_within(at + 1.., at);
            self.lens[row] -= 1;
            self.floors[row] = empty_floor(capacity);
            if at < self.exact[row] as usize {
                // The row is the exact best of the others up to one place less.
                self.exact[row] -= 1;
            }
        }
        // A known candidate that lands within the exact prefix extends it by one: the entry it
        // pushes down was already known to beat every candidate not in the row.
        if let Some(at) = partner.and_then(|partner| self.insert(row, partner))
            && (at < self.exact[row] as usize || self.complete[row])
        {
            self.exact[row] += 1;
        }
        if self.complete[row] {
            self.exact[row] = self.lens[row];
        }
        self.exact[row] = self.exact[row].min(self.lens[row]);
    }

    /// Whether `row` no longer knows its best `k` for sure and must be recomputed.
    pub(crate) fn is_stale(&self, row: usize) -> bool {
        !self.complete[row] && (self.exact[row] as usize) < self.k
    }

    /// Folds another table of the same shape into this one.
    pub(crate) fn merge(&mut self, other: &TopK) {
        for row in 0..other.rows() {
            let all = &other.entries[row * other.capacity..][..other.lens[row] as usize];
            for &partner in all {
                self.offer(row, partner);
            }
        }
    }

    /// Sum of the scores of every list, in `f64`: the benchmark's checksum.
    pub fn checksum(&self) -> f64 {
        (0..self.rows()).flat_map(|row| self.row(row)).map(|p| f64::from(p.score)).sum()
    }
}

fn empty_floor(capacity: usize) -> f32 {
    if capacity == 0 { f32::INFINITY } else { f32::NEG_INFINITY }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(top: &TopK, row: usize) -> Vec<(u32, f32)> {
        top.row(row).iter().map(|p| (p.index, p.score)).collect()
    }

    #[test]
    fn keeps_the_best_k_best_first_with_ties_by_index() {
        let mut top = TopK::new(1, 3);
        for (index, score) in [(5, 0.5), (1, 0.9), (7, 0.1), (3, 0.5), (2, 0.5), (9, 0.95)] {
            top.offer(0, Partner { index, score });
        }
        assert_eq!(scores(&top, 0), [(9, 0.95), (1, 0.9), (2, 0.5)]);
    }

    #[test]
    fn a_full_row_that_loses_a_partner_is_stale_unless_slack_covers_it() {
        let offer_all = |top: &mut TopK| {
            for (index, score) in [(4, 0.4), (6, 0.6), (8, 0.8), (2, 0.2)] {
                top.offer(1, Partner { index, score });
            }
            top.seal();
        };
        let mut top = TopK::new(2, 2);
        offer_all(&mut top);
        assert_eq!(scores(&top, 1), [(8, 0.8), (6, 0.6)]);
        top.update(1, 6, Some(Partner { index: 6, score: 0.1 }));
        assert!(top.is_stale(1), "the second place is unknown: 4 was dropped");
        let mut top = TopK::with_slack(2, 2, 1);
        offer_all(&mut top);
        top.update(1, 6, Some(Partner { index: 6, score: 0.1 }));
        assert!(!top.is_stale(1));
        assert_eq!(scores(&top, 1), [(8, 0.8), (4, 0.4)]);
        top.update(1, 8, None);
        assert!(top.is_stale(1), "only one place is known now");
        assert_eq!(top.row(0), []);
    }

    #[test]
    fn a_row_that_never_dropped_anyone_stays_exact() {
        let mut top = TopK::new(1, 3);
        top.offer(0, Partner { index: 1, score: 0.5 });
        top.offer(0, Partner { index: 2, score: 0.7 });
        top.seal();
        top.update(0, 2, None);
        assert!(!top.is_stale(0));
        assert_eq!(scores(&top, 0), [(1, 0.5)]);
    }

    #[test]
    fn k_zero_keeps_nothing() {
        let mut top = TopK::new(1, 0);
        top.offer(0, Partner { index: 1, score: 1.0 });
        assert_eq!(top.row(0), []);
        assert_eq!(top.checksum(), 0.0);
    }
}
