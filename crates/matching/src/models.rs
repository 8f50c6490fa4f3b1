//! The scoring model in use, and learning a better one from outcomes.
//!
//! A model's weights are kept by dimension id (each questionnaire section's id, then
//! `capabilities` and `sectors`), so that a stored model stays meaningful if the questionnaire
//! gains a section (which then weighs what the standard model gives it). Version 1 is
//! [`Model::standard`]; each adopted model is the next version, and every match records the
//! version that scored it. The matchmaker reads the version in use before each pass and
//! rescores everyone when it moved on, so an adoption (by any process) leads to a full rescore
//! in the background.
//!
//! What learning trains on (`Store::outcome_examples`): each connected match with a reported
//! outcome is one example, with the pair's vector when the outcome was reported. When both
//! parties reported, the less happy report counts (a partnership works only if both say so),
//! and one pair never counts twice (which would also let the same pair sit on both sides of a
//! cross-validation split). `collaborating` is a success of weight 1, `met` a success of weight
//! ½ (a meeting is a weaker sign than a collaboration), and `no_fit` a failure of weight 1.
//! Pairs that were revealed but never connected, and declined pairs, are not used: they were
//! judged on an anonymous card, before the parties met, and silence is not a verdict.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::Catalogue;
use scoring::{Example, LearnOptions, Learned, Model};
use store::Store;
use store::matches::Outcome;
use store::models::{ModelEvaluation, NewModel, OutcomeExample};

/// The dimension of the complementarity of capabilities.
pub const CAPABILITIES: &str = "capabilities";
/// The dimension of shared sectors.
pub const SECTORS: &str = "sectors";
/// The dimension of shared standards (what both accept and rule out in a partner).
pub const STANDARDS: &str = "standards";

/// Every dimension id, in the order of the model's weights.
pub fn dimension_ids(catalogue: &Catalogue) -> Vec<String> {
    let sections = catalogue.questionnaire.sections.iter().map(|s| s.id.clone());
    sections.chain([CAPABILITIES.to_owned(), SECTORS.to_owned(), STANDARDS.to_owned()]).collect()
}

/// The weights of `model`, in the order of [`dimension_ids`].
fn weight_vector(model: &Model) -> Vec<f64> {
    let profile = [model.complementarity_weight, model.sector_weight, model.standards_weight];
    model.dimension_weights.iter().chain(&profile).map(|w| f64::from(*w)).collect()
}

/// The weights of `model` by dimension id.
pub fn named_weights(catalogue: &Catalogue, model: &Model) -> BTreeMap<String, f64> {
    dimension_ids(catalogue).into_iter().zip(weight_vector(model)).collect()
}

/// The standard model with the stored `weights` (a dimension they lack keeps its standard
/// weight); the standard model itself when they do not make a valid model.
pub fn model_from(catalogue: &Catalogue, weights: &BTreeMap<String, f64>) -> Model {
    let layout = catalogue.questionnaire.layout();
    let standard = Model::standard(layout);
    let standard_weights = weight_vector(&standard);
    let ids = dimension_ids(catalogue);
    let weight = |i: usize| weights.get(&ids[i]).map_or(standard_weights[i], |w| *w) as f32;
    let sections = ids.len() - 3;
    let model = Model {
        dimension_weights: (0..sections).map(weight).collect(),
        complementarity_weight: weight(sections),
        sector_weight: weight(sections + 1),
        standards_weight: weight(sections + 2),
        ..standard.clone()
    };
    if model.check(layout).is_ok() { model } else { standard }
}

/// The model in use.
#[derive(Debug, Clone, PartialEq)]
pub struct InUse {
    pub version: i64,
    pub model: Model,
    /// The share of the overall score that the `sectors` dimension carries: a view that shows
    /// a coarser sector overlap than the pair's adjusts the score by it.
    pub sector_share: f64,
}

impl InUse {
    fn new(version: i64, model: Model) -> InUse {
        let total = model.total_weight();
        let sector_share = if total > 0.0 { f64::from(model.sector_weight / total) } else { 0.0 };
        InUse { version, model, sector_share }
    }

