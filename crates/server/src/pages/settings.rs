//! Settings: how often the digest comes, whether partner search may show the organisation, the
//! password, and the organisation's data rights: a download of all of its data, and erasure.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use domain::ProfilePatch;

use super::forms::{Choice, DoneQuery, FormErrors};
use super::{Chrome, ErrorPage, Page, PageError, SignedIn, posted, see_other, session};
use crate::auth::Member;
use crate::errors::ApiError;
use crate::routes::accounts::change_password_of;
use crate::routes::me::{erase as erase_organisation, export_of, set_digest_frequency, update_profile_of};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "settings.html")]
struct Settings {
    chrome: Chrome,
    email: String,
    frequency: Vec<Choice>,
    visibility: Vec<Choice>,
    errors: FormErrors,
    notice: &'static str,
}

async fn settings_page(
    request: &HttpRequest,
    state: &AppState,
    member: &Member,
    errors: FormErrors,
    notice: &'static str,
) -> Result<HttpResponse, PageError> {
    let account = state
        .store
        .account_by_public_id(&member.public_id)
        .await?
        .ok_or(PageError::LogIn { next: "/settings".to_owned() })?;
    let visible = state.store.organisation(member.org()).await?.profile.search_visible;
    let current = state.store.digest_frequency(&member.public_id).await?;
    let frequency = [
        ("daily", "Daily, when there is something new"),
        ("weekly", "Weekly, when there is something new"),
        ("off", "Never"),
    ]
    .iter()
    .map(|(value, label)| Choice {
        value: (*value).to_owned(),
        label: (*label).to_owned(),
        hint: String::new(),
        checked: *value == current.as_str(),
    })
    .collect();
    let visibility = [("on", "Yes, partner search may show us (anonymously)"), ("off", "No, only suggested matches")]
        .iter()
        .map(|(value, label)| Choice {
            value: (*value).to_owned(),
            label: (*label).to_owned(),
            hint: String::new(),
            checked: (*value == "on") == visible,
        })
        .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = Page::new(request, state, Some(member), "settings");
    let view = Settings {
        chrome: page.chrome.clone(),
        email: account.email.as_str().to_owned(),
        frequency,
        visibility,
        errors,
        notice,
    };
    page.render(status, &view)
}

#[get("/settings")]
pub async fn show(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let notice = match query.done.as_str() {
        "search" => "Your search setting is saved.",
        "digest" => "Your digest setting is saved.",
        "password" => "Your password is changed. Every other session has ended.",
        _ => "",
    };
    settings_page(&request, &state, &member.0, FormErrors::default(), notice).await
}

#[post("/settings/digest")]
pub async fn save_digest(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = posted(&request, &state, &body)?;
    match set_digest_frequency(&state, &member.0, form.get("frequency")).await {
        Ok(_) => Ok(see_other("/settings?done=digest")),
        Err(ApiError::Validation(errors)) => {
            let errors = FormErrors::from_fields(&errors, &["frequency"], "frequency");
            settings_page(&request, &state, &member.0, errors, "").await
        }
        Err(other) => Err(other.into()),
    }
}

#[post("/settings/search")]
pub async fn save_search(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = posted(&request, &state, &body)?;
    let visible = match form.get("search_visible") {
        "on" => true,
        "off" => false,
        _ => {
            let errors = FormErrors::one("search_visible", "Choose whether partner search may show you");
            return settings_page(&request, &state, &member.0, errors, "").await;
        }
    };
    let patch = ProfilePatch { search_visible: Some(visible), ..ProfilePatch::default() };
    update_profile_of(&state, member.0.org(), &patch).await?;
    Ok(see_other("/settings?done=search"))
}

#[post("/settings/password")]
pub async fn change_password(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = posted(&request, &state, &body)?;
    let current = form.get("current_password").to_owned();
    let new = form.get("new_password").to_owned();
    match change_password_of(&request, &state, &member.0, current, new).await {
        Ok((account, _)) => {
            // Every session began before the change has ended, this one too: begin a new one.
            let _ = session::end(&request, &state).await?;
            let cookie = session::begin(&state, &account.public_id).await?;
            let mut response = see_other("/settings?done=password");
            response.add_cookie(&cookie).map_err(|e| PageError::Unexpected(e.into()))?;
            Ok(response)
        }
        Err(ApiError::Validation(errors)) => {
            let errors = FormErrors::from_fields(&errors, &["current_password", "new_password"], "current_password");
            settings_page(&request, &state, &member.0, errors, "").await
        }
        Err(other) => Err(other.into()),
    }
}

/// All of the organisation's data, as a JSON file to keep (the same as `GET /api/v1/me/export`).
#[get("/settings/export")]
pub async fn export(state: web::Data<AppState>, member: SignedIn) -> Result<HttpResponse, PageError> {
    let data = export_of(&state, &member.0).await?;
    let body = serde_json::to_vec_pretty(&data).map_err(|e| PageError::Unexpected(e.into()))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Content-Disposition", "attachment; filename=\"matchwell-export.json\""))
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}

/// Erases the organisation once its password is confirmed; the browser's session ends with it.
#[post("/settings/delete")]
pub async fn erase(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = posted(&request, &state, &body)?;
    let password = form.get("password").to_owned();
    match erase_organisation(&request, &state, &member.0, password).await {
        Ok(()) => {
            let removal = session::end(&request, &state).await?;
            let page = Page::new(&request, &state, None, "");
            let view = ErrorPage {
                chrome: page.chrome.clone(),
                title: "Your organisation is erased",
                message: "Your organisation, its account, answers, matches, challenges and responses are gone. \
                          The organisations you were matched with no longer see you.",
            };
            let mut response = page.render(StatusCode::OK, &view)?;
            response.add_cookie(&removal).map_err(|e| PageError::Unexpected(e.into()))?;
            Ok(response)
        }
        Err(ApiError::Validation(errors)) => {
            let errors = FormErrors::from_fields(&errors, &["password"], "password");
            settings_page(&request, &state, &member.0, errors, "").await
        }
        Err(other) => Err(other.into()),
    }
}
