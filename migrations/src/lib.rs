//! Matchwell's schema, one migration per change, applied in order by `matchwell migrate` and at
//! the start of `matchwell serve`. Each migration runs on SQLite and PostgreSQL alike.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_initial;
mod m20261202_000001_trust;
mod m20261202_000002_challenges;
mod m20261202_000003_search;
mod m20261202_000004_changes;
mod m20261202_000005_web_sessions;
mod m20261202_000006_digests;
mod m20261202_000007_digest_indexes;
mod m20261202_000008_erasures;
mod m20261202_000009_learning;
mod m20261203_000001_fleet;

/// Every migration, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_initial::Migration),
            Box::new(m20261202_000001_trust::Migration),
            Box::new(m20261202_000002_challenges::Migration),
            Box::new(m20261202_000003_search::Migration),
            Box::new(m20261202_000004_changes::Migration),
            Box::new(m20261202_000005_web_sessions::Migration),
            Box::new(m20261202_000006_digests::Migration),
            Box::new(m20261202_000007_digest_indexes::Migration),
            Box::new(m20261202_000008_erasures::Migration),
            Box::new(m20261202_000009_learning::Migration),
            Box::new(m20261203_000001_fleet::Migration),
        ]
    }
}
