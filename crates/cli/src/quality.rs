//! `matchwell bench quality`: how well the engine finds a partner that only shared values give
//! away, against the plain OkCupid formula, on a synthetic population with a known answer.
//!
//! The population (all on the shipped questionnaire): every question has a crowd distribution
//! over its options (some answers common, some rare). A *values profile* holds, per question,
//! a preferred answer drawn from the crowd and the answers that profile finds acceptable in a
//! partner (the preferred one, and each other with probability `acceptable_share`). Each
//! planted pair shares one profile; each decoy has its own. An organisation gives its profile's
//! preferred answer as its own with probability `fidelity` and a crowd answer otherwise; its
//! acceptable set is its profile's with each option flipped with probability
//! `acceptable_noise`, its own answer always acceptable; it answers a question with
//! probability 0.9, with an importance drawn uniformly from irrelevant to very (a mandatory
//! answer is a hard filter, measured elsewhere: drawn at random it would exclude most planted
//! pairs and measure the filter instead of the comparison). Everyone offers the same capability
//! in the same sector, so the profile fields tell nobody apart, unless `complementary`: then
//! each planted pair offers and seeks each other's capability, which no decoy does.
//!
//! Recall@k: the share of planted organisations whose partner is among their `k` best by the
//! engine's score (ties to the lower index, as the engine breaks them).

use domain::Catalogue;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use scoring::{DimensionSpec, Importance, Layout, Model, Options, OrgInput, Population, Profile, QuestionAnswer};

/// The benchmark's parameters (also its command-line options).
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct Params {
    /// Planted pairs, each sharing one values profile.
    #[arg(long, default_value_t = 16)]
    pub pairs: usize,
    /// Organisations with profiles of their own, offering the same capability in the same
    /// sector.
    #[arg(long, default_value_t = 200)]
    pub decoys: usize,
    /// Probability that an organisation's own answer is its profile's preferred one.
    #[arg(long, default_value_t = 0.25)]
    pub fidelity: f64,
    /// Probability that a profile accepts an option other than its preferred one.
    #[arg(long, default_value_t = 0.25)]
    pub acceptable_share: f64,
    /// Probability that an organisation's acceptable set departs from its profile's on an
    /// option.
    #[arg(long, default_value_t = 0.1)]
    pub acceptable_noise: f64,
    /// Planted partners also offer and seek each other's capability.
    #[arg(long)]
    pub complementary: bool,
    /// First seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The engine's weight of shared standards, instead of the standard model's (to measure
    /// candidates).
    #[arg(long)]
    pub standards_weight: Option<f32>,
}

/// Recall of one scorer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recall {
    pub at_5: f64,
    pub at_10: f64,
}

/// Recall of the engine (the service's starting model), of the plain OkCupid formula (one
/// dimension over every question, no profile fields) and of the Bayes-optimal scorer for this
/// generator (the likelihood ratio of "same values profile" against "independent", from the
/// answers alone: a limit to aim at, which knows how the population was drawn) on one
/// population.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    pub engine: Recall,
    pub okcupid: Recall,
    pub bayes: Recall,
}

/// A synthetic population and what was drawn to make it.
#[derive(Debug, Clone, PartialEq)]
pub struct Synthetic {
    /// Organisations `2p` and `2p + 1` are planted partners; decoys follow.
    pub orgs: Vec<OrgInput>,
    /// Per question, the crowd's probability of each option.
    pub crowd: Vec<Vec<f64>>,
}

/// Probability that an organisation answers a question.
const ANSWER_RATE: f64 = 0.9;
/// Importance levels drawn uniformly.
const LEVELS: [Importance; 4] = [Importance::Irrelevant, Importance::ALittle, Importance::Somewhat, Importance::Very];
/// Capability bits: the one everybody offers, and a distinct pair per planted couple after it.
const SHARED_CAPABILITY: u32 = 0;

