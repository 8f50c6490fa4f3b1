//! Tile kernels: for a chunk of rows `i` and a block of columns `j`, the integer sums behind
//! both directions of satisfaction, per dimension. Two interchangeable implementations:
//! [`bitset`] (AND + popcount over the packed one-hot planes, the fast path) and [`gemm`]
//! (ndarray matrix products over dense 0/1 and weight matrices, the portable reference path).

use std::ops::Range;

use ndarray::Array2;

use crate::population::Population;

pub(crate) mod bitset;
pub(crate) mod gemm;

/// Which kernel computes the tiles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KernelChoice {
    /// The fastest on this CPU for this layout: each candidate is timed once per process on a
    /// small synthetic population of the same layout (a few milliseconds), and the choice kept
    /// (see [`auto_choice`]).
    #[default]
    Auto,
    /// The bitset kernel with the best instruction set the CPU has (AVX-512, else AVX2).
    Bitset,
    /// The bitset kernel with AVX2 even where AVX-512 is there (where AVX2 is not, the plain
    /// Rust bitset kernel).
    Avx2Bitset,
    /// The bitset kernel in plain Rust, without explicit SIMD: what other CPUs run, and a
    /// check on the SIMD code.
    PortableBitset,
    /// Dense `f32` matrix products (ndarray / matrixmultiply).
    Gemm,
}

/// Sums of one dimension for a tile; `forward` is the satisfaction of row `i` by column `j`
/// (`i`'s weights on `j`'s answers), `backward` that of `j` by `i`. Values are exact integers
/// held in `f32` (at most 250 per question).
#[derive(Debug)]
pub(crate) struct DimensionCounts {
    pub num_forward: Array2<f32>,
    pub den_forward: Array2<f32>,
    pub num_backward: Array2<f32>,
    pub den_backward: Array2<f32>,
}

/// What a kernel computes besides the sums of every dimension.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub(crate) struct Extras {
    /// Mandatory questions answered unacceptably.
    pub exclusions: bool,
    /// Options judged differently, and options judged by both (for shared standards).
    pub standards: bool,
}

impl Extras {
    pub fn of(model: &crate::Model) -> Extras {
        Extras { exclusions: model.mandatory_excludes, standards: model.standards_weight > 0.0 }
    }
}

/// The output buffer of a kernel, reused across tiles.
#[derive(Debug)]
pub(crate) struct TileCounts {
    pub dimensions: Vec<DimensionCounts>,
    /// Mandatory questions answered unacceptably, both directions together (0 when exclusions
    /// are off).
    pub violations: Array2<f32>,
    /// Over every question both answered, the options one side accepts and the other does not,
    /// and all their options (both only with [`Extras::standards`]).
    pub disagreements: Array2<f32>,
    pub judged: Array2<f32>,
}

impl TileCounts {
    pub fn new(dimensions: usize, rows: usize, cols: usize) -> TileCounts {
        let zeros = || Array2::zeros((rows, cols));
        TileCounts {
            dimensions: (0..dimensions)
                .map(|_| DimensionCounts {
                    num_forward: zeros(),
                    den_forward: zeros(),
                    num_backward: zeros(),
                    den_backward: zeros(),
                })
                .collect(),
            violations: zeros(),
            disagreements: zeros(),
            judged: zeros(),
        }
    }
}

/// A kernel fills `counts[..rows.len(), ..cols.len()]` for the given organisations. `cols`
/// starts on a multiple of 8; columns at or past the population's length may hold anything.
pub(crate) trait TileKernel: Sync {
    fn fill(&self, rows: Range<usize>, cols: Range<usize>, counts: &mut TileCounts);

    /// Rows per call that suit the kernel (small for the bitset kernel, whose work is per row,
    /// large for matrix products).
    fn chunk_rows(&self) -> usize;
}

/// The kernel `Auto` stands for with `layout` on this CPU: every candidate (the bitset kernel
/// with each instruction set the CPU has, and the matrix products) fills the same tiles of a
/// synthetic population of 256 organisations with this layout, best of three; the fastest is
/// kept for the rest of the process. Unoptimised (debug) builds skip the timing, which would
/// measure the compiler's debug code, and take the bitset kernel. With `whole_tiles` false (one row against everyone, where
/// the matrix products would first densify the whole population), the fastest bitset kernel.
pub(crate) fn auto_choice(layout: &crate::Layout, extras: Extras, whole_tiles: bool) -> KernelChoice {
    let ranked = ranking(layout, extras);
    ranked.iter().copied().find(|choice| whole_tiles || *choice != KernelChoice::Gemm).unwrap_or(KernelChoice::Bitset)
}

