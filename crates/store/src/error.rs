//! What can go wrong in the store.

use sea_orm::{DbErr, SqlErr};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken (an email already registered, a key already queued).
    #[error("already exists")]
    Conflict,
    #[error("not found")]
    NotFound,
    /// The caller may see this but may not do this to it (a member editing another's
    /// challenge).
    #[error("not allowed for this organisation")]
    Forbidden,
    /// The request does not fit the current state (an outcome before both revealed).
    #[error("not allowed now: {0}")]
    State(&'static str),
    /// A limit on how often something may be done was reached.
    #[error("{0}")]
    Limit(&'static str),
    /// A stored value that cannot be read (a bug or a damaged database, never user input).
    #[error("a stored value cannot be read: {0}")]
    Corrupt(&'static str),
    #[error("failed to create the database file")]
    Io(#[source] std::io::Error),
    /// The database gave this transaction up so that a concurrent one could finish (a deadlock
    /// or a serialization failure on PostgreSQL): nothing of it was stored, and running it
    /// again is safe.
    #[error("the database gave way to a concurrent transaction")]
    Contended(#[source] DbErr),
    #[error("database error")]
    Database(#[source] DbErr),
}

impl StoreError {
    /// Whether running the same work again may succeed (see [`StoreError::Contended`]).
    pub fn is_contended(&self) -> bool {
        matches!(self, StoreError::Contended(_))
    }
}

/// PostgreSQL's `deadlock_detected` (40P01) and `serialization_failure` (40001).
fn contended(error: &DbErr) -> bool {
    let message = error.to_string();
    message.contains("deadlock detected") || message.contains("could not serialize access") || message.contains("40P01")
}

impl From<DbErr> for StoreError {
    fn from(error: DbErr) -> StoreError {
        match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict,
            _ if contended(&error) => StoreError::Contended(error),
            _ => StoreError::Database(error),
        }
    }
}
