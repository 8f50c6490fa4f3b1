//! Learning the weights of the compatibility vector from recorded outcomes ("replicate the
//! traits of happy couples"): regularised logistic regression of success on the vector,
//! shrunk toward the weights in use, and evaluated by cross-validation against them.
//!
//! The model in use scores a pair as the weighted mean of its vector. Its predictions of
//! success are that score calibrated by a one-variable logistic regression (`σ(b + a·score)`),
//! so that both models are judged as probabilities. The candidate is `σ(b + θ·x)` with every
//! `θ ≥ 0` (a weight is never negative), fitted by projected gradient descent on the weighted
//! log-loss plus `λ‖θ − θ₀‖²`, where `θ₀ = a·w` is the model in use in the same units: with
//! few outcomes the candidate stays near the weights in use, and only consistent evidence moves
//! it. Its new weights are `θ` rescaled to the total of the weights in use.
//!
//! Invariants: pure (no IO, no randomness: the folds are a fixed shuffle); a candidate is
//! adopted only from `min_examples` outcomes on, with both successes and failures, and only
//! when its held-out AUC beats the model in use by `margin`, its held-out log-loss is no
//! worse, and its AUC is more than two standard errors above one half (not luck), so learning
//! never adopts a model that predicts held-out outcomes worse, nor one fitted to noise.

use ndarray::{Array1, Array2, ArrayView1, Axis};

/// One recorded outcome: the pair's compatibility vector (in the order of the weights), whether
/// it was a success, and how much it counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub vector: Vec<f64>,
    pub success: bool,
    /// `collaborating` counts more than `met`; a failure counts 1.
    pub weight: f64,
}

/// How learning runs and decides.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnOptions {
    /// Strength of the pull toward the weights in use.
    pub shrinkage: f64,
    /// Folds of the cross-validation.
    pub folds: usize,
    /// How much higher the candidate's held-out AUC must be to be adopted.
    pub margin: f64,
    /// The fewest outcomes from which a model may be adopted.
    pub min_examples: usize,
}

impl Default for LearnOptions {
    fn default() -> LearnOptions {
        LearnOptions { shrinkage: 0.05, folds: 5, margin: 0.02, min_examples: 50 }
    }
}

/// How well a model predicts held-out outcomes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// Area under the ROC curve: the chance that a success ranks above a failure.
    pub auc: f64,
    /// Mean weighted log-loss of the predicted probabilities (lower is better).
    pub log_loss: f64,
}

/// What learning found.
#[derive(Debug, Clone, PartialEq)]
pub struct Learned {
    /// The candidate's weights, fitted on every outcome, with the same total as those in use.
    pub weights: Vec<f64>,
    /// Held-out evaluation of the candidate and of the model in use (`None` when there were
    /// too few outcomes of either kind to cross-validate).
    pub candidate: Option<Evaluation>,
    pub current: Option<Evaluation>,
    pub examples: usize,
    pub successes: usize,
    /// Whether the candidate should replace the model in use.
    pub adopt: bool,
    /// Why, in words.
    pub reason: String,
}

/// Fits weights to `examples` and decides whether they beat `current`.
pub fn learn(current: &[f64], examples: &[Example], options: &LearnOptions) -> Learned {
    let dims = current.len();
    let examples: Vec<&Example> =
        examples.iter().filter(|e| e.vector.len() == dims && e.vector.iter().all(|v| v.is_finite())).collect();
    let successes = examples.iter().filter(|e| e.success).count();
    let failures = examples.len() - successes;
    let total: f64 = current.iter().sum();
    let fitted = fit_candidate(current, &examples, options.shrinkage);
    let weights = rescaled(&fitted.theta, total, current);
    let base = Learned {
        weights,
        candidate: None,
        current: None,
        examples: examples.len(),
        successes,
        adopt: false,
        reason: String::new(),
    };
    if examples.len() < options.min_examples {
        return Learned {
            reason: format!("{} outcomes, fewer than the {} needed", examples.len(), options.min_examples),
            ..base
        };
    }
    let folds = options.folds.max(2);
    if successes < folds || failures < folds {
        return Learned {
            reason: format!("{successes} successes and {failures} failures: too few of one kind to evaluate"),
            ..base
        };
    }
    let (candidate, current_eval) = cross_validate(current, &examples, options.shrinkage, folds);
    let chance = auc_error(successes, failures);
    let adopt = candidate.auc >= current_eval.auc + options.margin
        && candidate.log_loss <= current_eval.log_loss
        && candidate.auc - 0.5 > 2.0 * chance;
    let reason = if adopt {
        format!(
            "held-out AUC {:.3} against {:.3} (margin {}), log-loss {:.3} against {:.3}",
            candidate.auc, current_eval.auc, options.margin, candidate.log_loss, current_eval.log_loss
        )
    } else if candidate.auc - 0.5 <= 2.0 * chance {
        format!(
            "no better than chance: held-out AUC {:.3} is within two standard errors ({:.3}) of 0.5",
            candidate.auc, chance
        )
    } else {
        format!(
            "not better by the margin: held-out AUC {:.3} against {:.3} (margin {}), log-loss {:.3} against {:.3}",
            candidate.auc, current_eval.auc, options.margin, candidate.log_loss, current_eval.log_loss
        )
    };
    Learned { candidate: Some(candidate), current: Some(current_eval), adopt, reason, ..base }
}

