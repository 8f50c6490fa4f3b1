//! The anonymity index of the current population, shared by every surface that shows
//! anonymous profiles (match views now; search cards, challenge responses, forum posts and
//! digests as they arrive). It is rebuilt from the store when the population generation moves
//! on (an organisation joined, left or changed a field of its anonymous profile), which the
//! store increases in the same transaction as the change.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use domain::Catalogue;
use domain::anonymity::{AnonymityIndex, QuasiIdentifiers, Shown, Viewer};
use store::generations::POPULATION;
use store::matches::CounterpartProfile;
use store::{OrgId, Store, StoreError};

/// The index of one population generation.
#[derive(Debug)]
pub struct Snapshot {
    pub generation: i64,
    index: AnonymityIndex,
    positions: HashMap<OrgId, usize>,
    population: Vec<(OrgId, QuasiIdentifiers)>,
}

/// An anonymous profile as it may be shown: the fields of its group, what the counterpart
/// wrote for anonymous views, and the share of sectors in common as far as the group tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct AnonymousProfile {
    pub shown: Shown,
    pub capabilities_offered: Vec<String>,
    pub capabilities_sought: Vec<String>,
    pub anonymous_summary: Option<String>,
    pub sector_share: f64,
}

impl Snapshot {
    /// What `viewer` may see of the organisation `subject`, which wrote `written` for anonymous
    /// views. Both are looked up in this generation of the population: a subject missing from
    /// it (it joined a moment ago) shows nothing, and a missing viewer counts as any reader.
    pub fn profile(&self, viewer: OrgId, subject: OrgId, written: &CounterpartProfile) -> AnonymousProfile {
        let viewer = self.positions.get(&viewer).copied();
        let (shown, sector_share) = match self.positions.get(&subject) {
            Some(&s) => (
                self.index.shown(s, viewer.map_or(Viewer::Anyone, Viewer::Member)),
                viewer.map_or(0.0, |v| self.index.shown_sector_share(s, v)),
            ),
            None => (Shown::default(), 0.0),
        };
        // A profile that shows nothing tells nothing of sectors either.
        let sector_share = if shown == Shown::default() { 0.0 } else { sector_share };
        AnonymousProfile {
            shown,
            capabilities_offered: written.capabilities_offered.clone(),
            capabilities_sought: written.capabilities_sought.clone(),
            anonymous_summary: written.anonymous_summary.clone(),
            sector_share,
        }
    }

    /// What `viewer` may see of `subject` on a search card: as [`Snapshot::profile`], with all
    /// of the group's sectors.
    pub fn search_profile(&self, viewer: OrgId, subject: OrgId, written: &CounterpartProfile) -> AnonymousProfile {
        let viewer = self.positions.get(&viewer).copied();
        let (shown, sector_share) = match self.positions.get(&subject) {
            Some(&s) => (
                self.index.shown_in_full(s, viewer.map_or(Viewer::Anyone, Viewer::Member)),
                viewer.map_or(0.0, |v| self.index.shown_sector_share(s, v)),
            ),
            None => (Shown::default(), 0.0),
        };
        // A profile that shows nothing tells nothing of sectors either.
        let sector_share = if shown == Shown::default() { 0.0 } else { sector_share };
        AnonymousProfile {
            shown,
            capabilities_offered: written.capabilities_offered.clone(),
            capabilities_sought: written.capabilities_sought.clone(),
            anonymous_summary: written.anonymous_summary.clone(),
            sector_share,
        }
    }

    /// The sectors of `org` as stored (a viewer's own, to say which it shares).
    pub fn sectors_of(&self, org: OrgId) -> &[String] {
        self.positions.get(&org).map_or(&[], |&i| self.population[i].1.sectors.as_slice())
    }

    /// What `viewer` may see of `subject`'s fields on a search card (for filters on them).
    pub fn search_shown(&self, viewer: OrgId, subject: OrgId) -> Shown {
        let viewer = self.positions.get(&viewer).copied();
        match self.positions.get(&subject) {
            Some(&s) => self.index.shown_in_full(s, viewer.map_or(Viewer::Anyone, Viewer::Member)),
            None => Shown::default(),
        }
    }

    /// Filters on what search cards show, for this generation's index.
    pub fn card_filter(
        &self,
        kind: Option<domain::OrgKind>,
        sector: Option<&str>,
        stage: Option<&str>,
        region: Option<&str>,
    ) -> domain::anonymity::CardFilter {
        self.index.card_filter(kind, sector, stage, region)
    }

