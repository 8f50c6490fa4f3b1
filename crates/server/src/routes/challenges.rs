//! Challenges and their forum. Health organisations and universities post; every member
//! browses, with a fit for each challenge computed by the scoring engine; organisations respond
//! under a random alias and an anonymous profile, and either side may reveal itself (the
//! poster only to a shortlisted responder). Only the poster reads every response; a responder
//! reads its own; anyone else gets 404. The poster appears as an anonymous profile too, until
//! it reveals itself to a responder.

use std::collections::HashMap;

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use domain::challenge::{self, Challenge, RawChallenge, Response, Writer};
use domain::{FieldErrors, scoring_input};
use matching::anonymity::{AnonymousProfile, Snapshot};
use serde::Deserialize;
use serde_json::{Value, json};
use store::OrgId;
use store::challenges::{ChallengeRecord, QuestionView, ResponseStatus, ResponseView, Side};
use store::matches::CounterpartProfile;
use store::organisations::ScoringRow;

use crate::auth::Member;
use crate::errors::ApiError;
use crate::routes::matches::anonymous_profile;
use crate::state::AppState;

/// Ids of challenges, responses and questions are UUIDs; anything else cannot be one.
fn uuid(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw).map(|id| id.to_string()).map_err(|_| ApiError::NotFound)
}

/// What the organisation wrote for anonymous views.
fn written(row: &ScoringRow) -> CounterpartProfile {
    CounterpartProfile {
        capabilities_offered: row.profile.capabilities_offered.clone(),
        capabilities_sought: row.profile.capabilities_sought.clone(),
        anonymous_summary: row.profile.anonymous_summary.clone(),
    }
}

/// The organisations' scoring rows, by id.
async fn rows(state: &AppState, ids: impl IntoIterator<Item = OrgId>) -> Result<HashMap<OrgId, ScoringRow>, ApiError> {
    let mut ids: Vec<OrgId> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let rows = state.store.scoring_rows_of(&ids, &state.catalogue.questionnaire).await?;
    Ok(rows.into_iter().map(|r| (r.id, r)).collect())
}

/// The fit of `reader` to `challenge`, by the scoring engine; `reader_sectors` are the sectors
/// of the reader that may be taken into account.
fn fit(
    state: &AppState,
    challenge: &Challenge,
    reader: &ScoringRow,
    reader_sectors: &[String],
    poster: &ScoringRow,
) -> f64 {
    let catalogue = &state.catalogue;
    let taxonomy = &catalogue.taxonomy;
    let layout = catalogue.questionnaire.layout();
    let input = |row: &ScoringRow| scoring_input(catalogue, row.kind, &row.profile, &row.answers);
    let needs = scoring::ChallengeNeeds {
        capabilities: taxonomy.capabilities.bits(&challenge.capabilities_needed),
        sectors: taxonomy.sectors.bits(&challenge.sectors),
    };
    let model = scoring::Model::standard(layout);
    let fit = scoring::challenge_fit(
        layout,
        &model,
        &scoring::FitWeights::default(),
        needs,
        &input(reader),
        taxonomy.sectors.bits(reader_sectors),
        &input(poster),
    );
    match fit {
        Ok(fit) => f64::from(fit.fit),
        Err(error) => {
            tracing::error!(error = %error, "the scoring engine refused a challenge fit");
            0.0
        }
    }
}

/// What an organisation writing under an alias must not name.
fn writer(organisation: &store::organisations::Organisation) -> Writer<'_> {
    Writer { organisation_name: &organisation.name, website: organisation.profile.website.as_deref() }
}

/// A time shown beside an alias, to the day only: to the second, the times of a response and
/// of a forum question could link an alias to another.
fn day(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d").to_string()
}

fn status(record: &ChallengeRecord, now: DateTime<Utc>) -> &'static str {
    if record.is_open(now) { "open" } else { "closed" }
}

