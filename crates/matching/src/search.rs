//! Partner search: every verified organisation that could be the searcher's partner, ranked by
//! the scoring engine's overall compatibility with the searcher (both directions, the same
//! model as matches), filtered on what its anonymous card shows, and, with free text, by a
//! documented mix of BM25 relevance and compatibility.
//!
//! What a search needs lives in memory (the engine's packed population, the text index, and
//! what cards show), refreshed from the store when the `changes` generation moves on
//! (incrementally, by the generation each organisation is stamped with, as the matchmaker
//! does), and afresh when an organisation left. A search never reads every organisation from
//! the database.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use domain::{Catalogue, OrgKind, scoring_input};
use scoring::{OrgInput, Population};
use store::generations::{CHANGES, ROSTER};
use store::matches::CounterpartProfile;
use store::organisations::ScoringRow;
use store::{OrgId, Store};

use crate::anonymity::{AnonymousProfile, Snapshot};
use crate::text::TextIndex;
use crate::{Described, describe};

/// Cards per page (CONTRACT.md invariant 7: at most 20).
pub const PAGE_SIZE: usize = 20;
/// The last page a search goes to.
pub const MAX_PAGE: usize = 500;

/// A 64-bit mix (SplitMix64's finaliser): ties in a searcher's results fall in the order of
/// their keys mixed with the searcher's seed.
fn split_mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
/// With free text, a card's rank is this share of its text relevance (BM25, relative to the
/// best of the results) plus the rest of its compatibility.
pub const TEXT_WEIGHT: f64 = 0.6;
/// How long the in-memory population is trusted before the store is asked what changed.
const FRESH: Duration = Duration::from_secs(1);

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
    /// The searcher's own seed for the order of ties (from a server key).
    pub tie_seed: u64,
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
    /// A key for ties, from the public id (never from the population's order).
    tie: u64,
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
    roster: i64,
    /// The `changes` generation loaded: nothing is read again until it moves on.
    changes: i64,
    /// Which full load this is (positions change only with one).
    build: u64,
    checked: Instant,
}

/// Something worked out from one state of the population, and kept while it lasts: the
/// generation it came from, the full load and length of the population, and the values.
type Kept<T> = (i64, u64, usize, Arc<Vec<T>>);

/// The search's population, shared by every request of a process.
pub struct Search {
    catalogue: Arc<Catalogue>,
    /// The model in use (refreshed by the process's scoring worker).
    models: Arc<crate::models::Models>,
    /// The model version that the kept rows of scores were computed with.
    rows_version: std::sync::atomic::AtomicI64,
    state: Arc<RwLock<Option<State>>>,
    refreshing: tokio::sync::Mutex<()>,
    /// Each organisation's group in the anonymity index: (its generation, the population's
    /// length, the groups).
    groups: std::sync::Mutex<Option<Kept<u32>>>,
    /// Searchers' rows of scores, kept while nothing changed (a member pages through results
    /// and refines its filters): searcher to (`changes` generation, population length, row).
    rows: std::sync::Mutex<HashMap<OrgId, Kept<f32>>>,
    /// Full loads so far.
    builds: std::sync::atomic::AtomicU64,
}

/// Searchers whose rows of scores are kept.
const ROWS_KEPT: usize = 64;

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
    let digest =
        row.public_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    Entry {
        id: row.id,
        public_id: row.public_id.clone(),
        tie: digest,
        visible: row.profile.search_visible,
        capabilities_offered: row.profile.capabilities_offered.clone(),
        written: CounterpartProfile {
            capabilities_offered: row.profile.capabilities_offered.clone(),
            capabilities_sought: row.profile.capabilities_sought.clone(),
            anonymous_summary: row.profile.anonymous_summary.clone(),
        },
    }
}

