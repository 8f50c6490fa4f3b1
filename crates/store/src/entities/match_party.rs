//! `match_parties`: one party's side of a match: the alias it is shown under, what it chose,
//! and the explanation written for it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "match_parties")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub match_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub organisation_id: i64,
    /// The name under which this party appears to the other one until it reveals itself.
    pub alias: String,
    /// `suggested`, `revealed` or `declined`.
    pub status: String,
    /// JSON array of sentences, phrased for this party.
    pub explanation: String,
    pub revealed_at: Option<ChronoDateTimeUtc>,
    pub declined_at: Option<ChronoDateTimeUtc>,
    pub outcome: Option<String>,
    pub outcome_at: Option<ChronoDateTimeUtc>,
    /// The match's compatibility vector (JSON) when this party reported its outcome: what
    /// learning trains on, whatever the pair's answers became later.
    pub outcome_compatibility: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
