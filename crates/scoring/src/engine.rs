//! The all-pairs driver: square blocks of organisations, only block pairs on or above the
//! diagonal (each pair is computed once and feeds both organisations' lists), tiles filled by a
//! kernel, scored and offered to per-thread top-k tables that are merged at the end. Memory is
//! `O(threads * (N * k + tile))`; no `N x N` matrix ever exists.

use std::ops::Range;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use crate::error::InputError;
use crate::kernel::{KernelChoice, TileCounts, TileKernel};
use crate::model::{Model, complementarity, sector_overlap, shared_standards};
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
    crate::kernel::make(population, crate::kernel::Extras::of(model), choice, whole_tiles)
}

/// Turns a tile of sums into overall scores.
struct Scorer<'a> {
    population: &'a Population,
    model: &'a Model,
    /// Dimension weights divided by the total weight.
    dimension_weights: Vec<f32>,
    complementarity_weight: f32,
    sector_weight: f32,
    standards_weight: f32,
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
            standards_weight: model.standards_weight / total,
            kind_filters: population.profiles.iter().any(|p| p.seeking_kinds != 0),
        })
    }

    /// Scores `rows x cols` into `scores` (row stride `stride`); excluded pairs get [`EXCLUDED`].
    #[inline(always)]
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
                    // One division: both products are exact or nearly (sums are integers).
                    let product = (nf[t] * nb[t]) / (df[t].max(1.0) * db[t].max(1.0));
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
            if self.standards_weight > 0.0 {
                let disagreements = row_slice(&counts.disagreements, r, width);
                let judged = row_slice(&counts.judged, r, width);
                let others = &self.population.openness[cols.start..cols.start + width];
                let mine = self.population.openness[i];
                for (t, theirs) in others.iter().enumerate() {
                    out[t] += self.standards_weight * shared_standards(disagreements[t], judged[t], mine, *theirs);
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
#[inline(always)]
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
    let vector = Vector::detect();
    let floors = SharedFloors::new(if threads > 1 { n } else { 0 });
    let worker = || {
        let mut top = TopK::with_slack(n, k, options.slack);
        let mut work = Workspace::new(population, chunk, block);
        loop {
            let t = next.fetch_add(1, Ordering::Relaxed);
            let Some(&(a, b)) = tiles.get(t) else { break };
            let rows = a * block..((a + 1) * block).min(n);
            let cols = b * block..((b + 1) * block).min(n);
            floors.raise(&mut top, rows.clone());
            floors.raise(&mut top, cols.clone());
            for start in rows.clone().step_by(chunk) {
                let chunk_rows = start..(start + chunk).min(rows.end);
                kernel.fill(chunk_rows.clone(), cols.clone(), &mut work.counts);
                score_and_offer(vector, &scorer, &mut top, &mut work, chunk_rows, cols.clone(), a != b);
            }
            floors.publish(&top, rows);
            floors.publish(&top, cols);
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

/// The highest floor any thread's table has reached for each organisation, so that the others
/// skip what cannot make the merged list: with one table per thread, each would otherwise
/// insert about `k * ln(N / (threads * k))` candidates per list on its own.
struct SharedFloors(Vec<AtomicU32>);

impl SharedFloors {
    fn new(rows: usize) -> SharedFloors {
        SharedFloors((0..rows).map(|_| AtomicU32::new(Self::key(f32::NEG_INFINITY))).collect())
    }

    /// An unsigned key in the order of the scores (the sign bit flipped, and every other bit
    /// for negative scores).
    fn key(score: f32) -> u32 {
        let bits = score.to_bits();
        if bits >> 31 == 1 { !bits } else { bits | 1 << 31 }
    }

    fn score(key: u32) -> f32 {
        f32::from_bits(if key >> 31 == 1 { key & !(1 << 31) } else { !key })
    }

    /// Raises `top`'s floors of `rows` to the shared ones.
    fn raise(&self, top: &mut TopK, rows: Range<usize>) {
        for (shared, row) in self.0.get(rows.clone()).into_iter().flatten().zip(rows) {
            top.raise_floor(row, Self::score(shared.load(Ordering::Relaxed)));
        }
    }

    /// Shares `top`'s floors of `rows` where they are higher.
    fn publish(&self, top: &TopK, rows: Range<usize>) {
        for (shared, row) in self.0.get(rows.clone()).into_iter().flatten().zip(rows) {
            let key = Self::key(top.floor(row));
            if key > shared.load(Ordering::Relaxed) {
                shared.fetch_max(key, Ordering::Relaxed);
            }
        }
    }
}

/// The vector instructions the scoring and offering code is compiled for (the kernels choose
/// their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vector {
    Baseline,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Vector {
    fn detect() -> Vector {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return Vector::Avx2;
        }
        Vector::Baseline
    }
}

/// Scores a filled chunk and offers it to the lists, with the vector width of `vector`.
fn score_and_offer(
    vector: Vector,
    scorer: &Scorer,
    top: &mut TopK,
    work: &mut Workspace,
    rows: Range<usize>,
    cols: Range<usize>,
    both_sides: bool,
) {
    #[inline(always)]
    fn body(scorer: &Scorer, top: &mut TopK, work: &mut Workspace, rows: Range<usize>, cols: Range<usize>, both: bool) {
        scorer.score(&work.counts, rows.clone(), cols.clone(), &mut work.scores, work.stride);
        offer_tile(top, work, rows, cols, both);
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn avx2(scorer: &Scorer, top: &mut TopK, work: &mut Workspace, rows: Range<usize>, cols: Range<usize>, both: bool) {
        body(scorer, top, work, rows, cols, both)
    }
    match vector {
        // SAFETY: `Vector::detect` found AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        Vector::Avx2 => unsafe { avx2(scorer, top, work, rows, cols, both_sides) },
        Vector::Baseline => body(scorer, top, work, rows, cols, both_sides),
    }
}

/// Offers a scored chunk to the rows' lists and, off the diagonal, to the columns' lists.
/// Eight columns at a time are first tested against the lists' floors, which rejects almost
/// every pair once the lists have filled.
#[inline(always)]
fn offer_tile(top: &mut TopK, work: &Workspace, rows: Range<usize>, cols: Range<usize>, both_sides: bool) {
    for (r, i) in rows.enumerate() {
        let line = &work.scores[r * work.stride..][..cols.len()];
        for (c, chunk) in line.chunks(LANES).enumerate() {
            let first = cols.start + c * LANES;
            let row_floor = top.floor(i);
            let candidate = match (<&[f32; LANES]>::try_from(chunk), top.floors()[first..].first_chunk::<LANES>()) {
                (Ok(chunk), Some(col_floors)) => {
                    // Branch-free, so that it compiles to vector compares and one mask test.
                    let col_floors = col_floors.map(|floor| if both_sides { floor } else { f32::INFINITY });
                    let mut hits = 0u32;
                    for lane in 0..LANES {
                        hits |= u32::from(chunk[lane] >= row_floor.min(col_floors[lane])) << lane;
                    }
                    hits != 0
                }
                _ => chunk
                    .iter()
                    .zip(&top.floors()[first..])
                    .any(|(score, col_floor)| (*score >= row_floor) | (both_sides & (*score >= *col_floor))),
            };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_floor_keys_keep_the_order_of_scores() {
        let scores = [f32::NEG_INFINITY, -3.5, -0.0, 0.0, 1e-30, 0.25, 0.918, 1.0, f32::INFINITY];
        for pair in scores.windows(2) {
            assert!(SharedFloors::key(pair[0]) <= SharedFloors::key(pair[1]), "{pair:?}");
        }
        for score in scores {
            assert_eq!(SharedFloors::score(SharedFloors::key(score)).to_bits(), score.to_bits());
        }
    }
}
