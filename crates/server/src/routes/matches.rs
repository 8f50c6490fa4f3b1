//! The caller's confidential matches. A counterpart is an anonymous profile under the alias
//! of this match; its identity appears only once it has revealed itself. A match the caller
//! is not party to answers 404, as does any id that is not a match.

use actix_web::{HttpResponse, get, post, web};
use chrono::Utc;
use domain::FieldErrors;
use serde::Deserialize;
use serde_json::{Value, json};
use store::matches::{Outcome, PartyView};

use crate::auth::Member;
use crate::cache::Cached;
use crate::errors::ApiError;
use crate::state::AppState;

fn match_view(view: &PartyView) -> Value {
    let c = &view.counterpart;
    json!({
        "id": view.id,
        "alias": view.alias,
        "score": view.score,
        "confidence": view.confidence,
        "compatibility": view.compatibility,
        "explanation": view.explanation,
        "counterpart": {
            "kind": c.kind.as_str(),
            "sectors": c.sectors,
            "region": c.region,
            "size_band": c.size_band,
            "innovation_stage": c.innovation_stage,
            "capabilities_offered": c.capabilities_offered,
            "capabilities_sought": c.capabilities_sought,
            "anonymous_summary": c.anonymous_summary,
        },
        "my_status": view.my_status.as_str(),
        "their_status": if view.their_revealed { "revealed" } else { "hidden" },
        "connected": view.connected,
        "my_outcome": view.my_outcome.map(Outcome::as_str),
        "identity": view.identity.as_ref().map(|i| json!({
            "organisation_name": i.organisation_name,
            "website": i.website,
            "contact_email": i.contact_email,
            "description": i.description,
        })),
    })
}

/// Match ids are UUIDs; anything else cannot be one.
fn match_id(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw).map(|id| id.to_string()).map_err(|_| ApiError::NotFound)
}

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
                    let views = state.store.matches_for(org).await?;
                    let list = json!({"matches": views.iter().map(match_view).collect::<Vec<_>>()});
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

#[get("/matches/{id}")]
pub async fn get(member: Member, state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let view = state.store.match_for(member.org(), &match_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(match_view(&view)))
}

#[post("/matches/{id}/reveal")]
pub async fn reveal(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = match_id(&id)?;
    let public_url = state.settings.public_url.clone();
    let revealed =
        state.store.reveal(member.org(), &id, Utc::now(), |c| digest::compose::connected(c, &public_url)).await?;
    state.match_lists.forget(&[member.org(), revealed.other]);
    if revealed.connected_now {
        tracing::info!(match_id = %id, "match connected");
    }
    let view = state.store.match_for(member.org(), &id).await?;
    Ok(HttpResponse::Ok().json(match_view(&view)))
}

#[post("/matches/{id}/decline")]
pub async fn decline(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.store.decline(member.org(), &match_id(&id)?, Utc::now()).await?;
    state.match_lists.forget(&[member.org()]);
    Ok(HttpResponse::Ok().json(json!({"my_status": "declined"})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeBody {
    outcome: String,
}

#[post("/matches/{id}/outcome")]
pub async fn outcome(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<OutcomeBody>,
) -> Result<HttpResponse, ApiError> {
    let id = match_id(&id)?;
    let outcome = Outcome::parse(&body.outcome)
        .ok_or_else(|| FieldErrors::one("outcome", "must be one of met, collaborating, no_fit"))?;
    state.store.record_outcome(member.org(), &id, outcome, Utc::now()).await?;
    state.match_lists.forget(&[member.org()]);
    let view = state.store.match_for(member.org(), &id).await?;
    Ok(HttpResponse::Ok().json(match_view(&view)))
}
