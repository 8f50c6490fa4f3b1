//! The scoring model's parameters: how the compatibility vector combines into one score.
//! Weights are data, chosen by the caller (and later learned from outcomes), never constants
//! buried in the kernels.

use crate::error::InputError;
use crate::layout::Layout;

/// Parameters of the overall score and the confidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Weight of each question dimension, in layout order.
    pub dimension_weights: Vec<f32>,
    /// Weight of the reciprocal complementarity of capabilities offered and sought.
    pub complementarity_weight: f32,
    /// Weight of shared sectors.
    pub sector_weight: f32,
    /// Weight of shared standards (see [`shared_standards`]).
    pub standards_weight: f32,
    /// Whether a `mandatory` question answered unacceptably excludes the pair.
    pub mandatory_excludes: bool,
    /// Number of questions in common at which the confidence reaches one half.
    pub confidence_half: f32,
}

impl Model {
    /// The plain reciprocal model of the benchmark peer: question dimensions only, weighted
    /// equally, no profile dimensions, no exclusions.
    pub fn plain(layout: &Layout) -> Model {
        Model {
            dimension_weights: vec![1.0; layout.dimensions().len()],
            complementarity_weight: 0.0,
            sector_weight: 0.0,
            standards_weight: 0.0,
            mandatory_excludes: false,
            confidence_half: 10.0,
        }
    }

    /// The service's starting model: every question dimension weighs 1, complementarity of
    /// capabilities half as much as all of them together, shared sectors half a dimension,
    /// shared standards three times as much as all question dimensions together, and mandatory
    /// questions exclude. Shared standards weigh most because what an organisation accepts and
    /// rules out in a partner states its values directly, while its own answers describe its
    /// practice today; `matchwell bench quality` (README, "Benchmarks") measured the weight,
    /// and learning from outcomes re-weighs it.
    pub fn standard(layout: &Layout) -> Model {
        let dimensions = layout.dimensions().len();
        Model {
            dimension_weights: vec![1.0; dimensions],
            complementarity_weight: dimensions as f32 / 2.0,
            sector_weight: 0.5,
            standards_weight: 3.0 * dimensions as f32,
            mandatory_excludes: true,
            confidence_half: 10.0,
        }
    }

    /// Checks the weights against the layout.
    pub fn check(&self, layout: &Layout) -> Result<(), InputError> {
        let expected = layout.dimensions().len();
        if self.dimension_weights.len() != expected {
            return Err(InputError::WeightCount { got: self.dimension_weights.len(), expected });
        }
        let weights = || {
            let profile = [&self.complementarity_weight, &self.sector_weight, &self.standards_weight];
            self.dimension_weights.iter().chain(profile)
        };
        let valid = weights().all(|w| w.is_finite() && *w >= 0.0) && weights().any(|w| *w > 0.0);
        if !(valid && self.confidence_half.is_finite() && self.confidence_half > 0.0) {
            return Err(InputError::Weights);
        }
        Ok(())
    }

    /// The sum of every weight; the overall score divides by it.
    pub fn total_weight(&self) -> f32 {
        self.dimension_weights.iter().sum::<f32>()
            + self.complementarity_weight
            + self.sector_weight
            + self.standards_weight
    }

    pub(crate) fn uses_profile(&self) -> bool {
        self.complementarity_weight > 0.0 || self.sector_weight > 0.0
    }

    /// Confidence for `common` questions answered by both: `common / (common + half)`.
    pub fn confidence(&self, common: usize) -> f32 {
        let common = common as f32;
        common / (common + self.confidence_half)
    }
}

/// Reciprocal complementarity: the geometric mean over both directions of the share of what
/// one side seeks that the other offers; one direction alone when only one side seeks
/// anything; 0 when neither does.
#[inline(always)]
pub(crate) fn complementarity(sought_a: u64, offered_a: u64, sought_b: u64, offered_b: u64) -> f32 {
    let share = |sought: u64, offered: u64| {
        (sought != 0).then(|| (sought & offered).count_ones() as f32 / sought.count_ones() as f32)
    };
    match (share(sought_a, offered_b), share(sought_b, offered_a)) {
        (Some(a), Some(b)) => (a * b).sqrt(),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => 0.0,
    }
}

