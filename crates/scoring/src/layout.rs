//! The shape of a questionnaire as the engine sees it: dimensions of questions with K options,
//! and where each question's bits live in the packed representation.

use crate::error::InputError;

/// Most options a question may have (acceptable sets are `u32` bit masks).
pub const MAX_OPTIONS: u8 = 32;

/// One question: a short label used in explanations and its number of options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionSpec {
    pub label: String,
    pub options: u8,
}

/// One dimension of the compatibility vector: a questionnaire section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionSpec {
    pub label: String,
    pub questions: Vec<QuestionSpec>,
}

/// Where a dimension's bits live. Questions go in chunks of 64, one mask word per chunk (bit
/// `q % 64` is question `q` of the chunk). Answers are option-major: a chunk whose questions
/// have at most `K` options owns `K` consecutive answer words, word `o` holding option `o` of
/// every question of the chunk at the question's bit. So `OR over o of (mine[o] AND theirs[o])`
/// is one bit per question, aligned with the mask word. Each dimension starts on fresh words so
/// that kernels can sum per dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DimensionPlacement {
    pub answer_words: std::ops::Range<usize>,
    pub mask_words: std::ops::Range<usize>,
    /// Column ranges in the dense (unpadded) matrices used by the GEMM kernel.
    pub option_columns: std::ops::Range<usize>,
    pub question_columns: std::ops::Range<usize>,
}

/// A validated questionnaire layout. Questions are numbered globally, dimension by dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    dimensions: Vec<DimensionSpec>,
    placements: Vec<DimensionPlacement>,
    /// Per global question: where its bits and dense columns are.
    questions: Vec<QuestionSlot>,
    /// Per mask word: its chunk's option words.
    chunk_answer_words: Vec<std::ops::Range<usize>>,
    /// Per mask word: the questions of its chunk that have option `o`, for each option word
    /// `o`, with equal masks merged as `(mask, option words)` (masks only shrink as `o` grows).
    chunk_option_masks: Vec<Vec<(u64, u32)>>,
    answer_words: usize,
    mask_words: usize,
    option_columns: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QuestionSlot {
    pub dimension: usize,
    /// The first option word of the question's chunk.
    pub answer_word: usize,
    pub mask_bit: usize,
    pub options: u8,
    pub option_column: usize,
}

impl QuestionSlot {
    /// Bit index of option `option` in the answer words.
    pub fn option_bit(&self, option: usize) -> usize {
        (self.answer_word + option) * 64 + self.mask_bit % 64
    }
}

impl Layout {
    /// Checks the specification (at least one dimension, every dimension with questions, every
    /// question with 2..=32 options) and places every bit.
    pub fn new(dimensions: Vec<DimensionSpec>) -> Result<Layout, InputError> {
        if dimensions.is_empty() {
            return Err(InputError::EmptyLayout);
        }
        let mut placements = Vec::with_capacity(dimensions.len());
        let mut questions = Vec::new();
        let mut chunk_answer_words = Vec::new();
        let mut chunk_option_masks = Vec::new();
        let (mut answer_word, mut mask_word, mut option_column) = (0, 0, 0);
        for (d, dimension) in dimensions.iter().enumerate() {
            if dimension.questions.is_empty() {
                return Err(InputError::EmptyDimension(d));
            }
            let (answer_start, mask_start, column_start) = (answer_word, mask_word, option_column);
            for chunk in dimension.questions.chunks(64) {
                let widest = chunk.iter().map(|q| q.options).max().unwrap_or(0);
                for (q, question) in chunk.iter().enumerate() {
                    if !(2..=MAX_OPTIONS).contains(&question.options) {
                        return Err(InputError::OptionCount { question: questions.len(), options: question.options });
                    }
                    questions.push(QuestionSlot {
                        dimension: d,
                        answer_word,
                        mask_bit: mask_word * 64 + q,
                        options: question.options,
                        option_column,
                    });
                    option_column += usize::from(question.options);
                }
                chunk_answer_words.push(answer_word..answer_word + usize::from(widest));
                let mut masks: Vec<(u64, u32)> = Vec::new();
                for option in 0..widest {
                    let mask = chunk
                        .iter()
                        .enumerate()
                        .filter(|(_, question)| question.options > option)
                        .fold(0u64, |mask, (q, _)| mask | 1 << q);
                    match masks.last_mut() {
                        Some((last, count)) if *last == mask => *count += 1,
                        _ => masks.push((mask, 1)),
                    }
                }
                chunk_option_masks.push(masks);
                answer_word += usize::from(widest);
                mask_word += 1;
            }
            placements.push(DimensionPlacement {
                answer_words: answer_start..answer_word,
                mask_words: mask_start..mask_word,
                option_columns: column_start..option_column,
                question_columns: (questions.len() - dimension.questions.len())..questions.len(),
            });
        }
        Ok(Layout {
            dimensions,
            placements,
            questions,
            chunk_answer_words,
            chunk_option_masks,
            answer_words: answer_word,
            mask_words: mask_word,
            option_columns: option_column,
        })
    }

