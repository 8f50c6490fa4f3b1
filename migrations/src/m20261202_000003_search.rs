//! Partner search (issue 8): whether an organisation may be found by search (a profile
//! setting, on by default), who asked for an introduction that created a match, and each
//! organisation's change sequence (the `changes` generation of its last change), by which
//! processes that keep organisations in memory load what changed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organisations {
    Table,
    SearchVisible,
    ChangeSeq,
}

#[derive(DeriveIden)]
enum Matches {
    Table,
    AskedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Organisations::Table)
                    .add_column(ColumnDef::new(Organisations::SearchVisible).boolean().not_null().default(true))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Organisations::Table)
                    .add_column(ColumnDef::new(Organisations::ChangeSeq).big_integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("organisations_change_seq")
                    .table(Organisations::Table)
                    .col(Organisations::ChangeSeq)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Matches::Table)
                    .add_column(ColumnDef::new(Matches::AskedBy).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("matches_asked_by")
                    .table(Matches::Table)
                    .col(Matches::AskedBy)
                    .col(Matches::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("matches_asked_by").table(Matches::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Matches::Table).drop_column(Matches::AskedBy).to_owned()).await?;
        manager
            .drop_index(Index::drop().name("organisations_change_seq").table(Organisations::Table).to_owned())
            .await?;
        for column in [Organisations::ChangeSeq, Organisations::SearchVisible] {
            manager.alter_table(Table::alter().table(Organisations::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