impl Search {
    pub fn new(catalogue: Arc<Catalogue>, models: Arc<crate::models::Models>) -> Search {
        Search {
            catalogue,
            models,
            rows_version: std::sync::atomic::AtomicI64::new(0),
            state: Arc::new(RwLock::new(None)),
            refreshing: tokio::sync::Mutex::new(()),
            groups: std::sync::Mutex::new(None),
            rows: std::sync::Mutex::new(HashMap::new()),
            builds: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn input(&self, row: &ScoringRow) -> OrgInput {
        scoring_input(&self.catalogue, row.kind, &row.profile, &row.answers)
    }

    /// Brings the population up to date if it was last checked over a second ago.
    pub async fn refresh(self: &Arc<Self>, store: &Store) -> anyhow::Result<()> {
        let fresh = |state: &Option<State>| state.as_ref().is_some_and(|s| s.checked.elapsed() < FRESH);
        if fresh(&self.state.read().unwrap_or_else(|p| p.into_inner())) {
            return Ok(());
        }
        // One refresh at a time. While one runs, searches use the population as it was, unless
        // there is none yet.
        let loaded = self.state.read().unwrap_or_else(|p| p.into_inner()).is_some();
        let _one_at_a_time = match self.refreshing.try_lock() {
            Ok(guard) => guard,
            Err(_) if loaded => return Ok(()),
            Err(_) => self.refreshing.lock().await,
        };
        let (roster_known, changes_known) = {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            if fresh(&state) {
                return Ok(());
            }
            (state.as_ref().map(|s| s.roster), state.as_ref().map(|s| s.changes))
        };
        // Read the counters before the rows: a change committed meanwhile moves them on again.
        let roster = store.generation(ROSTER).await.context("failed to read the roster generation")?;
        let changes = store.generation(CHANGES).await.context("failed to read the changes generation")?;
        if changes_known == Some(changes) && roster_known == Some(roster) {
            if let Some(state) = self.state.write().unwrap_or_else(|p| p.into_inner()).as_mut() {
                state.checked = Instant::now();
            }
            return Ok(());
        }
        let questionnaire = &self.catalogue.questionnaire;
        let Some(since) = changes_known.filter(|_| roster_known == Some(roster)) else {
            let rows = store.scoring_rows(None, questionnaire).await.context("failed to load organisations")?;
            let search = self.clone();
            let build = self.builds.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            let state = tokio::task::spawn_blocking(move || search.build(rows, roster, changes, build))
                .await
                .context("the search thread failed")??;
            *self.state.write().unwrap_or_else(|p| p.into_inner()) = Some(state);
            return Ok(());
        };
        // Organisations stamped after the generation loaded last.
        let rows =
            store.scoring_rows(Some(since), questionnaire).await.context("failed to load changed organisations")?;
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
        }
        state.changes = changes;
        state.checked = Instant::now();
        Ok(())
    }

    fn build(&self, rows: Vec<ScoringRow>, roster: i64, changes: i64, build: u64) -> anyhow::Result<State> {
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
            build,
            text,
            roster,
            changes,
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

    /// The group of each organisation of the search's population in `anonymity`'s generation
    /// (`u32::MAX` for one it does not know), worked out once per generation.
    fn groups(&self, state: &State, anonymity: &Snapshot) -> Arc<Vec<u32>> {
        let mut cached = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((generation, build, length, groups)) = cached.as_ref()
            && (*generation, *build, *length) == (anonymity.generation, state.build, state.entries.len())
        {
            return groups.clone();
        }
        let groups: Arc<Vec<u32>> =
            Arc::new(state.entries.iter().map(|e| anonymity.group_of(e.id).map_or(u32::MAX, |g| g as u32)).collect());
        *cached = Some((anonymity.generation, state.build, state.entries.len(), groups.clone()));
        groups
    }

    /// The searcher's scores against everyone, from the engine, or as kept since nothing changed.
    fn row(
        &self,
        state: &State,
        in_use: &crate::models::InUse,
        searcher: OrgId,
        me: usize,
    ) -> anyhow::Result<Arc<Vec<f32>>> {
        if self.rows_version.swap(in_use.version, std::sync::atomic::Ordering::Relaxed) != in_use.version {
            self.rows.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
        let key = (state.changes, state.build, state.entries.len());
        if let Some((changes, build, length, row)) = self.rows.lock().unwrap_or_else(|p| p.into_inner()).get(&searcher)
            && (*changes, *build, *length) == key
        {
            return Ok(row.clone());
        }
        let options = scoring::Options { threads: 1, ..scoring::Options::default() };
        let row = Arc::new(scoring::score_row(&state.population, &in_use.model, me, &options)?);
        let mut rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        if rows.len() >= ROWS_KEPT {
            rows.retain(|_, (changes, build, length, _)| (*changes, *build, *length) == key);
            if let Some(evicted) = rows.keys().next().copied().filter(|_| rows.len() >= ROWS_KEPT) {
                rows.remove(&evicted);
            }
        }
        rows.insert(searcher, (key.0, key.1, key.2, row.clone()));
        Ok(row)
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
        let started = Instant::now();
        let in_use = self.models.current();
        let row = self.row(state, &in_use, searcher, me)?;
        let scored = started.elapsed();
        let text = query.text.as_deref().filter(|t| state.text.has_terms(t)).map(|t| state.text.search(t, row.len()));
        let groups = self.groups(state, anonymity);
        let filter =
            anonymity.card_filter(query.kind, query.sector.as_deref(), query.stage.as_deref(), query.region.as_deref());
        // Whether each group passes the filters on what cards show (a group is shown alike to
        // one viewer): 0 not known yet, 1 passes, 2 does not.
        let group_filter = anonymity.group_filter(searcher, filter);
        // Per group (a group is shown alike to one viewer): 0 not known yet, 1 passes the
        // filters on what cards show, 2 does not; and the sector share its cards show.
        let mut verdicts = vec![0u8; anonymity.group_count()];
        let mut shares = vec![0.0f64; anonymity.group_count()];
        let mut group_view = |j: usize| -> Option<f64> {
            let group = groups.get(j).copied().filter(|g| *g != u32::MAX)? as usize;
            if verdicts[group] == 0 {
                verdicts[group] = if group_filter.passes(group) { 1 } else { 2 };
                shares[group] = group_filter.sector_share(group);
            }
            (verdicts[group] == 1).then_some(shares[group])
        };
        let mut left_out = vec![false; state.entries.len()];
        for org in known {
            if let Some(&j) = state.positions.get(org) {
                left_out[j] = true;
            }
        }
        let my_sectors = state.inputs[me].profile.sectors;
        // Everyone the searcher could meet that the filters let through. Its compatibility is
        // the engine's, with the sector overlap as far as its card shows it (the exact overlap
        // would let an order reveal sectors that the card withholds).
        let mut found: Vec<(f64, f32, usize)> = Vec::new();
        for (j, &score) in row.iter().enumerate() {
            let entry = &state.entries[j];
            if j == me || score == scoring::EXCLUDED || !entry.visible || left_out[j] {
                continue;
            }
            if query.capability.as_ref().is_some_and(|c| !entry.capabilities_offered.contains(c)) {
                continue;
            }
            let relevance = text.as_ref().map_or(0.0, |t| t[j]);
            if text.is_some() && relevance <= 0.0 {
                continue;
            }
            let Some(shown_share) = group_view(j) else { continue };
            let exact = f64::from(scoring::sector_overlap(my_sectors, state.inputs[j].profile.sectors));
            let compatibility = f64::from(score) + in_use.sector_share * (shown_share - exact);
            found.push((compatibility, relevance, j));
        }
        // With free text, relevance counts relative to the best among these results.
        let best_text = found.iter().map(|f| f.1).fold(0.0f32, f32::max);
        let mut ranked: Vec<(f64, f64, u64, usize)> = found
            .into_iter()
            .map(|(compatibility, relevance, j)| {
                let rank = if text.is_some() {
                    TEXT_WEIGHT * f64::from(relevance / best_text.max(f32::EPSILON))
                        + (1.0 - TEXT_WEIGHT) * compatibility
                } else {
                    compatibility
                };
                // Ties fall in an order of the searcher's own, unrelated to when organisations
                // joined or to the database.
                let tie = split_mix(state.entries[j].tie ^ query.tie_seed);
                (rank, compatibility, tie, j)
            })
            .collect();
        let filtered = started.elapsed();
        let order = |a: &(f64, f64, u64, usize), b: &(f64, f64, u64, usize)| {
            b.0.total_cmp(&a.0).then(a.2.cmp(&b.2)).then(a.3.cmp(&b.3))
        };
        let page = query.page.max(1);
        let skip = (page - 1) * PAGE_SIZE;
        let wanted = skip + PAGE_SIZE + 1;
        let total = ranked.len();
        // Only the cards up to this page need an order.
        if total > wanted {
            ranked.select_nth_unstable_by(wanted - 1, order);
            ranked.truncate(wanted);
        }
        ranked.sort_by(order);
        let mut hits = Vec::new();
        for &(rank, compatibility, _, j) in ranked.iter().skip(skip).take(PAGE_SIZE) {
            let entry = &state.entries[j];
            let profile = anonymity.search_profile(searcher, entry.id, &entry.written);
            let described = describe(&self.catalogue, &in_use.model, &state.inputs[me], &state.inputs[j])?;
            hits.push(Hit {
                organisation: entry.id,
                public_id: entry.public_id.clone(),
                profile,
                described,
                compatibility,
                rank,
            });
        }
        tracing::debug!(
            scored_ms = scored.as_secs_f64() * 1e3,
            filtered_ms = filtered.as_secs_f64() * 1e3,
            total_ms = started.elapsed().as_secs_f64() * 1e3,
            found = total,
            "search"
        );
        let more = total > skip + PAGE_SIZE && page < MAX_PAGE;
        Ok(Results { hits, next_page: more.then_some(page + 1) })
    }
}
