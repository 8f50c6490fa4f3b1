//! The matchmaker: loads organisations from the store into the scoring engine, keeps the
//! engine's top-k lists up to date as organisations change (incrementally, by the `changes`
//! generation each organisation is stamped with when it changes), and saves the pairs worth suggesting as matches, with their vector,
//! explanations and fresh random aliases.
//!
//! Invariants: knows neither HTTP nor SQL (it talks to `store` and `scoring`); the engine runs
//! on a blocking thread, never on the async runtime; exclusive work across processes is the
//! caller's lease (`leases` in the store), so a matchmaker assumes it is the only writer of
//! suggestions while it runs.

mod aliases;
pub mod anonymity;
pub mod models;
pub mod search;
mod text;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use domain::{Catalogue, scoring_input};
use scoring::{Model, Options, OrgInput, Population, TopK};
use store::generations::{CHANGES, ROSTER};
use store::matches::{Candidate, Saved};
use store::organisations::ScoringRow;
use store::{OrgId, Store};

pub use aliases::{alias_from, random_alias};

/// The store lease that keeps scoring to one process at a time.
pub const SCORING_LEASE: &str = "scoring";

/// How long a scoring lease lasts unless renewed: short, so that a process killed in the middle
/// of a pass holds up scoring for at most this long. With `serve`'s scoring worker looking
/// every five seconds, another process scores within about twenty seconds of a holder's death.
pub const LEASE_TTL: chrono::Duration = chrono::Duration::seconds(15);

/// How often a holder renews its lease while it works (the heartbeat): three times per
/// [`LEASE_TTL`], so that one slow or failed renewal does not lose it.
const LEASE_RENEWAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `work` while renewing the lease `name` of `holder` (which it must have just taken) every
/// few seconds, so that a long pass keeps it and a dead process loses it within [`LEASE_TTL`].
pub async fn holding_lease<T>(
    store: &Store,
    name: &str,
    holder: &str,
    work: impl std::future::Future<Output = T>,
) -> T {
    let renew = async {
        loop {
            tokio::time::sleep(LEASE_RENEWAL).await;
            // A renewal that waits longer than its period is given up, so that the next one
            // comes on time.
            let renewal = store.acquire_lease(name, holder, chrono::Utc::now(), LEASE_TTL);
            match tokio::time::timeout(LEASE_RENEWAL, renewal).await {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) => tracing::warn!(lease = name, "a lease ran out while its work went on"),
                Ok(Err(error)) => tracing::warn!(lease = name, error = %error, "failed to renew a lease"),
                Err(_) => tracing::warn!(lease = name, "a lease renewal took too long"),
            }
        }
    };
    tokio::pin!(work);
    tokio::select! {
        done = &mut work => done,
        never = renew => never,
    }
}

/// Which pairs become matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Partners considered per organisation.
    pub k: usize,
    /// Lowest overall score worth suggesting. With the standard model, shared standards carry
    /// 12 of 18.5 of the weight and are 0 for a pair whose agreement chance could explain, so
    /// a pair that accepts each other's every answer and complements each other's capabilities
    /// without shared standards scores 0.35: the floor keeps it suggestible.
    pub floor: f32,
    /// Most open matches an organisation takes part in.
    pub max_open: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { k: 10, floor: 0.30, max_open: 25 }
    }
}

struct State {
    population: Population,
    top: TopK,
    ids: Vec<OrgId>,
    index: HashMap<OrgId, usize>,
    inputs: Vec<OrgInput>,
    /// The roster generation loaded: when an organisation leaves, it moves on and the next
    /// run starts afresh.
    roster: i64,
    /// The `changes` generation loaded: an incremental run reads nothing until it moves on.
    changes: i64,
}

/// Keeps matches in step with organisations' answers and profiles.
pub struct Matchmaker {
    catalogue: Arc<Catalogue>,
    /// The model of the last pass (version 0 before the first: every pass starts by reading
    /// the version in use, and a new one means a full rescore).
    model: models::InUse,
    settings: Settings,
    state: Option<State>,
    /// The holder name under which this matchmaker takes the scoring lease: it saves only
    /// while it holds it.
    holder: Option<String>,
}

impl std::fmt::Debug for Matchmaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matchmaker").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    pub organisations: usize,
    pub rescored: usize,
    pub saved: Saved,
}

