//! Matchwell's web service: the JSON API under `/api/v1` (actix-web), the web app's pages
//! over the same domain logic (`pages/`), authentication with access tokens and web sessions,
//! and the background workers a `serve` process runs (email delivery and scoring).
//!
//! Invariants: the only crate that knows HTTP, JSON and JWT. Handlers parse their input into
//! domain values once, at the edge, and answer errors in one shape (`errors.rs`); a 500 never
//! carries internals. A resource the caller may not see is 404, never 403. Views of a match
//! come from the store's party view, which holds the other side's identity only once revealed,
//! and every anonymous profile is generalised through the population's anonymity index
//! (`matching::anonymity`) before it is shown.

pub mod auth;
mod cache;
mod client;
pub mod clock;
pub mod config;
mod csrf;
pub mod digests;
pub mod errors;
mod keys;
mod limits;
mod metrics;
mod notices;
pub(crate) mod pages;
mod refs;
mod retry;
mod routes;
pub mod startup;
mod state;
mod workers;

pub use config::Settings;
pub use startup::Application;
