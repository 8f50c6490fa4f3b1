//! Account safety and confidentiality (issue 6): public ids for organisations, per-organisation
//! list versions, a demo marker, session versions on accounts, the purpose and pending password
//! of emailed tokens, and the generation counters that tell every process when the population
//! changed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organisations {
    Table,
    PublicId,
    ListVersion,
    Demo,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    SessionVersion,
}

#[derive(DeriveIden)]
enum EmailTokens {
    Table,
    Purpose,
    PasswordHash,
}

#[derive(DeriveIden)]
enum Generations {
    Table,
    Name,
    Value,
}

/// SQL that gives a random UUID v4 as text on each engine.
fn random_uuid(backend: sea_orm::DatabaseBackend) -> &'static str {
    match backend {
        sea_orm::DatabaseBackend::Postgres => "gen_random_uuid()::text",
        _ => {
            "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' \
             || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' \
             || hex(randomblob(6)))"
        }
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        let columns = [
            (
                Organisations::Table.into_iden(),
                ColumnDef::new(Organisations::PublicId).text().not_null().default("").to_owned(),
            ),
            (
                Organisations::Table.into_iden(),
                ColumnDef::new(Organisations::ListVersion).big_integer().not_null().default(0).to_owned(),
            ),
            (
                Organisations::Table.into_iden(),
                ColumnDef::new(Organisations::Demo).boolean().not_null().default(false).to_owned(),
            ),
            (
                Accounts::Table.into_iden(),
                ColumnDef::new(Accounts::SessionVersion).big_integer().not_null().default(0).to_owned(),
            ),
            (
                EmailTokens::Table.into_iden(),
                ColumnDef::new(EmailTokens::Purpose).text().not_null().default("verify").to_owned(),
            ),
            (EmailTokens::Table.into_iden(), ColumnDef::new(EmailTokens::PasswordHash).text().null().to_owned()),
        ];
        for (table, mut column) in columns {
            manager.alter_table(Table::alter().table(table).add_column(&mut column).to_owned()).await?;
        }
        let db = manager.get_connection();
        let uuid = random_uuid(manager.get_database_backend());
        db.execute_unprepared(&format!("UPDATE organisations SET public_id = {uuid} WHERE public_id = ''")).await?;
        db.execute_unprepared(
            "UPDATE organisations SET demo = TRUE WHERE id IN \
             (SELECT organisation_id FROM accounts WHERE email LIKE '%@matchwell-demo.example')",
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("organisations_public_id")
                    .table(Organisations::Table)
                    .col(Organisations::PublicId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Generations::Table)
                    .col(ColumnDef::new(Generations::Name).text().not_null().primary_key())
                    .col(ColumnDef::new(Generations::Value).big_integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared("INSERT INTO generations (name, value) VALUES ('population', 1), ('roster', 1)").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Generations::Table).to_owned()).await?;
        manager
            .drop_index(Index::drop().name("organisations_public_id").table(Organisations::Table).to_owned())
            .await?;
        let columns = [
            (Organisations::Table.into_iden(), Organisations::PublicId.into_iden()),
            (Organisations::Table.into_iden(), Organisations::ListVersion.into_iden()),
            (Organisations::Table.into_iden(), Organisations::Demo.into_iden()),
            (Accounts::Table.into_iden(), Accounts::SessionVersion.into_iden()),
            (EmailTokens::Table.into_iden(), EmailTokens::Purpose.into_iden()),
            (EmailTokens::Table.into_iden(), EmailTokens::PasswordHash.into_iden()),
        ];
        for (table, column) in columns {
            manager.alter_table(Table::alter().table(table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
