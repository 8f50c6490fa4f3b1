//! All organisations packed for the kernels: one-hot answers and acceptable sets as option-major
//! bit words (see [`crate::layout`]), answered questions and their importance levels as bit
//! planes, eight organisations side by side so that one vector lane holds one organisation.

use ndarray::{Array2, Array3, ArrayView1, ArrayViewMut1, s};

use crate::error::InputError;
use crate::importance::{MANDATORY_PLANE, WEIGHTED_LEVELS};
use crate::layout::Layout;
use crate::org::{OrgInput, Profile};

/// Organisations per lane group.
pub(crate) const LANES: usize = 8;
const PLANES: usize = WEIGHTED_LEVELS.len();

/// The packed population. Organisation `i` lives in group `i / 8`, lane `i % 8`; lanes past the
/// last organisation are all zero, which the engine never reports as a partner.
#[derive(Debug, Clone)]
pub struct Population {
    layout: Layout,
    len: usize,
    /// One-hot own answers: (groups, answer words, lanes).
    pub(crate) answers: Array3<u64>,
    /// Acceptable options of answered questions: (groups, answer words, lanes).
    pub(crate) acceptable: Array3<u64>,
    /// Answered questions: (groups, mask words, lanes).
    pub(crate) answered: Array3<u64>,
    /// Answered questions at each weighted level: (groups, mask words * planes, lanes).
    pub(crate) importance: Array3<u64>,
    pub(crate) profiles: Vec<Profile>,
    /// Per organisation, the shares of options it accepts and rules out (see
    /// [`crate::shared_standards`]).
    pub(crate) openness: Vec<(f32, f32)>,
}

impl Population {
    /// Packs `orgs`, checking each against the layout.
    pub fn new(layout: Layout, orgs: &[OrgInput]) -> Result<Population, InputError> {
        let mut population = Population::with_capacity(layout, orgs.len());
        for org in orgs {
            population.push(org)?;
        }
        Ok(population)
    }

