//! `accounts`: the login of an organisation.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Random; the subject of access tokens.
    pub public_id: String,
    pub organisation_id: i64,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub verified_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    /// Increased by a password reset or change; access tokens carry the version they were
    /// issued under and stop working when it moves on.
    pub session_version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::organisation::Entity",
        from = "Column::OrganisationId",
        to = "super::organisation::Column::Id"
    )]
    Organisation,
}

impl Related<super::organisation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Organisation.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