/// Draws a synthetic population.
pub fn population(catalogue: &Catalogue, params: &Params) -> Synthetic {
    let layout = catalogue.questionnaire.layout();
    let mut rng = StdRng::seed_from_u64(params.seed);
    let questions = layout.question_count();
    let options: Vec<usize> = (0..questions).map(|q| usize::from(layout.options(q))).collect();
    // Dirichlet(1) by normalised exponential draws.
    let crowd: Vec<Vec<f64>> = options
        .iter()
        .map(|&k| {
            let draws: Vec<f64> = (0..k).map(|_| -(1.0 - rng.random::<f64>()).ln()).collect();
            let total: f64 = draws.iter().sum();
            draws.iter().map(|d| d / total).collect()
        })
        .collect();
    let pick = |rng: &mut StdRng, q: usize| -> u8 {
        let mut u = rng.random::<f64>();
        for (option, p) in crowd[q].iter().enumerate() {
            if u < *p {
                return option as u8;
            }
            u -= p;
        }
        (options[q] - 1) as u8
    };
    let profiles: Vec<Vec<(u8, u32)>> = (0..params.pairs + params.decoys)
        .map(|_| {
            (0..questions)
                .map(|q| {
                    let preferred = pick(&mut rng, q);
                    let mut acceptable = 1u32 << preferred;
                    for option in 0..options[q] {
                        if rng.random_bool(params.acceptable_share) {
                            acceptable |= 1 << option;
                        }
                    }
                    (preferred, acceptable)
                })
                .collect()
        })
        .collect();
    let owners = (0..params.pairs).flat_map(|p| [p, p]).chain(params.pairs..params.pairs + params.decoys);
    let orgs = owners
        .enumerate()
        .map(|(i, owner)| {
            let answers = (0..questions)
                .map(|q| {
                    let (preferred, profile_acceptable) = profiles[owner][q];
                    let answer = if rng.random_bool(params.fidelity) { preferred } else { pick(&mut rng, q) };
                    let mut acceptable = profile_acceptable;
                    for option in 0..options[q] {
                        if rng.random_bool(params.acceptable_noise) {
                            acceptable ^= 1 << option;
                        }
                    }
                    acceptable |= 1 << answer;
                    let importance = LEVELS[rng.random_range(0..LEVELS.len())];
                    rng.random_bool(ANSWER_RATE).then_some(QuestionAnswer { answer, acceptable, importance })
                })
                .collect();
            OrgInput { answers, profile: profile(i, params) }
        })
        .collect();
    Synthetic { orgs, crowd }
}

/// Same sector and capability for everyone; with `complementary`, planted pair `p` takes the
/// `p`-th pair of capabilities `a < b` (from bit 1 on): one partner offers `a` and seeks `b`,
/// the other the reverse. Two planted pairs share at most one bit, which makes no one else
/// complementary in both directions.
fn profile(i: usize, params: &Params) -> Profile {
    let mut profile = Profile { sectors: 1, capabilities_offered: 1 << SHARED_CAPABILITY, ..Profile::default() };
    if params.complementary && i < 2 * params.pairs {
        let (a, b) = (1..64u32).flat_map(|a| (a + 1..64).map(move |b| (a, b))).nth(i / 2).expect("at most 1,953 pairs");
        let (mine, theirs) = if i.is_multiple_of(2) { (a, b) } else { (b, a) };
        profile.capabilities_offered = 1 << mine;
        profile.capabilities_sought = 1 << theirs;
    }
    profile
}

/// Recall@5 and @10 of the planted partners under `model` on `layout`.
fn recall(layout: &Layout, model: &Model, orgs: &[OrgInput], pairs: usize) -> anyhow::Result<Recall> {
    let population = Population::new(layout.clone(), orgs)?;
    let top = scoring::top_k(&population, model, 10, &Options::default())?;
    let found = |k: usize| {
        let hits = (0..2 * pairs)
            .filter(|&i| top.row(i).iter().take(k).any(|partner| partner.index as usize == i ^ 1))
            .count();
        hits as f64 / (2 * pairs).max(1) as f64
    };
    Ok(Recall { at_5: found(5), at_10: found(10) })
}

/// Runs both scorers on one population.
pub fn run(catalogue: &Catalogue, params: &Params) -> anyhow::Result<Outcome> {
    anyhow::ensure!((1..=1953).contains(&params.pairs), "between 1 and 1,953 planted pairs");
    for (name, p) in [
        ("fidelity", params.fidelity),
        ("acceptable share", params.acceptable_share),
        ("acceptable noise", params.acceptable_noise),
    ] {
        anyhow::ensure!((0.0..=1.0).contains(&p), "{name} must be between 0 and 1");
    }
    let synthetic = population(catalogue, params);
    let orgs = &synthetic.orgs;
    let layout = catalogue.questionnaire.layout();
    let mut model = Model::standard(layout);
    if let Some(weight) = params.standards_weight {
        model.standards_weight = weight;
    }
    anyhow::ensure!(model.check(layout).is_ok(), "the standards weight must be finite and not negative");
    let engine = recall(layout, &model, orgs, params.pairs)?;
    // The plain formula: every question in one dimension, nothing else.
    let questions = (0..layout.question_count())
        .map(|q| scoring::QuestionSpec { label: layout.question_label(q).to_owned(), options: layout.options(q) })
        .collect();
    let flat = Layout::new(vec![DimensionSpec { label: "all questions".to_owned(), questions }])?;
    let okcupid = recall(&flat, &Model::plain(&flat), orgs, params.pairs)?;
    let bayes = bayes_recall(&synthetic, params);
    Ok(Outcome { engine, okcupid, bayes })
}

