//! Property tests: the engine against a plain scalar reference written here from the model's
//! definition (CONTRACT.md, "Scoring model"), on random layouts, answers, profiles and models.

use proptest::prelude::*;

use crate::{
    DimensionSpec, Importance, KernelChoice, Layout, Model, Options, OrgInput, Population, Profile, QuestionAnswer,
    QuestionSpec, TopK, compatibility, rescore, score_row, top_k,
};

const TOLERANCE: f64 = 1e-5;

/// The reference score of a pair, `None` when the pair is excluded.
fn reference(layout: &Layout, model: &Model, a: &OrgInput, b: &OrgInput) -> Option<f64> {
    if (a.profile.seeking_kinds != 0 && a.profile.seeking_kinds & (1 << b.profile.kind) == 0)
        || (b.profile.seeking_kinds != 0 && b.profile.seeking_kinds & (1 << a.profile.kind) == 0)
    {
        return None;
    }
    let total: f64 = model.dimension_weights.iter().map(|w| f64::from(*w)).sum::<f64>()
        + f64::from(model.complementarity_weight)
        + f64::from(model.sector_weight)
        + f64::from(model.standards_weight);
    let mut score = 0.0;
    let mut question = 0;
    // Shared standards: options judged alike over questions both answered, against chance.
    let (mut alike, mut judged) = (0.0, 0.0);
    let openness = |org: &OrgInput| {
        let answered = org.answers.iter().enumerate().filter_map(|(q, a)| Some((q, a.as_ref()?)));
        let (accepted, options) = answered.fold((0.0, 0.0), |(accepted, options), (q, a)| {
            (accepted + f64::from(a.acceptable.count_ones()), options + f64::from(layout.options(q)))
        });
        if options == 0.0 { 0.0 } else { accepted / options }
    };
    for (d, dimension) in layout.dimensions().iter().enumerate() {
        let (mut num_ab, mut den_ab, mut num_ba, mut den_ba) = (0.0, 0.0, 0.0, 0.0);
        for _ in &dimension.questions {
            if let (Some(x), Some(y)) = (&a.answers[question], &b.answers[question]) {
                let a_accepts = x.acceptable & (1 << y.answer) != 0;
                let b_accepts = y.acceptable & (1 << x.answer) != 0;
                let mandatory = |q: &QuestionAnswer, ok: bool| q.importance == Importance::Mandatory && !ok;
                if model.mandatory_excludes && (mandatory(x, a_accepts) || mandatory(y, b_accepts)) {
                    return None;
                }
                for option in 0..layout.options(question) {
                    alike += f64::from(u8::from(x.accepts(option) == y.accepts(option)));
                    judged += 1.0;
                }
                let (wx, wy) = (f64::from(x.importance.weight()), f64::from(y.importance.weight()));
                den_ab += wx;
                den_ba += wy;
                num_ab += if a_accepts { wx } else { 0.0 };
                num_ba += if b_accepts { wy } else { 0.0 };
            }
            question += 1;
        }
        let s = |num: f64, den: f64| if den == 0.0 { 0.0 } else { num / den };
        score += f64::from(model.dimension_weights[d]) / total * (s(num_ab, den_ab) * s(num_ba, den_ba)).sqrt();
    }
    let share = |sought: u64, offered: u64| {
        (sought != 0).then(|| f64::from((sought & offered).count_ones()) / f64::from(sought.count_ones()))
    };
    let (pa, pb) = (&a.profile, &b.profile);
    let complementarity = match (
        share(pa.capabilities_sought, pb.capabilities_offered),
        share(pb.capabilities_sought, pa.capabilities_offered),
    ) {
        (Some(x), Some(y)) => (x * y).sqrt(),
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => 0.0,
    };
    let smaller = pa.sectors.count_ones().min(pb.sectors.count_ones());
    let sectors =
        if smaller == 0 { 0.0 } else { f64::from((pa.sectors & pb.sectors).count_ones()) / f64::from(smaller) };
    score += f64::from(model.complementarity_weight) / total * complementarity;
    score += f64::from(model.sector_weight) / total * sectors;
    let (pa, pb) = (openness(a), openness(b));
    let chance = pa * pb + (1.0 - pa) * (1.0 - pb);
    let standards = if judged == 0.0 || chance >= 1.0 {
        0.0
    } else {
        let kappa = (alike / judged - chance) / (1.0 - chance);
        let spread = (chance / ((1.0 - chance) * judged)).sqrt();
        (kappa - 2.0 * spread).clamp(0.0, 1.0)
    };
    score += f64::from(model.standards_weight) / total * standards;
    Some(score)
}

