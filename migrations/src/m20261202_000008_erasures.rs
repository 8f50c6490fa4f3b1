//! Erasure (issue 11): when an organisation erases itself, everything of it goes; what is kept
//! is only how many organisations, matches, connections and outcomes went with it, as named
//! totals with nothing to tie them to anyone.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ErasedTallies {
    Table,
    Name,
    Value,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ErasedTallies::Table)
                    .col(ColumnDef::new(ErasedTallies::Name).text().not_null().primary_key())
                    .col(ColumnDef::new(ErasedTallies::Value).big_integer().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ErasedTallies::Table).to_owned()).await
    }
}