fn options(settings: &Settings) -> Options {
    Options { slack: settings.k, ..Options::default() }
}

impl Matchmaker {
    pub fn new(catalogue: Arc<Catalogue>, settings: Settings) -> Matchmaker {
        let model = models::InUse { version: 0, ..models::InUse::standard(&catalogue) };
        Matchmaker { catalogue, model, settings, state: None, holder: None }
    }

    /// This matchmaker runs under the scoring lease as `holder`, and saves nothing once the
    /// lease ran out (the pass fails, and the next one starts afresh).
    pub fn holding(mut self, holder: impl Into<String>) -> Matchmaker {
        self.holder = Some(holder.into());
        self
    }

    /// Brings matches up to date: everything with `full` (or on the first run, or after an
    /// organisation left), otherwise only the organisations changed since the last run.
    /// `progress(done, total)` follows a full run.
    pub async fn run(
        &mut self,
        store: &Store,
        full: bool,
        progress: Arc<dyn Fn(usize, usize) + Send + Sync>,
    ) -> anyhow::Result<Report> {
        let version = store.model_version().await.context("failed to read the model version")?;
        let full = if version == self.model.version {
            full
        } else {
            self.model = models::in_use(store, &self.catalogue).await?;
            tracing::info!(version = self.model.version, "scoring with a new version of the model");
            true
        };
        // Read the counters before the rows: a change committed meanwhile moves them on again.
        let roster = store.generation(ROSTER).await.context("failed to read the roster generation")?;
        let changes = store.generation(CHANGES).await.context("failed to read the changes generation")?;
        match self.state.take() {
            Some(state) if !full && state.roster == roster && state.changes == changes => {
                let report = Report { organisations: state.ids.len(), ..Report::default() };
                self.state = Some(state);
                Ok(report)
            }
            Some(state) if !full && state.roster == roster => self.incremental(store, state, changes).await,
            _ => self.full(store, roster, changes, progress).await,
        }
    }

    async fn full(
        &mut self,
        store: &Store,
        roster: i64,
        changes: i64,
        progress: Arc<dyn Fn(usize, usize) + Send + Sync>,
    ) -> anyhow::Result<Report> {
        let rows =
            store.scoring_rows(None, &self.catalogue.questionnaire).await.context("failed to load organisations")?;
        let ids: Vec<OrgId> = rows.iter().map(|r| r.id).collect();
        let inputs: Vec<OrgInput> = rows.iter().map(|r| self.input(r)).collect();
        let (layout, model, settings) =
            (self.catalogue.questionnaire.layout().clone(), self.model.model.clone(), self.settings.clone());
        let engine_inputs = inputs.clone();
        let (population, top) = tokio::task::spawn_blocking(move || -> anyhow::Result<(Population, TopK)> {
            let population = Population::new(layout, &engine_inputs)?;
            let top = scoring::top_k_with_progress(&population, &model, settings.k, &options(&settings), &*progress)?;
            Ok((population, top))
        })
        .await
        .context("the scoring thread failed")??;
        let index: HashMap<OrgId, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        // Matches that an earlier version of the model scored get this one's figures, whether
        // or not they are still among the best (after a new model, every match is rescored).
        let earlier = store
            .pairs_scored_by_other_versions(self.model.version)
            .await
            .context("failed to read the matches of earlier models")?;
        let refresh: HashSet<(usize, usize)> = earlier
            .into_iter()
            .filter_map(|(low, high)| {
                let (a, b) = (*index.get(&low)?, *index.get(&high)?);
                Some((a.min(b), a.max(b)))
            })
            .collect();
        let state = State { population, top, ids, index, inputs, roster, changes };
        let mut pairs: HashSet<(usize, usize)> = (0..state.ids.len()).flat_map(|i| self.pairs_of(&state, i)).collect();
        pairs.extend(&refresh);
        let saved = self.save_refreshing(store, &state, pairs, &refresh).await?;
        let report = Report { organisations: state.ids.len(), rescored: state.ids.len(), saved };
        self.state = Some(state);
        Ok(report)
    }

