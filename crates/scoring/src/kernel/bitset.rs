//! The bitset kernel. Answers and acceptable sets are option-major (see [`crate::layout`]), so
//! for a chunk of 64 questions `OR over options of (acceptable[o] AND answers[o])` is one word
//! with a bit per question that the other side answered acceptably; with importance one of
//! four weighted levels, each sum is then `sum over levels of weight * popcount(level AND
//! word)`. Per pair, per chunk and per direction that is one AND-OR per option and eight
//! popcounts, whatever the number of options. Eight columns at a time share one vector register
//! (two with AVX2); the row's words are broadcast. The generic body is compiled once per
//! instruction set and chosen at run time: AVX-512 with VPOPCNTDQ, AVX2 (popcount by nibble
//! lookup with `vpshufb`, summed per word by `vpsadbw`), or plain Rust, which compiles
//! `count_ones` to the CPU's popcount instruction where the target has one (`popcnt` on x86-64
//! when detected, `cnt` on aarch64).

use std::ops::Range;

use crate::importance::{LEVEL_WEIGHTS, MANDATORY_PLANE};
use crate::population::{LANES, Population};

use super::{Extras, TileCounts, TileKernel};

const PLANES: usize = LEVEL_WEIGHTS.len();

/// The instruction sets the bitset kernel is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isa {
    /// AVX-512 F, DQ, VL and VPOPCNTDQ.
    Avx512,
    /// AVX2 (with POPCNT).
    Avx2,
    /// Plain Rust (with POPCNT on x86-64 when the CPU has it).
    Portable,
}

impl Isa {
    /// Whether this CPU can run it.
    pub fn available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => avx512::Avx512::detect().is_some(),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => avx2::Avx2::detect().is_some(),
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx512 | Isa::Avx2 => false,
            Isa::Portable => true,
        }
    }

    /// The fastest this CPU can run, in the order above.
    pub fn best() -> Isa {
        [Isa::Avx512, Isa::Avx2].into_iter().find(|isa| isa.available()).unwrap_or(Isa::Portable)
    }
}

#[derive(Debug)]
pub(crate) struct BitsetKernel<'a> {
    population: &'a Population,
    extras: Extras,
    /// The instruction set asked for; one the CPU lacks falls back to the next it has (only
    /// x86-64 has a choice).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    isa: Isa,
}

impl<'a> BitsetKernel<'a> {
    pub fn new(population: &'a Population, extras: Extras, isa: Isa) -> BitsetKernel<'a> {
        BitsetKernel { population, extras, isa }
    }
}

impl TileKernel for BitsetKernel<'_> {
    fn fill(&self, rows: Range<usize>, cols: Range<usize>, counts: &mut TileCounts) {
        #[cfg(target_arch = "x86_64")]
        {
            if self.isa == Isa::Avx512
                && let Some(simd) = avx512::Avx512::detect()
            {
                // SAFETY: `detect` found the features the function is compiled for.
                return unsafe { fill_avx512(simd, self, rows, cols, counts) };
            }
            if matches!(self.isa, Isa::Avx512 | Isa::Avx2)
                && let Some(simd) = avx2::Avx2::detect()
            {
                // SAFETY: as above.
                return unsafe { fill_avx2(simd, self, rows, cols, counts) };
            }
            if std::is_x86_feature_detected!("popcnt") {
                // SAFETY: as above.
                return unsafe { fill_popcnt(self, rows, cols, counts) };
            }
        }
        fill_body(Portable, self, rows, cols, counts)
    }

