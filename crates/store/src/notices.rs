//! Notices of what other processes changed, on PostgreSQL: the triggers of the `fleet`
//! migration send them with `pg_notify` in the transaction of the change, so they arrive when
//! it commits and never for a change that was rolled back. A process that listens drops what it
//! cached of the change at once instead of waiting to compare versions. Notices are not kept:
//! one sent while a listener was disconnected is lost, so a listener that reconnects hears
//! [`Notice::Reconnected`], and a caller that listens again after an error must, like one that
//! starts listening, treat everything it cached as stale.

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{DatabaseBackend, DbErr, RuntimeErr};

use crate::{OrgId, Store, StoreError};

/// The channel of every notice.
const CHANNEL: &str = "matchwell";

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// These organisations' match lists moved to a new version.
    Lists(Vec<OrgId>),
    /// Too many lists moved to name them: every list may have.
    AllLists,
    /// The generation counter of this name moved on (see `generations`).
    Generation(String),
    /// The sessions of this account (its public id) may have ended or changed.
    Session(String),
    /// The connection was lost and made again: notices may have been missed meanwhile.
    Reconnected,
}

impl Notice {
    /// Reads a notice's payload; `None` for one this version does not know.
    pub fn parse(payload: &str) -> Option<Notice> {
        let (kind, rest) = payload.split_once(':')?;
        match kind {
            "lists" if rest == "*" => Some(Notice::AllLists),
            "lists" => rest.split(',').map(|id| id.parse().ok().map(OrgId)).collect::<Option<_>>().map(Notice::Lists),
            "generation" => Some(Notice::Generation(rest.to_owned())),
            "session" => Some(Notice::Session(rest.to_owned())),
            _ => None,
        }
    }
}

/// A connection that hears the notices of every process.
pub struct Listener {
    listener: PgListener,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").finish_non_exhaustive()
    }
}

fn listener_error(error: sea_orm::sqlx::Error) -> StoreError {
    StoreError::Database(DbErr::Conn(RuntimeErr::SqlxError(error.into())))
}

impl Store {
    /// Listens for notices, on a connection of its own; `None` on SQLite, which has none.
    pub async fn listen(&self) -> Result<Option<Listener>, StoreError> {
        if self.backend() != DatabaseBackend::Postgres {
            return Ok(None);
        }
        let pool = self.db.get_postgres_connection_pool();
        let mut listener = PgListener::connect_with(pool).await.map_err(listener_error)?;
        listener.listen(CHANNEL).await.map_err(listener_error)?;
        Ok(Some(Listener { listener }))
    }
}

impl Listener {
    /// The next notice. When the connection was lost, it is made again (listening again)
    /// before this answers [`Notice::Reconnected`]. An error means this listener is done with:
    /// the caller drops it and listens again with [`Store::listen`].
    pub async fn next(&mut self) -> Result<Notice, StoreError> {
        loop {
            match self.listener.try_recv().await {
                Ok(Some(notification)) => match Notice::parse(notification.payload()) {
                    Some(notice) => return Ok(notice),
                    None => tracing::warn!(payload = notification.payload(), "an unknown notice"),
                },
                // Lost, and made again at once (`eager_reconnect`).
                Ok(None) => return Ok(Notice::Reconnected),
                Err(error) => return Err(listener_error(error)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_read_as_notices_and_unknown_ones_are_skipped() {
        assert_eq!(Notice::parse("lists:3,14"), Some(Notice::Lists(vec![OrgId(3), OrgId(14)])));
        assert_eq!(Notice::parse("lists:*"), Some(Notice::AllLists));
        assert_eq!(Notice::parse("generation:population"), Some(Notice::Generation("population".to_owned())));
        assert_eq!(Notice::parse("session:abc"), Some(Notice::Session("abc".to_owned())));
        assert_eq!(Notice::parse("lists:3,x"), None);
        assert_eq!(Notice::parse("later:kind"), None);
        assert_eq!(Notice::parse("nothing"), None);
    }
}