/// The standard error of an AUC of one half (a model that ranks at random) from `positives`
/// and `negatives` (Hanley and McNeil, 1982): an AUC within two of these of one half could be
/// luck.
fn auc_error(positives: usize, negatives: usize) -> f64 {
    let (p, n) = (positives.max(1) as f64, negatives.max(1) as f64);
    let a = 0.5;
    let q1 = a / (2.0 - a);
    let q2 = 2.0 * a * a / (1.0 + a);
    ((a * (1.0 - a) + (p - 1.0) * (q1 - a * a) + (n - 1.0) * (q2 - a * a)) / (p * n)).sqrt()
}

/// A fitted logistic model `σ(bias + θ·x)`.
#[derive(Debug, Clone)]
struct Logistic {
    theta: Array1<f64>,
    bias: f64,
}

impl Logistic {
    fn predict(&self, x: ArrayView1<f64>) -> f64 {
        sigmoid(self.bias + self.theta.dot(&x))
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The examples as a matrix, labels and weights.
fn design(examples: &[&Example]) -> (Array2<f64>, Array1<f64>, Array1<f64>) {
    let dims = examples.first().map_or(0, |e| e.vector.len());
    let mut x = Array2::zeros((examples.len(), dims));
    for (mut row, example) in x.axis_iter_mut(Axis(0)).zip(examples) {
        row.assign(&ArrayView1::from(&example.vector[..]));
    }
    let y = examples.iter().map(|e| if e.success { 1.0 } else { 0.0 }).collect();
    let w = examples.iter().map(|e| e.weight.max(0.0)).collect();
    (x, y, w)
}

/// Weighted logistic regression by projected gradient descent: `θ ≥ 0`, pulled toward `prior`
/// by `shrinkage` (no pull with `None`). It runs on standardised columns (zero mean, unit
/// variance), which keeps gradient descent well conditioned and makes the pull the same for
/// every dimension whatever its spread (ridge on standardised coefficients); since each
/// column is divided by a positive spread, `θ ≥ 0` there is `θ ≥ 0` here.
fn fit(x: &Array2<f64>, y: &Array1<f64>, w: &Array1<f64>, prior: Option<&Array1<f64>>, shrinkage: f64) -> Logistic {
    let dims = x.ncols();
    let weight_sum = w.sum().max(f64::MIN_POSITIVE);
    let mean = x.t().dot(w) / weight_sum;
    let centred = x - &mean;
    let variance = (&centred * &centred).t().dot(w) / weight_sum;
    // A column that does not vary says nothing: it keeps its prior and is left out.
    let spread = variance.mapv(|v| if v > 1e-12 { v.sqrt() } else { 0.0 });
    let varies = spread.mapv(|s| if s > 0.0 { 1.0 } else { 0.0 });
    let z = &centred / &spread.mapv(|s| if s > 0.0 { s } else { 1.0 }) * &varies;
    let prior_theta = prior.cloned().unwrap_or_else(|| Array1::zeros(dims));
    let prior_beta = &prior_theta * &spread;
    let mut beta = prior_beta.clone();
    let mut bias = 0.0;
    let step = 1.0;
    for _ in 0..5000 {
        let residual = ((z.dot(&beta) + bias).mapv(sigmoid) - y) * w / weight_sum;
        let mut grad = z.t().dot(&residual);
        if prior.is_some() {
            grad = grad + (&beta - &prior_beta) * (2.0 * shrinkage);
        }
        let grad_bias = residual.sum();
        let next = ((&beta - &(grad * step)).mapv(|b| b.max(0.0))) * &varies;
        // Converged when a step moves nothing (the projected gradient vanishes).
        let moved = (&next - &beta).mapv(f64::abs).sum() + (step * grad_bias).abs();
        beta = next;
        bias -= step * grad_bias;
        if moved < 1e-9 {
            break;
        }
    }
    let theta = Array1::from_iter(
        (0..dims).map(|i| if spread[i] > 0.0 { beta[i] / spread[i] } else { prior_theta[i].max(0.0) }),
    );
    let bias = bias - (0..dims).filter(|&i| spread[i] > 0.0).map(|i| beta[i] * mean[i] / spread[i]).sum::<f64>();
    Logistic { theta, bias }
}

/// The model in use as a probability: its score (the weighted mean of the vector) calibrated
/// by a one-variable logistic regression on `x`.
fn calibrate(current: &[f64], x: &Array2<f64>, y: &Array1<f64>, w: &Array1<f64>) -> (Logistic, Array1<f64>) {
    let total: f64 = current.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let normalised = Array1::from_iter(current.iter().map(|c| c / total));
    let score = x.dot(&normalised).insert_axis(Axis(1));
    (fit(&score, y, w, None, 0.0), normalised)
}

/// The candidate fitted on `examples`, and the prior it was pulled toward.
fn fit_candidate(current: &[f64], examples: &[&Example], shrinkage: f64) -> Logistic {
    if examples.is_empty() {
        return Logistic { theta: Array1::from(current.to_vec()), bias: 0.0 };
    }
    let (x, y, w) = design(examples);
    let (calibration, normalised) = calibrate(current, &x, &y, &w);
    let prior = normalised * calibration.theta[0];
    fit(&x, &y, &w, Some(&prior), shrinkage)
}

/// `theta` rescaled to `total`; the weights in use when `theta` is all zero.
fn rescaled(theta: &Array1<f64>, total: f64, current: &[f64]) -> Vec<f64> {
    let sum = theta.sum();
    if sum <= 0.0 || !sum.is_finite() {
        return current.to_vec();
    }
    theta.iter().map(|t| t / sum * total).collect()
}

/// A fixed shuffle of `0..n` (a linear congruential walk), so that folds do not follow the
/// order in which outcomes were recorded.
fn shuffled(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..n).rev() {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let j = (state >> 33) as usize % (i + 1);
        order.swap(i, j);
    }
    order
}

/// Held-out predictions of the candidate and of the model in use, pooled over `folds`.
fn cross_validate(current: &[f64], examples: &[&Example], shrinkage: f64, folds: usize) -> (Evaluation, Evaluation) {
    let order = shuffled(examples.len());
    let mut candidate = Vec::with_capacity(examples.len());
    let mut in_use = Vec::with_capacity(examples.len());
    for fold in 0..folds {
        let held: Vec<&Example> =
            order.iter().enumerate().filter(|(i, _)| i % folds == fold).map(|(_, &e)| examples[e]).collect();
        let train: Vec<&Example> =
            order.iter().enumerate().filter(|(i, _)| i % folds != fold).map(|(_, &e)| examples[e]).collect();
        let model = fit_candidate(current, &train, shrinkage);
        let (x, y, w) = design(&train);
        let (calibration, normalised) = calibrate(current, &x, &y, &w);
        for example in held {
            let v = ArrayView1::from(&example.vector[..]);
            candidate.push((model.predict(v), example.success, example.weight));
            let score = Array1::from(vec![normalised.dot(&v)]);
            in_use.push((calibration.predict(score.view()), example.success, example.weight));
        }
    }
    (evaluate(&candidate), evaluate(&in_use))
}

/// AUC (ties count a half) and weighted log-loss of `(prediction, success, weight)`.
fn evaluate(predictions: &[(f64, bool, f64)]) -> Evaluation {
    let mut ranked: Vec<(f64, bool)> = predictions.iter().map(|(p, s, _)| (*p, *s)).collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = ranked.iter().filter(|(_, s)| *s).count() as f64;
    let negatives = ranked.len() as f64 - positives;
    // Mann-Whitney: the sum of the positives' ranks, ties given their mean rank.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < ranked.len() {
        let mut j = i;
        while j < ranked.len() && ranked[j].0 == ranked[i].0 {
            j += 1;
        }
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += ranked[i..j].iter().filter(|(_, s)| *s).count() as f64 * mean_rank;
        i = j;
    }
    let auc = if positives > 0.0 && negatives > 0.0 {
        (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
    } else {
        0.5
    };
    let weight: f64 = predictions.iter().map(|(_, _, w)| w).sum::<f64>().max(f64::MIN_POSITIVE);
    let loss: f64 = predictions
        .iter()
        .map(|(p, s, w)| {
            let p = p.clamp(1e-9, 1.0 - 1e-9);
            w * if *s { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    Evaluation { auc, log_loss: loss / weight }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stream of numbers in [0, 1).
    struct Stream(u64);

    impl Stream {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Pairs with random vectors whose success follows `rule` (a probability from the vector).
    fn simulate(n: usize, dims: usize, seed: u64, rule: impl Fn(&[f64]) -> f64) -> Vec<Example> {
        let mut stream = Stream(seed);
        (0..n)
            .map(|_| {
                let vector: Vec<f64> = (0..dims).map(|_| stream.next()).collect();
                let success = stream.next() < rule(&vector);
                Example { vector, success, weight: 1.0 }
            })
            .collect()
    }

    #[test]
    fn learning_recovers_the_dimension_a_hidden_rule_favours_and_adopts_it() {
        // Success depends on the third dimension only.
        let rule = |v: &[f64]| sigmoid(8.0 * (v[2] - 0.5));
        let examples = simulate(400, 5, 7, rule);
        let current = [1.0, 1.0, 1.0, 1.0, 1.0];
        let learned = learn(&current, &examples, &LearnOptions::default());
        let largest = (0..5).max_by(|&a, &b| learned.weights[a].total_cmp(&learned.weights[b])).expect("weights");
        assert_eq!(largest, 2, "{:?}", learned.weights);
        assert!((learned.weights.iter().sum::<f64>() - 5.0).abs() < 1e-9, "same total as in use");
        let (candidate, in_use) = (learned.candidate.expect("evaluated"), learned.current.expect("evaluated"));
        assert!(candidate.auc > in_use.auc + 0.1, "{candidate:?} against {in_use:?}");
        assert!(learned.adopt, "{}", learned.reason);

        // And on pairs it never saw, the learned weights rank successes better.
        let fresh = simulate(400, 5, 99, rule);
        let rank = |weights: &[f64]| {
            let predictions: Vec<(f64, bool, f64)> = fresh
                .iter()
                .map(|e| (e.vector.iter().zip(weights).map(|(v, w)| v * w).sum(), e.success, 1.0))
                .collect();
            evaluate(&predictions).auc
        };
        let (learned_auc, current_auc) = (rank(&learned.weights), rank(&current));
        println!(
            "weights {:?}; cross-validated AUC {:.3} against {:.3}; fresh pairs AUC {learned_auc:.3} against {current_auc:.3}",
            learned.weights, candidate.auc, in_use.auc
        );
        assert!(learned_auc > current_auc + 0.1);
    }

    #[test]
    fn outcomes_that_follow_the_weights_in_use_adopt_nothing() {
        // The model in use is already right: no candidate beats it by the margin.
        let current = [1.0, 2.0, 0.5, 1.0];
        let total: f64 = current.iter().sum();
        let rule = |v: &[f64]| sigmoid(10.0 * (v.iter().zip(&current).map(|(x, w)| x * w).sum::<f64>() / total - 0.5));
        let learned = learn(&current, &simulate(300, 4, 3, rule), &LearnOptions::default());
        assert!(!learned.adopt, "{}", learned.reason);
        assert!(learned.reason.starts_with("not better"));
    }

    #[test]
    fn noise_is_never_adopted_and_too_few_outcomes_are_not_even_evaluated() {
        let current = [1.0, 1.0, 1.0];
        for seed in 1..12 {
            let learned = learn(&current, &simulate(200, 3, seed, |_| 0.4), &LearnOptions::default());
            assert!(!learned.adopt, "seed {seed}: {}", learned.reason);
        }
        let few = simulate(49, 3, 5, |v| v[0]);
        let learned = learn(&current, &few, &LearnOptions::default());
        assert!(!learned.adopt && learned.candidate.is_none());
        assert_eq!(learned.reason, "49 outcomes, fewer than the 50 needed");
        let one_kind = simulate(80, 3, 5, |_| 1.0);
        assert!(!learn(&current, &one_kind, &LearnOptions::default()).adopt);
    }

    #[test]
    fn with_little_evidence_the_weights_stay_near_those_in_use() {
        let current = [1.0, 1.0, 1.0, 1.0];
        let rule = |v: &[f64]| sigmoid(8.0 * (v[0] - 0.5));
        let small =
            learn(&current, &simulate(20, 4, 11, rule), &LearnOptions { min_examples: 1, ..LearnOptions::default() });
        let large =
            learn(&current, &simulate(800, 4, 11, rule), &LearnOptions { min_examples: 1, ..LearnOptions::default() });
        let spread =
            |w: &[f64]| w.iter().cloned().fold(f64::MIN, f64::max) - w.iter().cloned().fold(f64::MAX, f64::min);
        assert!(spread(&small.weights) < spread(&large.weights), "{:?} vs {:?}", small.weights, large.weights);
    }

    #[test]
    fn auc_counts_ties_as_half() {
        let e = evaluate(&[(0.5, true, 1.0), (0.5, false, 1.0)]);
        assert!((e.auc - 0.5).abs() < 1e-12);
        let e = evaluate(&[(0.9, true, 1.0), (0.1, false, 1.0)]);
        assert!((e.auc - 1.0).abs() < 1e-12);
    }
}
