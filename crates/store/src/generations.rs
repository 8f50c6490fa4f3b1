//! Generation counters: a named number increased in the same transaction as a change that every
//! process must notice, so that a process compares one number instead of guessing from
//! timestamps (which a transaction committed out of order can make lie).

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::entities::generation;
use crate::{Store, StoreError};

/// Changes whenever what anonymous profiles are generalised against may have changed: an
/// organisation joined, left, or changed a field of its anonymous profile.
pub const POPULATION: &str = "population";
/// Changes whenever an organisation left (so that the matchmaker starts afresh).
pub const ROSTER: &str = "roster";
/// Changes whenever what the scoring engine reads of any organisation may have changed: a
/// profile, answers, a verification, a removal. Readers that keep organisations in memory
/// (the matchmaker, search) ask the store what changed only when it moved on.
pub const CHANGES: &str = "changes";

pub(crate) async fn bump(db: &impl ConnectionTrait, name: &str) -> Result<(), StoreError> {
    if name != CHANGES {
        // Whatever moves another counter changes what is scored too.
        bump_one(db, CHANGES).await?;
    }
    bump_one(db, name).await
}

async fn bump_one(db: &impl ConnectionTrait, name: &str) -> Result<(), StoreError> {
    generation::Entity::update_many()
        .col_expr(generation::Column::Value, Expr::col(generation::Column::Value).add(1))
        .filter(generation::Column::Name.eq(name))
        .exec(db)
        .await?;
    Ok(())
}

/// Stamps these organisations with the current `changes` generation, in the caller's
/// transaction (after its bumps), so that readers load them as changed.
pub(crate) async fn stamp(db: &impl ConnectionTrait, orgs: &[i64]) -> Result<(), StoreError> {
    for chunk in orgs.chunks(500) {
        let placeholders = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "UPDATE organisations SET change_seq = (SELECT value FROM generations WHERE name = 'changes') \
             WHERE id IN ({placeholders})"
        );
        let values: Vec<sea_orm::Value> = chunk.iter().map(|id| (*id).into()).collect();
        db.execute_raw(crate::statement(db.get_database_backend(), &sql, values)).await?;
    }
    Ok(())
}

impl Store {
    /// The current value of the counter `name`.
    pub async fn generation(&self, name: &str) -> Result<i64, StoreError> {
        let found = generation::Entity::find_by_id(name.to_owned()).one(&self.read).await?;
        found.map(|g| g.value).ok_or(StoreError::Corrupt("a generation counter"))
    }
}
