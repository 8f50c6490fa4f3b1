//! The caller's confidential matches. A counterpart is an anonymous profile under the alias
//! of this match, generalised so that at least k organisations fit it; its identity appears
//! only once it has revealed itself. A match the caller is not party to (or has declined)
//! answers 404, as does any id that is not a match.

use actix_web::{HttpResponse, get, post, web};
use chrono::Utc;
use domain::FieldErrors;
use matching::anonymity::{AnonymousProfile, Snapshot};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store::OrgId;
use store::matches::{Outcome, PartyView};

use crate::auth::Member;
use crate::cache::Cached;
use crate::errors::ApiError;
use crate::state::AppState;

/// An anonymous profile as every surface shows it: only what k-anonymity lets through (a
/// withheld field is `null`, or fewer sectors).
#[derive(Serialize, utoipa::ToSchema)]
pub struct AnonymousView<'a> {
    /// `sme`, `health_org`, `academic` or `other`.
    #[schema(value_type = Option<String>)]
    kind: Option<&'static str>,
    sectors: &'a [String],
    /// A region, a nation, `uk` or `outside_uk`.
    region: &'a Option<String>,
    size_band: &'a Option<String>,
    innovation_stage: &'a Option<String>,
    capabilities_offered: &'a [String],
    capabilities_sought: &'a [String],
    anonymous_summary: &'a Option<String>,
}

impl<'a> From<&'a AnonymousProfile> for AnonymousView<'a> {
    fn from(profile: &'a AnonymousProfile) -> AnonymousView<'a> {
        let shown = &profile.shown;
        AnonymousView {
            kind: shown.kind.map(|k| k.as_str()),
            sectors: &shown.sectors,
            region: &shown.region,
            size_band: &shown.size_band,
            innovation_stage: &shown.innovation_stage,
            capabilities_offered: &profile.capabilities_offered,
            capabilities_sought: &profile.capabilities_sought,
            anonymous_summary: &profile.anonymous_summary,
        }
    }
}

/// The JSON of an anonymous profile (match views, search cards and responses).
pub fn anonymous_profile(profile: &AnonymousProfile) -> Value {
    serde_json::to_value(AnonymousView::from(profile)).unwrap_or(Value::Null)
}

/// The other side's identity, once it revealed itself.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IdentityView<'a> {
    organisation_name: &'a str,
    website: &'a Option<String>,
    contact_email: &'a str,
    description: &'a Option<String>,
}

/// A match as one of its parties sees it (CONTRACT.md, `MatchView`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct MatchView<'a> {
    /// The match's id: random, the same for both parties.
    id: &'a str,
    /// The other side's alias in this match.
    alias: &'a str,
    score: f64,
    confidence: f64,
    /// Each dimension, 0 to 1.
    compatibility: std::collections::BTreeMap<String, f64>,
    explanation: Vec<String>,
    counterpart: AnonymousView<'a>,
    /// `suggested`, `revealed` or `declined`.
    #[schema(value_type = String)]
    my_status: &'static str,
    /// `hidden` or `revealed`.
    #[schema(value_type = String)]
    their_status: &'static str,
    connected: bool,
    /// `met`, `collaborating` or `no_fit`, once reported.
    #[schema(value_type = Option<String>)]
    my_outcome: Option<&'static str>,
    asked_by_them: bool,
    asked_by_me: bool,
    /// `null` until the other side revealed itself.
    identity: Option<IdentityView<'a>>,
}

/// The caller's matches, best first.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct MatchList<'a> {
    matches: Vec<MatchView<'a>>,
}

/// A view as its party may see it: the counterpart's anonymous profile, and the vector, score
/// and reasons with the sector overlap as far as that profile tells it (the pair's exact
/// overlap would say more about the counterpart than its group does).
struct Rendered {
    score: f64,
    body: Value,
}

/// The score, vector and reasons that a viewer may see of a pair: the sector overlap as far as
/// the counterpart's anonymous profile tells it, and the score with it (matches and search
/// cards alike).
pub fn shown_vector(
    state: &AppState,
    viewer_sectors: &[String],
    score: f64,
    compatibility: &std::collections::BTreeMap<String, f64>,
    explanation: &[String],
    profile: &AnonymousProfile,
) -> (f64, std::collections::BTreeMap<String, f64>, Vec<String>) {
    let shown = Shown { catalogue: &state.catalogue, sector_weight_share: state.models.current().sector_share };
    shown.vector(viewer_sectors, score, compatibility, explanation, profile)
}

