//! Bounded best-k lists per organisation: fixed-size rows, best first, ties broken by the
//! lower partner index so that results do not depend on the order pairs are visited.

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

/// The top-k partners of every organisation, in one flat allocation (`rows * k` entries).
#[derive(Debug, Clone, PartialEq)]
pub struct TopK {
    k: usize,
    entries: Vec<Partner>,
    lens: Vec<u32>,
    /// Score of the last entry of a full row, `-inf` while the row has room: a cheap first test.
    floors: Vec<f32>,
}

impl TopK {
    pub fn new(rows: usize, k: usize) -> TopK {
        TopK {
            k,
            entries: vec![Partner { index: 0, score: 0.0 }; rows * k],
            lens: vec![0; rows],
            floors: vec![if k == 0 { f32::INFINITY } else { f32::NEG_INFINITY }; rows],
        }
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn rows(&self) -> usize {
        self.lens.len()
    }

    /// The partners of `row`, best first.
    pub fn row(&self, row: usize) -> &[Partner] {
        &self.entries[row * self.k..][..self.lens[row] as usize]
    }

    pub(crate) fn is_full(&self, row: usize) -> bool {
        self.lens[row] as usize == self.k
    }

    /// Adds rows for organisations appended to the population.
    pub fn grow(&mut self, rows: usize) {
        if rows > self.rows() {
            let empty = if self.k == 0 { f32::INFINITY } else { f32::NEG_INFINITY };
            self.entries.resize(rows * self.k, Partner { index: 0, score: 0.0 });
            self.lens.resize(rows, 0);
            self.floors.resize(rows, empty);
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

    #[inline(never)]
    fn insert(&mut self, row: usize, partner: Partner) {
        let k = self.k;
        if k == 0 {
            return;
        }
        let len = self.lens[row] as usize;
        let entries = &mut self.entries[row * k..][..k];
        if len == k && !partner.beats(entries[k - 1]) {
            return;
        }
        let mut at = len.min(k - 1);
        while at > 0 && partner.beats(entries[at - 1]) {
            entries[at] = entries[at - 1];
            at -= 1;
        }
        entries[at] = partner;
        if len < k {
            self.lens[row] += 1;
        }
        if self.lens[row] as usize == k {
            self.floors[row] = entries[k - 1].score;
        }
    }

    /// Removes `index` from `row`; whether it was there.
    pub(crate) fn remove(&mut self, row: usize, index: u32) -> bool {
        let k = self.k;
        let len = self.lens[row] as usize;
        let entries = &mut self.entries[row * k..][..len];
        let Some(at) = entries.iter().position(|p| p.index == index) else { return false };
        entries.copy_within(at + 1.., at);
        self.lens[row] -= 1;
        self.floors[row] = f32::NEG_INFINITY;
        true
    }

    pub(crate) fn clear_row(&mut self, row: usize) {
        self.lens[row] = 0;
        self.floors[row] = if self.k == 0 { f32::INFINITY } else { f32::NEG_INFINITY };
    }

    /// Folds another table of the same shape into this one.
    pub(crate) fn merge(&mut self, other: &TopK) {
        for row in 0..other.rows() {
            for &partner in other.row(row) {
                self.offer(row, partner);
            }
        }
    }

    /// Sum of all scores, in `f64`: the benchmark's checksum.
    pub fn checksum(&self) -> f64 {
        (0..self.rows()).flat_map(|row| self.row(row)).map(|p| f64::from(p.score)).sum()
    }
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
    fn removal_reopens_the_row() {
        let mut top = TopK::new(2, 2);
        top.offer(1, Partner { index: 4, score: 0.4 });
        top.offer(1, Partner { index: 6, score: 0.6 });
        assert!(top.is_full(1));
        assert!(top.remove(1, 6));
        assert!(!top.remove(1, 6));
        top.offer(1, Partner { index: 2, score: 0.1 });
        assert_eq!(scores(&top, 1), [(4, 0.4), (2, 0.1)]);
        assert_eq!(top.row(0), []);
    }

    #[test]
    fn k_zero_keeps_nothing() {
        let mut top = TopK::new(1, 0);
        top.offer(0, Partner { index: 1, score: 1.0 });
        assert_eq!(top.row(0), []);
        assert_eq!(top.checksum(), 0.0);
    }
}
