//! Indexes for the digest run (issue 10): challenges posted in a period, and responses and
//! questions on a member's challenges in a period, are found by when they happened. (News of
//! matches is read from each member's own parties; an index on match times would lead SQLite's
//! planner to scan every unconnected match instead.)

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (index name, table, column).
const INDEXES: [(&str, &str, &str); 3] = [
    ("challenges_created_at", "challenges", "created_at"),
    ("challenge_responses_created_at", "challenge_responses", "created_at"),
    ("challenge_questions_created_at", "challenge_questions", "created_at"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, column) in INDEXES {
            manager
                .create_index(Index::create().name(name).table(Alias::new(table)).col(Alias::new(column)).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            manager.drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
