//! Partner search: every verified organisation that could be the searcher's partner, ranked by
//! the scoring engine's overall compatibility with the searcher (both directions, the same
//! model as matches), filtered on what its anonymous card shows, and, with free text, by a
//! documented mix of BM25 relevance and compatibility.
//!
//! What a search needs lives in memory (the engine's packed population, the text index, and
//! what cards show), refreshed from the store at most once a second, incrementally from a
//! `changed_at` watermark as the matchmaker does, and afresh when an organisation left. A
//! search never reads every organisation from the database.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::anonymity::Shown;
use domain::{Catalogue, OrgKind, scoring_input};
use scoring::{Model, OrgInput, Population};
use store::generations::ROSTER;
use store::matches::CounterpartProfile;
use store::organisations::ScoringRow;
use store::{OrgId, Store};

use crate::anonymity::{AnonymousProfile, Snapshot};
use crate::text::TextIndex;
use crate::{Described, describe};

/// Cards per page (CONTRACT.md invariant 7: at most 20).
pub const PAGE_SIZE: usize = 20;
/// With free text, a card's rank is this share of its text relevance (BM25, relative to the
/// best of the results) plus the rest of its compatibility.
pub const TEXT_WEIGHT: f64 = 0.6;
/// How long the in-memory population is trusted before the store is asked what changed.
const FRESH: Duration = Duration::from_secs(1);
/// How far back a refresh looks before its watermark, for changes committed late.
const MARGIN: chrono::Duration = chrono::Duration::seconds(10);

/// A search, parsed: filters on what cards show, free text, and a page (from 1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub kind: Option<OrgKind>,
    pub sector: Option<String>,
    pub region: Option<String>,
    pub capability: Option<String>,
    pub stage: Option<String>,
    pub text: Option<String>,
    pub page: usize,
}

/// One card: the organisation (for the server to make its ref and alias), what it may be shown
/// as, and the engine's account of the pair.
#[derive(Debug, Clone)]
pub struct Hit {
    pub organisation: OrgId,
    pub public_id: String,
    pub profile: AnonymousProfile,
    pub described: Described,
    /// The engine's overall compatibility, which ranks the results.
    pub compatibility: f64,
    /// With free text: the mix that ranks them instead.
    pub rank: f64,
}

/// A page of results.
#[derive(Debug, Clone)]
pub struct Results {
    pub hits: Vec<Hit>,
    pub next_page: Option<usize>,
}

/// What a card needs of one organisation.
#[derive(Debug, Clone)]
struct Entry {
    id: OrgId,
    public_id: String,
    visible: bool,
    capabilities_offered: Vec<String>,
    written: CounterpartProfile,
}

struct State {
    population: Population,
    inputs: Vec<OrgInput>,
    entries: Vec<Entry>,
    positions: HashMap<OrgId, usize>,
    by_public_id: HashMap<String, usize>,
    text: TextIndex,
    watermark: DateTime<Utc>,
    roster: i64,
    checked: Instant,
}

/// The search's population, shared by every request of a process.
pub struct Search {
    catalogue: Arc<Catalogue>,
    model: Model,
    state: Arc<RwLock<Option<State>>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Search {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Search")
    }
}

/// The text a card is found by: its anonymous summary and the capabilities it offers.
fn searchable(catalogue: &Catalogue, row: &ScoringRow) -> String {
    let capabilities = &catalogue.taxonomy.capabilities;
    let labels: Vec<&str> =
        row.profile.capabilities_offered.iter().map(|c| capabilities.label(c).unwrap_or(c)).collect();
    format!("{} {}", row.profile.anonymous_summary.as_deref().unwrap_or_default(), labels.join(" "))
}

fn entry(row: &ScoringRow) -> Entry {
    Entry {
        id: row.id,
        public_id: row.public_id.clone(),
        visible: row.profile.search_visible,
        capabilities_offered: row.profile.capabilities_offered.clone(),
        written: CounterpartProfile {
            capabilities_offered: row.profile.capabilities_offered.clone(),
            capabilities_sought: row.profile.capabilities_sought.clone(),
            anonymous_summary: row.profile.anonymous_summary.clone(),
        },
    }
}

