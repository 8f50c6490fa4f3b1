//! One sea-orm entity per table (see `migrations/` for the schema). Lists are stored as JSON
//! arrays in text columns, which both engines read alike.

pub mod account;
pub mod answer;
pub mod email_queue;
pub mod email_token;
pub mod generation;
pub mod match_party;
pub mod matches;
pub mod organisation;
