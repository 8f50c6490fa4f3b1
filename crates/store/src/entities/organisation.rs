//! `organisations`: who an organisation is and its profile.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organisations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Random (UUID v4); the only id of an organisation that leaves the server (in its own
    /// access tokens).
    pub public_id: String,
    pub name: String,
    pub kind: String,
    pub website: Option<String>,
    pub description: Option<String>,
    pub anonymous_summary: Option<String>,
    pub sectors: String,
    pub region: Option<String>,
    pub size_band: Option<String>,
    pub innovation_stage: Option<String>,
    pub capabilities_offered: String,
    pub capabilities_sought: String,
    pub seeking_kinds: String,
    pub created_at: ChronoDateTimeUtc,
    /// When the answers or the profile last changed: the scoring worker's watermark.
    pub changed_at: ChronoDateTimeUtc,
    /// Increased in the same transaction as any change to what this organisation's match list
    /// shows, so that every process can tell whether its cached list is current.
    pub list_version: i64,
    /// Synthetic demonstration data (`serve --demo`, `demo-data`).
    pub demo: bool,
    /// Whether partner search may show this organisation (on by default).
    pub search_visible: bool,
    /// The `changes` generation of this organisation's last change (its profile, answers or
    /// verification), set in the change's transaction.
    pub change_seq: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