    fn with_capacity(layout: Layout, capacity: usize) -> Population {
        let groups = capacity.div_ceil(LANES);
        let (wa, wm) = (layout.answer_words(), layout.mask_words());
        Population {
            answers: Array3::zeros((groups, wa, LANES)),
            acceptable: Array3::zeros((groups, wa, LANES)),
            answered: Array3::zeros((groups, wm, LANES)),
            importance: Array3::zeros((groups, PLANES * wm, LANES)),
            profiles: Vec::with_capacity(capacity),
            openness: Vec::with_capacity(capacity),
            layout,
            len: 0,
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn profile(&self, org: usize) -> &Profile {
        &self.profiles[org]
    }

    /// Appends an organisation; its index is the previous `len()`.
    pub fn push(&mut self, org: &OrgInput) -> Result<usize, InputError> {
        let index = self.len;
        self.check(index, org)?;
        if index / LANES == self.answers.dim().0 {
            self.grow();
        }
        self.len += 1;
        self.profiles.push(org.profile);
        self.openness.push(org.openness(&self.layout).shares());
        self.write(index, org);
        Ok(index)
    }

    /// Replaces the answers and profile of organisation `index`.
    pub fn replace(&mut self, index: usize, org: &OrgInput) -> Result<(), InputError> {
        if index >= self.len {
            return Err(InputError::OrgIndex { org: index, len: self.len });
        }
        self.check(index, org)?;
        self.profiles[index] = org.profile;
        self.openness[index] = org.openness(&self.layout).shares();
        self.write(index, org);
        Ok(())
    }

    fn check(&self, index: usize, org: &OrgInput) -> Result<(), InputError> {
        let expected = self.layout.question_count();
        if org.answers.len() != expected {
            return Err(InputError::AnswerCount { org: index, got: org.answers.len(), expected });
        }
        if org.profile.kind >= 32 {
            return Err(InputError::Kind { org: index, kind: org.profile.kind });
        }
        for (question, answer) in org.answers.iter().enumerate() {
            let Some(answer) = answer else { continue };
            let options = u32::from(self.layout.options(question));
            let stray = answer.acceptable & !((1u32 << options) - 1);
            if u32::from(answer.answer) >= options || stray != 0 {
                let option =
                    if u32::from(answer.answer) >= options { u32::from(answer.answer) } else { stray.trailing_zeros() };
                return Err(InputError::UnknownOption { org: index, question, option });
            }
        }
        Ok(())
    }

    fn grow(&mut self) {
        let groups = (self.answers.dim().0 * 2).max(1);
        for array in [&mut self.answers, &mut self.acceptable, &mut self.answered, &mut self.importance] {
            let (old, words, lanes) = array.dim();
            let mut bigger = Array3::zeros((groups, words, lanes));
            bigger.slice_mut(s![..old, .., ..]).assign(array);
            *array = bigger;
        }
    }

    fn write(&mut self, index: usize, org: &OrgInput) {
        let (group, lane) = (index / LANES, index % LANES);
        let mut answers = self.answers.slice_mut(s![group, .., lane]);
        let mut acceptable = self.acceptable.slice_mut(s![group, .., lane]);
        let mut answered = self.answered.slice_mut(s![group, .., lane]);
        let mut importance = self.importance.slice_mut(s![group, .., lane]);
        for view in [&mut answers, &mut acceptable, &mut answered, &mut importance] {
            view.fill(0);
        }
        for (question, answer) in org.answers.iter().enumerate() {
            let Some(answer) = answer else { continue };
            let slot = self.layout.slot(question);
            set_bit(&mut answers, slot.option_bit(usize::from(answer.answer)));
            set_bit(&mut answered, slot.mask_bit);
            for option in 0..slot.options {
                if answer.accepts(option) {
                    set_bit(&mut acceptable, slot.option_bit(usize::from(option)));
                }
            }
            if let Some(plane) = answer.importance.plane() {
                set_bit(&mut importance, planed(slot.mask_bit, plane));
            }
        }
    }

    /// Dense 0/1 and weight matrices for the GEMM kernel, one row per organisation; the two
    /// that shared standards need only `with_standards` (empty otherwise).
    pub(crate) fn dense(&self, with_standards: bool) -> DenseOperands {
        let layout = &self.layout;
        let (n, columns, questions) = (self.len, layout.option_columns(), layout.question_count());
        let standards_rows = if with_standards { n } else { 0 };
        let mut dense = DenseOperands {
            one_hot: Array2::zeros((n, columns)),
            weighted_acceptable: Array2::zeros((n, columns)),
            mandatory_unacceptable: Array2::zeros((n, columns)),
            answered: Array2::zeros((n, questions)),
            weight: Array2::zeros((n, questions)),
            acceptable: Array2::zeros((standards_rows, columns)),
            answered_options: Array2::zeros((standards_rows, columns)),
        };
        for i in 0..n {
            let (group, lane) = (i / LANES, i % LANES);
            let answers = self.answers.slice(s![group, .., lane]);
            let acceptable = self.acceptable.slice(s![group, .., lane]);
            let answered = self.answered.slice(s![group, .., lane]);
            let importance = self.importance.slice(s![group, .., lane]);
            for question in 0..questions {
                let slot = layout.slot(question);
                let level = (0..PLANES).find(|&p| bit(&importance, planed(slot.mask_bit, p)));
                let is_answered = bit(&answered, slot.mask_bit);
                if is_answered {
                    dense.answered[[i, question]] = 1.0;
                }
                let weight = level.map_or(0.0, |p| WEIGHTED_LEVELS[p].weight() as f32);
                dense.weight[[i, question]] = weight;
                for option in 0..usize::from(slot.options) {
                    let column = slot.option_column + option;
                    if bit(&answers, slot.option_bit(option)) {
                        dense.one_hot[[i, column]] = 1.0;
                    }
                    if is_answered && with_standards {
                        dense.answered_options[[i, column]] = 1.0;
                        if bit(&acceptable, slot.option_bit(option)) {
                            dense.acceptable[[i, column]] = 1.0;
                        }
                    }
                    let Some(plane) = level else { continue };
                    if bit(&acceptable, slot.option_bit(option)) {
                        dense.weighted_acceptable[[i, column]] = weight;
                    } else if plane == MANDATORY_PLANE {
                        dense.mandatory_unacceptable[[i, column]] = 1.0;
                    }
                }
            }
        }
        dense
    }
}

/// Dense operands of the GEMM kernel (rows: organisations).
#[derive(Debug)]
pub(crate) struct DenseOperands {
    pub one_hot: Array2<f32>,
    pub weighted_acceptable: Array2<f32>,
    pub mandatory_unacceptable: Array2<f32>,
    pub answered: Array2<f32>,
    pub weight: Array2<f32>,
    /// Acceptable options (0/1), and every option of an answered question (no rows without
    /// shared standards).
    pub acceptable: Array2<f32>,
    pub answered_options: Array2<f32>,
}

/// Bit index of `bit` in the plane `plane` of a word-major planed array.
fn planed(bit: usize, plane: usize) -> usize {
    (bit / 64 * PLANES + plane) * 64 + bit % 64
}

fn set_bit(words: &mut ArrayViewMut1<u64>, bit: usize) {
    words[bit / 64] |= 1 << (bit % 64);
}

fn bit(words: &ArrayView1<u64>, bit: usize) -> bool {
    words[bit / 64] >> (bit % 64) & 1 == 1
}
