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
use serde::{Deserialize, Serialize, Serializer};
use serde_json::json;
use store::OrgId;
use store::challenges::{ChallengeRecord, QuestionView, ResponseStatus, ResponseView, Side};
use store::matches::CounterpartProfile;
use store::organisations::ScoringRow;

use crate::auth::Member;
use crate::errors::ApiError;
use crate::routes::matches::anonymous_profile;
use crate::state::AppState;

/// Ids of challenges, responses and questions are UUIDs; anything else cannot be one.
pub fn uuid(raw: &str) -> Result<String, ApiError> {
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
pub async fn rows(
    state: &AppState,
    ids: impl IntoIterator<Item = OrgId>,
) -> Result<HashMap<OrgId, ScoringRow>, ApiError> {
    let mut ids: Vec<OrgId> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let rows = state.store.scoring_rows_of(&ids, &state.catalogue.questionnaire).await?;
    Ok(rows.into_iter().map(|r| (r.id, r)).collect())
}

/// The fit of `reader` to `challenge`, by the scoring engine; `reader_sectors` are the sectors
/// of the reader that may be taken into account.
pub fn fit(
    catalogue: &domain::Catalogue,
    challenge: &Challenge,
    reader: &ScoringRow,
    reader_sectors: &[String],
    poster: &ScoringRow,
) -> f64 {
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

/// An anonymous profile in its JSON shape (for `serialize_with`).
fn profile_json<S: Serializer>(profile: &AnonymousProfile, serializer: S) -> Result<S::Ok, S::Error> {
    anonymous_profile(profile).serialize(serializer)
}

/// A challenge as a reader sees it (JSON and pages alike).
#[derive(Serialize)]
pub struct ChallengeView {
    pub id: String,
    pub title: String,
    pub problem_statement: String,
    pub sectors: Vec<String>,
    pub innovation_stage: Option<String>,
    pub capabilities_needed: Vec<String>,
    pub deadline: DateTime<Utc>,
    pub links: Vec<String>,
    pub status: &'static str,
    pub featured: bool,
    pub fit: f64,
    pub mine: bool,
    #[serde(serialize_with = "profile_json")]
    pub poster: AnonymousProfile,
    pub questions: i64,
    pub responses: Option<i64>,
    pub created_at: DateTime<Utc>,
    /// For a reader that is not the poster: its own response, if any (absent for the poster).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub my_response: Option<Option<ResponderView>>,
}

fn challenge_view(
    record: &ChallengeRecord,
    reader: OrgId,
    fit: f64,
    poster: AnonymousProfile,
    now: DateTime<Utc>,
) -> ChallengeView {
    let c = &record.challenge;
    let mine = record.poster == reader;
    ChallengeView {
        id: record.id.clone(),
        title: c.title.clone(),
        problem_statement: c.problem_statement.clone(),
        sectors: c.sectors.clone(),
        innovation_stage: c.innovation_stage.clone(),
        capabilities_needed: c.capabilities_needed.clone(),
        deadline: c.deadline,
        links: c.links.clone(),
        status: status(record, now),
        featured: record.featured,
        fit,
        mine,
        poster,
        questions: record.questions,
        responses: if mine { Some(record.responses) } else { None },
        created_at: record.created_at,
        my_response: None,
    }
}

#[derive(Deserialize, Default, Clone, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub sector: Option<String>,
    pub stage: Option<String>,
    pub capability: Option<String>,
    pub q: Option<String>,
    /// Only challenges whose deadline is on or before this date.
    pub deadline_before: Option<String>,
    /// `open` (the default), `closed` or `all`.
    pub status: Option<String>,
    /// `fit`, or the default: newest first.
    pub order: Option<String>,
}

/// The challenges the filters select, each with the reader's fit; the featured challenge first.
#[utoipa::path(
    tag = "challenges",
    params(ListQuery),
    responses(
        (status = 200, description = "The challenges the filters select, the featured one first", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[get("/challenges")]
pub async fn list(
    member: Member,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let views = list_for(&state, &member, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(json!({"challenges": views})))
}

/// The challenges `query` selects as `member` sees them (the same for the API and the pages).
pub async fn list_for(state: &AppState, member: &Member, query: ListQuery) -> Result<Vec<ChallengeView>, ApiError> {
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
    let rows = rows(state, records.iter().map(|r| r.poster).chain([reader])).await?;
    let anonymity = state.anonymity.current(&state.store).await?;
    let reader_row = rows.get(&reader).ok_or(ApiError::NotFound)?;
    let mut views: Vec<ChallengeView> = records
        .iter()
        .filter_map(|record| {
            let poster = rows.get(&record.poster)?;
            let fit = fit(&state.catalogue, &record.challenge, reader_row, &reader_row.profile.sectors, poster);
            let profile = anonymity.public_profile(record.poster, &written(poster));
            Some(challenge_view(record, reader, fit, profile, now))
        })
        .collect();
    if by_fit {
        views.sort_by(|a, b| b.fit.total_cmp(&a.fit));
    }
    // The challenge of the month comes first whatever the order.
    views.sort_by_key(|view| !view.featured);
    Ok(views)
}

/// One challenge as `reader` sees it.
pub async fn one(state: &AppState, reader: OrgId, record: &ChallengeRecord) -> Result<ChallengeView, ApiError> {
    let rows = rows(state, [record.poster, reader]).await?;
    let (Some(poster), Some(reader_row)) = (rows.get(&record.poster), rows.get(&reader)) else {
        return Err(ApiError::NotFound);
    };
    let anonymity = state.anonymity.current(&state.store).await?;
    let fit = fit(&state.catalogue, &record.challenge, reader_row, &reader_row.profile.sectors, poster);
    let profile = anonymity.public_profile(record.poster, &written(poster));
    let mut view = challenge_view(record, reader, fit, profile, state.clock.now());
    if record.poster != reader {
        view.my_response = Some(state.store.own_response(&record.id, reader).await?.as_ref().map(responder_view));
    }
    Ok(view)
}

#[utoipa::path(
    tag = "challenges",
    responses(
        (status = 200, description = "One challenge as the caller reads it", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[get("/challenges/{id}")]
pub async fn get(member: Member, state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let record = state.store.challenge(&uuid(&id)?).await?;
    Ok(HttpResponse::Ok().json(one(&state, member.org(), &record).await?))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeBody {
    pub title: Option<String>,
    pub problem_statement: Option<String>,
    pub sectors: Option<Vec<String>>,
    pub innovation_stage: Option<String>,
    pub capabilities_needed: Option<Vec<String>>,
    pub deadline: Option<String>,
    pub links: Option<Vec<String>>,
    /// Only in a `PATCH`: `closed` closes the challenge early.
    pub status: Option<String>,
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

#[utoipa::path(
    tag = "challenges",
    responses(
        (status = 201, description = "The challenge is posted; its id", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[post("/challenges")]
pub async fn create(
    member: Member,
    state: web::Data<AppState>,
    body: web::Json<ChallengeBody>,
) -> Result<HttpResponse, ApiError> {
    let id = post_challenge(&state, &member, &body).await?;
    let record = state.store.challenge(&id).await?;
    Ok(HttpResponse::Created().json(one(&state, member.org(), &record).await?))
}

/// Posts a challenge for `member` (a health organisation or a university); its id.
pub async fn post_challenge(state: &AppState, member: &Member, body: &ChallengeBody) -> Result<String, ApiError> {
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
    Ok(id)
}

/// Edits a challenge (its poster, until the first response), or closes it with
/// `{"status": "closed"}`.
#[utoipa::path(
    tag = "challenges",
    responses(
        (status = 200, description = "The challenge as edited", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[patch("/challenges/{id}")]
pub async fn edit(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<ChallengeBody>,
) -> Result<HttpResponse, ApiError> {
    let id = uuid(&id)?;
    edit_challenge(&state, &member, &id, &body).await?;
    let record = state.store.challenge(&id).await?;
    Ok(HttpResponse::Ok().json(one(&state, member.org(), &record).await?))
}

/// Edits challenge `id` (its poster, until the first response), or closes it.
pub async fn edit_challenge(state: &AppState, member: &Member, id: &str, body: &ChallengeBody) -> Result<(), ApiError> {
    let now = state.clock.now();
    let raw = body.raw();
    match body.status.as_deref() {
        Some("closed") if raw.is_empty() => state.store.close_challenge(id, member.org(), now).await?,
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
                .edit_challenge(id, member.org(), now, |current| current.apply(&raw, taxonomy, writer, now))
                .await??;
        }
    }
    Ok(())
}

/// A party's identity, once revealed.
#[derive(Serialize, Clone)]
pub struct IdentityView {
    pub organisation_name: String,
    pub website: Option<String>,
    pub contact_email: String,
    pub description: Option<String>,
}

/// A response as its responder sees it.
#[derive(Serialize, Clone)]
pub struct ResponderView {
    pub id: String,
    pub summary: String,
    pub stages: Vec<&'static str>,
    pub status: &'static str,
    pub my_status: &'static str,
    pub their_status: &'static str,
    pub connected: bool,
    pub identity: Option<IdentityView>,
    pub created_at: String,
}

/// A response as the poster sees it.
#[derive(Serialize, Clone)]
pub struct PosterView {
    pub id: String,
    pub alias: String,
    #[serde(serialize_with = "profile_json")]
    pub counterpart: AnonymousProfile,
    pub fit: f64,
    pub summary: String,
    pub stages: Vec<&'static str>,
    pub status: &'static str,
    pub my_status: &'static str,
    pub their_status: &'static str,
    pub connected: bool,
    pub identity: Option<IdentityView>,
    pub created_at: String,
}

/// A response as its responder sees it: its own text and what it did, never a decline.
fn responder_view(response: &ResponseView) -> ResponderView {
    // A decline is never shown: a response once shortlisted stays shortlisted to its
    // responder, and a declined one that never was reads as submitted.
    let status = if response.shortlisted || response.status == ResponseStatus::Shortlisted {
        "shortlisted"
    } else {
        "submitted"
    };
    ResponderView {
        id: response.id.clone(),
        summary: response.summary.clone(),
        stages: response.stages.iter().map(|s| s.as_str()).collect(),
        status,
        my_status: if response.responder_revealed { "revealed" } else { "hidden" },
        their_status: if response.poster_revealed { "revealed" } else { "hidden" },
        connected: response.connected,
        identity: response.poster_identity.as_ref().map(identity),
        created_at: day(response.created_at),
    }
}

fn identity(identity: &store::challenges::PartyIdentity) -> IdentityView {
    IdentityView {
        organisation_name: identity.organisation_name.clone(),
        website: identity.website.clone(),
        contact_email: identity.contact_email.clone(),
        description: identity.description.clone(),
    }
}

/// A response as the poster sees it: the responder under its alias, as an anonymous profile
/// with its fit, until it revealed itself.
fn poster_view(response: &ResponseView, profile: AnonymousProfile, fit: f64) -> PosterView {
    PosterView {
        id: response.id.clone(),
        alias: response.alias.clone(),
        counterpart: profile,
        fit,
        summary: response.summary.clone(),
        stages: response.stages.iter().map(|s| s.as_str()).collect(),
        status: response.status.as_str(),
        my_status: if response.poster_revealed { "revealed" } else { "hidden" },
        // A declined responder stays hidden to the poster, whatever it did.
        their_status: if response.responder_revealed && response.status != ResponseStatus::Declined {
            "revealed"
        } else {
            "hidden"
        },
        connected: response.connected,
        identity: response.responder_identity.as_ref().map(identity),
        created_at: day(response.created_at),
    }
}

/// The poster's views of these responses.
async fn poster_views(
    state: &AppState,
    record: &ChallengeRecord,
    responses: &[ResponseView],
) -> Result<Vec<PosterView>, ApiError> {
    let rows = rows(state, responses.iter().map(|r| r.responder).chain([record.poster])).await?;
    let anonymity: std::sync::Arc<Snapshot> = state.anonymity.current(&state.store).await?;
    let poster = rows.get(&record.poster).ok_or(ApiError::NotFound)?;
    Ok(responses
        .iter()
        .filter_map(|response| {
            let responder = rows.get(&response.responder)?;
            let profile = anonymity.profile(record.poster, response.responder, &written(responder));
            // The fit counts the responder's sectors only as far as its profile shows them.
            let fit = fit(&state.catalogue, &record.challenge, responder, &profile.shown.sectors, poster);
            Some(poster_view(response, profile, fit))
        })
        .collect())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseBody {
    pub summary: String,
    pub stages: Vec<String>,
}

/// Responds to a challenge, or edits the caller's response while the challenge is open.
#[utoipa::path(
    tag = "challenges",
    responses(
        (status = 201, description = "The response is sent", body = serde_json::Value),
        (status = 200, description = "The response is edited", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[post("/challenges/{id}/responses")]
pub async fn respond(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<ResponseBody>,
) -> Result<HttpResponse, ApiError> {
    let (view, created) = respond_to(&state, &member, &uuid(&id)?, &body).await?;
    Ok(if created { HttpResponse::Created().json(view) } else { HttpResponse::Ok().json(view) })
}

/// Responds to challenge `id`, or edits `member`'s response; the response, and whether it is
/// new.
pub async fn respond_to(
    state: &AppState,
    member: &Member,
    id: &str,
    body: &ResponseBody,
) -> Result<(ResponderView, bool), ApiError> {
    let organisation = state.store.organisation(member.org()).await?;
    let response = Response::parse(&body.summary, &body.stages, writer(&organisation))?;
    let mut alias = || matching::random_alias(&mut rand::rng());
    let (response_id, created) =
        state.store.respond(id, member.org(), &response, &mut alias, state.clock.now()).await?;
    let own = state.store.own_response(id, member.org()).await?.ok_or(ApiError::NotFound)?;
    debug_assert_eq!(own.id, response_id);
    Ok((responder_view(&own), created))
}

/// Every response for the poster; the caller's own for a responder; 404 for anyone else.
#[utoipa::path(
    tag = "challenges",
    responses(
        (status = 200, description = "Every response for the poster; its own for a responder", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[get("/challenges/{id}/responses")]
pub async fn list_responses(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(match responses_of(&state, &member, &uuid(&id)?).await? {
        Responses::Poster(views) => HttpResponse::Ok().json(json!({"responses": views})),
        Responses::Responder(own) => HttpResponse::Ok().json(json!({"responses": [own]})),
    })
}

/// The responses to a challenge that a member may read.
pub enum Responses {
    /// Every response, for the poster.
    Poster(Vec<PosterView>),
    /// The member's own.
    Responder(Box<ResponderView>),
}

/// Every response for the poster; the member's own for a responder; 404 for anyone else.
pub async fn responses_of(state: &AppState, member: &Member, id: &str) -> Result<Responses, ApiError> {
    let record = state.store.challenge(id).await?;
    if record.poster == member.org() {
        let responses = state.store.responses_for_poster(id, member.org()).await?;
        return Ok(Responses::Poster(poster_views(state, &record, &responses).await?));
    }
    match state.store.own_response(id, member.org()).await? {
        Some(own) => Ok(Responses::Responder(Box::new(responder_view(&own)))),
        None => Err(ApiError::NotFound),
    }
}

/// One response as the caller sees it.
async fn response_view(
    state: &AppState,
    challenge_id: &str,
    response_id: &str,
    org: OrgId,
) -> Result<serde_json::Value, ApiError> {
    let (response, side) = state.store.response(challenge_id, response_id, org).await?;
    let view = match side {
        Side::Responder => serde_json::to_value(responder_view(&response)),
        Side::Poster => {
            let record = state.store.challenge(challenge_id).await?;
            let mut views = poster_views(state, &record, std::slice::from_ref(&response)).await?;
            serde_json::to_value(views.pop().ok_or(ApiError::NotFound)?)
        }
    };
    view.map_err(|e| ApiError::unexpected(e, "failed to render a response"))
}

#[utoipa::path(
    tag = "challenges",
    responses(
        (status = 200, description = "Done: shortlist, decline or reveal", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[post("/challenges/{id}/responses/{rid}/{action}")]
pub async fn act(
    member: Member,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, rid, action) = path.into_inner();
    let (id, rid) = (uuid(&id)?, uuid(&rid)?);
    act_on(&state, &member, &id, &rid, &action).await?;
    Ok(HttpResponse::Ok().json(response_view(&state, &id, &rid, member.org()).await?))
}

/// Shortlists, declines (the poster) or reveals (either side) response `rid` of challenge `id`.
pub async fn act_on(state: &AppState, member: &Member, id: &str, rid: &str, action: &str) -> Result<(), ApiError> {
    let (id, rid) = (&id, &rid);
    let now = state.clock.now();
    match action {
        "shortlist" | "decline" => {
            let to = if action == "shortlist" { ResponseStatus::Shortlisted } else { ResponseStatus::Declined };
            crate::retry::contended(|| state.store.judge_response(id, rid, member.org(), to, now)).await?
        }
        "reveal" => {
            let public_url = state.settings.public_url.clone();
            let announce =
                |c: &store::challenges::ChallengeConnection| mail::compose::challenge_connected(c, &public_url);
            let revealed =
                crate::retry::contended(|| state.store.reveal_in_response(id, rid, member.org(), now, announce))
                    .await?;
            if revealed.connected_now {
                tracing::info!(response = %rid, "challenge response connected");
            }
        }
        _ => return Err(ApiError::NotFound),
    }
    Ok(())
}

/// A forum question as every member reads it: the asker as its alias for the challenge and
/// its kind, as far as that kind is shared by enough organisations.
#[derive(Serialize, Clone)]
pub struct ForumQuestion {
    pub id: String,
    pub alias: String,
    pub kind: Option<&'static str>,
    pub text: String,
    pub answer: Option<String>,
    pub hidden: bool,
    pub created_at: String,
}

fn question_view(question: &QuestionView, kind: Option<domain::OrgKind>) -> ForumQuestion {
    ForumQuestion {
        id: question.id.clone(),
        alias: question.alias.clone(),
        kind: kind.map(|k| k.as_str()),
        text: question.text.clone(),
        answer: question.answer.clone(),
        hidden: question.hidden,
        created_at: day(question.created_at),
    }
}

#[utoipa::path(
    tag = "challenges",
    responses(
        (status = 200, description = "The forum", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[get("/challenges/{id}/questions")]
pub async fn list_questions(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let views = questions_of(&state, &member, &uuid(&id)?).await?;
    Ok(HttpResponse::Ok().json(json!({"questions": views})))
}

/// The forum of challenge `id` as `member` reads it (a facilitator also sees hidden posts).
pub async fn questions_of(state: &AppState, member: &Member, id: &str) -> Result<Vec<ForumQuestion>, ApiError> {
    let questions = state.store.questions(id, member.is_facilitator()).await?;
    let anonymity = state.anonymity.current(&state.store).await?;
    let empty =
        CounterpartProfile { capabilities_offered: vec![], capabilities_sought: vec![], anonymous_summary: None };
    Ok(questions.iter().map(|q| question_view(q, anonymity.public_profile(q.asker, &empty).shown.kind)).collect())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextBody {
    pub text: String,
}

#[utoipa::path(
    tag = "challenges",
    responses(
        (status = 201, description = "The question is posted", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[post("/challenges/{id}/questions")]
pub async fn ask(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<TextBody>,
) -> Result<HttpResponse, ApiError> {
    let question = ask_question(&state, &member, &uuid(&id)?, &body.text).await?;
    Ok(HttpResponse::Created().json(json!({"id": question})))
}

/// Asks a question in the forum of challenge `id`, under `member`'s alias there; its id.
pub async fn ask_question(state: &AppState, member: &Member, id: &str, text: &str) -> Result<String, ApiError> {
    let organisation = state.store.organisation(member.org()).await?;
    let text = challenge::question(text, writer(&organisation))?;
    let mut alias = || matching::random_alias(&mut rand::rng());
    let question = state.store.ask(id, member.org(), &text, &mut alias, state.clock.now()).await?;
    tracing::info!(challenge = %id, question = %question, "question asked");
    Ok(question)
}

#[utoipa::path(
    tag = "challenges",
    responses(
        (status = 200, description = "The answer is posted", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[post("/challenges/{id}/questions/{qid}/answer")]
pub async fn answer(
    member: Member,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Json<TextBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, qid) = path.into_inner();
    answer_question(&state, &member, &uuid(&id)?, &uuid(&qid)?, &body.text).await?;
    Ok(HttpResponse::Ok().json(json!({"answered": true})))
}

/// The poster answers question `qid` in the forum of its challenge `id`.
pub async fn answer_question(
    state: &AppState,
    member: &Member,
    id: &str,
    qid: &str,
    text: &str,
) -> Result<(), ApiError> {
    let organisation = state.store.organisation(member.org()).await?;
    let text = challenge::answer(text, writer(&organisation))?;
    state.store.answer_question(id, qid, member.org(), &text, state.clock.now()).await?;
    Ok(())
}

/// The facilitator's challenge of the month: at most one is featured at a time.
#[utoipa::path(
    tag = "facilitators",
    responses(
        (status = 200, description = "This is now the challenge of the month", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
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
#[utoipa::path(
    tag = "facilitators",
    responses(
        (status = 200, description = "The post is hidden from everyone but facilitators", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
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
