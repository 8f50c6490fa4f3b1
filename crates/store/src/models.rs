//! The versions of the scoring model. Version 1 is the standard model, written by the first
//! process that starts; learning adds version `n + 1` only if `n` is still the newest, so two
//! learning runs at once adopt one model, never two. Also the examples learning trains on.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult};

use crate::matches::Outcome;
use crate::{Store, StoreError, from_json, statement, to_json};

/// How a model predicted held-out outcomes when it was adopted, and how the model it replaced
/// did on the same folds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelEvaluation {
    pub auc: f64,
    pub log_loss: f64,
    pub previous_auc: f64,
    pub previous_log_loss: f64,
}

/// A model to adopt.
#[derive(Debug, Clone, PartialEq)]
pub struct NewModel {
    /// Weight by dimension id.
    pub weights: BTreeMap<String, f64>,
    /// Outcomes it was trained on, and how many of them were successes.
    pub trained_on: i64,
    pub successes: i64,
    pub evaluation: Option<ModelEvaluation>,
    /// Why it was adopted, in words.
    pub reason: String,
}

/// A version of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredModel {
    pub version: i64,
    pub model: NewModel,
    pub adopted_at: DateTime<Utc>,
}

#[derive(FromQueryResult)]
struct ModelRow {
    version: i64,
    weights: String,
    trained_on: i64,
    successes: i64,
    auc: Option<f64>,
    log_loss: Option<f64>,
    previous_auc: Option<f64>,
    previous_log_loss: Option<f64>,
    reason: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<ModelRow> for StoredModel {
    type Error = StoreError;

    fn try_from(row: ModelRow) -> Result<StoredModel, StoreError> {
        let evaluation = match (row.auc, row.log_loss, row.previous_auc, row.previous_log_loss) {
            (Some(auc), Some(log_loss), Some(previous_auc), Some(previous_log_loss)) => {
                Some(ModelEvaluation { auc, log_loss, previous_auc, previous_log_loss })
            }
            _ => None,
        };
        Ok(StoredModel {
            version: row.version,
            model: NewModel {
                weights: from_json(&row.weights)?,
                trained_on: row.trained_on,
                successes: row.successes,
                evaluation,
                reason: row.reason,
            },
            adopted_at: row.created_at,
        })
    }
}

/// One party's report of what came of a connection, with the pair's vector when it reported.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeExample {
    pub match_id: String,
    pub compatibility: BTreeMap<String, f64>,
    pub outcome: Outcome,
}

#[derive(FromQueryResult)]
struct ExampleRow {
    match_id: String,
    compatibility: String,
    outcome: String,
}

const COLUMNS: &str = "version, weights, trained_on, successes, auc, log_loss, previous_auc, previous_log_loss, \
                       reason, created_at";

async fn insert(
    db: &impl ConnectionTrait,
    store: &Store,
    version: i64,
    model: &NewModel,
    now: DateTime<Utc>,
    on_conflict: &str,
) -> Result<u64, StoreError> {
    let e = model.evaluation;
    let sql = format!("INSERT INTO models ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) {on_conflict}");
    let done = db
        .execute_raw(statement(
            store.backend(),
            &sql,
            [
                version.into(),
                to_json(&model.weights).into(),
                model.trained_on.into(),
                model.successes.into(),
                e.map(|e| e.auc).into(),
                e.map(|e| e.log_loss).into(),
                e.map(|e| e.previous_auc).into(),
                e.map(|e| e.previous_log_loss).into(),
                model.reason.clone().into(),
                now.into(),
            ],
        ))
        .await?;
    Ok(done.rows_affected())
}

impl Store {
    /// Writes version 1, the model the service starts with, unless there is one already.
    pub async fn ensure_first_model(&self, model: &NewModel, now: DateTime<Utc>) -> Result<(), StoreError> {
        insert(&self.db, self, 1, model, now, "ON CONFLICT (version) DO NOTHING").await?;
        Ok(())
    }

    /// The newest version of the model, which is the one in use.
    pub async fn model_in_use(&self) -> Result<Option<StoredModel>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM models ORDER BY version DESC LIMIT 1");
        let row = ModelRow::find_by_statement(statement(self.backend(), &sql, [])).one(&self.db).await?;
        row.map(StoredModel::try_from).transpose()
    }

    /// The newest version number only (cheap enough to ask every few seconds).
    pub async fn model_version(&self) -> Result<i64, StoreError> {
        #[derive(FromQueryResult)]
        struct Newest {
            version: Option<i64>,
        }
        let row =
            Newest::find_by_statement(statement(self.backend(), "SELECT MAX(version) AS version FROM models", []))
                .one(&self.db)
                .await?;
        Ok(row.and_then(|r| r.version).unwrap_or(1))
    }

    /// Every version, newest first, at most `limit`.
    pub async fn model_history(&self, limit: u64) -> Result<Vec<StoredModel>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM models ORDER BY version DESC LIMIT {limit}");
        let rows = ModelRow::find_by_statement(statement(self.backend(), &sql, [])).all(&self.read).await?;
        rows.into_iter().map(StoredModel::try_from).collect()
    }

    /// Adopts `model` as the version after `after`; [`StoreError::Conflict`] when another
    /// model was adopted since `after` was read (nothing is stored then).
    pub async fn adopt_model(&self, after: i64, model: &NewModel, now: DateTime<Utc>) -> Result<i64, StoreError> {
        let version = after + 1;
        match insert(&self.db, self, version, model, now, "ON CONFLICT (version) DO NOTHING").await? {
            1 => Ok(version),
            _ => Err(StoreError::Conflict),
        }
    }

    /// Every outcome reported on a connected match, one per reporting party, with the pair's
    /// vector as it was when the party reported.
    pub async fn outcome_examples(&self) -> Result<Vec<OutcomeExample>, StoreError> {
        let sql = "SELECT m.id AS match_id, COALESCE(p.outcome_compatibility, m.compatibility) AS compatibility, p.outcome \
                     FROM match_parties p JOIN matches m ON m.id = p.match_id \
                    WHERE p.outcome IS NOT NULL AND m.connected_at IS NOT NULL \
                    ORDER BY m.id, p.organisation_id";
        let rows = ExampleRow::find_by_statement(statement(self.backend(), sql, [])).all(&self.read).await?;
        rows.into_iter()
            .map(|row| {
                Ok(OutcomeExample {
                    match_id: row.match_id,
                    compatibility: from_json(&row.compatibility)?,
                    outcome: Outcome::parse(&row.outcome).ok_or(StoreError::Corrupt("a match outcome"))?,
                })
            })
            .collect()
    }
}