    async fn incremental(&mut self, store: &Store, mut state: State, changes: i64) -> anyhow::Result<Report> {
        // Organisations stamped after the generation loaded last (a change that commits after
        // `changes` was read is loaded now or next time; loading one twice is harmless).
        let since = state.changes;
        state.changes = changes;
        let rows = store
            .scoring_rows(Some(since), &self.catalogue.questionnaire)
            .await
            .context("failed to load changed organisations")?;
        let mut changed = Vec::with_capacity(rows.len());
        for row in &rows {
            let input = self.input(row);
            let i = match state.index.get(&row.id) {
                Some(&i) if state.inputs[i] == input => continue,
                Some(&i) => {
                    state.population.replace(i, &input)?;
                    state.inputs[i] = input;
                    i
                }
                None => {
                    let i = state.population.push(&input)?;
                    state.ids.push(row.id);
                    state.index.insert(row.id, i);
                    state.inputs.push(input);
                    i
                }
            };
            changed.push(i);
        }
        if changed.is_empty() {
            let report = Report { organisations: state.ids.len(), ..Report::default() };
            self.state = Some(state);
            return Ok(report);
        }
        let (model, settings) = (self.model.model.clone(), self.settings.clone());
        let to_rescore = changed.clone();
        let state = tokio::task::spawn_blocking(move || -> anyhow::Result<State> {
            let mut state = state;
            for &i in &to_rescore {
                scoring::rescore(&state.population, &model, i, &mut state.top, &options(&settings))?;
            }
            Ok(state)
        })
        .await
        .context("the scoring thread failed")??;
        let changed_set: HashSet<u32> = changed.iter().map(|&i| i as u32).collect();
        let mut pairs: HashSet<(usize, usize)> = changed.iter().flat_map(|&i| self.pairs_of(&state, i)).collect();
        for j in 0..state.ids.len() {
            for partner in state.top.row(j) {
                if changed_set.contains(&partner.index) && partner.score >= self.settings.floor {
                    let i = partner.index as usize;
                    pairs.insert((i.min(j), i.max(j)));
                }
            }
        }
        let saved = self.save(store, &state, pairs).await?;
        let report = Report { organisations: state.ids.len(), rescored: changed.len(), saved };
        self.state = Some(state);
        Ok(report)
    }

    fn input(&self, row: &ScoringRow) -> OrgInput {
        scoring_input(&self.catalogue, row.kind, &row.profile, &row.answers)
    }

    /// The pairs of `i`'s list worth suggesting, as `(lower index, higher index)`.
    fn pairs_of(&self, state: &State, i: usize) -> Vec<(usize, usize)> {
        state
            .top
            .row(i)
            .iter()
            .filter(|p| p.score >= self.settings.floor)
            .map(|p| {
                let j = p.index as usize;
                (i.min(j), i.max(j))
            })
            .collect()
    }

    async fn save(&self, store: &Store, state: &State, pairs: HashSet<(usize, usize)>) -> anyhow::Result<Saved> {
        self.save_refreshing(store, state, pairs, &HashSet::new()).await
    }

    /// Saves `pairs`; those in `refresh` are existing matches, saved whatever their score.
    async fn save_refreshing(
        &self,
        store: &Store,
        state: &State,
        pairs: HashSet<(usize, usize)>,
        refresh: &HashSet<(usize, usize)>,
    ) -> anyhow::Result<Saved> {
        let candidates = self.candidates(state, pairs, refresh)?;
        let (cap, now) = (self.settings.max_open, Utc::now());
        let saved = match &self.holder {
            Some(holder) => store.save_candidates_holding((SCORING_LEASE, holder), candidates, cap, now).await,
            None => store.save_candidates(candidates, cap, now).await,
        }
        .context("failed to save matches")?;
        Ok(saved)
    }

    /// Everything the parties of each pair will be shown.
    fn candidates(
        &self,
        state: &State,
        pairs: HashSet<(usize, usize)>,
        refresh: &HashSet<(usize, usize)>,
    ) -> anyhow::Result<Vec<Candidate>> {
        let mut candidates = Vec::with_capacity(pairs.len());
        for (a, b) in pairs {
            let pair = [(state.ids[a], &state.inputs[a]), (state.ids[b], &state.inputs[b])];
            if let Some(candidate) = candidate(&self.catalogue, &self.model, pair)?
                && (candidate.score >= f64::from(self.settings.floor) || refresh.contains(&(a, b)))
            {
                candidates.push(candidate);
            }
        }
        Ok(candidates)
    }
}