    /// A single dimension of `questions` questions with `options` options each: the plain model
    /// of the benchmark.
    pub fn uniform(questions: usize, options: u8) -> Result<Layout, InputError> {
        Layout::new(vec![DimensionSpec {
            label: "all questions".to_owned(),
            questions: (0..questions).map(|q| QuestionSpec { label: format!("question {}", q + 1), options }).collect(),
        }])
    }

    pub fn dimensions(&self) -> &[DimensionSpec] {
        &self.dimensions
    }

    /// Number of questions over all dimensions.
    pub fn question_count(&self) -> usize {
        self.questions.len()
    }

    /// Options of the question with this global index.
    pub fn options(&self, question: usize) -> u8 {
        self.questions[question].options
    }

    /// Label of the question with this global index.
    pub fn question_label(&self, question: usize) -> &str {
        let slot = self.questions[question];
        let first = self.placements[slot.dimension].question_columns.start;
        &self.dimensions[slot.dimension].questions[question - first].label
    }

    /// Dimension index of the question with this global index.
    pub fn dimension_of(&self, question: usize) -> usize {
        self.questions[question].dimension
    }

    pub(crate) fn slot(&self, question: usize) -> QuestionSlot {
        self.questions[question]
    }

    pub(crate) fn placements(&self) -> &[DimensionPlacement] {
        &self.placements
    }

    /// The option words of the chunk of mask word `mask_word`.
    pub(crate) fn chunk_answer_words(&self, mask_word: usize) -> std::ops::Range<usize> {
        self.chunk_answer_words[mask_word].clone()
    }

    /// The questions of mask word `mask_word`'s chunk that have each option, as `(mask, number
    /// of option words with that mask)`.
    pub(crate) fn chunk_option_masks(&self, mask_word: usize) -> &[(u64, u32)] {
        &self.chunk_option_masks[mask_word]
    }

    pub(crate) fn answer_words(&self) -> usize {
        self.answer_words
    }

    pub(crate) fn mask_words(&self) -> usize {
        self.mask_words
    }

    pub(crate) fn option_columns(&self) -> usize {
        self.option_columns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dim(label: &str, options: &[u8]) -> DimensionSpec {
        DimensionSpec {
            label: label.to_owned(),
            questions: options.iter().map(|&options| QuestionSpec { label: String::new(), options }).collect(),
        }
    }

    #[test]
    fn dimensions_start_on_fresh_words() {
        let layout = Layout::new(vec![dim("a", &[5; 13]), dim("b", &[3, 4]), dim("c", &[2; 70])]).expect("valid");
        let p = layout.placements();
        assert_eq!(p[0].answer_words, 0..5, "five options, one word each");
        assert_eq!(p[1].answer_words, 5..9, "as many words as the widest question has options");
        assert_eq!(p[2].answer_words, 9..13, "70 questions: two chunks of two option words");
        assert_eq!(p[0].mask_words, 0..1);
        assert_eq!(p[1].mask_words, 1..2);
        assert_eq!(p[2].mask_words, 2..4);
        assert_eq!(layout.chunk_answer_words(3), 11..13);
        assert_eq!(p[1].option_columns, 65..72);
        assert_eq!(p[1].question_columns, 13..15);
        assert_eq!(layout.slot(12).option_bit(4), 4 * 64 + 12);
        assert_eq!(layout.slot(13).option_bit(0), 5 * 64);
        assert_eq!(layout.slot(14).option_bit(3), 8 * 64 + 1);
        assert_eq!(layout.slot(14).mask_bit, 65);
        assert_eq!(layout.slot(15 + 64).mask_bit, 3 * 64);
        assert_eq!(layout.slot(15 + 65).option_bit(1), 12 * 64 + 1);
        assert_eq!(layout.dimension_of(14), 1);
        assert_eq!(layout.chunk_option_masks(0), [((1 << 13) - 1, 5)]);
        assert_eq!(
            layout.chunk_option_masks(1),
            [(0b11, 3), (0b10, 1)],
            "only the second question has a fourth option"
        );
    }

    #[test]
    fn bad_layouts_are_refused() {
        assert_eq!(Layout::new(vec![]), Err(InputError::EmptyLayout));
        assert_eq!(Layout::new(vec![dim("a", &[])]), Err(InputError::EmptyDimension(0)));
        assert_eq!(Layout::new(vec![dim("a", &[3, 1])]), Err(InputError::OptionCount { question: 1, options: 1 }));
        assert!(Layout::new(vec![dim("a", &[33])]).is_err());
    }
}
