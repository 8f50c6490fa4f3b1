//! The bitset kernel: with answers one-hot and importance one of four weighted levels, the
//! weighted sums are `sum over levels of weight * popcount(plane AND answers)`. Eight columns
//! at a time share one vector register; the row's words are broadcast. The generic body is
//! compiled once per instruction set and chosen at run time.

use std::ops::Range;

use crate::importance::{LEVEL_WEIGHTS, MANDATORY_PLANE};
use crate::population::{LANES, Population};

use super::{TileCounts, TileKernel};

const PLANES: usize = LEVEL_WEIGHTS.len();

#[derive(Debug)]
pub(crate) struct BitsetKernel<'a> {
    population: &'a Population,
    exclusions: bool,
}

impl<'a> BitsetKernel<'a> {
    pub fn new(population: &'a Population, exclusions: bool) -> BitsetKernel<'a> {
        BitsetKernel { population, exclusions }
    }
}

impl TileKernel for BitsetKernel<'_> {
    fn fill(&self, rows: Range<usize>, cols: Range<usize>, counts: &mut TileCounts) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vpopcntdq") {
                // SAFETY: the CPU has the features the function is compiled for.
                return unsafe { fill_avx512(self, rows, cols, counts) };
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("popcnt") {
                // SAFETY: as above.
                return unsafe { fill_avx2(self, rows, cols, counts) };
            }
        }
        fill_body(self, rows, cols, counts)
    }

    fn chunk_rows(&self) -> usize {
        16
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512vpopcntdq,popcnt")]
fn fill_avx512(kernel: &BitsetKernel, rows: Range<usize>, cols: Range<usize>, counts: &mut TileCounts) {
    fill_body(kernel, rows, cols, counts)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
fn fill_avx2(kernel: &BitsetKernel, rows: Range<usize>, cols: Range<usize>, counts: &mut TileCounts) {
    fill_body(kernel, rows, cols, counts)
}

type Lanes = [u64; LANES];

/// Popcount sums per weighted level, eight columns at a time.
#[inline(always)]
fn accumulate(sums: &mut [Lanes; PLANES], row_word: impl Fn(usize) -> u64, col_words: &Lanes, plane: usize) {
    let word = row_word(plane);
    for lane in 0..LANES {
        sums[plane][lane] += u64::from((word & col_words[lane]).count_ones());
    }
}

#[inline(always)]
fn weighted(sums: &[Lanes; PLANES]) -> [f32; LANES] {
    let mut out = [0.0f32; LANES];
    for (plane, weight) in LEVEL_WEIGHTS.iter().enumerate() {
        for lane in 0..LANES {
            out[lane] += weight * sums[plane][lane] as f32;
        }
    }
    out
}

#[inline(always)]
fn fill_body(kernel: &BitsetKernel, rows: Range<usize>, cols: Range<usize>, counts: &mut TileCounts) {
    let population = kernel.population;
    let layout = population.layout();
    let (wa, wm) = (layout.answer_words(), layout.mask_words());
    let groups = population.answers.dim().0;
    let answers = lanes_of(&population.answers);
    let acceptable = lanes_of(&population.acceptable);
    let answered = lanes_of(&population.answered);
    let importance = lanes_of(&population.importance);
    let first_group = cols.start / LANES;
    let last_group = cols.end.div_ceil(LANES).min(groups);
    for (r, i) in rows.enumerate() {
        let (gi, li) = (i / LANES, i % LANES);
        let mut violations = [0.0f32; LANES];
        for g in first_group..last_group {
            let c = (g - first_group) * LANES;
            violations.fill(0.0);
            for (d, place) in layout.placements().iter().enumerate() {
                let mut num_f = [[0u64; LANES]; PLANES];
                let mut num_b = [[0u64; LANES]; PLANES];
                for w in place.answer_words.clone() {
                    let col_answers = &answers[g * wa + w];
                    let row_answer = answers[gi * wa + w][li];
                    for plane in 0..PLANES {
                        let row_acceptable = |p: usize| acceptable[gi * PLANES * wa + p * wa + w][li];
                        accumulate(&mut num_f, row_acceptable, col_answers, plane);
                        let col_acceptable = &acceptable[g * PLANES * wa + plane * wa + w];
                        accumulate(&mut num_b, |_| row_answer, col_acceptable, plane);
                    }
                }
                let mut den_f = [[0u64; LANES]; PLANES];
                let mut den_b = [[0u64; LANES]; PLANES];
                for w in place.mask_words.clone() {
                    let col_answered = &answered[g * wm + w];
                    let row_answered = answered[gi * wm + w][li];
                    for plane in 0..PLANES {
                        let row_importance = |p: usize| importance[gi * PLANES * wm + p * wm + w][li];
                        accumulate(&mut den_f, row_importance, col_answered, plane);
                        let col_importance = &importance[g * PLANES * wm + plane * wm + w];
                        accumulate(&mut den_b, |_| row_answered, col_importance, plane);
                    }
                }
                if kernel.exclusions {
                    let m = MANDATORY_PLANE;
                    for lane in 0..LANES {
                        let unacceptable = den_f[m][lane] - num_f[m][lane] + den_b[m][lane] - num_b[m][lane];
                        violations[lane] += unacceptable as f32;
                    }
                }
                let out = &mut counts.dimensions[d];
                for (target, sums) in [
                    (&mut out.num_forward, &num_f),
                    (&mut out.den_forward, &den_f),
                    (&mut out.num_backward, &num_b),
                    (&mut out.den_backward, &den_b),
                ] {
                    store(target, r, c, weighted(sums));
                }
            }
            store(&mut counts.violations, r, c, violations);
        }
    }
}

/// The packed arrays are built in standard layout with eight lanes innermost.
fn lanes_of(array: &ndarray::Array3<u64>) -> &[Lanes] {
    let flat = array.as_slice().expect("packed arrays are in standard layout");
    flat.as_chunks::<LANES>().0
}

/// Writes eight columns of a row; tiles are allocated with a width that is a multiple of 8.
#[inline(always)]
fn store(target: &mut ndarray::Array2<f32>, row: usize, col: usize, values: [f32; LANES]) {
    let stride = target.ncols();
    let flat = target.as_slice_mut().expect("tiles are in standard layout");
    flat[row * stride + col..][..LANES].copy_from_slice(&values);
}
