//! Organisations: profile, answers, and the rows the scoring worker loads.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::{AnswerSet, OrgKind, Profile, Questionnaire, RawAnswer};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};

use crate::entities::{answer, organisation};
use crate::{OrgId, Store, StoreError, from_json, to_json};

/// An organisation and its profile, as its own members see it.
#[derive(Clone, PartialEq, Eq)]
pub struct Organisation {
    pub id: OrgId,
    pub name: String,
    pub kind: OrgKind,
    pub profile: Profile,
    pub created_at: DateTime<Utc>,
    pub changed_at: DateTime<Utc>,
}

impl std::fmt::Debug for Organisation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Organisation").field("id", &self.id).field("kind", &self.kind).finish_non_exhaustive()
    }
}

pub(crate) fn profile(model: &organisation::Model) -> Profile {
    let kinds: Vec<String> = from_json(&model.seeking_kinds);
    Profile {
        website: model.website.clone(),
        description: model.description.clone(),
        anonymous_summary: model.anonymous_summary.clone(),
        sectors: from_json(&model.sectors),
        region: model.region.clone(),
        size_band: model.size_band.clone(),
        innovation_stage: model.innovation_stage.clone(),
        capabilities_offered: from_json(&model.capabilities_offered),
        capabilities_sought: from_json(&model.capabilities_sought),
        seeking_kinds: kinds.iter().filter_map(|k| OrgKind::parse(k).ok()).collect(),
    }
}

pub(crate) fn organisation(model: organisation::Model) -> Organisation {
    Organisation {
        id: OrgId(model.id),
        kind: OrgKind::parse(&model.kind).unwrap_or(OrgKind::Other),
        profile: profile(&model),
        name: model.name,
        created_at: model.created_at,
        changed_at: model.changed_at,
    }
}

/// What the scoring worker needs of one organisation.
#[derive(Debug, Clone)]
pub struct ScoringRow {
    pub id: OrgId,
    pub kind: OrgKind,
    pub profile: Profile,
    pub answers: AnswerSet,
    pub changed_at: DateTime<Utc>,
}

fn raw_answer(model: answer::Model) -> RawAnswer {
    RawAnswer {
        question_id: model.question_id,
        answer: model.answer,
        acceptable: from_json(&model.acceptable),
        importance: model.importance,
    }
}

impl Store {
    pub async fn organisation(&self, id: OrgId) -> Result<Organisation, StoreError> {
        let found = organisation::Entity::find_by_id(id.0).one(&self.read).await?;
        found.map(organisation).ok_or(StoreError::NotFound)
    }

    /// Replaces the profile; the organisation is then due for re-scoring.
    pub async fn save_profile(&self, id: OrgId, profile: &Profile, now: DateTime<Utc>) -> Result<(), StoreError> {
        write_profile(&self.db, id, profile, now).await
    }

    pub async fn answers(&self, id: OrgId, questionnaire: &Questionnaire) -> Result<AnswerSet, StoreError> {
        let rows = answer::Entity::find().filter(answer::Column::OrganisationId.eq(id.0)).all(&self.read).await?;
        Ok(AnswerSet::from_stored(questionnaire, rows.into_iter().map(raw_answer)))
    }

