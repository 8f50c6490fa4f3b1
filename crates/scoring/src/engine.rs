//! The all-pairs driver: square blocks of organisations, only block pairs on or above the
//! diagonal (each pair is computed once and feeds both organisations' lists), tiles filled by a
//! kernel, scored and offered to per-thread top-k tables that are merged at the end. Memory is
//! `O(threads * (N * k + tile))`; no `N x N` matrix ever exists.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::InputError;
use crate::kernel::{KernelChoice, TileCounts, TileKernel};
use crate::model::{Model, complementarity, sector_overlap};
use crate::population::{LANES, Population};
use crate::topk::{Partner, TopK};

/// How to run the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Worker threads; 0 means one per available core.
    pub threads: usize,
    pub kernel: KernelChoice,
    /// Organisations per block (rounded up to a multiple of 8).
    pub block: usize,
    /// Partners kept beyond `k` in every list, so that [`rescore`] seldom has to recompute a
    /// list that lost a partner (see [`TopK::with_slack`]).
    pub slack: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options { threads: 0, kernel: KernelChoice::Auto, block: 128, slack: 0 }
    }
}

impl Options {
    fn threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    fn block(&self) -> usize {
        self.block.max(LANES).next_multiple_of(LANES)
    }
}

/// Score of a pair that may never be suggested (itself, a mandatory conflict, an unwelcome kind).
pub const EXCLUDED: f32 = f32::NEG_INFINITY;

/// The kernel for `choice`; `whole_tiles` when it will fill whole tiles (a full run), rather
/// than one row against everyone.
fn kernel<'a>(
    population: &'a Population,
    model: &Model,
    choice: KernelChoice,
    whole_tiles: bool,
) -> Box<dyn TileKernel + 'a> {
    crate::kernel::make(population, model.mandatory_excludes, choice, whole_tiles)
}

/// Turns a tile of sums into overall scores.
struct Scorer<'a> {
    population: &'a Population,
    model: &'a Model,
    /// Dimension weights divided by the total weight.
    dimension_weights: Vec<f32>,
    complementarity_weight: f32,
    sector_weight: f32,
    /// Whether any organisation restricts the kinds it meets.
    kind_filters: bool,
}

impl<'a> Scorer<'a> {
    fn new(population: &'a Population, model: &'a Model) -> Result<Scorer<'a>, InputError> {
        model.check(population.layout())?;
        let total = model.total_weight();
        Ok(Scorer {
            population,
            model,
            dimension_weights: model.dimension_weights.iter().map(|w| w / total).collect(),
            complementarity_weight: model.complementarity_weight / total,
            sector_weight: model.sector_weight / total,
            kind_filters: population.profiles.iter().any(|p| p.seeking_kinds != 0),
        })
    }

    /// Scores `rows x cols` into `scores` (row stride `stride`); excluded pairs get [`EXCLUDED`].
    fn score(&self, counts: &TileCounts, rows: Range<usize>, cols: Range<usize>, scores: &mut [f32], stride: usize) {
        let width = cols.end.min(self.population.len()).saturating_sub(cols.start);
        for (r, i) in rows.enumerate() {
            let out = &mut scores[r * stride..][..width];
            out.fill(0.0);
            for (d, weight) in self.dimension_weights.iter().enumerate() {
                let dim = &counts.dimensions[d];
                let line = |a| row_slice(a, r, width);
                let (nf, df) = (line(&dim.num_forward), line(&dim.den_forward));
                let (nb, db) = (line(&dim.num_backward), line(&dim.den_backward));
                for t in 0..width {
                    let product = (nf[t] / df[t].max(1.0)) * (nb[t] / db[t].max(1.0));
                    out[t] += weight * product.sqrt();
                }
            }
            let profiles = &self.population.profiles;
            let me = profiles[i];
            if self.model.uses_profile() {
                for (t, other) in profiles[cols.start..cols.start + width].iter().enumerate() {
                    let c = complementarity(
                        me.capabilities_sought,
                        me.capabilities_offered,
                        other.capabilities_sought,
                        other.capabilities_offered,
                    );
                    out[t] += self.complementarity_weight * c
                        + self.sector_weight * sector_overlap(me.sectors, other.sectors);
                }
            }
            if self.model.mandatory_excludes {
                let violations = row_slice(&counts.violations, r, width);
                for (score, v) in out.iter_mut().zip(violations) {
                    if *v > 0.0 {
                        *score = EXCLUDED;
                    }
                }
            }
            if self.kind_filters {
                for (t, other) in profiles[cols.start..cols.start + width].iter().enumerate() {
                    if !me.welcomes(other.kind) || !other.welcomes(me.kind) {
                        out[t] = EXCLUDED;
                    }
                }
            }
            if cols.contains(&i) {
                out[i - cols.start] = EXCLUDED;
            }
        }
    }
}

/// The first `width` values of row `r` of a tile (tiles are allocated in standard layout).
fn row_slice(tile: &ndarray::Array2<f32>, r: usize, width: usize) -> &[f32] {
    let flat = tile.as_slice().expect("tiles are in standard layout");
    &flat[r * tile.ncols()..][..width]
}

/// Reusable buffers of one worker.
struct Workspace {
    counts: TileCounts,
    scores: Vec<f32>,
    stride: usize,
}

impl Workspace {
    fn new(population: &Population, rows: usize, cols: usize) -> Workspace {
        let dimensions = population.layout().dimensions().len();
        Workspace { counts: TileCounts::new(dimensions, rows, cols), scores: vec![0.0; rows * cols], stride: cols }
    }
}

