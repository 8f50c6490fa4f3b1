//! Server-rendered pages (askama templates in `web/templates`) and the assets they use, served
//! by Matchwell itself. Every form carries a CSRF token.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;
use store::accounts::Verification;

use crate::auth::token_hash;
use crate::csrf;
use crate::errors::ApiError;
use crate::state::AppState;

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
pub struct VerifyQuery {
    #[serde(default)]
    token: String,
}

/// The page an emailed link opens: it asks for a click, so that a mail scanner that fetches
/// the link does not use up the token.
#[get("/verify")]
pub async fn verify_page(request: HttpRequest, query: web::Query<VerifyQuery>) -> Result<HttpResponse, ApiError> {
    let (csrf_token, cookie) = csrf::token(&request);
    let token: String = query.token.chars().filter(char::is_ascii_hexdigit).take(128).collect();
    let outcome = if token.is_empty() { VerifyOutcome::Invalid } else { VerifyOutcome::Ask };
    let mut response = render(StatusCode::OK, &Verify { outcome, token: &token, csrf_token: &csrf_token })?;
    if let Some(cookie) = cookie {
        response.add_cookie(&cookie).map_err(|e| ApiError::unexpected(e, "failed to set the CSRF cookie"))?;
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf_token: String,
}

#[post("/verify")]
pub async fn verify_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<VerifyForm>,
) -> Result<HttpResponse, ApiError> {
    if !csrf::valid(&request, &form.csrf_token) {
        let page = ErrorPage {
            title: "This form has expired",
            message: "Open the link from your email again and press the button once more.",
        };
        return render(StatusCode::FORBIDDEN, &page);
    }
    let token = form.token.trim();
    let outcome = if token.is_empty() || token.len() > 128 {
        Verification::Invalid
    } else {
        state.store.verify_email(&token_hash(token), Utc::now()).await?
    };
    let (status, outcome) = match outcome {
        Verification::Verified => (StatusCode::OK, VerifyOutcome::Done),
        Verification::Invalid => (StatusCode::UNPROCESSABLE_ENTITY, VerifyOutcome::Invalid),
    };
    render(status, &Verify { outcome, token: "", csrf_token: "" })
}