/// The reference top-k scores of `i`: every candidate, sorted.
fn reference_top(layout: &Layout, model: &Model, orgs: &[OrgInput], i: usize, k: usize) -> Vec<f64> {
    let mut scores: Vec<f64> =
        (0..orgs.len()).filter(|&j| j != i).filter_map(|j| reference(layout, model, &orgs[i], &orgs[j])).collect();
    scores.sort_by(|x, y| y.total_cmp(x));
    scores.truncate(k);
    scores
}

#[derive(Debug, Clone)]
struct Scenario {
    layout: Layout,
    model: Model,
    orgs: Vec<OrgInput>,
    k: usize,
    options: Options,
}

fn answer() -> impl Strategy<Value = Option<(u8, u32, usize)>> {
    prop_oneof![
        1 => Just(None),
        4 => (any::<u8>(), any::<u32>(), 0..5usize).prop_map(Some),
    ]
}

fn profile() -> impl Strategy<Value = Profile> {
    (0..4u8, prop_oneof![3 => Just(0u32), 1 => 1..16u32], 0..16u64, 0..64u64, 0..64u64).prop_map(
        |(kind, seeking_kinds, sectors, capabilities_offered, capabilities_sought)| Profile {
            kind,
            seeking_kinds,
            sectors,
            capabilities_offered,
            capabilities_sought,
        },
    )
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let dims = prop::collection::vec(prop::collection::vec(2..=6u8, 1..12), 1..4);
    (dims, 1..40usize, 0..25usize)
        .prop_flat_map(|(dims, n, k)| {
            let questions: usize = dims.iter().map(Vec::len).sum();
            let orgs = prop::collection::vec((prop::collection::vec(answer(), questions), profile()), n);
            let weights = prop::collection::vec(0..4u8, dims.len() + 3);
            let options = (
                0..3usize,
                prop_oneof![
                    Just(KernelChoice::Auto),
                    Just(KernelChoice::Bitset),
                    Just(KernelChoice::Avx2Bitset),
                    Just(KernelChoice::PortableBitset),
                    Just(KernelChoice::Gemm)
                ],
                1..4usize,
            );
            (Just(dims), orgs, weights, any::<bool>(), Just(k), options)
        })
        .prop_map(|(dims, raw_orgs, weights, exclusions, k, (threads, kernel, blocks))| {
            let layout = Layout::new(
                dims.iter()
                    .enumerate()
                    .map(|(d, options)| DimensionSpec {
                        label: format!("dimension {d}"),
                        questions: options
                            .iter()
                            .map(|&options| QuestionSpec { label: String::new(), options })
                            .collect(),
                    })
                    .collect(),
            )
            .expect("valid layout");
            let orgs = raw_orgs
                .into_iter()
                .map(|(answers, profile)| OrgInput {
                    answers: answers
                        .into_iter()
                        .enumerate()
                        .map(|(q, raw)| {
                            raw.map(|(answer, acceptable, importance)| {
                                let options = layout.options(q);
                                QuestionAnswer {
                                    answer: answer % options,
                                    acceptable: acceptable & ((1 << options) - 1),
                                    importance: Importance::ALL[importance],
                                }
                            })
                        })
                        .collect(),
                    profile,
                })
                .collect();
            let mut model = Model::plain(&layout);
            let d = layout.dimensions().len();
            model.dimension_weights = weights[..d].iter().map(|w| f32::from(*w)).collect();
            model.complementarity_weight = f32::from(weights[d]);
            model.sector_weight = f32::from(weights[d + 1]);
            model.standards_weight = f32::from(weights[d + 2]);
            if model.check(&layout).is_err() {
                model.dimension_weights[0] = 1.0;
            }
            model.mandatory_excludes = exclusions;
            let slack = k % 3;
            Scenario { layout, model, orgs, k, options: Options { threads, kernel, block: 8 * blocks, slack } }
        })
}

