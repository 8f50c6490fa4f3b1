//! How much a question matters to an organisation, and the weight each level carries.

/// Importance of a question to the organisation that answered it (OkCupid-style).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Importance {
    Irrelevant,
    ALittle,
    Somewhat,
    Very,
    Mandatory,
}

/// The levels that carry weight, in the order the packed bit planes use.
pub(crate) const WEIGHTED_LEVELS: [Importance; 4] =
    [Importance::ALittle, Importance::Somewhat, Importance::Very, Importance::Mandatory];

/// Weights of [`WEIGHTED_LEVELS`], as used by the kernels.
pub(crate) const LEVEL_WEIGHTS: [u32; 4] = [1, 10, 50, 250];

/// Index of the mandatory plane in [`WEIGHTED_LEVELS`].
pub(crate) const MANDATORY_PLANE: usize = 3;

impl Importance {
    /// All levels, least important first.
    pub const ALL: [Importance; 5] =
        [Importance::Irrelevant, Importance::ALittle, Importance::Somewhat, Importance::Very, Importance::Mandatory];

    /// The weight of the level: `irrelevant 0, a_little 1, somewhat 10, very 50, mandatory 250`.
    pub const fn weight(self) -> u32 {
        match self {
            Importance::Irrelevant => 0,
            Importance::ALittle => 1,
            Importance::Somewhat => 10,
            Importance::Very => 50,
            Importance::Mandatory => 250,
        }
    }

    /// The level whose weight this is, if any (used by raw benchmark inputs).
    pub fn from_weight(weight: u32) -> Option<Importance> {
        Importance::ALL.into_iter().find(|level| level.weight() == weight)
    }

    /// Index of the bit plane that holds this level, `None` for `Irrelevant`.
    pub(crate) fn plane(self) -> Option<usize> {
        WEIGHTED_LEVELS.iter().position(|level| *level == self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_the_contract() {
        let weights: Vec<u32> = Importance::ALL.iter().map(|l| l.weight()).collect();
        assert_eq!(weights, [0, 1, 10, 50, 250]);
        for (plane, level) in WEIGHTED_LEVELS.iter().enumerate() {
            assert_eq!(LEVEL_WEIGHTS[plane], level.weight());
            assert_eq!(level.plane(), Some(plane));
        }
        assert_eq!(Importance::Irrelevant.plane(), None);
        assert_eq!(Importance::from_weight(50), Some(Importance::Very));
        assert_eq!(Importance::from_weight(7), None);
    }
}