/// Whether a card's shown region is, or lies within, the `wanted` area (a region, a nation,
/// `uk` or `outside_uk`).
fn within(catalogue: &Catalogue, shown: Option<&str>, wanted: &str) -> bool {
    let Some(shown) = shown else { return false };
    if shown == wanted {
        return true;
    }
    let taxonomy = &catalogue.taxonomy;
    match wanted {
        domain::UK => shown != domain::OUTSIDE_UK,
        nation => taxonomy.nation_of(shown).is_some_and(|n| n.id == nation),
    }
}

impl Search {
    pub fn new(catalogue: Arc<Catalogue>) -> Search {
        let model = Model::standard(catalogue.questionnaire.layout());
        Search { catalogue, model, state: Arc::new(RwLock::new(None)), refreshing: tokio::sync::Mutex::new(()) }
    }

    fn input(&self, row: &ScoringRow) -> OrgInput {
        scoring_input(&self.catalogue, row.kind, &row.profile, &row.answers)
    }

    /// Brings the population up to date if it was last checked over a second ago.
    pub async fn refresh(&self, store: &Store) -> anyhow::Result<()> {
        let fresh = |state: &Option<State>| state.as_ref().is_some_and(|s| s.checked.elapsed() < FRESH);
        if fresh(&self.state.read().unwrap_or_else(|p| p.into_inner())) {
            return Ok(());
        }
        let _one_at_a_time = self.refreshing.lock().await;
        let (roster_known, since) = {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            if fresh(&state) {
                return Ok(());
            }
            (state.as_ref().map(|s| s.roster), state.as_ref().map(|s| s.watermark - MARGIN))
        };
        let roster = store.generation(ROSTER).await.context("failed to read the roster generation")?;
        let questionnaire = &self.catalogue.questionnaire;
        if roster_known != Some(roster) || since.is_none() {
            let rows = store.scoring_rows(None, questionnaire).await.context("failed to load organisations")?;
            let state = self.build(rows, roster)?;
            *self.state.write().unwrap_or_else(|p| p.into_inner()) = Some(state);
            return Ok(());
        }
        let rows = store.scoring_rows(since, questionnaire).await.context("failed to load changed organisations")?;
        let inputs: Vec<(ScoringRow, OrgInput)> = rows.into_iter().map(|r| (r.clone(), self.input(&r))).collect();
        let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
        let Some(state) = guard.as_mut() else { return Ok(()) };
        for (row, input) in inputs {
            let text = searchable(&self.catalogue, &row);
            let i = match state.positions.get(&row.id) {
                Some(&i) => {
                    state.population.replace(i, &input)?;
                    state.inputs[i] = input;
                    state.entries[i] = entry(&row);
                    i
                }
                None => {
                    let i = state.population.push(&input)?;
                    state.inputs.push(input);
                    state.entries.push(entry(&row));
                    state.positions.insert(row.id, i);
                    state.by_public_id.insert(row.public_id.clone(), i);
                    i
                }
            };
            state.text.set(i, &text);
            state.watermark = state.watermark.max(row.changed_at);
        }
        state.checked = Instant::now();
        Ok(())
    }

    fn build(&self, rows: Vec<ScoringRow>, roster: i64) -> anyhow::Result<State> {
        let inputs: Vec<OrgInput> = rows.iter().map(|r| self.input(r)).collect();
        let population = Population::new(self.catalogue.questionnaire.layout().clone(), &inputs)?;
        let mut text = TextIndex::default();
        for (i, row) in rows.iter().enumerate() {
            text.set(i, &searchable(&self.catalogue, row));
        }
        Ok(State {
            population,
            inputs,
            positions: rows.iter().enumerate().map(|(i, r)| (r.id, i)).collect(),
            by_public_id: rows.iter().enumerate().map(|(i, r)| (r.public_id.clone(), i)).collect(),
            entries: rows.iter().map(entry).collect(),
            watermark: rows.iter().map(|r| r.changed_at).max().unwrap_or_else(Utc::now),
            text,
            roster,
            checked: Instant::now(),
        })
    }

    /// The organisation with this public id and its engine input, if it may be found by search.
    pub fn visible(&self, public_id: &str) -> Option<(OrgId, OrgInput)> {
        let guard = self.state.read().unwrap_or_else(|p| p.into_inner());
        let state = guard.as_ref()?;
        let &i = state.by_public_id.get(public_id)?;
        state.entries[i].visible.then(|| (state.entries[i].id, state.inputs[i].clone()))
    }