/// Shared standards: over the questions both answered, how often the two organisations judge
/// an answer alike (both accept it from a partner, or both rule it out), beyond what their
/// openness alone would give by chance — Cohen's kappa, with the chance agreement
/// `e = p_a p_b + (1 - p_a)(1 - p_b)` from each side's share of accepted options over all its
/// answers — less twice the spread that kappa has by chance alone over `n` judged options,
/// `sqrt(e / ((1 - e) n))`. Organisations that accept and rule out the same things share
/// values; two that accept almost everything agree often and say little; and agreement that
/// chance could plausibly give counts for nothing, so that the term does not drown the other
/// dimensions in noise where values tell nothing. 0 when nothing was judged by both or chance
/// explains every agreement; never negative.
///
/// `disagreements` and `judged` count options (judged differently; of questions both answered);
/// `a` and `b` are each side's shares of options it accepts and rules out
/// ([`crate::OrgInput`]'s openness), so that `1 - e` is computed without cancellation. Written
/// as `kappa = 1 - d / m` and `spread = sqrt(e / m)` with `m = (1 - e) n`: one division and one
/// square root, branch-free, so that the engine's loop over a tile vectorises; every kernel
/// and the explanation call this one function on the same integers.
#[inline(always)]
pub fn shared_standards(disagreements: f32, judged: f32, a: (f32, f32), b: (f32, f32)) -> f32 {
    let chance = a.0 * b.0 + a.1 * b.1;
    let beyond = a.0 * b.1 + a.1 * b.0;
    let m = beyond * judged;
    let valid = m > 0.0;
    let r = 1.0 / if valid { m } else { 1.0 };
    let kappa = 1.0 - disagreements * r;
    let value = (kappa - 2.0 * (chance * r).sqrt()).clamp(0.0, 1.0);
    if valid { value } else { 0.0 }
}

/// Shared sectors: the overlap coefficient, `|A ∩ B| / min(|A|, |B|)`, 0 when either is empty.
/// The `sectors` dimension: sectors in common over the smaller set (0 when either is empty).
#[inline(always)]
pub fn sector_overlap(a: u64, b: u64) -> f32 {
    let smaller = a.count_ones().min(b.count_ones());
    if smaller == 0 { 0.0 } else { (a & b).count_ones() as f32 / smaller as f32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_standards_discount_chance_agreement() {
        let half = (0.5, 0.5);
        // Judged alike on 80 of 100 options; each side accepts half of its options: chance 0.5,
        // kappa 0.6, less twice its spread by chance over 100 options, 2 sqrt(1 / 100).
        assert!((shared_standards(20.0, 100.0, half, half) - 0.4).abs() < 1e-6);
        // Over 10 options the same agreement could be chance.
        assert_eq!(shared_standards(2.0, 10.0, half, half), 0.0);
        // The same agreement between two that accept nearly everything is mostly chance.
        assert_eq!(shared_standards(20.0, 100.0, (0.9, 0.1), (0.9, 0.1)), 0.0);
        let open = (1.0, 0.0);
        assert_eq!(shared_standards(0.0, 10.0, open, open), 0.0, "both accept everything: chance explains it");
        assert_eq!(shared_standards(0.0, 0.0, half, half), 0.0, "nothing judged by both");
        assert!((shared_standards(0.0, 100.0, half, half) - 0.8).abs() < 1e-6);
        assert_eq!(shared_standards(10.0, 10.0, half, half), 0.0, "disagreeing on everything is not negative");
    }

    #[test]
    fn complementarity_is_reciprocal() {
        // A seeks {0,1} and B offers {0}; B seeks {2} and A offers {2}.
        assert!((complementarity(0b11, 0b100, 0b100, 0b1) - 0.5f32.sqrt()).abs() < 1e-6);
        // Nobody offers what the other seeks.
        assert_eq!(complementarity(0b1, 0b1, 0b10, 0b10), 0.0);
        // Only A seeks anything.
        assert_eq!(complementarity(0b11, 0, 0, 0b1), 0.5);
        assert_eq!(complementarity(0, 0b1, 0, 0b1), 0.0);
    }

    #[test]
    fn sector_overlap_uses_the_smaller_set() {
        assert_eq!(sector_overlap(0b1, 0b111), 1.0);
        assert_eq!(sector_overlap(0b11, 0b110), 0.5);
        assert_eq!(sector_overlap(0, 0b1), 0.0);
    }

    #[test]
    fn weights_are_checked() {
        let layout = Layout::uniform(3, 3).expect("layout");
        let mut model = Model::standard(&layout);
        assert_eq!(model.check(&layout), Ok(()));
        model.dimension_weights.push(1.0);
        assert!(model.check(&layout).is_err());
        let mut model = Model::plain(&layout);
        model.dimension_weights[0] = f32::NAN;
        assert_eq!(model.check(&layout), Err(InputError::Weights));
        model.dimension_weights[0] = 0.0;
        assert_eq!(model.check(&layout), Err(InputError::Weights), "all weights zero");
    }

    #[test]
    fn confidence_grows_with_common_questions() {
        let model = Model::plain(&Layout::uniform(3, 3).expect("layout"));
        assert_eq!(model.confidence(0), 0.0);
        assert_eq!(model.confidence(10), 0.5);
        assert!(model.confidence(40) > model.confidence(20));
    }
}