/// One organisation's state on a question: its answer and acceptable set, `answer << 5 |
/// acceptable` (at most 5 options in the shipped questionnaire; 32 with `MAX_OPTIONS`).
fn state(answer: &QuestionAnswer) -> usize {
    usize::from(answer.answer) << scoring::MAX_OPTIONS | answer.acceptable as usize
}

/// Per question, `ln P(a, b | one profile) / (P(a) P(b))` for every pair of possible states.
fn bayes_tables(crowd: &[Vec<f64>], params: &Params) -> Vec<std::collections::HashMap<(usize, usize), f64>> {
    let (f, share, noise) = (params.fidelity, params.acceptable_share, params.acceptable_noise);
    crowd
        .iter()
        .map(|c| {
            let k = c.len();
            let sets = 0..1usize << k;
            // The profiles (preferred answer, acceptable set) and the organisations' states.
            let latents: Vec<(usize, usize, f64)> = (0..k)
                .flat_map(|a| sets.clone().filter(move |l| l >> a & 1 == 1).map(move |l| (a, l)))
                .map(|(a, l)| {
                    let others = (0..k).filter(|&o| o != a).map(|o| if l >> o & 1 == 1 { share } else { 1.0 - share });
                    (a, l, c[a] * others.product::<f64>())
                })
                .collect();
            let states: Vec<(usize, usize)> =
                (0..k).flat_map(|x| sets.clone().filter(move |s| s >> x & 1 == 1).map(move |s| (x, s))).collect();
            let given = |(a, l): (usize, usize), (x, s): (usize, usize)| -> f64 {
                let own = if x == a { f } else { 0.0 } + (1.0 - f) * c[x];
                let flips = (0..k).filter(|&o| o != x).map(|o| if (s ^ l) >> o & 1 == 1 { noise } else { 1.0 - noise });
                own * flips.product::<f64>()
            };
            let conditional: Vec<Vec<f64>> =
                latents.iter().map(|&(a, l, _)| states.iter().map(|&st| given((a, l), st)).collect()).collect();
            let marginal: Vec<f64> = (0..states.len())
                .map(|s| latents.iter().zip(&conditional).map(|((_, _, p), row)| p * row[s]).sum())
                .collect();
            let mut table = std::collections::HashMap::new();
            for (i, &(xi, si)) in states.iter().enumerate() {
                for (j, &(xj, sj)) in states.iter().enumerate() {
                    let joint: f64 = latents.iter().zip(&conditional).map(|((_, _, p), row)| p * row[i] * row[j]).sum();
                    if joint > 0.0 && marginal[i] > 0.0 && marginal[j] > 0.0 {
                        let key = (xi << scoring::MAX_OPTIONS | si, xj << scoring::MAX_OPTIONS | sj);
                        table.insert(key, (joint / (marginal[i] * marginal[j])).ln());
                    }
                }
            }
            table
        })
        .collect()
}

/// Recall of the Bayes-optimal scorer: every pair's summed log likelihood ratio over the
/// questions both answered.
fn bayes_recall(synthetic: &Synthetic, params: &Params) -> Recall {
    let tables = bayes_tables(&synthetic.crowd, params);
    let orgs = &synthetic.orgs;
    let score = |i: usize, j: usize| -> f64 {
        let pairs = orgs[i].answers.iter().zip(&orgs[j].answers).zip(&tables);
        pairs
            .filter_map(|((a, b), table)| {
                Some(table.get(&(state(a.as_ref()?), state(b.as_ref()?))).copied().unwrap_or(f64::NEG_INFINITY))
            })
            .sum()
    };
    let mut at = [0usize; 2];
    for i in 0..2 * params.pairs {
        let partner = i ^ 1;
        let mine = score(i, partner);
        let ahead = (0..orgs.len())
            .filter(|&j| j != i && j != partner)
            .filter(|&j| {
                let theirs = score(i, j);
                theirs > mine || (theirs == mine && j < partner)
            })
            .count();
        for (count, k) in at.iter_mut().zip([5, 10]) {
            *count += usize::from(ahead < k);
        }
    }
    let share = |count: usize| count as f64 / (2 * params.pairs) as f64;
    Recall { at_5: share(at[0]), at_10: share(at[1]) }
}

