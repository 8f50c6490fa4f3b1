//! Organisations: profile, answers, and the rows the scoring worker loads.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::anonymity::QuasiIdentifiers;
use domain::{AnswerSet, OrgKind, Profile, Questionnaire, RawAnswer};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, FromQueryResult, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::entities::{account, answer, organisation};
use crate::generations::{CHANGES, POPULATION, ROSTER, bump, stamp};
use crate::{OrgId, Store, StoreError, from_json, statement, to_json};

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

/// What a profile update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileUpdate {
    pub profile: Profile,
    /// The organisations whose match lists show this profile and so changed with it.
    pub affected: Vec<OrgId>,
    /// A field of anonymous profiles changed: so did the population, and with it, possibly,
    /// how every anonymous profile is generalised.
    pub population_changed: bool,
}

/// The fields of an organisation that anonymous profiles show and generalise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopulationRow {
    pub id: OrgId,
    pub quasi_identifiers: QuasiIdentifiers,
}

impl Organisation {
    /// What the anonymity index is built from (a change moves the population generation).
    #[allow(clippy::type_complexity)]
    fn quasi_identifiers(&self) -> (&[String], &Option<String>, &Option<String>, &Option<String>, &[OrgKind]) {
        let p = &self.profile;
        (&p.sectors, &p.region, &p.size_band, &p.innovation_stage, &p.seeking_kinds)
    }
}

impl std::fmt::Debug for Organisation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Organisation").field("id", &self.id).field("kind", &self.kind).finish_non_exhaustive()
    }
}

pub(crate) fn profile(model: &organisation::Model) -> Result<Profile, StoreError> {
    let kinds: Vec<String> = from_json(&model.seeking_kinds)?;
    Ok(Profile {
        website: model.website.clone(),
        description: model.description.clone(),
        anonymous_summary: model.anonymous_summary.clone(),
        sectors: from_json(&model.sectors)?,
        region: model.region.clone(),
        size_band: model.size_band.clone(),
        innovation_stage: model.innovation_stage.clone(),
        capabilities_offered: from_json(&model.capabilities_offered)?,
        capabilities_sought: from_json(&model.capabilities_sought)?,
        seeking_kinds: kinds.iter().map(|k| kind(k)).collect::<Result<_, _>>()?,
        search_visible: model.search_visible,
    })
}

pub(crate) fn kind(raw: &str) -> Result<OrgKind, StoreError> {
    OrgKind::parse(raw).map_err(|_| StoreError::Corrupt("an organisation kind"))
}

pub(crate) fn organisation(model: organisation::Model) -> Result<Organisation, StoreError> {
    Ok(Organisation {
        id: OrgId(model.id),
        kind: kind(&model.kind)?,
        profile: profile(&model)?,
        name: model.name,
        created_at: model.created_at,
        changed_at: model.changed_at,
    })
}

/// Only organisations whose account is verified are matched and counted in the population.
fn verified() -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(account::Column::OrganisationId)
        .from(account::Entity)
        .and_where(account::Column::VerifiedAt.is_not_null())
        .to_owned()
}

/// What the scoring worker needs of one organisation.
#[derive(Debug, Clone)]
pub struct ScoringRow {
    pub id: OrgId,
    /// The organisation's public id (what search refs encrypt).
    pub public_id: String,
    pub kind: OrgKind,
    pub profile: Profile,
    pub answers: AnswerSet,
    pub changed_at: DateTime<Utc>,
    /// The `changes` generation of its last change.
    pub change_seq: i64,
}

fn raw_answer(model: answer::Model) -> Result<RawAnswer, StoreError> {
    Ok(RawAnswer {
        question_id: model.question_id,
        answer: model.answer,
        acceptable: from_json(&model.acceptable)?,
        importance: model.importance,
    })
}

impl Store {
    pub async fn organisation(&self, id: OrgId) -> Result<Organisation, StoreError> {
        let found = organisation::Entity::find_by_id(id.0).one(&self.read).await?;
        organisation(found.ok_or(StoreError::NotFound)?)
    }

