//! What every request handler shares.

use std::sync::Arc;

use domain::Catalogue;
use store::Store;
use tokio::sync::Notify;

use crate::auth::{Sessions, Tokens};
use crate::config::Settings;
use crate::limits::Throttle;

#[derive(Debug)]
pub struct AppState {
    pub store: Store,
    pub catalogue: Arc<Catalogue>,
    pub tokens: Tokens,
    pub settings: Settings,
    /// Rate limits, counted in the database for every process.
    pub limiter: Throttle,
    /// Wakes the scoring worker when an organisation changed.
    pub scoring: Arc<Notify>,
    /// A hash of a random password: logins for unknown emails verify against it, so that
    /// they take as long as logins for known ones.
    pub dummy_hash: String,
    pub match_lists: Arc<crate::cache::MatchLists>,
    /// Accounts' current session versions, so that checking a token seldom needs the store.
    pub sessions: Sessions,
    /// The population's anonymity index, for every anonymous profile shown.
    pub anonymity: Arc<matching::anonymity::Anonymity>,
    /// The scoring model in use (refreshed by the scoring worker and after learning).
    pub models: Arc<matching::models::Models>,
    /// The time now (tests move it).
    pub clock: Arc<crate::clock::Clock>,
    /// Partner search's in-memory population.
    pub search: Arc<matching::search::Search>,
    /// Search refs and aliases.
    pub refs: crate::refs::SearchRefs,
    /// Signs the CSRF tokens of web forms.
    pub csrf_key: crate::csrf::CsrfKey,
    /// Signs the tokens of digest unsubscribe links.
    pub unsubscribe_key: crate::digests::UnsubscribeKey,
    /// What `/metrics` shows.
    pub metrics: Arc<crate::metrics::Metrics>,
}
