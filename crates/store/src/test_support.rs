//! What tests and benchmarks need of the database and no production build carries (the
//! `test-support` feature, which only the test package turns on): fresh PostgreSQL databases,
//! and moving events back in time.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Database, FromQueryResult};

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

/// Every column that refers to an organisation, as (table, column).
const ORGANISATION_REFERENCES: [(&str, &str); 11] = [
    ("organisations", "id"),
    ("accounts", "organisation_id"),
    ("answers", "organisation_id"),
    ("matches", "org_low"),
    ("matches", "org_high"),
    ("matches", "asked_by"),
    ("match_parties", "organisation_id"),
    ("challenges", "poster_id"),
    ("challenge_responses", "responder_id"),
    ("forum_aliases", "organisation_id"),
    ("challenge_questions", "asker_id"),
];

impl Store {
    /// Every row of every table, as JSON text, by table (tests that look for any trace of an
    /// erased organisation).
    pub async fn every_row_for_tests(&self) -> Result<Vec<(String, String)>, StoreError> {
        #[derive(sea_orm::FromQueryResult)]
        struct Name {
            name: String,
        }
        let sql = match self.backend() {
            sea_orm::DatabaseBackend::Postgres => {
                "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'"
            }
            _ => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        };
        let tables = Name::find_by_statement(statement(self.backend(), sql, [])).all(&self.db).await?;
        let mut rows = Vec::new();
        for table in tables {
            let select = statement(self.backend(), &format!("SELECT * FROM \"{}\"", table.name), []);
            for row in sea_orm::JsonValue::find_by_statement(select).all(&self.db).await? {
                rows.push((table.name.clone(), row.to_string()));
            }
        }
        Ok(rows)
    }

    /// How many rows, in every table that refers to organisations, refer to the one with this
    /// internal id.
    pub async fn references_to_organisation_for_tests(&self, id: i64) -> Result<Vec<(String, i64)>, StoreError> {
        #[derive(sea_orm::FromQueryResult)]
        struct Count {
            n: i64,
        }
        let mut found = Vec::new();
        for (table, column) in ORGANISATION_REFERENCES {
            let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = ?");
            let count = Count::find_by_statement(statement(self.backend(), &sql, [id.into()])).one(&self.db).await?;
            let n = count.map_or(0, |c| c.n);
            if n > 0 {
                found.push((format!("{table}.{column}"), n));
            }
        }
        Ok(found)
    }

    /// Ends every other connection to this PostgreSQL database that listens for notices, as a
    /// network failure or a restarted server would, and returns how many it ended.
    pub async fn cut_listeners_for_tests(&self) -> Result<u64, StoreError> {
        let sql = "SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity \
                   WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'";
        #[derive(FromQueryResult)]
        struct Ended {
            ended: bool,
        }
        let rows = Ended::find_by_statement(statement(self.backend(), sql, [])).all(&self.db).await?;
        Ok(rows.iter().filter(|row| row.ended).count() as u64)
    }

    /// How many connections to this PostgreSQL database listen for notices.
    pub async fn listeners_for_tests(&self) -> Result<u64, StoreError> {
        let sql = "SELECT count(*) AS listening FROM pg_stat_activity \
                   WHERE datname = current_database() AND query LIKE 'LISTEN%'";
        #[derive(FromQueryResult)]
        struct Listening {
            listening: i64,
        }
        let found = Listening::find_by_statement(statement(self.backend(), sql, [])).one(&self.db).await?;
        Ok(found.map_or(0, |f| f.listening as u64))
    }

    /// How many times this PostgreSQL table's planner statistics were refreshed by `ANALYZE`
    /// (as the statistics report it, up to a second late).
    pub async fn analyses_for_tests(&self, table: &str) -> Result<i64, StoreError> {
        let sql = "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = ?";
        #[derive(FromQueryResult)]
        struct Analyses {
            analyze_count: i64,
        }
        let found = Analyses::find_by_statement(statement(self.backend(), sql, [table.into()])).one(&self.db).await?;
        Ok(found.map_or(0, |f| f.analyze_count))
    }
}
