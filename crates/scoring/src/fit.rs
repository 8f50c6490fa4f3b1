//! How well an organisation fits a posted challenge: the share of the capabilities the
//! challenge needs that the organisation offers, the sectors they have in common, and the
//! values compatibility between the organisation and the poster (the questionnaire dimensions
//! of [`compatibility`], both directions). The weights are data, like the model's.

use crate::error::InputError;
use crate::explain::compatibility;
use crate::layout::Layout;
use crate::model::{Model, sector_overlap};
use crate::org::OrgInput;

/// What a challenge asks for, as bits of the taxonomy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChallengeNeeds {
    pub capabilities: u64,
    pub sectors: u64,
}

/// How much each part of a fit weighs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitWeights {
    pub capabilities: f32,
    pub sectors: f32,
    pub values: f32,
}

impl Default for FitWeights {
    fn default() -> FitWeights {
        FitWeights { capabilities: 0.5, sectors: 0.2, values: 0.3 }
    }
}

/// A fit and its parts, each in `0..=1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    pub fit: f32,
    pub capabilities: f32,
    pub sectors: f32,
    pub values: f32,
}

/// The fit of `reader` (the organisation that would respond; `sectors` are the sectors of it
/// that may be taken into account) to a challenge posted by `poster`.
pub fn challenge_fit(
    layout: &Layout,
    model: &Model,
    weights: &FitWeights,
    needs: ChallengeNeeds,
    reader: &OrgInput,
    reader_sectors: u64,
    poster: &OrgInput,
) -> Result<Fit, InputError> {
    let pair = compatibility(layout, model, reader, poster)?;
    // A mandatory question answered unacceptably rules the values out, as it rules out a match.
    let mandatory = matches!(pair.excluded, Some(crate::explain::Exclusion::Mandatory { .. }));
    let values = if mandatory || pair.dimensions.is_empty() || pair.common_questions == 0 {
        0.0
    } else {
        pair.dimensions.iter().sum::<f32>() / pair.dimensions.len() as f32
    };
    let needed = needs.capabilities.count_ones();
    let capabilities = if needed == 0 {
        0.0
    } else {
        (needs.capabilities & reader.profile.capabilities_offered).count_ones() as f32 / needed as f32
    };
    let sectors = sector_overlap(needs.sectors, reader_sectors);
    let total = weights.capabilities + weights.sectors + weights.values;
    let fit = if total > 0.0 {
        (weights.capabilities * capabilities + weights.sectors * sectors + weights.values * values) / total
    } else {
        0.0
    };
    Ok(Fit { fit: fit.clamp(0.0, 1.0), capabilities, sectors, values })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org::{Profile, QuestionAnswer};

    fn org(option: u8, offered: u64, sectors: u64) -> OrgInput {
        let answer = QuestionAnswer { answer: option, acceptable: 1 << option, importance: crate::Importance::Very };
        OrgInput {
            answers: vec![Some(answer); 2],
            profile: Profile {
                kind: 0,
                seeking_kinds: 0,
                sectors,
                capabilities_offered: offered,
                capabilities_sought: 0,
            },
        }
    }

    #[test]
    fn the_fit_combines_capabilities_sectors_and_values() {
        let layout = Layout::uniform(2, 3).expect("layout");
        let model = Model::standard(&layout);
        let weights = FitWeights::default();
        let needs = ChallengeNeeds { capabilities: 0b0110, sectors: 0b1 };
        let poster = org(0, 0, 0b1);
        let perfect = challenge_fit(&layout, &model, &weights, needs, &org(0, 0b0110, 0b1), 0b1, &poster).expect("fit");
        assert_eq!((perfect.capabilities, perfect.sectors, perfect.values), (1.0, 1.0, 1.0));
        assert!((perfect.fit - 1.0).abs() < 1e-6);
        let half = challenge_fit(&layout, &model, &weights, needs, &org(0, 0b0010, 0b10), 0b10, &poster).expect("fit");
        assert_eq!((half.capabilities, half.sectors), (0.5, 0.0));
        let strangers =
            challenge_fit(&layout, &model, &weights, needs, &org(1, 0b0110, 0b1), 0b1, &poster).expect("fit");
        assert_eq!(strangers.values, 0.0, "answers neither accepts");
        assert!(perfect.fit > strangers.fit && strangers.fit > half.fit - 0.5);
    }
}