/// What `shown_vector` needs, for callers without the app state (the digest).
pub struct Shown<'a> {
    pub catalogue: &'a domain::Catalogue,
    pub sector_weight_share: f64,
}

impl Shown<'_> {
    /// The score, vector and reasons a viewer may see (see [`shown_vector`]).
    pub fn vector(
        &self,
        viewer_sectors: &[String],
        score: f64,
        compatibility: &std::collections::BTreeMap<String, f64>,
        explanation: &[String],
        profile: &AnonymousProfile,
    ) -> (f64, std::collections::BTreeMap<String, f64>, Vec<String>) {
        let mut compatibility = compatibility.clone();
        let mut score = score;
        if let Some(exact) = compatibility.get_mut("sectors") {
            score += self.sector_weight_share * (profile.sector_share - *exact);
            *exact = profile.sector_share;
        }
        let mut explanation = explanation.to_vec();
        let sectors = &self.catalogue.taxonomy.sectors;
        let shared: Vec<&str> = profile
            .shown
            .sectors
            .iter()
            .filter(|s| viewer_sectors.contains(s))
            .map(|s| sectors.label(s).unwrap_or(s))
            .collect();
        if !shared.is_empty() {
            explanation.push(format!("You both work in {}", shared.join(", ")));
        }
        (score, compatibility, explanation)
    }
}

/// What the viewer of a match is shown of it (JSON and pages alike): the counterpart's
/// anonymous profile, and the score, vector and reasons as far as that profile tells them.
pub struct ShownMatch {
    pub profile: AnonymousProfile,
    pub score: f64,
    pub compatibility: std::collections::BTreeMap<String, f64>,
    pub explanation: Vec<String>,
}

pub fn shown_match(state: &AppState, view: &PartyView, viewer: OrgId, anonymity: &Snapshot) -> ShownMatch {
    let profile = anonymity.profile(viewer, view.counterpart, &view.counterpart_profile);
    let (score, compatibility, explanation) =
        shown_vector(state, anonymity.sectors_of(viewer), view.score, &view.compatibility, &view.explanation, &profile);
    ShownMatch { profile, score, compatibility, explanation }
}

fn render(state: &AppState, view: &PartyView, viewer: OrgId, anonymity: &Snapshot) -> Rendered {
    let ShownMatch { profile, score, compatibility, explanation } = shown_match(state, view, viewer, anonymity);
    let body = MatchView {
        id: &view.id,
        alias: &view.alias,
        score,
        confidence: view.confidence,
        compatibility,
        explanation,
        counterpart: AnonymousView::from(&profile),
        my_status: view.my_status.as_str(),
        their_status: if view.their_revealed { "revealed" } else { "hidden" },
        connected: view.connected,
        my_outcome: view.my_outcome.map(Outcome::as_str),
        asked_by_them: view.asked_by_them,
        asked_by_me: view.asked_by_me,
        identity: view.identity.as_ref().map(|i| IdentityView {
            organisation_name: &i.organisation_name,
            website: &i.website,
            contact_email: &i.contact_email,
            description: &i.description,
        }),
    };
    Rendered { score, body: serde_json::to_value(body).unwrap_or(Value::Null) }
}

/// Match ids are UUIDs; anything else cannot be one.
pub fn match_id(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw).map(|id| id.to_string()).map_err(|_| ApiError::NotFound)
}