/// The best `k` partners of every organisation, by overall score.
pub fn top_k(population: &Population, model: &Model, k: usize, options: &Options) -> Result<TopK, InputError> {
    top_k_with_progress(population, model, k, options, &|_, _| {})
}

/// As [`top_k`], calling `progress(done, total)` as block pairs complete.
pub fn top_k_with_progress(
    population: &Population,
    model: &Model,
    k: usize,
    options: &Options,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<TopK, InputError> {
    let scorer = Scorer::new(population, model)?;
    let n = population.len();
    let block = options.block();
    let blocks = n.div_ceil(block);
    let tiles: Vec<(usize, usize)> = (0..blocks).flat_map(|a| (a..blocks).map(move |b| (a, b))).collect();
    let kernel = kernel(population, model, options.kernel, true);
    let chunk = kernel.chunk_rows().min(block);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let threads = options.threads().min(tiles.len()).max(1);
    let worker = || {
        let mut top = TopK::with_slack(n, k, options.slack);
        let mut work = Workspace::new(population, chunk, block);
        loop {
            let t = next.fetch_add(1, Ordering::Relaxed);
            let Some(&(a, b)) = tiles.get(t) else { break };
            let rows = a * block..((a + 1) * block).min(n);
            let cols = b * block..((b + 1) * block).min(n);
            for start in rows.clone().step_by(chunk) {
                let chunk_rows = start..(start + chunk).min(rows.end);
                kernel.fill(chunk_rows.clone(), cols.clone(), &mut work.counts);
                scorer.score(&work.counts, chunk_rows.clone(), cols.clone(), &mut work.scores, work.stride);
                offer_tile(&mut top, &work, chunk_rows, cols.clone(), a != b);
            }
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, tiles.len());
        }
        top
    };
    let mut tables = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
        handles.into_iter().map(|h| h.join()).collect::<Vec<_>>()
    })
    .into_iter()
    .map(|table| table.unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
    let mut top = tables.next().unwrap_or_else(|| TopK::with_slack(n, k, options.slack));
    for table in tables {
        top.merge(&table);
    }
    top.seal();
    Ok(top)
}

/// Offers a scored chunk to the rows' lists and, off the diagonal, to the columns' lists.
/// Eight columns at a time are first tested against the lists' floors, which rejects almost
/// every pair once the lists have filled.
fn offer_tile(top: &mut TopK, work: &Workspace, rows: Range<usize>, cols: Range<usize>, both_sides: bool) {
    for (r, i) in rows.enumerate() {
        let line = &work.scores[r * work.stride..][..cols.len()];
        for (c, chunk) in line.chunks(LANES).enumerate() {
            let first = cols.start + c * LANES;
            let row_floor = top.floor(i);
            let col_floors = &top.floors()[first..first + chunk.len()];
            let mut candidate = false;
            for (score, col_floor) in chunk.iter().zip(col_floors) {
                candidate |= (*score >= row_floor) | (both_sides & (*score >= *col_floor));
            }
            if !candidate {
                continue;
            }
            for (t, &score) in chunk.iter().enumerate() {
                if score == EXCLUDED {
                    continue;
                }
                let j = first + t;
                top.offer(i, Partner { index: j as u32, score });
                if both_sides {
                    top.offer(j, Partner { index: i as u32, score });
                }
            }
        }
    }
}

/// The overall score of `org` with every organisation, [`EXCLUDED`] for itself and excluded
/// pairs.
pub fn score_row(
    population: &Population,
    model: &Model,
    org: usize,
    options: &Options,
) -> Result<Vec<f32>, InputError> {
    let n = population.len();
    if org >= n {
        return Err(InputError::OrgIndex { org, len: n });
    }
    let scorer = Scorer::new(population, model)?;
    let kernel = kernel(population, model, options.kernel, false);
    let block = options.block();
    let mut work = Workspace::new(population, 1, block);
    let mut row = vec![EXCLUDED; n];
    for start in (0..n).step_by(block) {
        let cols = start..(start + block).min(n);
        kernel.fill(org..org + 1, cols.clone(), &mut work.counts);
        scorer.score(&work.counts, org..org + 1, cols.clone(), &mut work.scores, work.stride);
        row[cols.clone()].copy_from_slice(&work.scores[..cols.len()]);
    }
    Ok(row)
}

/// What an incremental update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rescored {
    /// Other organisations whose lists no longer knew their best `k` for sure and were
    /// recomputed in full.
    pub recomputed_rows: usize,
}

/// After `org`'s answers or profile changed (or it was appended), brings `top` back to what
/// [`top_k`] would give: `org`'s own list is rebuilt from one row of scores, and every other
/// list gains, keeps or loses `org`; a list left without a sure best `k` is recomputed (rare
/// when the table has slack).
pub fn rescore(
    population: &Population,
    model: &Model,
    org: usize,
    top: &mut TopK,
    options: &Options,
) -> Result<Rescored, InputError> {
    let row = score_row(population, model, org, options)?;
    top.grow(population.len());
    let rebuild = |top: &mut TopK, owner: usize, scores: &[f32]| {
        top.rebuild(owner, |top| {
            for (j, &score) in scores.iter().enumerate() {
                if score != EXCLUDED {
                    top.offer(owner, Partner { index: j as u32, score });
                }
            }
        })
    };
    rebuild(top, org, &row);
    let me = org as u32;
    let mut stale = Vec::new();
    for (j, &score) in row.iter().enumerate() {
        if j != org {
            top.update(j, me, (score != EXCLUDED).then_some(Partner { index: me, score }));
            if top.is_stale(j) {
                stale.push(j);
            }
        }
    }
    for &j in &stale {
        rebuild(top, j, &score_row(population, model, j, options)?);
    }
    Ok(Rescored { recomputed_rows: stale.len() })
}