fn challenge_view(
    record: &ChallengeRecord,
    reader: OrgId,
    fit: f64,
    poster: &AnonymousProfile,
    now: DateTime<Utc>,
) -> Value {
    let c = &record.challenge;
    let mine = record.poster == reader;
    json!({
        "id": record.id,
        "title": c.title,
        "problem_statement": c.problem_statement,
        "sectors": c.sectors,
        "innovation_stage": c.innovation_stage,
        "capabilities_needed": c.capabilities_needed,
        "deadline": c.deadline,
        "links": c.links,
        "status": status(record, now),
        "featured": record.featured,
        "fit": fit,
        "mine": mine,
        "poster": anonymous_profile(poster),
        "questions": record.questions,
        "responses": if mine { Some(record.responses) } else { None },
        "created_at": record.created_at,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    sector: Option<String>,
    stage: Option<String>,
    capability: Option<String>,
    q: Option<String>,
    /// Only challenges whose deadline is on or before this date.
    deadline_before: Option<String>,
    /// `open` (the default), `closed` or `all`.
    status: Option<String>,
    /// `fit`, or the default: newest first.
    order: Option<String>,
}

/// The challenges the filters select, each with the reader's fit; the featured challenge first.
#[get("/challenges")]
pub async fn list(
    member: Member,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let taxonomy = &state.catalogue.taxonomy;
    let mut errors = FieldErrors::new();
    for (field, value, vocabulary) in [
        ("sector", &query.sector, &taxonomy.sectors),
        ("stage", &query.stage, &taxonomy.innovation_stages),
        ("capability", &query.capability, &taxonomy.capabilities),
    ] {
        if value.as_deref().is_some_and(|v| !vocabulary.contains(v)) {
            errors.add(field, "not a known value");
        }
    }
    let before = match query.deadline_before.as_deref() {
        None => None,
        Some(raw) => match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            Ok(date) => date.and_hms_opt(23, 59, 59).map(|d| d.and_utc()),
            Err(_) => {
                errors.add("deadline_before", "enter a date such as 2027-03-31");
                None
            }
        },
    };
    let wanted = query.status.as_deref().unwrap_or("open");
    if !["open", "closed", "all"].contains(&wanted) {
        errors.add("status", "one of open, closed, all");
    }
    let by_fit = match query.order.as_deref() {
        None | Some("newest") => false,
        Some("fit") => true,
        Some(_) => {
            errors.add("order", "one of fit, newest");
            false
        }
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let now = state.clock.now();
    let text = query.q.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_lowercase);
    let records: Vec<ChallengeRecord> = state
        .store
        .challenges()
        .await?
        .into_iter()
        .filter(|r| wanted == "all" || status(r, now) == wanted)
        .filter(|r| query.sector.as_ref().is_none_or(|s| r.challenge.sectors.contains(s)))
        .filter(|r| query.stage.as_ref().is_none_or(|s| r.challenge.innovation_stage.as_ref() == Some(s)))
        .filter(|r| query.capability.as_ref().is_none_or(|c| r.challenge.capabilities_needed.contains(c)))
        .filter(|r| before.is_none_or(|b| r.challenge.deadline <= b))
        .filter(|r| {
            text.as_ref().is_none_or(|t| {
                r.challenge.title.to_lowercase().contains(t) || r.challenge.problem_statement.to_lowercase().contains(t)
            })
        })
        .collect();
    let reader = member.org();
    let rows = rows(&state, records.iter().map(|r| r.poster).chain([reader])).await?;
    let anonymity = state.anonymity.current(&state.store).await?;
    let reader_row = rows.get(&reader).ok_or(ApiError::NotFound)?;
    let mut views: Vec<(bool, f64, Value)> = records
        .iter()
        .filter_map(|record| {
            let poster = rows.get(&record.poster)?;
            let fit = fit(&state, &record.challenge, reader_row, &reader_row.profile.sectors, poster);
            let profile = anonymity.public_profile(record.poster, &written(poster));
            Some((record.featured, fit, challenge_view(record, reader, fit, &profile, now)))
        })
        .collect();
    if by_fit {
        views.sort_by(|a, b| b.1.total_cmp(&a.1));
    }
    // The challenge of the month comes first whatever the order.
    views.sort_by_key(|(featured, _, _)| !featured);
    Ok(HttpResponse::Ok().json(json!({"challenges": views.into_iter().map(|v| v.2).collect::<Vec<_>>()})))
}

/// One challenge as `reader` sees it.
async fn one(state: &AppState, reader: OrgId, record: &ChallengeRecord) -> Result<Value, ApiError> {
    let rows = rows(state, [record.poster, reader]).await?;
    let (Some(poster), Some(reader_row)) = (rows.get(&record.poster), rows.get(&reader)) else {
        return Err(ApiError::NotFound);
    };
    let anonymity = state.anonymity.current(&state.store).await?;
    let fit = fit(state, &record.challenge, reader_row, &reader_row.profile.sectors, poster);
    let profile = anonymity.public_profile(record.poster, &written(poster));
    let mut view = challenge_view(record, reader, fit, &profile, state.clock.now());
    if record.poster != reader {
        view["my_response"] = match state.store.own_response(&record.id, reader).await? {
            Some(response) => responder_view(&response),
            None => Value::Null,
        };
    }
    Ok(view)
}

#[get("/challenges/{id}")]
pub async fn get(member: Member, state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let record = state.store.challenge(&uuid(&id)?).await?;
    Ok(HttpResponse::Ok().json(one(&state, member.org(), &record).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeBody {
    title: Option<String>,
    problem_statement: Option<String>,
    sectors: Option<Vec<String>>,
    innovation_stage: Option<String>,
    capabilities_needed: Option<Vec<String>>,
    deadline: Option<String>,
    links: Option<Vec<String>>,
    /// Only in a `PATCH`: `closed` closes the challenge early.
    status: Option<String>,
}

impl ChallengeBody {
    fn raw(&self) -> RawChallenge {
        RawChallenge {
            title: self.title.clone(),
            problem_statement: self.problem_statement.clone(),
            sectors: self.sectors.clone(),
            innovation_stage: self.innovation_stage.clone(),
            capabilities_needed: self.capabilities_needed.clone(),
            deadline: self.deadline.clone(),
            links: self.links.clone(),
        }
    }
}

#[post("/challenges")]
pub async fn create(
    member: Member,
    state: web::Data<AppState>,
    body: web::Json<ChallengeBody>,
) -> Result<HttpResponse, ApiError> {
    let organisation = state.store.organisation(member.org()).await?;
    if !challenge::may_post(organisation.kind) {
        return Err(ApiError::Forbidden);
    }
    if body.status.is_some() {
        return Err(FieldErrors::one("status", "a new challenge is open; close it later with PATCH").into());
    }
    let now = state.clock.now();
    let parsed = Challenge::parse(&body.raw(), &state.catalogue.taxonomy, writer(&organisation), now)?;
    let id = state.store.create_challenge(member.org(), &parsed, now).await?;
    tracing::info!(challenge = %id, "challenge posted");
    let record = state.store.challenge(&id).await?;
    Ok(HttpResponse::Created().json(one(&state, member.org(), &record).await?))
}

/// Edits a challenge (its poster, until the first response), or closes it with
/// `{"status": "closed"}`.
#[patch("/challenges/{id}")]
pub async fn edit(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<ChallengeBody>,
) -> Result<HttpResponse, ApiError> {
    let id = uuid(&id)?;
    let now = state.clock.now();
    let raw = body.raw();
    match body.status.as_deref() {
        Some("closed") if raw.is_empty() => state.store.close_challenge(&id, member.org(), now).await?,
        Some("closed") => {
            return Err(FieldErrors::one("status", "close a challenge on its own, without other changes").into());
        }
        Some(_) => return Err(FieldErrors::one("status", "only \"closed\" can be set").into()),
        None => {
            let taxonomy = &state.catalogue.taxonomy;
            let organisation = state.store.organisation(member.org()).await?;
            let writer = writer(&organisation);
            state
                .store
                .edit_challenge(&id, member.org(), now, |current| current.apply(&raw, taxonomy, writer, now))
                .await??;
        }
    }
    let record = state.store.challenge(&id).await?;
    Ok(HttpResponse::Ok().json(one(&state, member.org(), &record).await?))
}

/// A response as its responder sees it: its own text and what it did, never a decline.
fn responder_view(response: &ResponseView) -> Value {
    // A decline is never shown: a response once shortlisted stays shortlisted to its
    // responder, and a declined one that never was reads as submitted.
    let status = if response.shortlisted || response.status == ResponseStatus::Shortlisted {
        "shortlisted"
    } else {
        "submitted"
    };
    json!({
        "id": response.id,
        "summary": response.summary,
        "stages": response.stages.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "status": status,
        "my_status": if response.responder_revealed { "revealed" } else { "hidden" },
        "their_status": if response.poster_revealed { "revealed" } else { "hidden" },
        "connected": response.connected,
        "identity": response.poster_identity.as_ref().map(identity),
        "created_at": day(response.created_at),
    })
}

fn identity(identity: &store::challenges::PartyIdentity) -> Value {
    json!({
        "organisation_name": identity.organisation_name,
        "website": identity.website,
        "contact_email": identity.contact_email,
        "description": identity.description,
    })
}

/// A response as the poster sees it: the responder under its alias, as an anonymous profile
/// with its fit, until it revealed itself.
fn poster_view(response: &ResponseView, profile: &AnonymousProfile, fit: f64) -> Value {
    json!({
        "id": response.id,
        "alias": response.alias,
        "counterpart": anonymous_profile(profile),
        "fit": fit,
        "summary": response.summary,
        "stages": response.stages.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "status": response.status.as_str(),
        "my_status": if response.poster_revealed { "revealed" } else { "hidden" },
        // A declined responder stays hidden to the poster, whatever it did.
        "their_status": if response.responder_revealed && response.status != ResponseStatus::Declined {
            "revealed"
        } else {
            "hidden"
        },
        "connected": response.connected,
        "identity": response.responder_identity.as_ref().map(identity),
        "created_at": day(response.created_at),
    })
}

/// The poster's views of these responses.
async fn poster_views(
    state: &AppState,
    record: &ChallengeRecord,
    responses: &[ResponseView],
) -> Result<Vec<Value>, ApiError> {
    let rows = rows(state, responses.iter().map(|r| r.responder).chain([record.poster])).await?;
    let anonymity: std::sync::Arc<Snapshot> = state.anonymity.current(&state.store).await?;
    let poster = rows.get(&record.poster).ok_or(ApiError::NotFound)?;
    Ok(responses
        .iter()
        .filter_map(|response| {
            let responder = rows.get(&response.responder)?;
            let profile = anonymity.profile(record.poster, response.responder, &written(responder));
            // The fit counts the responder's sectors only as far as its profile shows them.
            let fit = fit(state, &record.challenge, responder, &profile.shown.sectors, poster);
            Some(poster_view(response, &profile, fit))
        })
        .collect())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseBody {
    summary: String,
    stages: Vec<String>,
}

/// Responds to a challenge, or edits the caller's response while the challenge is open.
#[post("/challenges/{id}/responses")]
pub async fn respond(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<ResponseBody>,
) -> Result<HttpResponse, ApiError> {
    let id = uuid(&id)?;
    let organisation = state.store.organisation(member.org()).await?;
    let response = Response::parse(&body.summary, &body.stages, writer(&organisation))?;
    let mut alias = || matching::random_alias(&mut rand::rng());
    let (response_id, created) =
        state.store.respond(&id, member.org(), &response, &mut alias, state.clock.now()).await?;
    let own = state.store.own_response(&id, member.org()).await?.ok_or(ApiError::NotFound)?;
    debug_assert_eq!(own.id, response_id);
    let view = responder_view(&own);
    Ok(if created { HttpResponse::Created().json(view) } else { HttpResponse::Ok().json(view) })
}

/// Every response for the poster; the caller's own for a responder; 404 for anyone else.
#[get("/challenges/{id}/responses")]
pub async fn list_responses(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = uuid(&id)?;
    let record = state.store.challenge(&id).await?;
    if record.poster == member.org() {
        let responses = state.store.responses_for_poster(&id, member.org()).await?;
        return Ok(HttpResponse::Ok().json(json!({"responses": poster_views(&state, &record, &responses).await?})));
    }
    match state.store.own_response(&id, member.org()).await? {
        Some(own) => Ok(HttpResponse::Ok().json(json!({"responses": [responder_view(&own)]}))),
        None => Err(ApiError::NotFound),
    }
}

/// One response as the caller sees it.
async fn response_view(state: &AppState, challenge_id: &str, response_id: &str, org: OrgId) -> Result<Value, ApiError> {
    let (response, side) = state.store.response(challenge_id, response_id, org).await?;
    match side {
        Side::Responder => Ok(responder_view(&response)),
        Side::Poster => {
            let record = state.store.challenge(challenge_id).await?;
            let mut views = poster_views(state, &record, std::slice::from_ref(&response)).await?;
            views.pop().ok_or(ApiError::NotFound)
        }
    }
}

#[post("/challenges/{id}/responses/{rid}/{action}")]
pub async fn act(
    member: Member,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, rid, action) = path.into_inner();
    let (id, rid) = (uuid(&id)?, uuid(&rid)?);
    let now = state.clock.now();
    match action.as_str() {
        "shortlist" => state.store.judge_response(&id, &rid, member.org(), ResponseStatus::Shortlisted, now).await?,
        "decline" => state.store.judge_response(&id, &rid, member.org(), ResponseStatus::Declined, now).await?,
        "reveal" => {
            let public_url = state.settings.public_url.clone();
            let revealed = state
                .store
                .reveal_in_response(&id, &rid, member.org(), now, |c| {
                    digest::compose::challenge_connected(c, &public_url)
                })
                .await?;
            if revealed.connected_now {
                tracing::info!(response = %rid, "challenge response connected");
            }
        }
        _ => return Err(ApiError::NotFound),
    }
    Ok(HttpResponse::Ok().json(response_view(&state, &id, &rid, member.org()).await?))
}

/// A forum question as every member reads it: the asker as its alias for the challenge and
/// its kind, as far as that kind is shared by enough organisations.
fn question_view(question: &QuestionView, kind: Option<domain::OrgKind>) -> Value {
    json!({
        "id": question.id,
        "alias": question.alias,
        "kind": kind.map(|k| k.as_str()),
        "text": question.text,
        "answer": question.answer,
        "hidden": question.hidden,
        "created_at": day(question.created_at),
    })
}

#[get("/challenges/{id}/questions")]
pub async fn list_questions(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = uuid(&id)?;
    let questions = state.store.questions(&id, member.is_facilitator()).await?;
    let anonymity = state.anonymity.current(&state.store).await?;
    let empty =
        CounterpartProfile { capabilities_offered: vec![], capabilities_sought: vec![], anonymous_summary: None };
    let views: Vec<Value> =
        questions.iter().map(|q| question_view(q, anonymity.public_profile(q.asker, &empty).shown.kind)).collect();
    Ok(HttpResponse::Ok().json(json!({"questions": views})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextBody {
    text: String,
}

#[post("/challenges/{id}/questions")]
pub async fn ask(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<TextBody>,
) -> Result<HttpResponse, ApiError> {
    let id = uuid(&id)?;
    let organisation = state.store.organisation(member.org()).await?;
    let text = challenge::question(&body.text, writer(&organisation))?;
    let mut alias = || matching::random_alias(&mut rand::rng());
    let question = state.store.ask(&id, member.org(), &text, &mut alias, state.clock.now()).await?;
    tracing::info!(challenge = %id, question = %question, "question asked");
    Ok(HttpResponse::Created().json(json!({"id": question})))
}

#[post("/challenges/{id}/questions/{qid}/answer")]
pub async fn answer(
    member: Member,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Json<TextBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, qid) = path.into_inner();
    let (id, qid) = (uuid(&id)?, uuid(&qid)?);
    let organisation = state.store.organisation(member.org()).await?;
    let text = challenge::answer(&body.text, writer(&organisation))?;
    state.store.answer_question(&id, &qid, member.org(), &text, state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(json!({"answered": true})))
}

/// The facilitator's challenge of the month: at most one is featured at a time.
#[post("/admin/challenges/{id}/feature")]
pub async fn feature(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !member.is_facilitator() {
        return Err(ApiError::Forbidden);
    }
    let id = uuid(&id)?;
    state.store.feature_challenge(&id, state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(json!({"featured": id})))
}

/// A facilitator hides a forum post: it is gone for everyone else.
#[post("/admin/challenges/{id}/questions/{qid}/hide")]
pub async fn hide(
    member: Member,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    if !member.is_facilitator() {
        return Err(ApiError::Forbidden);
    }
    let (id, qid) = path.into_inner();
    state.store.hide_question(&uuid(&id)?, &uuid(&qid)?, state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(json!({"hidden": true})))
}
