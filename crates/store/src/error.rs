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
    #[error("database error")]
    Database(#[source] DbErr),
}

impl From<DbErr> for StoreError {
    fn from(error: DbErr) -> StoreError {
        match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict,
            _ => StoreError::Database(error),
        }
    }
}
