//! Success stories: the parties of a connected match, once one of them reported
//! `collaborating`, draft a story and approve it; it is published (at `GET /api/v1/stories` and
//! on `/stories`) only when both approved the same revision. Either party may withdraw it at any
//! time, and a facilitator may hide it. The public sees a story's own random id, never the
//! match's, and the organisations' names only when both approved a revision that shows them.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::Utc;
use domain::FieldErrors;
use domain::story::Story;
use serde::Deserialize;
use serde_json::{Value, json};
use store::OrgId;
use store::stories::{PublishedStory, StoryView};

use crate::auth::Member;
use crate::errors::ApiError;
use crate::routes::matches::match_id;
use crate::state::AppState;

/// Stories listed at once.
pub const LISTED: u64 = 100;

/// A party's view of a story as JSON.
pub fn view_json(view: &StoryView) -> Value {
    json!({
        "title": view.story.title,
        "text": view.story.text,
        "show_names": view.story.show_names,
        "revision": view.revision,
        "approved_by_me": view.approved_by_me,
        "approved_by_them": view.approved_by_them,
        "published": view.published,
        "withdrawn": view.withdrawn,
        "hidden": view.hidden,
        "public_id": view.public_id,
    })
}

/// A published story as JSON.
pub fn published_json(story: &PublishedStory) -> Value {
    json!({
        "id": story.public_id,
        "title": story.title,
        "text": story.text,
        "names": story.names,
        "published_at": story.published_at,
    })
}

/// The story of match `id` as `org` sees it (the API and the match page alike).
pub async fn story_of(state: &AppState, org: OrgId, id: &str) -> Result<Option<StoryView>, ApiError> {
    Ok(state.store.story_for(org, id).await?)
}

/// Drafts a new revision of the story of match `id`, approved by `org`.
pub async fn draft(
    state: &AppState,
    org: OrgId,
    id: &str,
    title: &str,
    text: &str,
    show_names: bool,
) -> Result<StoryView, ApiError> {
    let story = Story::parse(title, text, show_names)?;
    let view = crate::retry::contended(|| state.store.draft_story(org, id, &story, Utc::now())).await?;
    tracing::info!(match_id = %id, revision = view.revision, "story drafted");
    Ok(view)
}

/// Approves revision `revision` of the story of match `id` for `org`.
pub async fn approve(state: &AppState, org: OrgId, id: &str, revision: i64) -> Result<StoryView, ApiError> {
    let view = crate::retry::contended(|| state.store.approve_story(org, id, revision, Utc::now())).await?;
    if view.published {
        tracing::info!(match_id = %id, revision, "story published");
    }
    Ok(view)
}

/// Withdraws the story of match `id`.
pub async fn withdraw(state: &AppState, org: OrgId, id: &str) -> Result<StoryView, ApiError> {
    let view = crate::retry::contended(|| state.store.withdraw_story(org, id, Utc::now())).await?;
    tracing::info!(match_id = %id, "story withdrawn");
    Ok(view)
}

#[utoipa::path(
    tag = "stories",
    responses(
        (status = 200, description = "`{story}`: the story of this match as the caller sees it, or null", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[get("/matches/{id}/story")]
pub async fn get_story(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = story_of(&state, member.org(), &match_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(json!({"story": view.as_ref().map(view_json)})))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftBody {
    title: String,
    text: String,
    /// Whether the published story names both organisations.
    #[serde(default)]
    show_names: bool,
}

#[utoipa::path(
    tag = "stories",
    request_body = DraftBody,
    responses(
        (status = 200, description = "The new revision, approved by the caller only", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[post("/matches/{id}/story")]
pub async fn post_story(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<DraftBody>,
) -> Result<HttpResponse, ApiError> {
    let id = match_id(&id)?;
    let view = draft(&state, member.org(), &id, &body.title, &body.text, body.show_names).await?;
    Ok(HttpResponse::Ok().json(json!({"story": view_json(&view)})))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// The revision the caller read and approves.
    revision: i64,
}

#[utoipa::path(
    tag = "stories",
    request_body = ApproveBody,
    responses(
        (status = 200, description = "The story after the approval (published once both approved this revision)", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[post("/matches/{id}/story/approve")]
pub async fn approve_story(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<ApproveBody>,
) -> Result<HttpResponse, ApiError> {
    if body.revision < 1 {
        return Err(FieldErrors::one("revision", "must be a revision of the story, from 1").into());
    }
    let view = approve(&state, member.org(), &match_id(&id)?, body.revision).await?;
    Ok(HttpResponse::Ok().json(json!({"story": view_json(&view)})))
}

#[utoipa::path(
    tag = "stories",
    responses(
        (status = 200, description = "The story, withdrawn", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[delete("/matches/{id}/story")]
pub async fn withdraw_story(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = withdraw(&state, member.org(), &match_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(json!({"story": view_json(&view)})))
}

#[utoipa::path(
    tag = "stories",
    responses(
        (status = 200, description = "`{stories}`: the published stories, newest first", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    )
)]
#[get("/stories")]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let stories = state.store.published_stories(LISTED).await?;
    Ok(HttpResponse::Ok().json(json!({"stories": stories.iter().map(published_json).collect::<Vec<_>>()})))
}

/// Every published story with whether it is hidden, for a facilitator.
pub async fn for_facilitator(state: &AppState, member: &Member) -> Result<Vec<PublishedStory>, ApiError> {
    if !member.is_facilitator() {
        return Err(ApiError::Forbidden);
    }
    Ok(state.store.stories_for_facilitators().await?)
}

#[utoipa::path(
    tag = "facilitators",
    responses(
        (status = 200, description = "`{stories}`: every published story, with `hidden`", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[get("/admin/stories")]
pub async fn admin_list(member: Member, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let stories = for_facilitator(&state, &member).await?;
    let listed: Vec<Value> = stories
        .iter()
        .map(|s| {
            let mut body = published_json(s);
            body["hidden"] = json!(s.hidden);
            body
        })
        .collect();
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(json!({"stories": listed})))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HideBody {
    hidden: bool,
}

/// Hides (or shows again) a published story, for a facilitator.
pub async fn set_hidden(state: &AppState, member: &Member, id: &str, hidden: bool) -> Result<(), ApiError> {
    if !member.is_facilitator() {
        return Err(ApiError::Forbidden);
    }
    let id = uuid::Uuid::parse_str(id).map_err(|_| ApiError::NotFound)?.to_string();
    state.store.hide_story(&id, hidden, Utc::now()).await?;
    tracing::info!(story = %id, hidden, "a facilitator changed a story's visibility");
    Ok(())
}

#[utoipa::path(
    tag = "facilitators",
    request_body = HideBody,
    responses(
        (status = 200, description = "`{hidden}`", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[post("/admin/stories/{id}/hide")]
pub async fn hide(
    member: Member,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<HideBody>,
) -> Result<HttpResponse, ApiError> {
    set_hidden(&state, &member, &id, body.hidden).await?;
    Ok(HttpResponse::Ok().json(json!({"hidden": body.hidden})))
}