#[utoipa::path(
    tag = "matches",
    responses(
        (status = 200, description = "The caller's matches, best first", body = MatchList),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[get("/matches")]
pub async fn list(member: Member, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let org = member.org();
    let body = match state.match_lists.get(org) {
        Cached::Fresh(body) => body,
        cached => {
            let version = state.store.matches_version(org).await?;
            match cached {
                Cached::Stale { version: known, body } if known == version => body,
                _ => {
                    let anonymity = state.anonymity.at_least(&state.store, version.population).await?;
                    let views = state.store.matches_for(org).await?;
                    let mut rendered: Vec<Rendered> =
                        views.iter().map(|v| render(&state, v, org, &anonymity)).collect();
                    // Best first by the score the member is shown.
                    rendered.sort_by(|a, b| b.score.total_cmp(&a.score));
                    let list = json!({"matches": rendered.into_iter().map(|r| r.body).collect::<Vec<_>>()});
                    let rendered =
                        serde_json::to_vec(&list).map_err(|e| ApiError::unexpected(e, "failed to render matches"))?;
                    let body = web::Bytes::from(rendered);
                    state.match_lists.put(org, version, body.clone());
                    body
                }
            }
        }
    };
    Ok(HttpResponse::Ok().content_type("application/json").body(body))
}

/// Every match of `org` that it has not declined, as it sees them (best first), as JSON.
pub async fn views_of(state: &AppState, org: OrgId) -> Result<Vec<Value>, ApiError> {
    let anonymity = state.anonymity.current(&state.store).await?;
    let views = state.store.matches_for(org).await?;
    let mut rendered: Vec<Rendered> = views.iter().map(|v| render(state, v, org, &anonymity)).collect();
    rendered.sort_by(|a, b| b.score.total_cmp(&a.score));
    Ok(rendered.into_iter().map(|r| r.body).collect())
}

/// One match as the caller sees it now.
async fn view_of(state: &AppState, org: OrgId, id: &str) -> Result<HttpResponse, ApiError> {
    let anonymity = state.anonymity.current(&state.store).await?;
    let view = state.store.match_for(org, id).await?;
    Ok(HttpResponse::Ok().json(render(state, &view, org, &anonymity).body))
}

#[utoipa::path(
    tag = "matches",
    responses(
        (status = 200, description = "One match as the caller sees it", body = MatchView),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[get("/matches/{id}")]
pub async fn get(member: Member, state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    view_of(&state, member.org(), &match_id(&id)?).await
}

#[utoipa::path(
    tag = "matches",
    responses(
        (status = 200, description = "The match after the reveal", body = MatchView),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[post("/matches/{id}/reveal")]
pub async fn reveal(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = match_id(&id)?;
    reveal_to(&state, member.org(), &id).await?;
    view_of(&state, member.org(), &id).await
}

/// Reveals `org` to the other side of match `id` (irreversible, idempotent); connects the two
/// when the other side revealed itself too, and emails both once.
pub async fn reveal_to(state: &AppState, org: OrgId, id: &str) -> Result<(), ApiError> {
    let public_url = state.settings.public_url.clone();
    let announce = |c: &store::matches::Connection| mail::compose::connected(c, &public_url);
    let revealed = crate::retry::contended(|| state.store.reveal(org, id, Utc::now(), announce)).await?;
    state.match_lists.forget(&[org, revealed.other]);
    if revealed.connected_now {
        tracing::info!(match_id = %id, "match connected");
    }
    Ok(())
}

/// Declines match `id` for `org` (never shown to the other side).
pub async fn decline_for(state: &AppState, org: OrgId, id: &str) -> Result<(), ApiError> {
    crate::retry::contended(|| state.store.decline(org, id, Utc::now())).await?;
    state.match_lists.forget(&[org]);
    Ok(())
}

/// Records `org`'s outcome of the connected match `id`.
pub async fn record_outcome(state: &AppState, org: OrgId, id: &str, raw: &str) -> Result<(), ApiError> {
    let parsed =
        Outcome::parse(raw).ok_or_else(|| FieldErrors::one("outcome", "must be one of met, collaborating, no_fit"))?;
    crate::retry::contended(|| state.store.record_outcome(org, id, parsed, Utc::now())).await?;
    state.match_lists.forget(&[org]);
    Ok(())
}

#[utoipa::path(
    tag = "matches",
    responses(
        (status = 200, description = "Declined (never shown to the other side)", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[post("/matches/{id}/decline")]
pub async fn decline(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    decline_for(&state, member.org(), &match_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(json!({"my_status": "declined"})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeBody {
    outcome: String,
}

#[utoipa::path(
    tag = "matches",
    responses(
        (status = 200, description = "The match with its outcome", body = MatchView),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[post("/matches/{id}/outcome")]
pub async fn outcome(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<OutcomeBody>,
) -> Result<HttpResponse, ApiError> {
    let id = match_id(&id)?;
    record_outcome(&state, member.org(), &id, &body.outcome).await?;
    view_of(&state, member.org(), &id).await
}