    /// Replaces every answer of the organisation at once; it is then due for re-scoring.
    pub async fn save_answers(
        &self,
        id: OrgId,
        answers: &AnswerSet,
        questionnaire: &Questionnaire,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        write_answers(&txn, id, answers, questionnaire, now).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Organisations changed at or after `since` (all of them with `None`), with their
    /// answers, oldest change first.
    pub async fn scoring_rows(
        &self,
        since: Option<DateTime<Utc>>,
        questionnaire: &Questionnaire,
    ) -> Result<Vec<ScoringRow>, StoreError> {
        let mut query = organisation::Entity::find().order_by_asc(organisation::Column::ChangedAt);
        if let Some(since) = since {
            query = query.filter(organisation::Column::ChangedAt.gte(since));
        }
        let orgs = query.all(&self.read).await?;
        let mut answers: HashMap<i64, Vec<RawAnswer>> = HashMap::new();
        let mut rows = answer::Entity::find();
        // A few changed organisations: their answers only; many: every answer in one pass
        // (which also keeps the statement under the engines' parameter limits).
        if since.is_some() && orgs.len() <= 1000 {
            rows = rows.filter(answer::Column::OrganisationId.is_in(orgs.iter().map(|o| o.id)));
        }
        for row in rows.all(&self.read).await? {
            answers.entry(row.organisation_id).or_default().push(raw_answer(row));
        }
        Ok(orgs
            .into_iter()
            .map(|model| {
                let raw = answers.remove(&model.id).unwrap_or_default();
                ScoringRow {
                    id: OrgId(model.id),
                    kind: OrgKind::parse(&model.kind).unwrap_or(OrgKind::Other),
                    profile: profile(&model),
                    answers: AnswerSet::from_stored(questionnaire, raw),
                    changed_at: model.changed_at,
                }
            })
            .collect())
    }
}

/// Inserts an organisation with an empty profile.
pub(crate) async fn insert_organisation(
    db: &impl ConnectionTrait,
    name: &str,
    kind: OrgKind,
    now: DateTime<Utc>,
) -> Result<OrgId, StoreError> {
    let empty = to_json::<Vec<String>>(&Vec::new());
    let row = organisation::ActiveModel {
        name: Set(name.to_owned()),
        kind: Set(kind.as_str().to_owned()),
        website: Set(None),
        description: Set(None),
        anonymous_summary: Set(None),
        sectors: Set(empty.clone()),
        region: Set(None),
        size_band: Set(None),
        innovation_stage: Set(None),
        capabilities_offered: Set(empty.clone()),
        capabilities_sought: Set(empty.clone()),
        seeking_kinds: Set(empty),
        created_at: Set(now),
        changed_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(OrgId(row.id))
}

pub(crate) async fn write_profile(
    db: &impl ConnectionTrait,
    id: OrgId,
    profile: &Profile,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let found = organisation::Entity::find_by_id(id.0).one(db).await?.ok_or(StoreError::NotFound)?;
    let mut row = found.into_active_model();
    let kinds: Vec<&str> = profile.seeking_kinds.iter().map(|k| k.as_str()).collect();
    row.website = Set(profile.website.clone());
    row.description = Set(profile.description.clone());
    row.anonymous_summary = Set(profile.anonymous_summary.clone());
    row.sectors = Set(to_json(&profile.sectors));
    row.region = Set(profile.region.clone());
    row.size_band = Set(profile.size_band.clone());
    row.innovation_stage = Set(profile.innovation_stage.clone());
    row.capabilities_offered = Set(to_json(&profile.capabilities_offered));
    row.capabilities_sought = Set(to_json(&profile.capabilities_sought));
    row.seeking_kinds = Set(to_json(&kinds));
    row.changed_at = Set(now);
    row.update(db).await?;
    Ok(())
}

pub(crate) async fn write_answers(
    db: &impl ConnectionTrait,
    id: OrgId,
    answers: &AnswerSet,
    questionnaire: &Questionnaire,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let touched = organisation::Entity::update_many()
        .col_expr(organisation::Column::ChangedAt, sea_orm::sea_query::Expr::value(now))
        .filter(organisation::Column::Id.eq(id.0))
        .exec(db)
        .await?;
    if touched.rows_affected != 1 {
        return Err(StoreError::NotFound);
    }
    answer::Entity::delete_many().filter(answer::Column::OrganisationId.eq(id.0)).exec(db).await?;
    let rows: Vec<answer::ActiveModel> = answers
        .to_raw(questionnaire)
        .into_iter()
        .map(|raw| answer::ActiveModel {
            organisation_id: Set(id.0),
            question_id: Set(raw.question_id),
            answer: Set(raw.answer),
            acceptable: Set(to_json(&raw.acceptable)),
            importance: Set(raw.importance),
        })
        .collect();
    for chunk in rows.chunks(200) {
        answer::Entity::insert_many(chunk.to_vec()).exec(db).await?;
    }
    Ok(())
}
