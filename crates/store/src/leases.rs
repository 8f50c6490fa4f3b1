//! Named leases: a row per kind of exclusive work (such as scoring), held by one process until
//! it expires or is released, so that several `serve` processes sharing a database never do
//! that work at the same time.

use chrono::{DateTime, Duration, Utc};
use sea_orm::ConnectionTrait;

use crate::{Store, StoreError, statement};

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

    /// Gives the lease up if `holder` has it.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM leases WHERE name = ? AND holder = ?";
        self.db.execute_raw(statement(self.backend(), sql, [name.into(), holder.into()])).await?;
        Ok(())
    }
}
