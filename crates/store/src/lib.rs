//! Matchwell's storage: sea-orm entities (`entities/`) and every query the service makes,
//! grouped by what they are about. SQLite (embedded, the default) and PostgreSQL (production,
//! several `serve` processes on one database) run the same code; the few statements that
//! differ say so.
//!
//! Invariants: the only crate that knows SQL. Callers get domain values or the small record
//! types defined here, never entity models. A party's view of a match is built here, and the
//! other side's identity is read only once that side has revealed itself, so no caller can
//! leak it by mistake. Every change that must not be half-done runs in one transaction.

pub mod accounts;
pub mod challenges;
pub mod digests;
mod entities;
mod error;
pub mod funnel;
pub mod generations;
pub mod leases;
pub mod mail;
pub mod matches;
pub mod models;
pub mod notices;
pub mod organisations;
pub mod rights;
pub mod stories;
pub mod throttle;
pub mod web_sessions;

#[cfg(feature = "test-support")]
pub mod test_support;

use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, TransactionTrait};

pub use error::StoreError;
pub use sea_orm::DbErr;

/// An organisation's internal id. Never shown to anyone but the organisation itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId(pub i64);

/// The database, shared by every request and worker (cheap to clone). On SQLite, writes go
/// through one connection (so writers never contend) and reads through a small pool that
/// runs beside it (WAL); on PostgreSQL both are the same pool.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    read: DatabaseConnection,
    /// The SQLite file, which `migrate` locks while it migrates.
    sqlite_file: Option<std::path::PathBuf>,
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`).
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let pool = |connections: u32| {
            let mut options = ConnectOptions::new(url.to_owned());
            options
                .max_connections(connections)
                .min_connections(1)
                .connect_timeout(Duration::from_secs(10))
                .acquire_timeout(Duration::from_secs(30))
                .sqlx_logging(false)
                // Every connection, including those that replace recycled ones, waits up to ten
                // seconds for another writer (another process on the same file) to finish.
                .map_sqlx_sqlite_opts(|sqlite| sqlite.busy_timeout(Duration::from_secs(10)).foreign_keys(true));
            options
        };
        if !url.starts_with("sqlite:") {
            let db = Database::connect(pool(16)).await?;
            return Ok(Store { read: db.clone(), db, sqlite_file: None });
        }
        let sqlite_file = create_private_file(url)?;
        let db = Database::connect(pool(1)).await?;
        db.execute_unprepared("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;")
            .await?;
        let read = Database::connect(pool(8)).await?;
        Ok(Store { db, read, sqlite_file })
    }

    /// Applies pending migrations.
    /// Connects and applies any pending migrations: what every command that uses the database
    /// does first.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    ///
    /// On PostgreSQL, processes that start together (a fleet's replicas) take turns: each
    /// holds a transaction-scoped advisory lock while it migrates, so the first applies the
    /// migrations and the others wait, then find nothing left to do. The lock goes with the
    /// transaction: at commit, or when a killed process's connection drops. On SQLite the
    /// same holds with an exclusive `flock` of the database file (SQLite's own locks are
    /// `fcntl` locks, which it does not disturb), released when the file closes.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        if self.backend() != DatabaseBackend::Postgres {
            let _turn = match &self.sqlite_file {
                Some(path) => {
                    let path = path.clone();
                    let file = tokio::task::spawn_blocking(move || {
                        let file = std::fs::File::open(path)?;
                        file.lock()?;
                        Ok::<_, std::io::Error>(file)
                    })
                    .await
                    .map_err(std::io::Error::other)
                    .flatten()
                    .map_err(StoreError::Io)?;
                    Some(file)
                }
                None => None,
            };
            Migrator::up(&self.db, None).await?;
            return Ok(());
        }
        let turn = self.write().await?;
        turn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")).await?;
        Migrator::up(&self.db, None).await?;
        turn.commit().await?;
        Ok(())
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read.ping().await?;
        Ok(())
    }

    /// Begins a transaction that writes. On SQLite it takes the database's write lock at once
    /// (`BEGIN IMMEDIATE`), waiting for another process's writer if need be, rather than
    /// reading first and then failing to upgrade when another process wrote meanwhile.
    pub(crate) async fn write(&self) -> Result<sea_orm::DatabaseTransaction, DbErr> {
        let options = sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        self.db.begin_with_options(options).await
    }

    /// Whether this is PostgreSQL (the database that several processes share).
    pub fn is_postgres(&self) -> bool {
        self.backend() == DatabaseBackend::Postgres
    }

    pub(crate) fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    /// After a bulk write of `rows` rows to `tables` (every table when empty), committed:
    /// refreshes PostgreSQL's planner statistics of those tables at once (`ANALYZE`) rather than
    /// leaving it to autovacuum, which may be minutes away or turned off. Planning with the
    /// statistics of a nearly empty table, PostgreSQL read every match party for each search
    /// (`counterparts_of`: 100 ms over 260,000 parties, 1.7 ms once analysed). SQLite plans
    /// from its indexes alone here. A failure is logged, not returned: the write stands.
    pub(crate) async fn after_bulk_write(&self, tables: &[&str], rows: usize) {
        if !self.is_postgres() || rows < BULK_ROWS {
            return;
        }
        let sql = format!("ANALYZE {}", tables.join(", "));
        if let Err(error) = self.db.execute_unprepared(&sql).await {
            tracing::warn!(error = %error, "failed to refresh the planner's statistics after a bulk write");
        }
    }
}

/// How many rows make a write bulk enough to refresh the planner's statistics after it
/// (PostgreSQL's autovacuum waits for 50 rows and a tenth of the table).
const BULK_ROWS: usize = 1000;

/// The advisory lock key of migrations ("MWMIGRAT").
const MIGRATION_LOCK: i64 = 0x4d57_4d49_4752_4154;

/// Creates the SQLite file of `url` readable by its owner only (mode 0600), unless it exists;
/// SQLite gives its `-wal` and `-shm` files the same mode as the database.
/// Returns the file's path (`None` in memory).
fn create_private_file(url: &str) -> Result<Option<std::path::PathBuf>, StoreError> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(None);
    }
    let file = std::path::PathBuf::from(path);
    if file.exists() {
        return Ok(Some(file));
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&file) {
        Ok(_) => Ok(Some(file)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(Some(file)),
        Err(e) => Err(StoreError::Io(e)),
    }
}

/// A statement written with `?` placeholders, numbered `$1, $2, …` for PostgreSQL.
pub(crate) fn statement(
    backend: DatabaseBackend,
    sql: &str,
    values: impl IntoIterator<Item = sea_orm::Value>,
) -> sea_orm::Statement {
    let sql = if backend == DatabaseBackend::Postgres {
        let mut numbered = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                numbered.push_str(&format!("${n}"));
            } else {
                numbered.push(c);
            }
        }
        numbered
    } else {
        sql.to_owned()
    };
    sea_orm::Statement::from_sql_and_values(backend, sql, values)
}

/// A list stored as a JSON array.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

/// A value read back from the JSON the store wrote; anything else is a corrupt row, never a
/// silent default.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, StoreError> {
    serde_json::from_str(raw).map_err(|_| StoreError::Corrupt("a JSON column"))
}

#[cfg(test)]
mod json_tests {
    use super::*;

    #[test]
    fn a_malformed_json_column_is_an_error_never_a_default() {
        assert_eq!(from_json::<Vec<String>>(r#"["a","b"]"#).expect("valid"), ["a", "b"]);
        for stored in ["", "not json", "{\"a\":1}", "[1,"] {
            assert!(
                matches!(from_json::<Vec<String>>(stored), Err(StoreError::Corrupt(_))),
                "{stored:?} read as a value"
            );
        }
    }
}
