//! One pair in full: the compatibility vector, overall score, confidence and the reasons a
//! member reads, from the viewer's side. A plain scalar computation, used when a match is
//! shown; the kernels produce the same overall score in bulk.

use std::cmp::Reverse;

use crate::error::InputError;
use crate::importance::Importance;
use crate::layout::Layout;
use crate::model::{Model, complementarity, sector_overlap, shared_standards};
use crate::org::OrgInput;

/// Why a pair may never be suggested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exclusion {
    /// A question one side marked mandatory was answered in a way it does not accept.
    Mandatory { question: usize },
    /// One side only meets other kinds of organisation.
    Kind,
}

/// A statement about the pair, strongest first in [`Compatibility::reasons`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason {
    StrongDimension {
        dimension: usize,
        score: f32,
    },
    /// Both answered, each accepts the other's answer, and it matters to them.
    SharedPriority {
        question: usize,
        both_care: bool,
    },
    TheyOfferWhatYouSeek {
        offered: u32,
        sought: u32,
    },
    YouOfferWhatTheySeek {
        offered: u32,
        sought: u32,
    },
    SharedSectors {
        count: u32,
    },
    /// Both accept and rule out the same answers from a partner, well beyond chance:
    /// `alike` of the `judged` options of the questions both answered.
    SharedStandards {
        alike: u32,
        judged: u32,
    },
    /// The other side's answer is not one the viewer accepts.
    YouDoNotAccept {
        question: usize,
        mandatory: bool,
    },
    /// The viewer's answer is not one the other side accepts.
    TheyDoNotAccept {
        question: usize,
        mandatory: bool,
    },
    WeakDimension {
        dimension: usize,
        score: f32,
    },
}

impl Reason {
    /// The reason in words, with the layout's labels.
    pub fn describe(&self, layout: &Layout) -> String {
        let dimension = |d: usize| layout.dimensions()[d].label.as_str();
        let percent = |s: f32| (s * 100.0).round() as u32;
        match *self {
            Reason::StrongDimension { dimension: d, score } => {
                format!("Strong fit on {} ({}%)", dimension(d), percent(score))
            }
            Reason::WeakDimension { dimension: d, score } => {
                format!("Little common ground on {} ({}%)", dimension(d), percent(score))
            }
            Reason::SharedPriority { question, both_care: true } => {
                format!(
                    "You both care about \u{201c}{}\u{201d} and accept each other's answer",
                    layout.question_label(question)
                )
            }
            Reason::SharedPriority { question, both_care: false } => {
                format!("You accept each other's answer on \u{201c}{}\u{201d}", layout.question_label(question))
            }
            Reason::TheyOfferWhatYouSeek { offered, sought } => {
                format!("They offer {offered} of the {sought} capabilities you seek")
            }
            Reason::YouOfferWhatTheySeek { offered, sought } => {
                format!("You offer {offered} of the {sought} capabilities they seek")
            }
            Reason::SharedStandards { alike, judged } => {
                format!("You accept and rule out the same answers in a partner ({alike} of {judged} judged alike)")
            }
            Reason::SharedSectors { count: 1 } => "You work in a sector in common".to_owned(),
            Reason::SharedSectors { count } => format!("You work in {count} sectors in common"),
            Reason::YouDoNotAccept { question, mandatory } => format!(
                "Their answer on \u{201c}{}\u{201d} is not one you accept{}",
                layout.question_label(question),
                if mandatory { ", and you marked it mandatory" } else { "" }
            ),
            Reason::TheyDoNotAccept { question, mandatory } => format!(
                "Your answer on \u{201c}{}\u{201d} is not one they accept{}",
                layout.question_label(question),
                if mandatory { ", and they marked it mandatory" } else { "" }
            ),
        }
    }
}

/// Everything known about one pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Compatibility {
    /// Geometric mean of both directions' satisfaction, per question dimension.
    pub dimensions: Vec<f32>,
    pub complementarity: f32,
    pub sectors: f32,
    /// Shared standards over every question both answered ([`crate::shared_standards`]).
    pub standards: f32,
    /// The weighted combination the engine ranks by.
    pub score: f32,
    pub confidence: f32,
    /// Questions both sides answered.
    pub common_questions: usize,
    pub excluded: Option<Exclusion>,
    /// Strongest first, at most [`MAX_REASONS`].
    pub reasons: Vec<Reason>,
}

/// Shared standards from which they are a reason: agreement well beyond chance.
const STRONG_STANDARDS: f32 = 0.4;

/// Most reasons given for a pair.
pub const MAX_REASONS: usize = 6;

