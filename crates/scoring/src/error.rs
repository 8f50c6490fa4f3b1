//! Why the engine refuses an input.

/// An input that does not fit the layout or the engine's limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("the layout has no dimensions")]
    EmptyLayout,
    #[error("dimension {0} has no questions")]
    EmptyDimension(usize),
    #[error("question {question} has {options} options; between 2 and 32 are supported")]
    OptionCount { question: usize, options: u8 },
    #[error("organisation {org} has {got} answers but the layout has {expected} questions")]
    AnswerCount { org: usize, got: usize, expected: usize },
    #[error("organisation {org}, question {question}: option {option} does not exist")]
    UnknownOption { org: usize, question: usize, option: u32 },
    #[error("organisation {org}: kind {kind} is outside 0..32")]
    Kind { org: usize, kind: u8 },
    #[error("organisation index {org} is out of range for {len} organisations")]
    OrgIndex { org: usize, len: usize },
    #[error("the model has {got} dimension weights but the layout has {expected} dimensions")]
    WeightCount { got: usize, expected: usize },
    #[error("weights must be finite and non-negative, and at least one must be positive")]
    Weights,
}
