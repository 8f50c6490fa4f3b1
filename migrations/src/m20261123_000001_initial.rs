//! The first schema: organisations and their accounts, answers, confidential matches seen from
//! each party, the email queue, and leases that keep work to one process at a time.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organisations {
    Table,
    Id,
    Name,
    Kind,
    Website,
    Description,
    AnonymousSummary,
    Sectors,
    Region,
    SizeBand,
    InnovationStage,
    CapabilitiesOffered,
    CapabilitiesSought,
    SeekingKinds,
    CreatedAt,
    ChangedAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    PublicId,
    OrganisationId,
    Email,
    PasswordHash,
    Role,
    VerifiedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum EmailTokens {
    Table,
    Id,
    AccountId,
    TokenHash,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Answers {
    Table,
    OrganisationId,
    QuestionId,
    Answer,
    Acceptable,
    Importance,
}

#[derive(DeriveIden)]
enum Matches {
    Table,
    Id,
    OrgLow,
    OrgHigh,
    Score,
    Confidence,
    Compatibility,
    CreatedAt,
    UpdatedAt,
    ConnectedAt,
}

#[derive(DeriveIden)]
enum MatchParties {
    Table,
    MatchId,
    OrganisationId,
    Alias,
    Status,
    Explanation,
    RevealedAt,
    DeclinedAt,
    Outcome,
    OutcomeAt,
}

#[derive(DeriveIden)]
enum EmailQueue {
    Table,
    Id,
    IdempotencyKey,
    Recipient,
    Subject,
    TextBody,
    HtmlBody,
    CreatedAt,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    SentAt,
    LastError,
}

#[derive(DeriveIden)]
enum Leases {
    Table,
    Name,
    Holder,
    ExpiresAt,
}

fn id(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().auto_increment().primary_key().to_owned()
}

fn text(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).text().not_null().to_owned()
}