/// The vector, score and reasons in words of one pair, seen from its first organisation.
#[derive(Debug, Clone)]
pub struct Described {
    pub score: f64,
    pub confidence: f64,
    pub compatibility: BTreeMap<String, f64>,
    pub explanation: Vec<String>,
    /// Excluded by the model (a mandatory question answered unacceptably, or a kind not sought).
    pub excluded: bool,
}

/// What `viewer` is told of `other` by the scoring engine: the vector by dimension id, the
/// overall score, and the reasons in words. The number of sectors in common is left out of the
/// reasons: it would tell more about the other side than its anonymous profile does, and views
/// say which sectors are shared as far as that profile shows.
pub fn describe(
    catalogue: &Catalogue,
    model: &Model,
    viewer: &OrgInput,
    other: &OrgInput,
) -> anyhow::Result<Described> {
    let layout = catalogue.questionnaire.layout();
    let seen = scoring::compatibility(layout, model, viewer, other)?;
    let mut compatibility: BTreeMap<String, f64> = catalogue
        .questionnaire
        .sections
        .iter()
        .zip(&seen.dimensions)
        .map(|(section, v)| (section.id.clone(), f64::from(*v)))
        .collect();
    compatibility.insert("capabilities".to_owned(), f64::from(seen.complementarity));
    compatibility.insert("sectors".to_owned(), f64::from(seen.sectors));
    compatibility.insert(models::STANDARDS.to_owned(), f64::from(seen.standards));
    let explanation = seen
        .reasons
        .iter()
        .filter(|r| !matches!(r, scoring::Reason::SharedSectors { .. }))
        .map(|r| r.describe(layout))
        .collect();
    Ok(Described {
        score: f64::from(seen.score),
        confidence: f64::from(seen.confidence),
        compatibility,
        explanation,
        excluded: seen.excluded.is_some(),
    })
}

/// A match between two organisations as the store saves it, with fresh random aliases; `None`
/// when the model excludes the pair.
pub fn candidate(
    catalogue: &Catalogue,
    in_use: &models::InUse,
    pair: [(OrgId, &OrgInput); 2],
) -> anyhow::Result<Option<Candidate>> {
    let model = &in_use.model;
    // Matches are keyed by the organisations' ids, lower first.
    let [(low, low_input), (high, high_input)] = if pair[0].0 < pair[1].0 { pair } else { [pair[1], pair[0]] };
    let from_low = describe(catalogue, model, low_input, high_input)?;
    if from_low.excluded {
        return Ok(None);
    }
    let from_high = describe(catalogue, model, high_input, low_input)?;
    let mut rng = rand::rng();
    Ok(Some(Candidate {
        low,
        high,
        score: from_low.score,
        confidence: from_low.confidence,
        compatibility: from_low.compatibility,
        explanation_low: from_low.explanation,
        explanation_high: from_high.explanation,
        alias_low: random_alias(&mut rng),
        alias_high: random_alias(&mut rng),
        model_version: in_use.version,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_floor_admits_a_pair_without_shared_standards_that_fits_on_everything_else() {
        let catalogue = Catalogue::builtin().expect("the shipped catalogue");
        let layout = catalogue.questionnaire.layout();
        // Both accept every answer (so chance explains their agreement) and complement each
        // other's capabilities in a shared sector.
        let org = |offered: u64, sought: u64| OrgInput {
            answers: (0..layout.question_count())
                .map(|q| {
                    Some(scoring::QuestionAnswer {
                        answer: 0,
                        acceptable: (1 << layout.options(q)) - 1,
                        importance: scoring::Importance::Very,
                    })
                })
                .collect(),
            profile: scoring::Profile {
                sectors: 1,
                capabilities_offered: offered,
                capabilities_sought: sought,
                ..scoring::Profile::default()
            },
        };
        let pair = scoring::compatibility(layout, &Model::standard(layout), &org(0b01, 0b10), &org(0b10, 0b01))
            .expect("valid");
        assert_eq!(pair.standards, 0.0);
        assert!(pair.score >= Settings::default().floor, "{}", pair.score);
    }
}
