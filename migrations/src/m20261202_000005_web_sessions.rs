//! Sessions of the web app (issue 9): a browser holds a random token in an `HttpOnly` cookie,
//! and the database holds its SHA-256, the account, and the account's session version when it
//! began. Logging out deletes the row; a password reset or change moves the account's version
//! on, which ends every session begun before.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebSessions {
    Table,
    TokenHash,
    AccountId,
    SessionVersion,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebSessions::Table)
                    .col(ColumnDef::new(WebSessions::TokenHash).text().not_null().primary_key())
                    .col(ColumnDef::new(WebSessions::AccountId).big_integer().not_null())
                    .col(ColumnDef::new(WebSessions::SessionVersion).big_integer().not_null())
                    .col(ColumnDef::new(WebSessions::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(WebSessions::ExpiresAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebSessions::Table, WebSessions::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("web_sessions_account")
                    .table(WebSessions::Table)
                    .col(WebSessions::AccountId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(WebSessions::Table).to_owned()).await
    }
}
