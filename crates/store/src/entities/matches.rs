//! `matches`: a suggested pair, the same row for both parties (`org_low < org_high`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "matches")]
pub struct Model {
    /// Random UUID v4: the only id either party sees.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_low: i64,
    pub org_high: i64,
    pub score: f64,
    pub confidence: f64,
    /// JSON object: dimension id to 0..1.
    pub compatibility: String,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub connected_at: Option<ChronoDateTimeUtc>,
    /// The organisation that asked for this introduction from search, if one did.
    pub asked_by: Option<i64>,
    /// The version of the scoring model that computed the score (`models`).
    pub model_version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
