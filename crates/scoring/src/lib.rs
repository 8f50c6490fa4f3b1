//! Matchwell's compatibility engine.
//!
//! Organisations answer questions grouped into dimensions (questionnaire sections): their own
//! option, the options they accept from a partner and how much the question matters. The
//! satisfaction of A by B on a dimension is the importance-weighted share of A's questions, among
//! those both answered, where B's answer is acceptable to A; the pair's score on the dimension is
//! the geometric mean of both directions. Profile dimensions (reciprocal complementarity of
//! capabilities, shared sectors) join the vector; kinds an organisation does not seek, and
//! mandatory questions answered unacceptably, exclude a pair. [`Model`] holds the weights.
//!
//! Entry points: [`top_k`] (every organisation's best partners, blocked, on all cores),
//! [`rescore`] (one organisation changed), [`score_row`], and [`compatibility`] (one pair in
//! full, with reasons in words), and [`challenge_fit`] (an organisation against a posted
//! challenge).
//!
//! Invariants: this crate is pure. It does no IO, spawns no async tasks and knows nothing of
//! databases, HTTP, organisations' identities or the questionnaire's wording beyond the labels
//! it is given. It never holds an `N x N` matrix: memory is `O(threads * (N * k + block^2))`.

mod engine;
mod error;
mod explain;
mod fit;
mod importance;
mod kernel;
mod layout;
mod learn;
mod model;
mod org;
mod population;
mod topk;

pub use engine::{EXCLUDED, Options, Rescored, rescore, score_row, top_k, top_k_with_progress};
pub use error::InputError;
pub use explain::{Compatibility, Exclusion, MAX_REASONS, Reason, compatibility};
pub use fit::{ChallengeNeeds, Fit, FitWeights, challenge_fit};
pub use importance::Importance;
pub use kernel::KernelChoice;
pub use layout::{DimensionSpec, Layout, MAX_OPTIONS, QuestionSpec};
pub use learn::{Evaluation, Example, LearnOptions, Learned, learn};
pub use model::{Model, sector_overlap, shared_standards};
pub use org::{OrgInput, Profile, QuestionAnswer};
pub use population::Population;
pub use topk::{Partner, TopK};

#[cfg(test)]
mod reference_tests;