    /// The engine input of `org`.
    pub fn input_of(&self, org: OrgId) -> Option<OrgInput> {
        let guard = self.state.read().unwrap_or_else(|p| p.into_inner());
        let state = guard.as_ref()?;
        state.positions.get(&org).map(|&i| state.inputs[i].clone())
    }

    /// The page of results for `searcher`, leaving out `known` (organisations it has a match
    /// with). Runs on a blocking thread.
    pub async fn search(
        self: &Arc<Self>,
        searcher: OrgId,
        known: HashSet<OrgId>,
        query: Query,
        anonymity: Arc<Snapshot>,
    ) -> anyhow::Result<Results> {
        let search = self.clone();
        tokio::task::spawn_blocking(move || search.search_now(searcher, &known, &query, &anonymity))
            .await
            .context("the search thread failed")?
    }

    fn search_now(
        &self,
        searcher: OrgId,
        known: &HashSet<OrgId>,
        query: &Query,
        anonymity: &Snapshot,
    ) -> anyhow::Result<Results> {
        let guard = self.state.read().unwrap_or_else(|p| p.into_inner());
        let Some(state) = guard.as_ref() else { return Ok(Results { hits: vec![], next_page: None }) };
        let Some(&me) = state.positions.get(&searcher) else { return Ok(Results { hits: vec![], next_page: None }) };
        let options = scoring::Options { threads: 1, ..scoring::Options::default() };
        let row = scoring::score_row(&state.population, &self.model, me, &options)?;
        let text = query.text.as_deref().filter(|t| state.text.has_terms(t)).map(|t| state.text.search(t));
        let best_text = text.as_ref().map_or(0.0, |t| t.values().copied().fold(0.0f32, f32::max));
        // Everyone the searcher could meet, by rank; then the filters on what cards show, one
        // group at a time (a group is shown alike).
        let mut ranked: Vec<(f64, f64, usize)> = Vec::new();
        for (j, &score) in row.iter().enumerate() {
            let entry = &state.entries[j];
            if j == me || score == scoring::EXCLUDED || !entry.visible || known.contains(&entry.id) {
                continue;
            }
            if query.capability.as_ref().is_some_and(|c| !entry.capabilities_offered.contains(c)) {
                continue;
            }
            let compatibility = f64::from(score);
            let rank = match &text {
                None => compatibility,
                Some(found) => match found.get(&(j as u32)) {
                    None => continue,
                    Some(&relevance) => {
                        TEXT_WEIGHT * f64::from(relevance / best_text.max(f32::EPSILON))
                            + (1.0 - TEXT_WEIGHT) * compatibility
                    }
                },
            };
            ranked.push((rank, compatibility, j));
        }
        // Best first; ties keep the population's order, so results do not depend on timing.
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.cmp(&b.2)));
        let mut shown_by_group: HashMap<usize, Shown> = HashMap::new();
        let page = query.page.max(1);
        let skip = (page - 1) * PAGE_SIZE;
        let mut passed = 0;
        let mut hits = Vec::new();
        let mut more = false;
        for (rank, compatibility, j) in ranked {
            let entry = &state.entries[j];
            let shown = match anonymity.group_of(entry.id) {
                Some(group) => shown_by_group
                    .entry(group)
                    .or_insert_with(|| anonymity.search_profile(searcher, entry.id, &entry.written).shown),
                None => continue,
            };
            let fits = query.kind.is_none_or(|k| shown.kind == Some(k))
                && query.sector.as_ref().is_none_or(|s| shown.sectors.contains(s))
                && query.stage.as_ref().is_none_or(|s| shown.innovation_stage.as_ref() == Some(s))
                && query.region.as_ref().is_none_or(|r| within(&self.catalogue, shown.region.as_deref(), r));
            if !fits {
                continue;
            }
            passed += 1;
            if passed <= skip {
                continue;
            }
            if hits.len() == PAGE_SIZE {
                more = true;
                break;
            }
            let profile = anonymity.search_profile(searcher, entry.id, &entry.written);
            let described = describe(&self.catalogue, &self.model, &state.inputs[me], &state.inputs[j])?;
            hits.push(Hit {
                organisation: entry.id,
                public_id: entry.public_id.clone(),
                profile,
                described,
                compatibility,
                rank,
            });
        }
        Ok(Results { hits, next_page: more.then_some(page + 1) })
    }
}
