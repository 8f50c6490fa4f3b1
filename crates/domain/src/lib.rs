//! Matchwell's domain: values that are valid by construction (parse, don't validate) and the
//! catalogue shipped with the project (questionnaire and taxonomy).
//!
//! Invariants: every type here can only be built through a `parse` that checks it, so code
//! holding one never re-checks it; nothing here does IO beyond reading the catalogue embedded
//! in the binary, and nothing knows SQL, HTTP or JSON. Contact details and names redact
//! themselves in `Debug`, so they cannot reach logs by accident.

pub mod anonymity;
mod answers;
mod catalogue;
pub mod challenge;
pub mod digest;
mod errors;
pub mod funnel;
mod identity;
mod kind;
mod profile;
pub mod story;
pub mod text;

pub use answers::{Answer, AnswerSet, RawAnswer, parse_importance};
pub use catalogue::{
    Catalogue, CatalogueError, Nation, OUTSIDE_UK, Question, Questionnaire, Section, Taxonomy, Term, UK, Vocabulary,
};
pub use errors::FieldErrors;
pub use identity::{EmailAddress, OrganisationName, Password};
pub use kind::OrgKind;
pub use profile::{Profile, ProfilePatch};

/// The engine's view of an organisation: its answers and the profile fields that score.
pub fn scoring_input(
    catalogue: &Catalogue,
    kind: OrgKind,
    profile: &Profile,
    answers: &AnswerSet,
) -> scoring::OrgInput {
    let taxonomy = &catalogue.taxonomy;
    scoring::OrgInput {
        answers: answers.to_scoring(&catalogue.questionnaire),
        profile: scoring::Profile {
            kind: kind.index(),
            seeking_kinds: profile.seeking_kinds.iter().fold(0, |bits, k| bits | 1 << k.index()),
            sectors: taxonomy.sectors.bits(&profile.sectors),
            capabilities_offered: taxonomy.capabilities.bits(&profile.capabilities_offered),
            capabilities_sought: taxonomy.capabilities.bits(&profile.capabilities_sought),
        },
    }
}
