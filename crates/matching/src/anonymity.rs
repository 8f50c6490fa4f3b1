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
    members: HashMap<OrgId, QuasiIdentifiers>,
}

/// An anonymous profile as it may be shown: the generalised fields, and what the counterpart
/// wrote for anonymous views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnonymousProfile {
    pub shown: Shown,
    pub capabilities_offered: Vec<String>,
    pub capabilities_sought: Vec<String>,
    pub anonymous_summary: Option<String>,
}

impl Snapshot {
    /// What `viewer` may see of `counterpart`. A viewer missing from this generation (it
    /// joined a moment ago) is counted as one that might fit.
    pub fn profile(&self, viewer: OrgId, counterpart: &CounterpartProfile) -> AnonymousProfile {
        let viewer = self.members.get(&viewer).map_or(Viewer::Anyone, Viewer::Organisation);
        AnonymousProfile {
            shown: self.index.generalise(counterpart.quasi_identifiers(), viewer),
            capabilities_offered: counterpart.capabilities_offered.clone(),
            capabilities_sought: counterpart.capabilities_sought.clone(),
            anonymous_summary: counterpart.anonymous_summary.clone(),
        }
    }

    pub fn index(&self) -> &AnonymityIndex {
        &self.index
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
        let members = rows.into_iter().map(|r| (r.id, r.quasi_identifiers)).collect();
        let snapshot = Arc::new(Snapshot { generation, index, members });
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
