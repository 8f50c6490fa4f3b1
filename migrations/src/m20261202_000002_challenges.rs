//! Challenges (issue 7): problems posted by health organisations and universities, the
//! anonymous responses of organisations that could help, and each challenge's public forum of
//! questions with the aliases that askers appear under.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organisations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Challenges {
    Table,
    Id,
    PosterId,
    Title,
    ProblemStatement,
    Sectors,
    InnovationStage,
    CapabilitiesNeeded,
    Links,
    Deadline,
    ClosedAt,
    Featured,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ChallengeResponses {
    Table,
    Id,
    ChallengeId,
    ResponderId,
    Alias,
    Summary,
    Stages,
    Status,
    ShortlistedAt,
    ResponderRevealedAt,
    PosterRevealedAt,
    ConnectedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ForumAliases {
    Table,
    ChallengeId,
    OrganisationId,
    Alias,
}

#[derive(DeriveIden)]
enum ChallengeQuestions {
    Table,
    Id,
    ChallengeId,
    AskerId,
    Text,
    Answer,
    AnsweredAt,
    HiddenAt,
    CreatedAt,
}

fn text(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).text().not_null().to_owned()
}

fn time(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).timestamp_with_time_zone().not_null().to_owned()
}

fn time_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).timestamp_with_time_zone().null().to_owned()
}

fn reference(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().to_owned()
}

fn cascade(from: (impl IntoIden, impl IntoIden), to: (impl IntoIden, impl IntoIden)) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(from.0, from.1).to(to.0, to.1).on_delete(ForeignKeyAction::Cascade).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Challenges::Table)
                    .col(ColumnDef::new(Challenges::Id).text().not_null().primary_key())
                    .col(reference(Challenges::PosterId))
                    .col(text(Challenges::Title))
                    .col(text(Challenges::ProblemStatement))
                    .col(text(Challenges::Sectors))
                    .col(ColumnDef::new(Challenges::InnovationStage).text().null())
                    .col(text(Challenges::CapabilitiesNeeded))
                    .col(text(Challenges::Links))
                    .col(time(Challenges::Deadline))
                    .col(time_null(Challenges::ClosedAt))
                    .col(ColumnDef::new(Challenges::Featured).boolean().not_null().default(false))
                    .col(time(Challenges::CreatedAt))
                    .col(time(Challenges::UpdatedAt))
                    .foreign_key(&mut cascade(
                        (Challenges::Table, Challenges::PosterId),
                        (Organisations::Table, Organisations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // At most one challenge of the month: a unique index over the featured rows only.
        manager
            .get_connection()
            .execute_unprepared("CREATE UNIQUE INDEX challenges_one_featured ON challenges (featured) WHERE featured")
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChallengeResponses::Table)
                    .col(ColumnDef::new(ChallengeResponses::Id).text().not_null().primary_key())
                    .col(text(ChallengeResponses::ChallengeId))
                    .col(reference(ChallengeResponses::ResponderId))
                    .col(text(ChallengeResponses::Alias))
                    .col(text(ChallengeResponses::Summary))
                    .col(text(ChallengeResponses::Stages))
                    .col(text(ChallengeResponses::Status))
                    .col(time_null(ChallengeResponses::ShortlistedAt))
                    .col(time_null(ChallengeResponses::ResponderRevealedAt))
                    .col(time_null(ChallengeResponses::PosterRevealedAt))
                    .col(time_null(ChallengeResponses::ConnectedAt))
                    .col(time(ChallengeResponses::CreatedAt))
                    .col(time(ChallengeResponses::UpdatedAt))
                    .foreign_key(&mut cascade(
                        (ChallengeResponses::Table, ChallengeResponses::ChallengeId),
                        (Challenges::Table, Challenges::Id),
                    ))
                    .foreign_key(&mut cascade(
                        (ChallengeResponses::Table, ChallengeResponses::ResponderId),
                        (Organisations::Table, Organisations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("challenge_responses_one_per_organisation")
                    .table(ChallengeResponses::Table)
                    .col(ChallengeResponses::ChallengeId)
                    .col(ChallengeResponses::ResponderId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ForumAliases::Table)
                    .col(text(ForumAliases::ChallengeId))
                    .col(reference(ForumAliases::OrganisationId))
                    .col(text(ForumAliases::Alias))
                    .primary_key(Index::create().col(ForumAliases::ChallengeId).col(ForumAliases::OrganisationId))
                    .foreign_key(&mut cascade(
                        (ForumAliases::Table, ForumAliases::ChallengeId),
                        (Challenges::Table, Challenges::Id),
                    ))
                    .foreign_key(&mut cascade(
                        (ForumAliases::Table, ForumAliases::OrganisationId),
                        (Organisations::Table, Organisations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChallengeQuestions::Table)
                    .col(ColumnDef::new(ChallengeQuestions::Id).text().not_null().primary_key())
                    .col(text(ChallengeQuestions::ChallengeId))
                    .col(reference(ChallengeQuestions::AskerId))
                    .col(text(ChallengeQuestions::Text))
                    .col(ColumnDef::new(ChallengeQuestions::Answer).text().null())
                    .col(time_null(ChallengeQuestions::AnsweredAt))
                    .col(time_null(ChallengeQuestions::HiddenAt))
                    .col(time(ChallengeQuestions::CreatedAt))
                    .foreign_key(&mut cascade(
                        (ChallengeQuestions::Table, ChallengeQuestions::ChallengeId),
                        (Challenges::Table, Challenges::Id),
                    ))
                    .foreign_key(&mut cascade(
                        (ChallengeQuestions::Table, ChallengeQuestions::AskerId),
                        (Organisations::Table, Organisations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("challenge_questions_challenge")
                    .table(ChallengeQuestions::Table)
                    .col(ChallengeQuestions::ChallengeId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ChallengeQuestions::Table.into_iden(),
            ForumAliases::Table.into_iden(),
            ChallengeResponses::Table.into_iden(),
            Challenges::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