    /// Changes the profile in one transaction: reads it (locking the row on PostgreSQL), lets
    /// `change` compute the new profile from the current organisation, and writes it. When
    /// the profile changed, the organisation is due for re-scoring and the match lists that
    /// show it move to a new version; when a field of anonymous profiles changed, so does the
    /// population. An `Err` from `change` stores nothing.
    pub async fn update_profile<E>(
        &self,
        id: OrgId,
        now: DateTime<Utc>,
        change: impl FnOnce(&Organisation) -> Result<Profile, E>,
    ) -> Result<Result<ProfileUpdate, E>, StoreError> {
        let txn = self.write().await?;
        let mut query = organisation::Entity::find_by_id(id.0);
        if self.backend() == DatabaseBackend::Postgres {
            query = query.lock_exclusive();
        }
        let current = organisation(query.one(&txn).await?.ok_or(StoreError::NotFound)?)?;
        let profile = match change(&current) {
            Ok(profile) => profile,
            Err(rejected) => return Ok(Err(rejected)),
        };
        if profile == current.profile {
            return Ok(Ok(ProfileUpdate { profile, affected: vec![], population_changed: false }));
        }
        let next = Organisation { profile: profile.clone(), ..current.clone() };
        write_profile(&txn, id, &profile, now).await?;
        let population_changed = next.quasi_identifiers() != current.quasi_identifiers();
        bump(&txn, if population_changed { POPULATION } else { CHANGES }).await?;
        stamp(&txn, &[id.0]).await?;
        #[derive(FromQueryResult)]
        struct Affected {
            id: i64,
        }
        let sql = "UPDATE organisations SET list_version = list_version + 1 WHERE id IN \
             (SELECT theirs.organisation_id FROM match_parties mine \
                JOIN match_parties theirs ON theirs.match_id = mine.match_id \
                 AND theirs.organisation_id <> mine.organisation_id \
               WHERE mine.organisation_id = ? AND theirs.status <> 'declined') \
             RETURNING id";
        let affected = Affected::find_by_statement(statement(self.backend(), sql, [id.0.into()])).all(&txn).await?;
        txn.commit().await?;
        let affected = affected.into_iter().map(|a| OrgId(a.id)).collect();
        Ok(Ok(ProfileUpdate { profile, affected, population_changed }))
    }

    pub async fn answers(&self, id: OrgId, questionnaire: &Questionnaire) -> Result<AnswerSet, StoreError> {
        let rows = answer::Entity::find().filter(answer::Column::OrganisationId.eq(id.0)).all(&self.read).await?;
        let raw = rows.into_iter().map(raw_answer).collect::<Result<Vec<_>, _>>()?;
        Ok(AnswerSet::from_stored(questionnaire, raw))
    }

    /// Replaces every answer of the organisation at once; it is then due for re-scoring.
    pub async fn save_answers(
        &self,
        id: OrgId,
        answers: &AnswerSet,
        questionnaire: &Questionnaire,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.save_answers_in(id, answers, None, questionnaire, now).await
    }

    /// Replaces the organisation's answers to the questions `scope` (a section of the
    /// questionnaire) with those of `answers`, keeping its other answers: one transaction,
    /// which holds the organisation's row, so two sections saved at once both stay saved.
    pub async fn save_section_answers(
        &self,
        id: OrgId,
        answers: &AnswerSet,
        scope: &[String],
        questionnaire: &Questionnaire,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.save_answers_in(id, answers, Some(scope), questionnaire, now).await
    }

