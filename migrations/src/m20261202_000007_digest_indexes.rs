//! Indexes for the digest run (issue 10), which reads what happened in one period for every
//! member at once: matches made, reveals and connections, responses, questions and challenges,
//! each by the time it happened.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (index name, table, column).
const INDEXES: [(&str, &str, &str); 6] = [
    ("matches_created_at", "matches", "created_at"),
    ("matches_connected_at", "matches", "connected_at"),
    ("match_parties_revealed_at", "match_parties", "revealed_at"),
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
