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
pub mod generations;
pub mod leases;
pub mod mail;
pub mod matches;
pub mod organisations;
pub mod web_sessions;

use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection};

pub use error::StoreError;

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
                .sqlx_logging(false);
            options
        };
        if !url.starts_with("sqlite:") {
            let db = Database::connect(pool(16)).await?;
            return Ok(Store { read: db.clone(), db });
        }
        create_private_file(url)?;
        let db = Database::connect(pool(1)).await?;
        db.execute_unprepared("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;")
            .await?;
        let read = Database::connect(pool(8)).await?;
        Ok(Store { db, read })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read.ping().await?;
        Ok(())
    }

    pub(crate) fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }
}

/// Creates the SQLite file of `url` readable by its owner only (mode 0600), unless it exists;
/// SQLite gives its `-wal` and `-shm` files the same mode as the database.
fn create_private_file(url: &str) -> Result<(), StoreError> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || std::path::Path::new(path).exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
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

/// A list read back from a JSON array; a malformed value reads as empty.
pub(crate) fn from_json<T: serde::de::DeserializeOwned + Default>(raw: &str) -> T {
    serde_json::from_str(raw).unwrap_or_default()
}

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