    async fn save_answers_in(
        &self,
        id: OrgId,
        answers: &AnswerSet,
        scope: Option<&[String]>,
        questionnaire: &Questionnaire,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let txn = self.write().await?;
        write_answers_in(&txn, id, answers, scope, questionnaire, now).await?;
        bump(&txn, CHANGES).await?;
        stamp(&txn, &[id.0]).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Organisations whose last change came after the `changes` generation `after` (all of
    /// them with `None`), with their answers, in the order they changed (then by id, the same
    /// on every engine).
    pub async fn scoring_rows(
        &self,
        after: Option<i64>,
        questionnaire: &Questionnaire,
    ) -> Result<Vec<ScoringRow>, StoreError> {
        let since = after;
        let mut query = organisation::Entity::find()
            .filter(Expr::col(organisation::Column::Id).in_subquery(verified()))
            .order_by_asc(organisation::Column::ChangeSeq)
            .order_by_asc(organisation::Column::Id);
        if let Some(after) = after {
            query = query.filter(organisation::Column::ChangeSeq.gt(after));
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
            answers.entry(row.organisation_id).or_default().push(raw_answer(row)?);
        }
        orgs.into_iter()
            .map(|model| {
                let raw = answers.remove(&model.id).unwrap_or_default();
                Ok(ScoringRow {
                    id: OrgId(model.id),
                    public_id: model.public_id.clone(),
                    kind: kind(&model.kind)?,
                    profile: profile(&model)?,
                    answers: AnswerSet::from_stored(questionnaire, raw),
                    changed_at: model.changed_at,
                    change_seq: model.change_seq,
                })
            })
            .collect()
    }

    /// These organisations with their answers, for scoring them against each other.
    pub async fn scoring_rows_of(
        &self,
        ids: &[OrgId],
        questionnaire: &Questionnaire,
    ) -> Result<Vec<ScoringRow>, StoreError> {
        let mut rows = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let orgs = organisation::Entity::find()
                .filter(organisation::Column::Id.is_in(chunk.iter().map(|o| o.0)))
                .all(&self.read)
                .await?;
            let mut answers: HashMap<i64, Vec<RawAnswer>> = HashMap::new();
            let found = answer::Entity::find()
                .filter(answer::Column::OrganisationId.is_in(chunk.iter().map(|o| o.0)))
                .all(&self.read)
                .await?;
            for row in found {
                answers.entry(row.organisation_id).or_default().push(raw_answer(row)?);
            }
            for model in orgs {
                let raw = answers.remove(&model.id).unwrap_or_default();
                rows.push(ScoringRow {
                    id: OrgId(model.id),
                    public_id: model.public_id.clone(),
                    kind: kind(&model.kind)?,
                    profile: profile(&model)?,
                    answers: AnswerSet::from_stored(questionnaire, raw),
                    changed_at: model.changed_at,
                    change_seq: model.change_seq,
                });
            }
        }
        Ok(rows)
    }

    /// The fields of anonymous profiles of every verified organisation, and the population
    /// generation they were read at (read first, so a change during the read shows as a newer
    /// generation next time).
    pub async fn population(&self) -> Result<(i64, Vec<PopulationRow>), StoreError> {
        let generation = self.generation(POPULATION).await?;
        let orgs = organisation::Entity::find()
            .filter(Expr::col(organisation::Column::Id).in_subquery(verified()))
            .all(&self.read)
            .await?;
        let rows = orgs
            .into_iter()
            .map(|model| {
                let p = profile(&model)?;
                Ok(PopulationRow {
                    id: OrgId(model.id),
                    quasi_identifiers: QuasiIdentifiers {
                        kind: Some(kind(&model.kind)?),
                        sectors: p.sectors,
                        region: p.region,
                        size_band: p.size_band,
                        innovation_stage: p.innovation_stage,
                        seeking_kinds: p.seeking_kinds,
                    },
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((generation, rows))
    }

    /// Organisations that are not demonstration data.
    pub async fn real_organisations(&self) -> Result<u64, StoreError> {
        Ok(organisation::Entity::find().filter(organisation::Column::Demo.eq(false)).count(&self.read).await?)
    }

    /// Deletes every demonstration organisation with everything that is theirs (accounts,
    /// answers, matches); how many there were.
    pub async fn remove_demo_organisations(&self) -> Result<u64, StoreError> {
        let txn = self.write().await?;
        let removed =
            organisation::Entity::delete_many().filter(organisation::Column::Demo.eq(true)).exec(&txn).await?;
        if removed.rows_affected > 0 {
            bump(&txn, POPULATION).await?;
            bump(&txn, ROSTER).await?;
        }
        txn.commit().await?;
        Ok(removed.rows_affected)
    }
}

/// Inserts an organisation with an empty profile.
pub(crate) async fn insert_organisation(
    db: &impl ConnectionTrait,
    name: &str,
    kind: OrgKind,
    demo: bool,
    now: DateTime<Utc>,
) -> Result<OrgId, StoreError> {
    let empty = to_json::<Vec<String>>(&Vec::new());
    let row = organisation::ActiveModel {
        public_id: Set(uuid::Uuid::new_v4().to_string()),
        list_version: Set(0),
        demo: Set(demo),
        search_visible: Set(true),
        change_seq: Set(0),
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
    row.search_visible = Set(profile.search_visible);
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
    write_answers_in(db, id, answers, None, questionnaire, now).await
}

/// Replaces the answers of `id` to the questions of `scope` (all of them with `None`) by
/// `answers`. The organisation's row is updated first, which holds it until the transaction
/// ends.
async fn write_answers_in(
    db: &impl ConnectionTrait,
    id: OrgId,
    answers: &AnswerSet,
    scope: Option<&[String]>,
    questionnaire: &Questionnaire,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let touched = organisation::Entity::update_many()
        .col_expr(organisation::Column::ChangedAt, Expr::value(now))
        .filter(organisation::Column::Id.eq(id.0))
        .exec(db)
        .await?;
    if touched.rows_affected != 1 {
        return Err(StoreError::NotFound);
    }
    let mut delete = answer::Entity::delete_many().filter(answer::Column::OrganisationId.eq(id.0));
    if let Some(scope) = scope {
        delete = delete.filter(answer::Column::QuestionId.is_in(scope.iter().cloned()));
    }
    delete.exec(db).await?;
    let rows: Vec<answer::ActiveModel> = answers
        .to_raw(questionnaire)
        .into_iter()
        .filter(|raw| scope.is_none_or(|scope| scope.contains(&raw.question_id)))
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
