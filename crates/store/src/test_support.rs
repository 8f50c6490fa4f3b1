//! What tests and benchmarks need of the database and no production build carries (the
//! `test-support` feature, which only the test package turns on): fresh PostgreSQL databases,
//! and moving events back in time.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Database};

use crate::{Store, StoreError, statement};

/// Creates an empty PostgreSQL database next to the one `base_url` names, and returns its URL
/// (for tests that need a fresh database each).
pub async fn create_postgres_database(base_url: &str) -> Result<String, StoreError> {
    let name = format!("matchwell_test_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(base_url).await?;
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await?;
    admin.close().await?;
    let (path, query) = base_url.split_once('?').map_or((base_url, None), |(p, q)| (p, Some(q)));
    let server = path.rsplit_once('/').map_or(path, |(server, _)| server);
    Ok(match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    })
}

/// Drops a database made by [`create_postgres_database`], closing its connections first.
pub async fn drop_postgres_database(base_url: &str, url: &str) -> Result<(), StoreError> {
    let name = url.split('?').next().and_then(|path| path.rsplit('/').next()).unwrap_or_default();
    if !name.starts_with("matchwell_test_") {
        return Err(StoreError::State("only test databases are dropped"));
    }
    let admin = Database::connect(base_url).await?;
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await?;
    admin.close().await?;
    Ok(())
}

impl Store {
    /// Puts every account on daily digests and moves every match's creation time to `at`
    /// (tests and benchmarks of whole digest runs only).
    pub async fn everyone_daily_with_matches_made_at_for_tests(&self, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.db.execute_raw(statement(self.backend(), "UPDATE accounts SET digest_frequency = 'daily'", [])).await?;
        self.db.execute_raw(statement(self.backend(), "UPDATE matches SET created_at = ?", [at.into()])).await?;
        Ok(())
    }

    /// Moves a match's creation time (tests of periods only).
    pub async fn backdate_match_for_tests(&self, id: &str, created_at: DateTime<Utc>) -> Result<(), StoreError> {
        self.db
            .execute_raw(statement(
                self.backend(),
                "UPDATE matches SET created_at = ? WHERE id = ?",
                [created_at.into(), id.into()],
            ))
            .await?;
        Ok(())
    }
}
