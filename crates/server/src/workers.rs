//! The workers of a `serve` process. The scoring worker: woken when an organisation changes (or every few
//! seconds, to pick up changes made through other processes), it takes the database-wide
//! scoring lease and brings matches up to date; without the lease it leaves the work to the
//! process that has it. The digest worker queues digests whose period ended (`digests.rs`).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use matching::Matchmaker;
use store::Store;
use tokio::sync::{Notify, watch};

use matching::{LEASE_TTL, SCORING_LEASE};

use crate::cache::MatchLists;
use crate::metrics::Metrics;

/// Runs one scoring pass if the lease can be had; whether it ran.
pub async fn score_once(
    store: &Store,
    matchmaker: &mut Matchmaker,
    holder: &str,
    full: bool,
    lists: &MatchLists,
    metrics: &Metrics,
) -> anyhow::Result<bool> {
    if !store.acquire_lease(SCORING_LEASE, holder, Utc::now(), LEASE_TTL).await? {
        return Ok(false);
    }
    let started = std::time::Instant::now();
    let pass = matchmaker.run(store, full, Arc::new(|_, _| {}));
    let result = matching::holding_lease(store, SCORING_LEASE, holder, pass).await;
    store.release_lease(SCORING_LEASE, holder).await?;
    let report = result?;
    metrics.scoring_ran(started.elapsed().as_secs_f64());
    if report.saved.created + report.saved.updated > 0 {
        lists.clear();
    }
    if report.rescored > 0 {
        tracing::info!(
            organisations = report.organisations,
            rescored = report.rescored,
            created = report.saved.created,
            updated = report.saved.updated,
            capped = report.saved.capped,
            "matches updated"
        );
    }
    Ok(true)
}

pub async fn run_scoring(
    store: Store,
    matchmaker: Matchmaker,
    wake: Arc<Notify>,
    models: Arc<matching::models::Models>,
    lists: Arc<MatchLists>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let holder = format!("serve-{}", uuid::Uuid::new_v4());
    let mut matchmaker = matchmaker.holding(&holder);
    loop {
        // Every process follows the model in use, whichever process adopted it.
        if let Err(error) = models.refresh(&store).await {
            tracing::error!(error = %format!("{error:#}"), "failed to read the scoring model in use");
        }
        if let Err(error) = score_once(&store, &mut matchmaker, &holder, false, &lists, &metrics).await {
            tracing::error!(error = %format!("{error:#}"), "scoring failed; will retry");
        }
        tokio::select! {
            _ = wake.notified() => {
                // Let a burst of edits settle before scoring them together.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
    }
}

/// How often a `serve` process looks for digests whose period ended.
const DIGEST_EVERY: Duration = Duration::from_secs(300);

/// The digest worker of a `serve` process: every few minutes, it queues the digests whose
/// period ended. Each (member, period) is claimed in the database with its message, so several
/// processes may run this side by side and each digest is queued once.
pub async fn run_digests(digester: crate::digests::Digester, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(error) = digester.run(Utc::now(), false).await {
            tracing::error!(error = %format!("{error:#}"), "the digest run failed; will retry");
        }
        tokio::select! {
            _ = tokio::time::sleep(DIGEST_EVERY) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
    }
}
