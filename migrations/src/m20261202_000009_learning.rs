//! Learning and success stories (issue 12): the versions of the scoring model (version 1 is the
//! standard model, written at startup), the version that scored each match, the vector a pair
//! had when each party reported its outcome (what learning trains on), and one success story
//! per match, which goes with the match when either organisation is erased.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Models {
    Table,
    Version,
    Weights,
    TrainedOn,
    Successes,
    Auc,
    LogLoss,
    PreviousAuc,
    PreviousLogLoss,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Matches {
    Table,
    Id,
    ModelVersion,
}

#[derive(DeriveIden)]
enum MatchParties {
    Table,
    OutcomeCompatibility,
}

#[derive(DeriveIden)]
enum Stories {
    Table,
    MatchId,
    PublicId,
    Title,
    Body,
    ShowNames,
    Revision,
    ApprovedLow,
    ApprovedHigh,
    PublishedAt,
    WithdrawnAt,
    HiddenAt,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Models::Table)
                    .col(ColumnDef::new(Models::Version).big_integer().not_null().primary_key())
                    .col(ColumnDef::new(Models::Weights).text().not_null())
                    .col(ColumnDef::new(Models::TrainedOn).big_integer().not_null())
                    .col(ColumnDef::new(Models::Successes).big_integer().not_null())
                    .col(ColumnDef::new(Models::Auc).double().null())
                    .col(ColumnDef::new(Models::LogLoss).double().null())
                    .col(ColumnDef::new(Models::PreviousAuc).double().null())
                    .col(ColumnDef::new(Models::PreviousLogLoss).double().null())
                    .col(ColumnDef::new(Models::Reason).text().not_null())
                    .col(ColumnDef::new(Models::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Matches::Table)
                    .add_column(ColumnDef::new(Matches::ModelVersion).big_integer().not_null().default(1))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(MatchParties::Table)
                    .add_column(ColumnDef::new(MatchParties::OutcomeCompatibility).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Stories::Table)
                    .col(ColumnDef::new(Stories::MatchId).text().not_null().primary_key())
                    .col(ColumnDef::new(Stories::PublicId).text().not_null().unique_key())
                    .col(ColumnDef::new(Stories::Title).text().not_null())
                    .col(ColumnDef::new(Stories::Body).text().not_null())
                    .col(ColumnDef::new(Stories::ShowNames).boolean().not_null())
                    .col(ColumnDef::new(Stories::Revision).big_integer().not_null())
                    .col(ColumnDef::new(Stories::ApprovedLow).big_integer().null())
                    .col(ColumnDef::new(Stories::ApprovedHigh).big_integer().null())
                    .col(ColumnDef::new(Stories::PublishedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Stories::WithdrawnAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Stories::HiddenAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Stories::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Stories::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Stories::Table, Stories::MatchId)
                            .to(Matches::Table, Matches::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("stories_published").table(Stories::Table).col(Stories::PublishedAt).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Stories::Table).to_owned()).await?;
        manager
            .alter_table(
                Table::alter().table(MatchParties::Table).drop_column(MatchParties::OutcomeCompatibility).to_owned(),
            )
            .await?;
        manager.alter_table(Table::alter().table(Matches::Table).drop_column(Matches::ModelVersion).to_owned()).await?;
        manager.drop_table(Table::drop().table(Models::Table).to_owned()).await
    }
}