fn text_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).text().null().to_owned()
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
                    .table(Organisations::Table)
                    .col(id(Organisations::Id))
                    .col(text(Organisations::Name))
                    .col(text(Organisations::Kind))
                    .col(text_null(Organisations::Website))
                    .col(text_null(Organisations::Description))
                    .col(text_null(Organisations::AnonymousSummary))
                    .col(text(Organisations::Sectors))
                    .col(text_null(Organisations::Region))
                    .col(text_null(Organisations::SizeBand))
                    .col(text_null(Organisations::InnovationStage))
                    .col(text(Organisations::CapabilitiesOffered))
                    .col(text(Organisations::CapabilitiesSought))
                    .col(text(Organisations::SeekingKinds))
                    .col(time(Organisations::CreatedAt))
                    .col(time(Organisations::ChangedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("organisations_changed_at")
                    .table(Organisations::Table)
                    .col(Organisations::ChangedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .col(id(Accounts::Id))
                    .col(ColumnDef::new(Accounts::PublicId).text().not_null().unique_key())
                    .col(ColumnDef::new(Accounts::OrganisationId).big_integer().not_null().unique_key())
                    .col(ColumnDef::new(Accounts::Email).text().not_null().unique_key())
                    .col(text(Accounts::PasswordHash))
                    .col(text(Accounts::Role))
                    .col(time_null(Accounts::VerifiedAt))
                    .col(time(Accounts::CreatedAt))
                    .foreign_key(&mut cascade(
                        (Accounts::Table, Accounts::OrganisationId),
                        (Organisations::Table, Organisations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EmailTokens::Table)
                    .col(id(EmailTokens::Id))
                    .col(reference(EmailTokens::AccountId))
                    .col(ColumnDef::new(EmailTokens::TokenHash).text().not_null().unique_key())
                    .col(time(EmailTokens::ExpiresAt))
                    .col(time_null(EmailTokens::UsedAt))
                    .foreign_key(&mut cascade(
                        (EmailTokens::Table, EmailTokens::AccountId),
                        (Accounts::Table, Accounts::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Answers::Table)
                    .col(reference(Answers::OrganisationId))
                    .col(text(Answers::QuestionId))
                    .col(text(Answers::Answer))
                    .col(text(Answers::Acceptable))
                    .col(text(Answers::Importance))
                    .primary_key(Index::create().col(Answers::OrganisationId).col(Answers::QuestionId))
                    .foreign_key(&mut cascade(
                        (Answers::Table, Answers::OrganisationId),
                        (Organisations::Table, Organisations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Matches::Table)
                    .col(ColumnDef::new(Matches::Id).text().not_null().primary_key())
                    .col(reference(Matches::OrgLow))
                    .col(reference(Matches::OrgHigh))
                    .col(ColumnDef::new(Matches::Score).double().not_null())
                    .col(ColumnDef::new(Matches::Confidence).double().not_null())
                    .col(text(Matches::Compatibility))
                    .col(time(Matches::CreatedAt))
                    .col(time(Matches::UpdatedAt))
                    .col(time_null(Matches::ConnectedAt))
                    .foreign_key(&mut cascade(
                        (Matches::Table, Matches::OrgLow),
                        (Organisations::Table, Organisations::Id),
                    ))
                    .foreign_key(&mut cascade(
                        (Matches::Table, Matches::OrgHigh),
                        (Organisations::Table, Organisations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("matches_pair")
                    .table(Matches::Table)
                    .col(Matches::OrgLow)
                    .col(Matches::OrgHigh)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MatchParties::Table)
                    .col(text(MatchParties::MatchId))
                    .col(reference(MatchParties::OrganisationId))
                    .col(text(MatchParties::Alias))
                    .col(text(MatchParties::Status))
                    .col(text(MatchParties::Explanation))
                    .col(time_null(MatchParties::RevealedAt))
                    .col(time_null(MatchParties::DeclinedAt))
                    .col(text_null(MatchParties::Outcome))
                    .col(time_null(MatchParties::OutcomeAt))
                    .primary_key(Index::create().col(MatchParties::MatchId).col(MatchParties::OrganisationId))
                    .foreign_key(&mut cascade(
                        (MatchParties::Table, MatchParties::MatchId),
                        (Matches::Table, Matches::Id),
                    ))
                    .foreign_key(&mut cascade(
                        (MatchParties::Table, MatchParties::OrganisationId),
                        (Organisations::Table, Organisations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("match_parties_organisation")
                    .table(MatchParties::Table)
                    .col(MatchParties::OrganisationId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EmailQueue::Table)
                    .col(id(EmailQueue::Id))
                    .col(ColumnDef::new(EmailQueue::IdempotencyKey).text().not_null().unique_key())
                    .col(text(EmailQueue::Recipient))
                    .col(text(EmailQueue::Subject))
                    .col(text(EmailQueue::TextBody))
                    .col(text_null(EmailQueue::HtmlBody))
                    .col(time(EmailQueue::CreatedAt))
                    .col(ColumnDef::new(EmailQueue::Attempts).integer().not_null().default(0))
                    .col(time(EmailQueue::NextAttemptAt))
                    .col(time_null(EmailQueue::ClaimedUntil))
                    .col(time_null(EmailQueue::SentAt))
                    .col(text_null(EmailQueue::LastError))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("email_queue_due")
                    .table(EmailQueue::Table)
                    .col(EmailQueue::SentAt)
                    .col(EmailQueue::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Leases::Table)
                    .col(ColumnDef::new(Leases::Name).text().not_null().primary_key())
                    .col(text(Leases::Holder))
                    .col(time(Leases::ExpiresAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Leases::Table.into_iden(),
            EmailQueue::Table.into_iden(),
            MatchParties::Table.into_iden(),
            Matches::Table.into_iden(),
            Answers::Table.into_iden(),
            EmailTokens::Table.into_iden(),
            Accounts::Table.into_iden(),
            Organisations::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
