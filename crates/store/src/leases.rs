//! Named leases: a row per kind of exclusive work (such as scoring), held by one process until
//! it expires or is released, so that several `serve` processes sharing a database never do
//! that work at the same time.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult};

use crate::{Store, StoreError, statement};

/// Whether `holder` holds the lease `name` at `now`, in the caller's transaction; on
/// PostgreSQL the lease's row stays locked until the transaction ends.
pub(crate) async fn holds(
    txn: &impl ConnectionTrait,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let backend = txn.get_database_backend();
    let lock = if backend == sea_orm::DatabaseBackend::Postgres { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT holder, expires_at FROM leases WHERE name = ? AND holder = ? AND expires_at > ?{lock}");
    let row = LeaseRow::find_by_statement(statement(backend, &sql, [name.into(), holder.into(), now.into()]))
        .one(txn)
        .await?;
    Ok(row.is_some())
}

#[derive(FromQueryResult)]
struct LeaseRow {
    holder: String,
    expires_at: DateTime<Utc>,
}

impl Store {
    /// Takes or renews the lease `name` for `holder` until `now + ttl`; whether it is held.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let sql = "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.expires_at < ? OR leases.holder = excluded.holder";
        let values = [name.into(), holder.into(), (now + ttl).into(), now.into()];
        let result = self.db.execute_raw(statement(self.backend(), sql, values)).await?;
        Ok(result.rows_affected() == 1)
    }

    /// Who holds the lease `name` and until when, if anyone has taken it and not given it up
    /// (an expired lease is still shown: nobody has taken it over yet).
    pub async fn lease_holder(&self, name: &str) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
        let sql = "SELECT holder, expires_at FROM leases WHERE name = ?";
        let row = LeaseRow::find_by_statement(statement(self.backend(), sql, [name.into()])).one(&self.db).await?;
        Ok(row.map(|r| (r.holder, r.expires_at)))
    }

    /// Gives the lease up if `holder` has it.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM leases WHERE name = ? AND holder = ?";
        self.db.execute_raw(statement(self.backend(), sql, [name.into(), holder.into()])).await?;
        Ok(())
    }
}