/// The pair `viewer`–`other`, with reasons phrased for `viewer`.
pub fn compatibility(
    layout: &Layout,
    model: &Model,
    viewer: &OrgInput,
    other: &OrgInput,
) -> Result<Compatibility, InputError> {
    model.check(layout)?;
    for (org, input) in [viewer, other].into_iter().enumerate() {
        if input.answers.len() != layout.question_count() {
            return Err(InputError::AnswerCount { org, got: input.answers.len(), expected: layout.question_count() });
        }
    }
    let dimensions = layout.dimensions().len();
    // Per dimension: (num, den) of the viewer's satisfaction, then of the other's.
    let mut sums = vec![[0u32; 4]; dimensions];
    let mut common_questions = 0;
    // Options judged differently, and all options, of the questions both answered.
    let (mut disagreements, mut judged) = (0u32, 0u32);
    let mut excluded = None;
    let mut agreements = Vec::new();
    let mut conflicts = Vec::new();
    for (q, (mine, theirs)) in viewer.answers.iter().zip(&other.answers).enumerate() {
        let (Some(mine), Some(theirs)) = (mine, theirs) else { continue };
        common_questions += 1;
        disagreements += (mine.acceptable ^ theirs.acceptable).count_ones();
        judged += u32::from(layout.options(q));
        let (my_weight, their_weight) = (mine.importance.weight(), theirs.importance.weight());
        let i_accept = mine.accepts(theirs.answer);
        let they_accept = theirs.accepts(mine.answer);
        let sum = &mut sums[layout.dimension_of(q)];
        sum[0] += if i_accept { my_weight } else { 0 };
        sum[1] += my_weight;
        sum[2] += if they_accept { their_weight } else { 0 };
        sum[3] += their_weight;
        let my_mandatory = mine.importance == Importance::Mandatory;
        let their_mandatory = theirs.importance == Importance::Mandatory;
        if excluded.is_none() && ((my_mandatory && !i_accept) || (their_mandatory && !they_accept)) {
            excluded = Some(Exclusion::Mandatory { question: q });
        }
        let care = |w: u32| w >= Importance::Somewhat.weight();
        if i_accept && they_accept && my_weight + their_weight >= 2 * Importance::Somewhat.weight() {
            let reason = Reason::SharedPriority { question: q, both_care: care(my_weight) && care(their_weight) };
            agreements.push((my_weight + their_weight, reason));
        }
        if !i_accept && care(my_weight) {
            conflicts.push((my_weight, Reason::YouDoNotAccept { question: q, mandatory: my_mandatory }));
        }
        if !they_accept && care(their_weight) {
            conflicts.push((their_weight, Reason::TheyDoNotAccept { question: q, mandatory: their_mandatory }));
        }
    }
    let ratio = |num: u32, den: u32| if den == 0 { 0.0 } else { num as f32 / den as f32 };
    let dimension_scores: Vec<f32> = sums.iter().map(|s| (ratio(s[0], s[1]) * ratio(s[2], s[3])).sqrt()).collect();
    let (me, them) = (&viewer.profile, &other.profile);
    let complementarity = complementarity(
        me.capabilities_sought,
        me.capabilities_offered,
        them.capabilities_sought,
        them.capabilities_offered,
    );
    let sectors = sector_overlap(me.sectors, them.sectors);
    let (mine, theirs) = (viewer.openness(layout).shares(), other.openness(layout).shares());
    let standards = shared_standards(disagreements as f32, judged as f32, mine, theirs);
    if !model.mandatory_excludes && matches!(excluded, Some(Exclusion::Mandatory { .. })) {
        excluded = None;
    }
    if !me.welcomes(them.kind) || !them.welcomes(me.kind) {
        excluded = Some(Exclusion::Kind);
    }
    let total = model.total_weight();
    let mut score = 0.0;
    for (weight, value) in model.dimension_weights.iter().zip(&dimension_scores) {
        score += weight / total * value;
    }
    score += model.complementarity_weight / total * complementarity + model.sector_weight / total * sectors;
    score += model.standards_weight / total * standards;

    let mut reasons = Vec::new();
    let strongest = dimension_scores.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1));
    if let Some((dimension, &score)) = strongest.filter(|(_, s)| **s >= 0.7) {
        reasons.push(Reason::StrongDimension { dimension, score });
    }
    if model.standards_weight > 0.0 && standards >= STRONG_STANDARDS {
        reasons.push(Reason::SharedStandards { alike: judged - disagreements, judged });
    }
    agreements.sort_by_key(|(strength, reason)| (Reverse(*strength), question_of(reason)));
    reasons.extend(agreements.iter().take(3).map(|(_, r)| *r));
    let shared_caps = |sought: u64, offered: u64| ((sought & offered).count_ones(), sought.count_ones());
    if me.capabilities_sought != 0 {
        let (offered, sought) = shared_caps(me.capabilities_sought, them.capabilities_offered);
        reasons.push(Reason::TheyOfferWhatYouSeek { offered, sought });
    }
    if them.capabilities_sought != 0 {
        let (offered, sought) = shared_caps(them.capabilities_sought, me.capabilities_offered);
        reasons.push(Reason::YouOfferWhatTheySeek { offered, sought });
    }
    let shared_sectors = (me.sectors & them.sectors).count_ones();
    if shared_sectors > 0 {
        reasons.push(Reason::SharedSectors { count: shared_sectors });
    }
    conflicts.sort_by_key(|(strength, reason)| (Reverse(*strength), question_of(reason)));
    reasons.extend(conflicts.iter().take(2).map(|(_, r)| *r));
    let weakest = dimension_scores.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1));
    if let Some((dimension, &score)) = weakest.filter(|(_, s)| dimensions > 1 && **s <= 0.4) {
        reasons.push(Reason::WeakDimension { dimension, score });
    }
    reasons.truncate(MAX_REASONS);

    Ok(Compatibility {
        dimensions: dimension_scores,
        complementarity,
        sectors,
        standards,
        score,
        confidence: model.confidence(common_questions),
        common_questions,
        excluded,
        reasons,
    })
}

fn question_of(reason: &Reason) -> usize {
    match reason {
        Reason::SharedPriority { question, .. }
        | Reason::YouDoNotAccept { question, .. }
        | Reason::TheyDoNotAccept { question, .. } => *question,
        _ => usize::MAX,
    }
}