fn assert_row_matches(top: &TopK, scenario: &Scenario, row: usize) -> Result<(), TestCaseError> {
    let expected = reference_top(&scenario.layout, &scenario.model, &scenario.orgs, row, scenario.k);
    let got: Vec<f64> = top.row(row).iter().map(|p| f64::from(p.score)).collect();
    prop_assert_eq!(got.len(), expected.len(), "row {} length", row);
    for (g, e) in got.iter().zip(&expected) {
        prop_assert!((g - e).abs() <= TOLERANCE, "row {row}: got {got:?}, expected {expected:?}");
    }
    for partner in top.row(row) {
        let j = partner.index as usize;
        prop_assert!(j != row, "an organisation is never its own partner");
        let score = reference(&scenario.layout, &scenario.model, &scenario.orgs[row], &scenario.orgs[j]);
        prop_assert!(score.is_some_and(|s| (s - f64::from(partner.score)).abs() <= TOLERANCE));
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(96)
}

proptest! {
    // 96 cases by default; PROPTEST_CASES=N for a longer search.
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn top_k_agrees_with_the_reference(scenario in scenario()) {
        let population = Population::new(scenario.layout.clone(), &scenario.orgs).expect("valid inputs");
        let top = top_k(&population, &scenario.model, scenario.k, &scenario.options).expect("valid model");
        prop_assert_eq!(top.rows(), scenario.orgs.len());
        for row in 0..scenario.orgs.len() {
            assert_row_matches(&top, &scenario, row)?;
        }
    }

    #[test]
    fn pair_scores_agree_with_the_reference(scenario in scenario()) {
        let population = Population::new(scenario.layout.clone(), &scenario.orgs).expect("valid inputs");
        let (layout, model) = (&scenario.layout, &scenario.model);
        for i in 0..scenario.orgs.len().min(4) {
            let row = score_row(&population, model, i, &scenario.options).expect("valid");
            for (j, other) in scenario.orgs.iter().enumerate() {
                let expected = if i == j { None } else { reference(layout, model, &scenario.orgs[i], other) };
                match expected {
                    None => prop_assert_eq!(row[j], crate::EXCLUDED),
                    Some(e) => prop_assert!((f64::from(row[j]) - e).abs() <= TOLERANCE, "{} vs {}", row[j], e),
                }
                let pair = compatibility(layout, model, &scenario.orgs[i], other).expect("valid");
                let reverse = compatibility(layout, model, other, &scenario.orgs[i]).expect("valid");
                prop_assert!((pair.score - reverse.score).abs() <= 1e-6, "the score is symmetric");
                let full = reference(layout, model, &scenario.orgs[i], other);
                prop_assert_eq!(pair.excluded.is_some(), full.is_none());
                if let Some(e) = full {
                    prop_assert!((f64::from(pair.score) - e).abs() <= TOLERANCE);
                }
            }
        }
    }

    #[test]
    fn rescoring_one_organisation_equals_a_full_recompute(
        mut scenario in scenario(),
        changed in any::<prop::sample::Index>(),
        donor in any::<prop::sample::Index>(),
    ) {
        let mut population = Population::new(scenario.layout.clone(), &scenario.orgs).expect("valid inputs");
        let mut top = top_k(&population, &scenario.model, scenario.k, &scenario.options).expect("valid");
        // Organisation `changed` takes the answers and profile of `donor`, as if edited.
        let (changed, donor) = (changed.index(scenario.orgs.len()), donor.index(scenario.orgs.len()));
        scenario.orgs[changed] = scenario.orgs[donor].clone();
        population.replace(changed, &scenario.orgs[changed]).expect("valid");
        rescore(&population, &scenario.model, changed, &mut top, &scenario.options).expect("valid");
        for row in 0..scenario.orgs.len() {
            assert_row_matches(&top, &scenario, row)?;
        }
        // A newcomer is appended and scored incrementally.
        let newcomer = scenario.orgs[donor].clone();
        let index = population.push(&newcomer).expect("valid");
        scenario.orgs.push(newcomer);
        rescore(&population, &scenario.model, index, &mut top, &scenario.options).expect("valid");
        prop_assert_eq!(top.rows(), scenario.orgs.len());
        for row in 0..scenario.orgs.len() {
            assert_row_matches(&top, &scenario, row)?;
        }
    }
}

/// Every kernel choice, each of which must agree with the reference.
const EVERY_KERNEL: [KernelChoice; 5] = [
    KernelChoice::Auto,
    KernelChoice::Bitset,
    KernelChoice::Avx2Bitset,
    KernelChoice::PortableBitset,
    KernelChoice::Gemm,
];

fn uniform_org(answer: u8, acceptable: u32, importance: Importance, questions: usize) -> OrgInput {
    OrgInput {
        answers: vec![Some(QuestionAnswer { answer, acceptable, importance }); questions],
        profile: Profile::default(),
    }
}

#[test]
fn a_single_organisation_has_no_partners() {
    let layout = Layout::uniform(4, 3).expect("layout");
    let population = Population::new(layout.clone(), &[uniform_org(0, 1, Importance::Very, 4)]).expect("valid");
    let top = top_k(&population, &Model::plain(&layout), 5, &Options::default()).expect("valid");
    assert_eq!(top.rows(), 1);
    assert!(top.row(0).is_empty());
}

#[test]
fn all_zero_importance_scores_zero_but_still_ranks() {
    let layout = Layout::uniform(4, 3).expect("layout");
    let orgs = vec![uniform_org(0, 1, Importance::Irrelevant, 4); 3];
    let population = Population::new(layout.clone(), &orgs).expect("valid");
    let top = top_k(&population, &Model::plain(&layout), 5, &Options::default()).expect("valid");
    assert_eq!(top.row(0).iter().map(|p| (p.index, p.score)).collect::<Vec<_>>(), [(1, 0.0), (2, 0.0)]);
}

#[test]
fn a_mandatory_conflict_excludes_the_pair_only_when_the_model_says_so() {
    let layout = Layout::uniform(2, 3).expect("layout");
    // Both answer option 0; the first accepts only option 1 and marks it mandatory.
    let orgs = [uniform_org(0, 0b010, Importance::Mandatory, 2), uniform_org(0, 0b001, Importance::Very, 2)];
    let population = Population::new(layout.clone(), &orgs).expect("valid");
    let mut model = Model::plain(&layout);
    let top = top_k(&population, &model, 1, &Options::default()).expect("valid");
    assert_eq!(top.row(0).len(), 1, "the plain model does not exclude");
    model.mandatory_excludes = true;
    for kernel in EVERY_KERNEL {
        let top = top_k(&population, &model, 1, &Options { kernel, ..Options::default() }).expect("valid");
        assert!(top.row(0).is_empty() && top.row(1).is_empty(), "{kernel:?}");
    }
    let pair = compatibility(&layout, &model, &orgs[1], &orgs[0]).expect("valid");
    assert_eq!(pair.excluded, Some(crate::Exclusion::Mandatory { question: 0 }));
}

/// A long dimension agrees with the reference in every kernel: 2,100 questions, all answered
/// with the same importance, fill 33 mask words whose every bit counts, more than a kernel that
/// kept counts in bytes could add up without overflowing.
#[test]
fn a_long_dimension_agrees_with_the_reference_in_every_kernel() {
    let layout = Layout::uniform(2100, 2).expect("layout");
    let mut state = 7u64;
    let mut next = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    let orgs: Vec<OrgInput> = (0..20)
        .map(|_| OrgInput {
            answers: (0..2100)
                .map(|_| {
                    Some(QuestionAnswer {
                        answer: (next() % 2) as u8,
                        acceptable: 1 + (next() % 3) as u32,
                        importance: Importance::Very,
                    })
                })
                .collect(),
            profile: Profile::default(),
        })
        .collect();
    let population = Population::new(layout.clone(), &orgs).expect("valid");
    let model = Model { standards_weight: 2.0, ..Model::plain(&layout) };
    for kernel in EVERY_KERNEL {
        let top = top_k(&population, &model, 5, &Options { kernel, ..Options::default() }).expect("valid");
        for row in 0..orgs.len() {
            let expected = reference_top(&layout, &model, &orgs, row, 5);
            let got: Vec<f64> = top.row(row).iter().map(|p| f64::from(p.score)).collect();
            assert_eq!(got.len(), expected.len(), "{kernel:?} row {row}");
            for (g, e) in got.iter().zip(&expected) {
                assert!((g - e).abs() <= TOLERANCE, "{kernel:?} row {row}: {got:?} against {expected:?}");
            }
        }
    }
}

#[test]
fn answers_outside_the_layout_are_refused() {
    let layout = Layout::uniform(2, 3).expect("layout");
    let bad_option = uniform_org(3, 1, Importance::Very, 2);
    assert!(Population::new(layout.clone(), &[bad_option]).is_err());
    let stray_acceptable = uniform_org(0, 0b1000, Importance::Very, 2);
    assert!(Population::new(layout.clone(), &[stray_acceptable]).is_err());
    let short = uniform_org(0, 1, Importance::Very, 1);
    assert!(Population::new(layout, &[short]).is_err());
}

#[test]
fn reasons_read_as_words() {
    let layout = Layout::new(vec![
        DimensionSpec {
            label: "Values and beliefs".into(),
            questions: vec![QuestionSpec { label: "patient involvement".into(), options: 3 }],
        },
        DimensionSpec {
            label: "Working style".into(),
            questions: vec![QuestionSpec { label: "meeting cadence".into(), options: 3 }],
        },
    ])
    .expect("layout");
    let answer = |answer, acceptable| Some(QuestionAnswer { answer, acceptable, importance: Importance::Very });
    let mut me = OrgInput { answers: vec![answer(0, 0b001), answer(0, 0b001)], profile: Profile::default() };
    me.profile.capabilities_sought = 0b11;
    let mut them = OrgInput { answers: vec![answer(0, 0b001), answer(2, 0b100)], profile: Profile::default() };
    them.profile.capabilities_offered = 0b01;
    let pair = compatibility(&layout, &Model::standard(&layout), &me, &them).expect("valid");
    let words: Vec<String> = pair.reasons.iter().map(|r| r.describe(&layout)).collect();
    assert_eq!(
        words,
        [
            "Strong fit on Values and beliefs (100%)",
            "You both care about \u{201c}patient involvement\u{201d} and accept each other's answer",
            "They offer 1 of the 2 capabilities you seek",
            "Their answer on \u{201c}meeting cadence\u{201d} is not one you accept",
            "Your answer on \u{201c}meeting cadence\u{201d} is not one they accept",
            "Little common ground on Working style (0%)",
        ]
    );
    assert_eq!(pair.common_questions, 2);
}
