//! Partner search (issue 8): whether an organisation may be found by search (a profile
//! setting, on by default), and who asked for an introduction that created a match.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organisations {
    Table,
    SearchVisible,
}

#[derive(DeriveIden)]
enum Matches {
    Table,
    AskedBy,
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
                    .table(Matches::Table)
                    .add_column(ColumnDef::new(Matches::AskedBy).big_integer().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Matches::Table).drop_column(Matches::AskedBy).to_owned()).await?;
        manager
            .alter_table(
                Table::alter().table(Organisations::Table).drop_column(Organisations::SearchVisible).to_owned(),
            )
            .await
    }
}
