//! What the engine knows of one organisation: its answers and the profile fields that score.

use crate::importance::Importance;

/// One answered question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuestionAnswer {
    /// The organisation's own option, `0..options`.
    pub answer: u8,
    /// Bit `o` set when option `o` is acceptable from a partner.
    pub acceptable: u32,
    pub importance: Importance,
}

impl QuestionAnswer {
    pub fn accepts(&self, option: u8) -> bool {
        self.acceptable >> option & 1 == 1
    }
}

/// Profile fields that take part in scoring, as bit sets over the taxonomy's indices.
/// The engine does not know what the bits mean; the domain maps vocabulary ids to them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Profile {
    /// Index of the organisation's kind, `0..32`.
    pub kind: u8,
    /// Kinds this organisation wants to meet; empty means any. A hard filter.
    pub seeking_kinds: u32,
    pub sectors: u64,
    pub capabilities_offered: u64,
    pub capabilities_sought: u64,
}

/// Everything the engine needs of one organisation: an answer (or `None`) per question of the
/// layout, in global question order, and the profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgInput {
    pub answers: Vec<Option<QuestionAnswer>>,
    pub profile: Profile,
}

/// How open an organisation is: of the options of the questions it answered, how many it
/// accepts from a partner. The shared-standards term discounts the agreement two organisations
/// would reach by chance from their openness alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Openness {
    pub accepted: u32,
    pub options: u32,
}

impl Openness {
    /// The shares of options accepted and ruled out (both 0 without answers).
    pub fn shares(self) -> (f32, f32) {
        if self.options == 0 {
            return (0.0, 0.0);
        }
        let options = f64::from(self.options);
        let accepted = f64::from(self.accepted) / options;
        let ruled_out = f64::from(self.options - self.accepted) / options;
        (accepted as f32, ruled_out as f32)
    }
}

impl OrgInput {
    pub(crate) fn openness(&self, layout: &crate::Layout) -> Openness {
        let answered = self.answers.iter().enumerate().filter_map(|(q, a)| Some((q, a.as_ref()?)));
        answered.fold(Openness::default(), |open, (q, answer)| Openness {
            accepted: open.accepted + answer.acceptable.count_ones(),
            options: open.options + u32::from(layout.options(q)),
        })
    }
}

impl Profile {
    /// Whether this organisation accepts to meet one of `kind`.
    #[inline(always)]
    pub fn welcomes(&self, kind: u8) -> bool {
        self.seeking_kinds == 0 || self.seeking_kinds >> kind & 1 == 1
    }
}