/// Mean, least and greatest of a series.
pub fn spread(values: &[f64]) -> (f64, f64, f64) {
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    let least = values.iter().copied().fold(f64::INFINITY, f64::min);
    let greatest = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, least, greatest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(fidelity: f64, noise: f64, complementary: bool) -> Params {
        Params {
            pairs: 6,
            decoys: 30,
            fidelity,
            acceptable_share: 0.25,
            acceptable_noise: noise,
            complementary,
            seed: 7,
            standards_weight: None,
        }
    }

    #[test]
    fn planted_partners_share_their_profile_and_decoys_do_not() {
        let catalogue = Catalogue::builtin().expect("valid");
        let orgs = population(&catalogue, &params(1.0, 0.0, false)).orgs;
        assert_eq!(orgs.len(), 2 * 6 + 30);
        let same = |a: &OrgInput, b: &OrgInput| {
            a.answers.iter().zip(&b.answers).filter(|(x, y)| matches!((x, y), (Some(x), Some(y)) if x.answer == y.answer && x.acceptable == y.acceptable)).count()
        };
        let partners = same(&orgs[0], &orgs[1]);
        let strangers = same(&orgs[0], &orgs[12]);
        assert!(partners > 30 && strangers < partners / 2, "partners {partners}, strangers {strangers}");
        assert_eq!(population(&catalogue, &params(1.0, 0.0, false)).orgs, orgs, "a seed gives one population");
    }

    #[test]
    fn faithful_partners_are_always_found_and_noise_makes_it_harder() {
        let catalogue = Catalogue::builtin().expect("valid");
        let faithful = run(&catalogue, &params(1.0, 0.0, false)).expect("runs");
        assert_eq!(faithful.engine.at_5, 1.0);
        assert_eq!(faithful.okcupid.at_5, 1.0);
        assert_eq!(faithful.bayes.at_5, 1.0);
        let noisy = run(&catalogue, &Params { pairs: 20, decoys: 200, ..params(0.0, 0.5, false) }).expect("runs");
        assert!(noisy.engine.at_5 < 0.5 && noisy.okcupid.at_5 < 0.5, "{noisy:?}");
    }

    #[test]
    fn the_answers_tell_the_partners_apart_at_the_default_settings() {
        // The limit the engine aims at: the information is in the answers.
        let catalogue = Catalogue::builtin().expect("valid");
        let defaults = Params { pairs: 16, decoys: 200, ..params(0.25, 0.1, false) };
        let outcome = run(&catalogue, &defaults).expect("runs");
        assert!(outcome.bayes.at_5 >= 0.95, "{outcome:?}");
        let blind = run(&catalogue, &Params { acceptable_noise: 0.5, fidelity: 0.0, ..defaults }).expect("runs");
        assert!(blind.bayes.at_5 < 0.5, "with nothing shared, nothing finds the partner: {blind:?}");
    }

    #[test]
    fn complementary_partners_are_found_by_the_engine_and_not_by_the_plain_formula() {
        let catalogue = Catalogue::builtin().expect("valid");
        let outcome = run(&catalogue, &Params { pairs: 20, decoys: 200, ..params(0.25, 0.1, true) }).expect("runs");
        assert_eq!(outcome.engine.at_5, 1.0, "{outcome:?}");
        // Where the answers share nothing, shared standards must not drown complementarity in
        // chance agreement.
        let nothing_shared = Params { pairs: 20, decoys: 200, ..params(0.0, 0.5, true) };
        let outcome = run(&catalogue, &nothing_shared).expect("runs");
        assert!(outcome.engine.at_5 >= 0.9, "{outcome:?}");
        assert!(outcome.okcupid.at_5 < 0.5, "{outcome:?}");
    }

    #[test]
    fn shared_standards_find_partners_that_only_values_give_away() {
        let catalogue = Catalogue::builtin().expect("valid");
        let defaults = Params { pairs: 16, decoys: 200, ..params(0.25, 0.1, false) };
        let outcome = run(&catalogue, &defaults).expect("runs");
        assert!(outcome.engine.at_5 >= 0.9, "{outcome:?}");
        let without = run(&catalogue, &Params { standards_weight: Some(0.0), ..defaults }).expect("runs");
        assert!(without.engine.at_5 < 0.5, "the term is what finds them: {without:?}");
    }
}