/// The candidates for `layout`, fastest first, measured once per process.
fn ranking(layout: &crate::Layout, extras: Extras) -> Vec<KernelChoice> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    /// A layout's shape (options per question, questions per dimension) and the extras.
    type Key = (Vec<u8>, Extras);
    static CHOSEN: OnceLock<Mutex<HashMap<Key, Vec<KernelChoice>>>> = OnceLock::new();
    let key = (
        (0..layout.question_count())
            .map(|q| layout.options(q))
            .chain(layout.dimensions().iter().map(|d| d.questions.len() as u8))
            .collect::<Vec<u8>>(),
        extras,
    );
    let chosen = CHOSEN.get_or_init(Default::default);
    if let Some(ranked) = chosen.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return ranked.clone();
    }
    let ranked = calibrate(layout, extras);
    chosen.lock().unwrap_or_else(|p| p.into_inner()).insert(key, ranked.clone());
    ranked
}

/// Times each candidate kernel on a synthetic population with `layout`; fastest first.
fn calibrate(layout: &crate::Layout, extras: Extras) -> Vec<KernelChoice> {
    if cfg!(debug_assertions) {
        return vec![KernelChoice::Bitset];
    }
    let mut timed = timed(layout, extras, 256);
    timed.sort_by(|a, b| a.0.total_cmp(&b.0));
    timed.into_iter().map(|(_, choice)| choice).collect()
}

/// Each candidate kernel with its best time of three over every tile of a synthetic
/// population of `sample` organisations (a multiple of 128) with `layout`.
fn timed(layout: &crate::Layout, extras: Extras, sample: usize) -> Vec<(f64, KernelChoice)> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let inputs: Vec<crate::OrgInput> = (0..sample)
        .map(|_| crate::OrgInput {
            answers: (0..layout.question_count())
                .map(|q| {
                    let options = u64::from(layout.options(q).max(1));
                    (next() % 10 != 0).then(|| crate::QuestionAnswer {
                        answer: (next() % options) as u8,
                        acceptable: (next() as u32 & ((1u32 << options) - 1)) | 1,
                        importance: crate::Importance::ALL[1 + (next() % 4) as usize],
                    })
                })
                .collect(),
            profile: crate::Profile::default(),
        })
        .collect();
    let Ok(population) = crate::Population::new(layout.clone(), &inputs) else { return vec![] };
    let mut candidates = vec![KernelChoice::Gemm, KernelChoice::PortableBitset];
    if bitset::Isa::Avx2.available() {
        candidates.push(KernelChoice::Avx2Bitset);
    }
    if bitset::Isa::Avx512.available() {
        candidates.push(KernelChoice::Bitset);
    }
    let block = 128;
    let mut timed = Vec::new();
    for choice in candidates {
        let kernel = make(&population, extras, choice, true);
        let mut counts = TileCounts::new(layout.dimensions().len(), block, block);
        let chunk = kernel.chunk_rows().min(block);
        let mut fastest = f64::INFINITY;
        for _ in 0..3 {
            let started = std::time::Instant::now();
            for rows in (0..sample).step_by(block) {
                for cols in (0..sample).step_by(block) {
                    for start in (rows..rows + block).step_by(chunk) {
                        kernel.fill(start..start + chunk, cols..cols + block, &mut counts);
                    }
                }
            }
            fastest = fastest.min(started.elapsed().as_secs_f64());
        }
        timed.push((fastest, choice));
    }
    timed
}

/// The kernel of `choice` (`Auto` is resolved by [`auto_choice`] first).
pub(crate) fn make<'a>(
    population: &'a Population,
    extras: Extras,
    choice: KernelChoice,
    whole_tiles: bool,
) -> Box<dyn TileKernel + 'a> {
    match choice {
        KernelChoice::Auto => {
            make(population, extras, auto_choice(population.layout(), extras, whole_tiles), whole_tiles)
        }
        KernelChoice::Bitset => Box::new(bitset::BitsetKernel::new(population, extras, bitset::Isa::best())),
        KernelChoice::Avx2Bitset => Box::new(bitset::BitsetKernel::new(population, extras, bitset::Isa::Avx2)),
        KernelChoice::PortableBitset => Box::new(bitset::BitsetKernel::new(population, extras, bitset::Isa::Portable)),
        KernelChoice::Gemm => Box::new(gemm::GemmKernel::new(population, extras)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_this_cpu_runs_is_timed_and_auto_picks_one_of_them() {
        let layout = crate::Layout::uniform(20, 5).expect("layout");
        let extras = Extras { exclusions: true, standards: true };
        let timed = timed(&layout, extras, 128);
        let kernels: Vec<KernelChoice> = timed.iter().map(|(_, k)| *k).collect();
        assert!(kernels.contains(&KernelChoice::Gemm) && kernels.contains(&KernelChoice::PortableBitset));
        assert_eq!(kernels.contains(&KernelChoice::Avx2Bitset), bitset::Isa::Avx2.available());
        assert_eq!(kernels.contains(&KernelChoice::Bitset), bitset::Isa::Avx512.available());
        assert!(timed.iter().all(|(t, _)| t.is_finite() && *t > 0.0), "{timed:?}");
        let chosen = auto_choice(&layout, extras, true);
        assert!(chosen == KernelChoice::Bitset || kernels.contains(&chosen), "{chosen:?}");
        assert_ne!(auto_choice(&layout, extras, false), KernelChoice::Gemm, "one row never densifies everyone");
    }
}
