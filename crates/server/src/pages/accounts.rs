//! Server-rendered pages (askama templates in `web/templates`) and the assets they use, served
//! by Matchwell itself. Every form carries a CSRF token.

use crate::csrf;
use crate::errors::ApiError;
use crate::routes::accounts::{self, VerifyError};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

const STYLESHEET: &str = include_str!("../../../../web/static/matchwell.css");

fn render(status: StatusCode, page: &impl Template) -> Result<HttpResponse, ApiError> {
    let html = page.render().map_err(|e| ApiError::unexpected(e, "failed to render a page"))?;
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(html))
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    question_count: usize,
    section_count: usize,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

pub enum VerifyOutcome {
    Ask,
    Done,
    Invalid,
}

#[derive(Template)]
#[template(path = "verify.html")]
struct Verify<'a> {
    outcome: VerifyOutcome,
    token: &'a str,
    csrf_token: &'a str,
    problem: Option<&'a str>,
}

pub enum ResetOutcome {
    Ask,
    Done,
    Invalid,
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct Reset<'a> {
    outcome: ResetOutcome,
    token: &'a str,
    csrf_token: &'a str,
    problem: Option<&'a str>,
}

#[get("/")]
pub async fn home(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let questionnaire = &state.catalogue.questionnaire;
    render(
        StatusCode::OK,
        &Home { question_count: questionnaire.question_count(), section_count: questionnaire.sections.len() },
    )
}

#[get("/static/matchwell.css")]
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(STYLESHEET)
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The token of an emailed link, as far as it can be one.
fn link_token(raw: &str) -> String {
    raw.chars().filter(char::is_ascii_hexdigit).take(128).collect()
}

/// A page with a form, setting the CSRF cookie when the request had none.
fn form_page(
    request: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    page: impl FnOnce(&str) -> Result<HttpResponse, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let (csrf_token, cookie) = csrf::token(request, &state.csrf_key, state.settings.https());
    let mut response = page(&csrf_token)?;
    response.head_mut().status = status;
    if let Some(cookie) = cookie {
        response.add_cookie(&cookie).map_err(|e| ApiError::unexpected(e, "failed to set the CSRF cookie"))?;
    }
    Ok(response)
}

fn expired_form() -> Result<HttpResponse, ApiError> {
    let page = ErrorPage {
        title: "This form has expired",
        message: "Open the link from your email again and send the form once more.",
    };
    render(StatusCode::FORBIDDEN, &page)
}

/// The page an emailed verification link opens: it asks for the password of the sign-up, so
/// that only the person who chose it (and reads this mailbox) can confirm the address, and a
/// mail scanner that fetches the link uses nothing up.
#[get("/verify")]
pub async fn verify_page(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, ApiError> {
    let token = link_token(&query.token);
    let outcome = if token.is_empty() { VerifyOutcome::Invalid } else { VerifyOutcome::Ask };
    form_page(&request, &state, StatusCode::OK, |csrf_token| {
        render(StatusCode::OK, &Verify { outcome, token: &token, csrf_token, problem: None })
    })
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
}

#[post("/verify")]
pub async fn verify_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, ApiError> {
    if !csrf::valid(&request, &state.csrf_key, &form.csrf_token) {
        return expired_form();
    }
    let form = form.into_inner();
    let token = link_token(&form.token);
    match accounts::verify_email(&request, &state, &token, form.password).await {
        Ok(()) => {
            render(StatusCode::OK, &Verify { outcome: VerifyOutcome::Done, token: "", csrf_token: "", problem: None })
        }
        Err(VerifyError::WrongPassword) => {
            form_page(&request, &state, StatusCode::UNPROCESSABLE_ENTITY, |csrf_token| {
                let problem = "This is not the password chosen when this link was sent. If you did not sign up, sign up \
                           yourself with this address to claim it.";
                render(
                    StatusCode::OK,
                    &Verify { outcome: VerifyOutcome::Ask, token: &token, csrf_token, problem: Some(problem) },
                )
            })
        }
        Err(VerifyError::InvalidLink) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &Verify { outcome: VerifyOutcome::Invalid, token: "", csrf_token: "", problem: None },
        ),
        Err(VerifyError::TooManyAttempts) => Err(ApiError::TooManyRequests),
        Err(VerifyError::Unexpected(error)) => Err(error),
    }
}

/// The page an emailed password-reset link opens.
#[get("/reset-password")]
pub async fn reset_page(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, ApiError> {
    let token = link_token(&query.token);
    let outcome = if token.is_empty() { ResetOutcome::Invalid } else { ResetOutcome::Ask };
    form_page(&request, &state, StatusCode::OK, |csrf_token| {
        render(StatusCode::OK, &Reset { outcome, token: &token, csrf_token, problem: None })
    })
}

#[post("/reset-password")]
pub async fn reset_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, ApiError> {
    if !csrf::valid(&request, &state.csrf_key, &form.csrf_token) {
        return expired_form();
    }
    let form = form.into_inner();
    let token = link_token(&form.token);
    match accounts::confirm_password_reset(&state, &token, form.password).await {
        Ok(()) => {
            render(StatusCode::OK, &Reset { outcome: ResetOutcome::Done, token: "", csrf_token: "", problem: None })
        }
        Err(ApiError::Validation(errors)) if errors.fields().contains_key("token") => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &Reset { outcome: ResetOutcome::Invalid, token: "", csrf_token: "", problem: None },
        ),
        Err(ApiError::Validation(errors)) => {
            let problem = errors.fields().values().flatten().next().cloned().unwrap_or_default();
            form_page(&request, &state, StatusCode::UNPROCESSABLE_ENTITY, |csrf_token| {
                render(
                    StatusCode::OK,
                    &Reset { outcome: ResetOutcome::Ask, token: &token, csrf_token, problem: Some(&problem) },
                )
            })
        }
        Err(other) => Err(other),
    }
}
