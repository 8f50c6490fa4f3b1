//! The matrix-product kernel: the same sums as the bitset kernel, as ndarray `f32` matrix
//! products of dense one-hot and weight matrices (exact, since every sum is an integer below
//! 2^24). Portable and easy to check; the bitset kernel is the fast path.

use std::ops::Range;

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2, s};

use crate::population::{DenseOperands, Population};

use super::{Extras, TileCounts, TileKernel};

#[derive(Debug)]
pub(crate) struct GemmKernel<'a> {
    population: &'a Population,
    dense: DenseOperands,
    extras: Extras,
}

impl<'a> GemmKernel<'a> {
    pub fn new(population: &'a Population, extras: Extras) -> GemmKernel<'a> {
        GemmKernel { dense: population.dense(extras.standards), population, extras }
    }
}

fn pick<'m>(m: &'m ndarray::Array2<f32>, rows: &Range<usize>, columns: &Range<usize>) -> ArrayView2<'m, f32> {
    m.slice(s![rows.clone(), columns.clone()])
}

/// `out = a * b^T`.
fn product(a: ArrayView2<f32>, b: ArrayView2<f32>, out: ArrayViewMut2<f32>) {
    let mut out = out;
    general_mat_mul(1.0, &a, &b.t(), 0.0, &mut out);
}

impl TileKernel for GemmKernel<'_> {
    fn fill(&self, rows: Range<usize>, cols: Range<usize>, counts: &mut TileCounts) {
        let cols = cols.start..cols.end.min(self.population.len());
        let (r, c) = (rows.len(), cols.len());
        let d = &self.dense;
        for (place, out) in self.population.layout().placements().iter().zip(&mut counts.dimensions) {
            let (o, q) = (place.option_columns.clone(), place.question_columns.clone());
            let (one_hot_i, one_hot_j) = (pick(&d.one_hot, &rows, &o), pick(&d.one_hot, &cols, &o));
            let (acc_i, acc_j) = (pick(&d.weighted_acceptable, &rows, &o), pick(&d.weighted_acceptable, &cols, &o));
            let (mask_i, mask_j) = (pick(&d.answered, &rows, &q), pick(&d.answered, &cols, &q));
            let (weight_i, weight_j) = (pick(&d.weight, &rows, &q), pick(&d.weight, &cols, &q));
            product(acc_i, one_hot_j, out.num_forward.slice_mut(s![..r, ..c]));
            product(weight_i, mask_j, out.den_forward.slice_mut(s![..r, ..c]));
            product(one_hot_i, acc_j, out.num_backward.slice_mut(s![..r, ..c]));
            product(mask_i, weight_j, out.den_backward.slice_mut(s![..r, ..c]));
        }
        let mut violations = counts.violations.slice_mut(s![..r, ..c]);
        violations.fill(0.0);
        if self.extras.standards {
            // Options judged differently: sum of (a - b)^2 over options of questions both
            // answered, as a.m + m.b - 2 a.b; options judged by both: m.m.
            let (acc, all) = (&d.acceptable, &d.answered_options);
            let (acc_i, acc_j) = (acc.slice(s![rows.clone(), ..]), acc.slice(s![cols.clone(), ..]));
            let (all_i, all_j) = (all.slice(s![rows.clone(), ..]), all.slice(s![cols.clone(), ..]));
            let mut disagreements = counts.disagreements.slice_mut(s![..r, ..c]);
            general_mat_mul(1.0, &acc_i, &all_j.t(), 0.0, &mut disagreements);
            general_mat_mul(1.0, &all_i, &acc_j.t(), 1.0, &mut disagreements);
            general_mat_mul(-2.0, &acc_i, &acc_j.t(), 1.0, &mut disagreements);
            product(all_i, all_j, counts.judged.slice_mut(s![..r, ..c]));
        }
        if self.extras.exclusions {
            let unacceptable = &d.mandatory_unacceptable;
            let one_hot = &d.one_hot;
            let mut both = |a: ArrayView2<f32>, b: ArrayView2<f32>| {
                general_mat_mul(1.0, &a, &b.t(), 1.0, &mut violations);
            };
            both(unacceptable.slice(s![rows.clone(), ..]), one_hot.slice(s![cols.clone(), ..]));
            both(one_hot.slice(s![rows.clone(), ..]), unacceptable.slice(s![cols.clone(), ..]));
        }
    }

    fn chunk_rows(&self) -> usize {
        256
    }
}
