//! Email digests (issue 10): each account's digest frequency (`daily`, `weekly`, the default, or
//! `off`); one row per (account, frequency, period) claimed before its digest is queued, so no
//! period is sent twice by two processes or after a crash; and the one-click unsubscribe address
//! of a queued email (RFC 8058 headers).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    DigestFrequency,
}

#[derive(DeriveIden)]
enum Digests {
    Table,
    AccountId,
    Frequency,
    PeriodStart,
    PeriodEnd,
    Outcome,
    CreatedAt,
}

#[derive(DeriveIden)]
enum EmailQueue {
    Table,
    ListUnsubscribe,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .add_column(ColumnDef::new(Accounts::DigestFrequency).text().not_null().default("weekly"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Digests::Table)
                    .col(ColumnDef::new(Digests::AccountId).big_integer().not_null())
                    .col(ColumnDef::new(Digests::Frequency).text().not_null())
                    .col(ColumnDef::new(Digests::PeriodStart).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Digests::PeriodEnd).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Digests::Outcome).text().not_null())
                    .col(ColumnDef::new(Digests::CreatedAt).timestamp_with_time_zone().not_null())
                    .primary_key(
                        Index::create().col(Digests::AccountId).col(Digests::Frequency).col(Digests::PeriodStart),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Digests::Table, Digests::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(EmailQueue::Table)
                    .add_column(ColumnDef::new(EmailQueue::ListUnsubscribe).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(EmailQueue::Table).drop_column(EmailQueue::ListUnsubscribe).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(Digests::Table).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(Accounts::Table).drop_column(Accounts::DigestFrequency).to_owned())
            .await
    }
}
