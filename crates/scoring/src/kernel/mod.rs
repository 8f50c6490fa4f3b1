//! Tile kernels: for a chunk of rows `i` and a block of columns `j`, the integer sums behind
//! both directions of satisfaction, per dimension. Two interchangeable implementations:
//! [`bitset`] (AND + popcount over the packed one-hot planes, the fast path) and [`gemm`]
//! (ndarray matrix products over dense 0/1 and weight matrices, the portable reference path).

use std::ops::Range;

use ndarray::Array2;

pub(crate) mod bitset;
pub(crate) mod gemm;

/// Which kernel computes the tiles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KernelChoice {
    /// The bitset kernel, using AVX-512 popcount when the CPU has it.
    #[default]
    Auto,
    Bitset,
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

/// The output buffer of a kernel, reused across tiles.
#[derive(Debug)]
pub(crate) struct TileCounts {
    pub dimensions: Vec<DimensionCounts>,
    /// Mandatory questions answered unacceptably, both directions together (0 when exclusions
    /// are off).
    pub violations: Array2<f32>,
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
