//! Success stories on the web: the public `/stories` page, a party's story of a connected
//! match (drafting, approving, withdrawing, on the match's page), and a facilitator hiding one
//! (on the dashboard). The rules are `routes::stories`' (the same as the API's).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;
use store::stories::PublishedStory;

use super::forms::CsrfForm;
use super::{Chrome, Page, PageError, SignedIn, Viewer, check_csrf, see_other};
use crate::errors::ApiError;
use crate::routes::matches::match_id;
use crate::routes::stories::{LISTED, approve, draft, set_hidden, withdraw};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "stories.html")]
struct Stories {
    chrome: Chrome,
    stories: Vec<PublishedStory>,
}

#[get("/stories")]
pub async fn list(request: HttpRequest, state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, PageError> {
    let stories = state.store.published_stories(LISTED).await?;
    let page = Page::new(&request, &state, viewer.0.as_ref(), "");
    let view = Stories { chrome: page.chrome.clone(), stories };
    page.render(StatusCode::OK, &view)
}

#[derive(Debug, Default, Deserialize)]
pub struct StoryForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub text: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    pub show_names: Option<String>,
}

#[post("/matches/{id}/story")]
pub async fn draft_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    id: web::Path<String>,
    form: web::Form<StoryForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&request, &state, &form.csrf_token)?;
    let id = match_id(&id)?;
    let form = form.into_inner();
    match draft(&state, member.0.org(), &id, &form.title, &form.text, form.show_names.is_some()).await {
        Ok(_) => Ok(see_other(&format!("/matches/{id}?done=story-drafted#story"))),
        Err(ApiError::Validation(errors)) => {
            super::matches::detail_with_story_errors(&request, &state, &member.0, &id, form, &errors).await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct ApproveForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    revision: i64,
}

#[post("/matches/{id}/story/approve")]
pub async fn approve_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    id: web::Path<String>,
    form: web::Form<ApproveForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&request, &state, &form.csrf_token)?;
    let id = match_id(&id)?;
    let view = approve(&state, member.0.org(), &id, form.revision).await?;
    let done = if view.published { "story-published" } else { "story-approved" };
    Ok(see_other(&format!("/matches/{id}?done={done}#story")))
}

#[post("/matches/{id}/story/withdraw")]
pub async fn withdraw_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&request, &state, &form.csrf_token)?;
    let id = match_id(&id)?;
    withdraw(&state, member.0.org(), &id).await?;
    Ok(see_other(&format!("/matches/{id}?done=story-withdrawn#story")))
}

#[derive(Debug, Deserialize)]
pub struct HideForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    hidden: String,
}

/// A facilitator hides a published story, or shows it again.
#[post("/admin/stories/{id}/hide")]
pub async fn hide_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    id: web::Path<String>,
    form: web::Form<HideForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&request, &state, &form.csrf_token)?;
    set_hidden(&state, &member.0, &id, form.hidden == "true").await?;
    Ok(see_other("/admin#stories"))
}