    /// Version 1, the standard model.
    pub fn standard(catalogue: &Catalogue) -> InUse {
        InUse::new(1, Model::standard(catalogue.questionnaire.layout()))
    }
}

/// The first version, as stored.
fn first_model(catalogue: &Catalogue) -> NewModel {
    NewModel {
        weights: named_weights(catalogue, &Model::standard(catalogue.questionnaire.layout())),
        trained_on: 0,
        successes: 0,
        evaluation: None,
        reason: "the standard model: every section weighs 1, capabilities half of all sections, sectors ½, shared standards three times all sections".to_owned(),
    }
}

/// Reads the model in use from the store (writing version 1 first if there is none).
pub async fn in_use(store: &Store, catalogue: &Catalogue) -> anyhow::Result<InUse> {
    let stored = match store.model_in_use().await.context("failed to read the model in use")? {
        Some(stored) => stored,
        None => {
            store.ensure_first_model(&first_model(catalogue), Utc::now()).await.context("failed to store version 1")?;
            store.model_in_use().await?.context("version 1 of the model is missing")?
        }
    };
    Ok(InUse::new(stored.version, model_from(catalogue, &stored.model.weights)))
}

/// The model in use, shared by a process's requests and workers and refreshed from the store.
#[derive(Debug)]
pub struct Models {
    catalogue: Arc<Catalogue>,
    current: RwLock<Arc<InUse>>,
}

impl Models {
    /// Starts from the standard model until the first [`Models::refresh`].
    pub fn new(catalogue: Arc<Catalogue>) -> Models {
        let current = RwLock::new(Arc::new(InUse::standard(&catalogue)));
        Models { catalogue, current }
    }

    /// The model in use as last read.
    pub fn current(&self) -> Arc<InUse> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads the version in use, and the model when it changed; the model in use after.
    pub async fn refresh(&self, store: &Store) -> anyhow::Result<Arc<InUse>> {
        let version = store.model_version().await.context("failed to read the model version")?;
        let current = self.current();
        if version == current.version {
            return Ok(current);
        }
        let fresh = Arc::new(in_use(store, &self.catalogue).await?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh.clone();
        Ok(fresh)
    }
}

/// How much each kind of outcome counts, and whether it is a success.
fn label(outcome: Outcome) -> (bool, f64) {
    match outcome {
        Outcome::Collaborating => (true, 1.0),
        Outcome::Met => (true, 0.5),
        Outcome::NoFit => (false, 1.0),
    }
}

/// How happy an outcome is: the lower of two reports of one pair counts.
fn happiness(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::NoFit => 0,
        Outcome::Met => 1,
        Outcome::Collaborating => 2,
    }
}

/// The examples learning trains on, one per match, in the order of [`dimension_ids`]; an
/// outcome whose vector lacks a dimension (reported before the questionnaire gained it) is
/// left out.
pub fn examples(catalogue: &Catalogue, outcomes: &[OutcomeExample]) -> Vec<Example> {
    let ids = dimension_ids(catalogue);
    let mut by_match: BTreeMap<&str, &OutcomeExample> = BTreeMap::new();
    for outcome in outcomes {
        let kept = by_match.entry(&outcome.match_id).or_insert(outcome);
        if happiness(outcome.outcome) < happiness(kept.outcome) {
            *kept = outcome;
        }
    }
    by_match
        .into_values()
        .filter_map(|o| {
            let vector = ids.iter().map(|id| o.compatibility.get(id).copied()).collect::<Option<Vec<f64>>>()?;
            let (success, weight) = label(o.outcome);
            Some(Example { vector, success, weight })
        })
        .collect()
}

/// What a learning run found and did.
#[derive(Debug, Clone)]
pub struct LearnReport {
    /// The version in use when it started.
    pub before: i64,
    /// The weights in use when it started, by dimension id.
    pub current_weights: BTreeMap<String, f64>,
    /// The candidate's weights, by dimension id.
    pub candidate_weights: BTreeMap<String, f64>,
    pub learned: Learned,
    /// The version adopted, if one was.
    pub adopted: Option<i64>,
}

