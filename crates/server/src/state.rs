//! What every request handler shares.

use std::sync::Arc;

use domain::Catalogue;
use store::Store;
use tokio::sync::Notify;

use crate::auth::Tokens;
use crate::config::Settings;
use crate::limits::RateLimiter;

#[derive(Debug)]
pub struct AppState {
    pub store: Store,
    pub catalogue: Arc<Catalogue>,
    pub tokens: Tokens,
    pub settings: Settings,
    pub limiter: RateLimiter,
    /// Wakes the scoring worker when an organisation changed.
    pub scoring: Arc<Notify>,
    /// A hash of a random password: logins for unknown emails verify against it, so that
    /// they take as long as logins for known ones.
    pub dummy_hash: String,
    pub match_lists: Arc<crate::cache::MatchLists>,
}
