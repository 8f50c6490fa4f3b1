//! Follows what other processes change (PostgreSQL `LISTEN/NOTIFY`, see `store::notices`), so
//! that a reveal, decline, new match or ended session made through one instance shows through
//! every other at once: the cached match lists and sessions it names are dropped as soon as the
//! change commits. The caches' own version checks stay as the fallback, for SQLite and for
//! while the listening connection is down; when it comes back, everything cached is dropped,
//! since notices sent meanwhile are lost.

use std::time::Duration;

use actix_web::web;
use store::notices::Notice;
use tokio::sync::watch;

use crate::state::AppState;

/// How long to wait before listening again after a failure.
const RETRY: Duration = Duration::from_secs(1);

/// Applies every notice to this process's caches until `stop` turns true. Returns at once on
/// SQLite. A listener that fails is dropped and another made, on a new connection.
pub async fn follow(state: web::Data<AppState>, mut stop: watch::Receiver<bool>) {
    loop {
        match state.store.listen().await {
            Ok(Some(mut listener)) => {
                // Whatever was cached before listening may have missed a notice.
                apply(&state, Notice::Reconnected);
                loop {
                    tokio::select! {
                        notice = listener.next() => match notice {
                            Ok(notice) => apply(&state, notice),
                            Err(error) => {
                                tracing::warn!(error = %error, "lost the notices of other processes' changes; will listen again");
                                break;
                            }
                        },
                        _ = stop.changed() => return,
                    }
                }
            }
            Ok(None) => return,
            Err(error) => tracing::warn!(error = %error, "failed to listen for other processes' changes; will retry"),
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Drops what `notice` says is stale.
fn apply(state: &AppState, notice: Notice) {
    match notice {
        Notice::Lists(orgs) => state.match_lists.forget(&orgs),
        Notice::AllLists => state.match_lists.clear(),
        // Anonymous profiles are generalised against the population.
        Notice::Generation(name) if name == store::generations::POPULATION => state.match_lists.clear(),
        // Something to score: the scoring worker need not wait for its next look.
        Notice::Generation(name) if name == store::generations::CHANGES => state.scoring.notify_one(),
        Notice::Generation(_) => {}
        Notice::Session(account) => state.sessions.forget(&account),
        Notice::Reconnected => {
            tracing::info!("listening for other processes' changes");
            state.match_lists.clear();
            state.sessions.clear();
            state.scoring.notify_one();
        }
    }
}