/// Fits the model to the recorded outcomes, compares it with the model in use by
/// cross-validation, and adopts it when it is better (never with `dry_run`, never from fewer
/// than `min_outcomes` outcomes). Another run that adopted a model meanwhile wins: this one
/// then adopts nothing and says so.
pub async fn learn(
    store: &Store,
    catalogue: &Catalogue,
    min_outcomes: usize,
    dry_run: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<LearnReport> {
    let current = in_use(store, catalogue).await?;
    let outcomes = store.outcome_examples().await.context("failed to read the outcomes")?;
    let examples = examples(catalogue, &outcomes);
    let weights = weight_vector(&current.model);
    let options = LearnOptions { min_examples: min_outcomes, ..LearnOptions::default() };
    let learned = tokio::task::spawn_blocking(move || scoring::learn(&weights, &examples, &options))
        .await
        .context("the learning thread failed")?;
    let ids = dimension_ids(catalogue);
    let candidate_weights: BTreeMap<String, f64> = ids.iter().cloned().zip(learned.weights.iter().copied()).collect();
    let mut report = LearnReport {
        before: current.version,
        current_weights: named_weights(catalogue, &current.model),
        candidate_weights: candidate_weights.clone(),
        learned,
        adopted: None,
    };
    if dry_run || !report.learned.adopt {
        return Ok(report);
    }
    let evaluation = match (report.learned.candidate, report.learned.current) {
        (Some(candidate), Some(previous)) => Some(ModelEvaluation {
            auc: candidate.auc,
            log_loss: candidate.log_loss,
            previous_auc: previous.auc,
            previous_log_loss: previous.log_loss,
        }),
        _ => None,
    };
    let model = NewModel {
        weights: candidate_weights,
        trained_on: report.learned.examples as i64,
        successes: report.learned.successes as i64,
        evaluation,
        reason: report.learned.reason.clone(),
    };
    match store.adopt_model(current.version, &model, now).await {
        Ok(version) => {
            tracing::info!(version, trained_on = model.trained_on, "a learned scoring model was adopted");
            report.adopted = Some(version);
        }
        Err(store::StoreError::Conflict) => {
            report.learned.adopt = false;
            report.learned.reason = "another model was adopted while this one was being learned".to_owned();
        }
        Err(error) => return Err(error).context("failed to store the learned model"),
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_round_trip_by_dimension_id_and_missing_ones_keep_their_standard_weight() {
        let catalogue = Catalogue::builtin().expect("catalogue");
        let standard = Model::standard(catalogue.questionnaire.layout());
        let mut weights = named_weights(&catalogue, &standard);
        assert_eq!(model_from(&catalogue, &weights), standard);
        let first = dimension_ids(&catalogue)[0].clone();
        weights.insert(first.clone(), 3.0);
        weights.remove(SECTORS);
        let model = model_from(&catalogue, &weights);
        assert_eq!(model.dimension_weights[0], 3.0);
        assert_eq!(model.sector_weight, standard.sector_weight);
        weights.insert(first, -1.0);
        assert_eq!(model_from(&catalogue, &weights), standard, "an invalid model falls back to the standard");
    }

    #[test]
    fn a_pair_counts_once_with_its_less_happy_report() {
        let catalogue = Catalogue::builtin().expect("catalogue");
        let vector: BTreeMap<String, f64> = dimension_ids(&catalogue).into_iter().map(|id| (id, 0.5)).collect();
        let report =
            |id: &str, outcome| OutcomeExample { match_id: id.to_owned(), compatibility: vector.clone(), outcome };
        let mut partial = vector.clone();
        partial.remove(SECTORS);
        let outcomes = [
            report("a", Outcome::Collaborating),
            report("a", Outcome::NoFit),
            report("b", Outcome::Met),
            report("c", Outcome::Collaborating),
            report("c", Outcome::Met),
            OutcomeExample { match_id: "d".to_owned(), compatibility: partial, outcome: Outcome::Met },
        ];
        let examples = examples(&catalogue, &outcomes);
        let labels: Vec<(bool, f64)> = examples.iter().map(|e| (e.success, e.weight)).collect();
        assert_eq!(labels, [(false, 1.0), (true, 0.5), (true, 0.5)], "a: no fit; b: met; c: met; d: left out");
    }
}