    fn chunk_rows(&self) -> usize {
        16
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512vpopcntdq,avx2,fma,popcnt")]
fn fill_avx512(
    simd: avx512::Avx512,
    kernel: &BitsetKernel,
    rows: Range<usize>,
    cols: Range<usize>,
    counts: &mut TileCounts,
) {
    fill_body(simd, kernel, rows, cols, counts)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
fn fill_avx2(simd: avx2::Avx2, kernel: &BitsetKernel, rows: Range<usize>, cols: Range<usize>, counts: &mut TileCounts) {
    fill_body(simd, kernel, rows, cols, counts)
}

/// Plain Rust with `count_ones` compiled to POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
fn fill_popcnt(kernel: &BitsetKernel, rows: Range<usize>, cols: Range<usize>, counts: &mut TileCounts) {
    fill_body(Portable, kernel, rows, cols, counts)
}

type Lanes = [u64; LANES];
type Planes = [u64; PLANES];

/// The vector operations of the kernel, on eight 64-bit lanes (one per column) at a time.
trait Simd: Copy {
    type V: Copy;
    fn zero(self) -> Self::V;
    fn load(self, lanes: &Lanes) -> Self::V;
    /// `word` in every lane.
    fn splat(self, word: u64) -> Self::V;
    fn and(self, a: Self::V, b: Self::V) -> Self::V;
    /// `acc | (a & b)`.
    fn or_and(self, acc: Self::V, a: Self::V, b: Self::V) -> Self::V;
    /// `(a ^ b) & c`.
    fn xor_and(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// Each lane times `factor` (lanes and products below 2^32).
    fn scale(self, v: Self::V, factor: u32) -> Self::V;
    /// Each lane (below 2^24) as `f32`.
    fn to_f32(self, v: Self::V) -> [f32; LANES];
    /// The number of set bits of each lane.
    fn popcount(self, v: Self::V) -> Self::V;
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// `sum over planes of weight * sums[plane]`, each lane as `f32`.
    fn weighted(self, sums: &[Self::V; PLANES]) -> [f32; LANES];
    /// Mandatory questions answered but not accepted: `den - num` of the mandatory plane.
    fn unacceptable(self, den: &[Self::V; PLANES], num: &[Self::V; PLANES]) -> [f32; LANES];
}

/// Plain Rust that the compiler vectorises as it can.
#[derive(Debug, Clone, Copy)]
struct Portable;

impl Simd for Portable {
    type V = Lanes;

    #[inline(always)]
    fn zero(self) -> Lanes {
        [0; LANES]
    }

    #[inline(always)]
    fn load(self, lanes: &Lanes) -> Lanes {
        *lanes
    }

    #[inline(always)]
    fn splat(self, word: u64) -> Lanes {
        [word; LANES]
    }

    #[inline(always)]
    fn and(self, a: Lanes, b: Lanes) -> Lanes {
        std::array::from_fn(|lane| a[lane] & b[lane])
    }

    #[inline(always)]
    fn or_and(self, acc: Lanes, a: Lanes, b: Lanes) -> Lanes {
        std::array::from_fn(|lane| acc[lane] | (a[lane] & b[lane]))
    }

    #[inline(always)]
    fn xor_and(self, a: Lanes, b: Lanes, c: Lanes) -> Lanes {
        std::array::from_fn(|lane| (a[lane] ^ b[lane]) & c[lane])
    }

    #[inline(always)]
    fn scale(self, v: Lanes, factor: u32) -> Lanes {
        v.map(|lane| lane * u64::from(factor))
    }

    #[inline(always)]
    fn to_f32(self, v: Lanes) -> [f32; LANES] {
        v.map(|lane| lane as f32)
    }

    #[inline(always)]
    fn popcount(self, v: Lanes) -> Lanes {
        v.map(|word| u64::from(word.count_ones()))
    }

    #[inline(always)]
    fn add(self, a: Lanes, b: Lanes) -> Lanes {
        std::array::from_fn(|lane| a[lane] + b[lane])
    }

    #[inline(always)]
    fn weighted(self, sums: &[Lanes; PLANES]) -> [f32; LANES] {
        std::array::from_fn(|lane| (0..PLANES).map(|p| u64::from(LEVEL_WEIGHTS[p]) * sums[p][lane]).sum::<u64>() as f32)
    }

    #[inline(always)]
    fn unacceptable(self, den: &[Lanes; PLANES], num: &[Lanes; PLANES]) -> [f32; LANES] {
        std::array::from_fn(|lane| (den[MANDATORY_PLANE][lane] - num[MANDATORY_PLANE][lane]) as f32)
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    //! AVX-512 with VPOPCNTDQ: one register holds a word of eight organisations.

    use std::arch::x86_64::{
        __m512i, _mm256_storeu_ps, _mm512_add_epi64, _mm512_and_si512, _mm512_cvtepu64_ps, _mm512_loadu_si512,
        _mm512_mul_epu32, _mm512_popcnt_epi64, _mm512_set1_epi64, _mm512_setzero_si512, _mm512_sub_epi64,
        _mm512_ternarylogic_epi64,
    };

    use super::{LANES, LEVEL_WEIGHTS, Lanes, MANDATORY_PLANE, PLANES, Simd};

    /// Proof that the CPU has AVX-512 F, DQ, VL and VPOPCNTDQ, AVX2 and FMA: only
    /// [`Avx512::detect`] makes one.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct Avx512(());

    impl Avx512 {
        pub fn detect() -> Option<Avx512> {
            (std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512dq")
                && std::is_x86_feature_detected!("avx512vl")
                && std::is_x86_feature_detected!("avx512vpopcntdq")
                && std::is_x86_feature_detected!("avx2")
                && std::is_x86_feature_detected!("fma")
                && std::is_x86_feature_detected!("popcnt"))
            .then_some(Avx512(()))
        }
    }

    /// `vpternlogq` truth table of `a | (b & c)`.
    const OR_AND: i32 = 0xf8;
    /// `vpternlogq` truth table of `(a ^ b) & c`.
    const XOR_AND: i32 = 0x28;

    // SAFETY (every block below): a value of `Avx512` exists only when the features the
    // intrinsics need were detected; loads read exactly the 64 bytes of an `[u64; 8]`.
    impl Simd for Avx512 {
        type V = __m512i;

        #[inline(always)]
        fn zero(self) -> __m512i {
            unsafe { _mm512_setzero_si512() }
        }

        #[inline(always)]
        fn load(self, lanes: &Lanes) -> __m512i {
            unsafe { _mm512_loadu_si512(lanes.as_ptr().cast()) }
        }

        #[inline(always)]
        fn splat(self, word: u64) -> __m512i {
            unsafe { _mm512_set1_epi64(word as i64) }
        }

        #[inline(always)]
        fn and(self, a: __m512i, b: __m512i) -> __m512i {
            unsafe { _mm512_and_si512(a, b) }
        }

        #[inline(always)]
        fn or_and(self, acc: __m512i, a: __m512i, b: __m512i) -> __m512i {
            unsafe { _mm512_ternarylogic_epi64::<OR_AND>(acc, a, b) }
        }

        #[inline(always)]
        fn xor_and(self, a: __m512i, b: __m512i, c: __m512i) -> __m512i {
            unsafe { _mm512_ternarylogic_epi64::<XOR_AND>(a, b, c) }
        }

        #[inline(always)]
        fn scale(self, v: __m512i, factor: u32) -> __m512i {
            unsafe { _mm512_mul_epu32(v, _mm512_set1_epi64(i64::from(factor))) }
        }

        #[inline(always)]
        fn to_f32(self, v: __m512i) -> [f32; LANES] {
            let mut out = [0.0f32; LANES];
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), _mm512_cvtepu64_ps(v)) };
            out
        }

        #[inline(always)]
        fn popcount(self, v: __m512i) -> __m512i {
            unsafe { _mm512_popcnt_epi64(v) }
        }

        #[inline(always)]
        fn add(self, a: __m512i, b: __m512i) -> __m512i {
            unsafe { _mm512_add_epi64(a, b) }
        }

        #[inline(always)]
        fn weighted(self, sums: &[__m512i; PLANES]) -> [f32; LANES] {
            let mut out = [0.0f32; LANES];
            unsafe {
                let mut total = sums[0];
                for plane in 1..PLANES {
                    let weight = _mm512_set1_epi64(i64::from(LEVEL_WEIGHTS[plane]));
                    total = _mm512_add_epi64(total, _mm512_mul_epu32(sums[plane], weight));
                }
                _mm256_storeu_ps(out.as_mut_ptr(), _mm512_cvtepu64_ps(total));
            }
            out
        }

        #[inline(always)]
        fn unacceptable(self, den: &[__m512i; PLANES], num: &[__m512i; PLANES]) -> [f32; LANES] {
            let mut out = [0.0f32; LANES];
            unsafe {
                let missing = _mm512_sub_epi64(den[MANDATORY_PLANE], num[MANDATORY_PLANE]);
                _mm256_storeu_ps(out.as_mut_ptr(), _mm512_cvtepu64_ps(missing));
            }
            out
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! AVX2: a word of eight organisations takes two registers. Popcount has no AVX2
    //! instruction: each byte's count is looked up by nibble (`vpshufb` on a 16-entry table)
    //! and the bytes of each 64-bit lane summed by `vpsadbw`. Weighted sums are exact integer
    //! products (`vpmuludq`), converted to `f32` once.

    use std::arch::x86_64::{
        __m256i, _mm256_add_epi8, _mm256_add_epi64, _mm256_and_si256, _mm256_cvtepi32_ps, _mm256_loadu_si256,
        _mm256_mul_epu32, _mm256_or_si256, _mm256_permute2x128_si256, _mm256_permutevar8x32_epi32, _mm256_sad_epu8,
        _mm256_set1_epi8, _mm256_set1_epi64x, _mm256_setr_epi8, _mm256_setr_epi32, _mm256_setzero_si256,
        _mm256_shuffle_epi8, _mm256_srli_epi16, _mm256_storeu_ps, _mm256_sub_epi64, _mm256_xor_si256,
    };

    use super::{LANES, LEVEL_WEIGHTS, Lanes, MANDATORY_PLANE, PLANES, Simd};

    /// Proof that the CPU has AVX2 and POPCNT: only [`Avx2::detect`] makes one.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct Avx2(());

    impl Avx2 {
        pub fn detect() -> Option<Avx2> {
            (std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("popcnt")).then_some(Avx2(()))
        }
    }

    /// Eight lanes of `u64`: lanes 0–3, then 4–7.
    type Pair = [__m256i; 2];

    /// The popcount of each 64-bit lane of `v`.
    #[inline(always)]
    unsafe fn popcount(v: __m256i) -> __m256i {
        unsafe {
            let table = _mm256_setr_epi8(
                0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
            );
            let nibble = _mm256_set1_epi8(0x0f);
            let low = _mm256_shuffle_epi8(table, _mm256_and_si256(v, nibble));
            let high = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble));
            _mm256_sad_epu8(_mm256_add_epi8(low, high), _mm256_setzero_si256())
        }
    }

    /// Eight `u64` lanes below 2^31 as eight `f32`, in lane order.
    #[inline(always)]
    unsafe fn to_f32(pair: Pair) -> [f32; LANES] {
        let mut out = [0.0f32; LANES];
        unsafe {
            let low_halves = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
            let a = _mm256_permutevar8x32_epi32(pair[0], low_halves);
            let b = _mm256_permutevar8x32_epi32(pair[1], low_halves);
            let packed = _mm256_permute2x128_si256(a, b, 0x20);
            _mm256_storeu_ps(out.as_mut_ptr(), _mm256_cvtepi32_ps(packed));
        }
        out
    }

    // SAFETY (every block below): a value of `Avx2` exists only when AVX2 was detected; loads
    // read exactly the 64 bytes of an `[u64; 8]`, 32 at a time.
    impl Simd for Avx2 {
        type V = Pair;

        #[inline(always)]
        fn zero(self) -> Pair {
            unsafe { [_mm256_setzero_si256(); 2] }
        }

        #[inline(always)]
        fn load(self, lanes: &Lanes) -> Pair {
            unsafe { [_mm256_loadu_si256(lanes.as_ptr().cast()), _mm256_loadu_si256(lanes[4..].as_ptr().cast())] }
        }

        #[inline(always)]
        fn splat(self, word: u64) -> Pair {
            unsafe { [_mm256_set1_epi64x(word as i64); 2] }
        }

        #[inline(always)]
        fn and(self, a: Pair, b: Pair) -> Pair {
            unsafe { [_mm256_and_si256(a[0], b[0]), _mm256_and_si256(a[1], b[1])] }
        }

        #[inline(always)]
        fn or_and(self, acc: Pair, a: Pair, b: Pair) -> Pair {
            unsafe {
                [
                    _mm256_or_si256(acc[0], _mm256_and_si256(a[0], b[0])),
                    _mm256_or_si256(acc[1], _mm256_and_si256(a[1], b[1])),
                ]
            }
        }

        #[inline(always)]
        fn xor_and(self, a: Pair, b: Pair, c: Pair) -> Pair {
            unsafe {
                [
                    _mm256_and_si256(_mm256_xor_si256(a[0], b[0]), c[0]),
                    _mm256_and_si256(_mm256_xor_si256(a[1], b[1]), c[1]),
                ]
            }
        }

        #[inline(always)]
        fn scale(self, v: Pair, factor: u32) -> Pair {
            unsafe {
                let factor = _mm256_set1_epi64x(i64::from(factor));
                [_mm256_mul_epu32(v[0], factor), _mm256_mul_epu32(v[1], factor)]
            }
        }

        #[inline(always)]
        fn to_f32(self, v: Pair) -> [f32; LANES] {
            unsafe { to_f32(v) }
        }

        #[inline(always)]
        fn popcount(self, v: Pair) -> Pair {
            unsafe { [popcount(v[0]), popcount(v[1])] }
        }

        #[inline(always)]
        fn add(self, a: Pair, b: Pair) -> Pair {
            unsafe { [_mm256_add_epi64(a[0], b[0]), _mm256_add_epi64(a[1], b[1])] }
        }

        #[inline(always)]
        fn weighted(self, sums: &[Pair; PLANES]) -> [f32; LANES] {
            unsafe {
                let mut total = sums[0];
                for plane in 1..PLANES {
                    let weight = _mm256_set1_epi64x(i64::from(LEVEL_WEIGHTS[plane]));
                    for half in 0..2 {
                        total[half] = _mm256_add_epi64(total[half], _mm256_mul_epu32(sums[plane][half], weight));
                    }
                }
                to_f32(total)
            }
        }

        #[inline(always)]
        fn unacceptable(self, den: &[Pair; PLANES], num: &[Pair; PLANES]) -> [f32; LANES] {
            unsafe {
                let (den, num) = (den[MANDATORY_PLANE], num[MANDATORY_PLANE]);
                to_f32([_mm256_sub_epi64(den[0], num[0]), _mm256_sub_epi64(den[1], num[1])])
            }
        }
    }
}

/// One organisation's words, gathered from its lane once per row.
#[derive(Default)]
struct RowWords {
    answers: Vec<u64>,
    acceptable: Vec<u64>,
    answered: Vec<u64>,
    importance: Vec<Planes>,
}

impl RowWords {
    fn gather(
        &mut self,
        answers: &[Lanes],
        acceptable: &[Lanes],
        answered: &[Lanes],
        importance: &[[Lanes; PLANES]],
        lane: usize,
    ) {
        self.answers.clear();
        self.answers.extend(answers.iter().map(|w| w[lane]));
        self.acceptable.clear();
        self.acceptable.extend(acceptable.iter().map(|w| w[lane]));
        self.answered.clear();
        self.answered.extend(answered.iter().map(|w| w[lane]));
        self.importance.clear();
        self.importance.extend(importance.iter().map(|planes| planes.map(|w| w[lane])));
    }
}

#[inline(always)]
fn fill_body<S: Simd>(simd: S, kernel: &BitsetKernel, rows: Range<usize>, cols: Range<usize>, counts: &mut TileCounts) {
    let population = kernel.population;
    let layout = population.layout();
    let (wa, wm) = (layout.answer_words(), layout.mask_words());
    let answers = lanes_of(&population.answers);
    let acceptable = lanes_of(&population.acceptable);
    let answered = lanes_of(&population.answered);
    let importance = lanes_of(&population.importance).as_chunks::<PLANES>().0;
    let groups = answers.len() / wa.max(1);
    let first_group = cols.start / LANES;
    let last_group = cols.end.div_ceil(LANES).min(groups);
    let chunk_words: Vec<Range<usize>> = (0..wm).map(|m| layout.chunk_answer_words(m)).collect();
    let stride = counts.violations.ncols();
    // Each dimension's four output tiles, as plain slices (row stride `stride`).
    let mut outputs: Vec<[&mut [f32]; 4]> = counts
        .dimensions
        .iter_mut()
        .map(|out| [&mut out.num_forward, &mut out.den_forward, &mut out.num_backward, &mut out.den_backward])
        .map(|tiles| tiles.map(|tile| tile.as_slice_mut().expect("tiles are in standard layout")))
        .collect();
    let violation_tile = counts.violations.as_slice_mut().expect("tiles are in standard layout");
    let disagreement_tile = counts.disagreements.as_slice_mut().expect("tiles are in standard layout");
    let judged_tile = counts.judged.as_slice_mut().expect("tiles are in standard layout");
    let standards = kernel.extras.standards;
    let mut row = RowWords::default();
    for (r, i) in rows.enumerate() {
        let (gi, li) = (i / LANES, i % LANES);
        row.gather(
            &answers[gi * wa..][..wa],
            &acceptable[gi * wa..][..wa],
            &answered[gi * wm..][..wm],
            &importance[gi * wm..][..wm],
            li,
        );
        for g in first_group..last_group {
            let c = (g - first_group) * LANES;
            let col_answers = &answers[g * wa..][..wa];
            let col_acceptable = &acceptable[g * wa..][..wa];
            let col_answered = &answered[g * wm..][..wm];
            let col_importance = &importance[g * wm..][..wm];
            let mut violations = [0.0f32; LANES];
            let (mut disagreements, mut judged) = (simd.zero(), simd.zero());
            for (place, d) in layout.placements().iter().zip(0..) {
                let mut sums = [[simd.zero(); PLANES]; 4];
                for m in place.mask_words.clone() {
                    // Bit q: the column answered question q in a way the row accepts (forward),
                    // and the other way round (backward).
                    let (mut forward, mut backward) = (simd.zero(), simd.zero());
                    let words = chunk_words[m].clone();
                    for (((mine, theirs), my_acceptable), their_acceptable) in row.answers[words.clone()]
                        .iter()
                        .zip(&col_answers[words.clone()])
                        .zip(&row.acceptable[words.clone()])
                        .zip(&col_acceptable[words])
                    {
                        forward = simd.or_and(forward, simd.splat(*my_acceptable), simd.load(theirs));
                        backward = simd.or_and(backward, simd.splat(*mine), simd.load(their_acceptable));
                    }
                    let (their_answered, my_answered) = (simd.load(&col_answered[m]), simd.splat(row.answered[m]));
                    if standards {
                        // Options of questions both answered, and those judged differently.
                        let both = simd.and(their_answered, my_answered);
                        let words = chunk_words[m].clone();
                        for (mine, theirs) in row.acceptable[words.clone()].iter().zip(&col_acceptable[words]) {
                            let differ = simd.xor_and(simd.splat(*mine), simd.load(theirs), both);
                            disagreements = simd.add(disagreements, simd.popcount(differ));
                        }
                        for &(mask, words) in layout.chunk_option_masks(m) {
                            let options = simd.popcount(simd.and(both, simd.splat(mask)));
                            judged = simd.add(judged, simd.scale(options, words));
                        }
                    }
                    for p in 0..PLANES {
                        let (mine, theirs) = (simd.splat(row.importance[m][p]), simd.load(&col_importance[m][p]));
                        let counts = [
                            simd.popcount(simd.and(forward, mine)),
                            simd.popcount(simd.and(their_answered, mine)),
                            simd.popcount(simd.and(backward, theirs)),
                            simd.popcount(simd.and(my_answered, theirs)),
                        ];
                        for (sum, count) in sums.iter_mut().zip(counts) {
                            sum[p] = if m == place.mask_words.start { count } else { simd.add(sum[p], count) };
                        }
                    }
                }
                let [num_f, den_f, num_b, den_b] = &sums;
                if kernel.extras.exclusions {
                    let (forward, backward) = (simd.unacceptable(den_f, num_f), simd.unacceptable(den_b, num_b));
                    for lane in 0..LANES {
                        violations[lane] += forward[lane] + backward[lane];
                    }
                }
                let at = r * stride + c;
                for (tile, sums) in outputs[d].iter_mut().zip(&sums) {
                    tile[at..][..LANES].copy_from_slice(&simd.weighted(sums));
                }
            }
            violation_tile[r * stride + c..][..LANES].copy_from_slice(&violations);
            if standards {
                disagreement_tile[r * stride + c..][..LANES].copy_from_slice(&simd.to_f32(disagreements));
                judged_tile[r * stride + c..][..LANES].copy_from_slice(&simd.to_f32(judged));
            }
        }
    }
}

/// The packed arrays are built in standard layout with eight lanes innermost.
fn lanes_of(array: &ndarray::Array3<u64>) -> &[Lanes] {
    let flat = array.as_slice().expect("packed arrays are in standard layout");
    flat.as_chunks::<LANES>().0
}