    /// A test of whether cards of a group pass `filter` as shown to `viewer` (nothing passes
    /// for a viewer missing from this generation).
    pub fn group_filter(&self, viewer: OrgId, filter: domain::anonymity::CardFilter) -> GroupFilter<'_> {
        let viewer = self.positions.get(&viewer).copied();
        let counterparts = viewer.map(|v| self.index.counterparts_per_group(v));
        GroupFilter { index: &self.index, viewer, filter, counterparts }
    }

    /// Groups in this generation.
    pub fn group_count(&self) -> usize {
        self.index.group_count()
    }

    /// The group of `subject` in this generation (its members are shown alike).
    pub fn group_of(&self, subject: OrgId) -> Option<usize> {
        self.positions.get(&subject).and_then(|&s| self.index.group_of(s))
    }

    /// What any member may see of `subject` on a public surface (a challenge, the forum):
    /// one organisation fewer is counted, since the reader may be one of its group.
    pub fn public_profile(&self, subject: OrgId, written: &CounterpartProfile) -> AnonymousProfile {
        let shown = self.positions.get(&subject).map_or_else(Shown::default, |&s| self.index.shown(s, Viewer::Anyone));
        AnonymousProfile {
            shown,
            capabilities_offered: written.capabilities_offered.clone(),
            capabilities_sought: written.capabilities_sought.clone(),
            anonymous_summary: written.anonymous_summary.clone(),
            sector_share: 0.0,
        }
    }

    /// The organisations of this generation and their fields as stored (for reports).
    pub fn population(&self) -> &[(OrgId, QuasiIdentifiers)] {
        &self.population
    }

    pub fn index(&self) -> &AnonymityIndex {
        &self.index
    }
}

/// Whether groups pass a search's filters, for one viewer.
#[derive(Debug)]
pub struct GroupFilter<'a> {
    index: &'a AnonymityIndex,
    viewer: Option<usize>,
    filter: domain::anonymity::CardFilter,
    counterparts: Option<Arc<Vec<u32>>>,
}

impl GroupFilter<'_> {
    pub fn passes(&self, group: usize) -> bool {
        match (self.viewer, &self.counterparts) {
            (Some(viewer), Some(counterparts)) => self.index.group_passes(group, viewer, &self.filter, counterparts),
            _ => false,
        }
    }

    /// The sector share that cards of `group` show the viewer (see `AnonymousProfile`).
    pub fn sector_share(&self, group: usize) -> f64 {
        match (self.viewer, &self.counterparts) {
            (Some(viewer), Some(counterparts)) => self.index.group_sector_share(group, viewer, counterparts),
            _ => 0.0,
        }
    }
}

/// The current snapshot, rebuilt on demand.
#[derive(Debug)]
pub struct Anonymity {
    catalogue: Arc<Catalogue>,
    k: usize,
    current: RwLock<Option<Arc<Snapshot>>>,
    rebuilding: tokio::sync::Mutex<()>,
}

impl Anonymity {
    pub fn new(catalogue: Arc<Catalogue>, k: usize) -> Anonymity {
        Anonymity { catalogue, k, current: RwLock::new(None), rebuilding: tokio::sync::Mutex::new(()) }
    }

    fn held(&self, generation: i64) -> Option<Arc<Snapshot>> {
        let current = self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        current.as_ref().filter(|s| s.generation >= generation).cloned()
    }

    /// A snapshot of population generation `generation` or later.
    pub async fn at_least(&self, store: &Store, generation: i64) -> Result<Arc<Snapshot>, StoreError> {
        if let Some(snapshot) = self.held(generation) {
            return Ok(snapshot);
        }
        // One rebuild at a time; whoever waited finds it done.
        let _rebuilding = self.rebuilding.lock().await;
        if let Some(snapshot) = self.held(generation) {
            return Ok(snapshot);
        }
        let (generation, rows) = store.population().await?;
        let population: Vec<QuasiIdentifiers> = rows.iter().map(|r| r.quasi_identifiers.clone()).collect();
        let index = AnonymityIndex::new(&self.catalogue.taxonomy, self.k, &population);
        let positions = rows.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        let population = rows.into_iter().map(|r| (r.id, r.quasi_identifiers)).collect();
        let snapshot = Arc::new(Snapshot { generation, index, positions, population });
        *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(snapshot.clone());
        tracing::debug!(generation, organisations = snapshot.index.len(), "anonymity index rebuilt");
        Ok(snapshot)
    }

    /// A snapshot of the population as it is now.
    pub async fn current(&self, store: &Store) -> Result<Arc<Snapshot>, StoreError> {
        let generation = store.generation(POPULATION).await?;
        self.at_least(store, generation).await
    }
}
