//! The web app: server-rendered pages for every flow (askama templates, checked at compile
//! time, under `web/templates/`, with the NHS.UK design system's components), over the same
//! domain logic as the JSON API: the page handlers call the functions the API handlers call,
//! and only turn their results into HTML instead of JSON.
//!
//! Every page works without JavaScript. A signed-in browser holds a session cookie
//! (`session.rs`); every form carries a CSRF token (`crate::csrf`); a rejected form comes back
//! with what was typed, an error summary at the top and the error beside each field
//! (`forms.rs`).

mod accounts;
mod admin;
mod assets;
mod challenges;
mod chart;
mod forms;
mod matches;
mod profile;
mod questionnaire;
mod search;
mod session;
mod settings;
mod stories;
mod unsubscribe;
mod views;

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;

use crate::auth::Member;
use crate::csrf;
use crate::errors::ApiError;
use crate::state::AppState;

pub use session::{SignedIn, Viewer};

/// Registers every page and asset.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(assets::asset)
        .service(accounts::home)
        .service(accounts::register_page)
        .service(accounts::register_submit)
        .service(accounts::verify_page)
        .service(accounts::verify_submit)
        .service(accounts::login_page)
        .service(accounts::login_submit)
        .service(accounts::logout)
        .service(accounts::forgot_page)
        .service(accounts::forgot_submit)
        .service(accounts::reset_page)
        .service(accounts::reset_submit)
        .service(matches::list)
        .service(matches::detail)
        .service(matches::reveal_page)
        .service(matches::reveal_submit)
        .service(matches::decline_submit)
        .service(matches::outcome_submit)
        .service(stories::list)
        .service(stories::draft_submit)
        .service(stories::approve_submit)
        .service(stories::withdraw_submit)
        .service(stories::hide_submit)
        .service(admin::learn_submit)
        .service(profile::show)
        .service(profile::save)
        .service(questionnaire::overview)
        .service(questionnaire::show_section)
        .service(questionnaire::save_section)
        .service(search::show)
        .service(search::ask)
        .service(challenges::browse)
        .service(challenges::new_challenge)
        .service(challenges::create_challenge)
        .service(challenges::show_challenge)
        .service(challenges::respond_submit)
        .service(challenges::ask_submit)
        .service(challenges::answer_submit)
        .service(challenges::close_submit)
        .service(challenges::feature_submit)
        .service(challenges::hide_submit)
        .service(challenges::review)
        .service(challenges::act_submit)
        .service(admin::dashboard)
        .service(admin::download)
        .service(settings::show)
        .service(settings::save_digest)
        .service(settings::save_search)
        .service(settings::change_password)
        .service(settings::export)
        .service(settings::erase)
        .service(unsubscribe::ask)
        .service(unsubscribe::stop);
}

/// What every page's frame needs: who is signed in (for the header's links), the CSRF token
/// for its forms (the log-out button is one), and which section of the menu is current.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub signed_in: bool,
    /// Whether the header links to the facilitators' dashboard.
    pub facilitator: bool,
    pub csrf_token: String,
    pub current: &'static str,
}

/// A page being answered: its frame, and the CSRF cookie to set when the browser had none.
pub struct Page {
    pub chrome: Chrome,
    cookie: Option<Cookie<'static>>,
}

impl Page {
    /// The frame of a page in section `current`, for `member` (or a visitor).
    pub fn new(request: &HttpRequest, state: &AppState, member: Option<&Member>, current: &'static str) -> Page {
        let (csrf_token, cookie) = csrf::token(request, &state.csrf_key, state.settings.https());
        let facilitator = member.is_some_and(Member::is_facilitator);
        let chrome = Chrome { signed_in: member.is_some(), facilitator, csrf_token, current };
        Page { chrome, cookie }
    }

    /// `template` with `status`.
    pub fn render(self, status: StatusCode, template: &impl Template) -> Result<HttpResponse, PageError> {
        let html =
            template.render().map_err(|e| PageError::Unexpected(anyhow::Error::new(e).context("rendering a page")))?;
        let mut response = HttpResponse::build(status);
        response.content_type("text/html; charset=utf-8");
        if let Some(cookie) = self.cookie {
            response.cookie(cookie);
        }
        Ok(response.body(html))
    }
}

/// Any other address: a page that says so, or the API's JSON error under `/api/`.
pub async fn not_found(request: HttpRequest) -> HttpResponse {
    if request.path().starts_with("/api/") {
        ApiError::NotFound.error_response()
    } else {
        PageError::NotFound.error_response()
    }
}

/// A redirect after a successful form post (303, so that reloading does not post again).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header(("Location", location)).finish()
}

/// Why a page could not be shown. Each answers with a page in the service's frame; an
/// unexpected failure is logged with its cause and answered with an opaque 500.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("log in first")]
    LogIn { next: String },
    #[error("page not found")]
    NotFound,
    #[error("not for your organisation")]
    Forbidden,
    #[error("the form has expired")]
    Expired,
    #[error("the address is not one of ours")]
    BadAddress,
    #[error("{0}")]
    Refused(String),
    #[error("too many attempts")]
    TooMany(String),
    #[error("something went wrong on our side")]
    Unexpected(#[source] anyhow::Error),
}

#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage<'a> {
    chrome: Chrome,
    title: &'a str,
    message: &'a str,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::LogIn { .. } => StatusCode::SEE_OTHER,
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::Forbidden | PageError::Expired => StatusCode::FORBIDDEN,
            PageError::BadAddress => StatusCode::BAD_REQUEST,
            PageError::Refused(_) => StatusCode::CONFLICT,
            PageError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            PageError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (title, message): (&str, &str) = match self {
            PageError::LogIn { next } => {
                let location = format!("/login?next={}", forms::encode(next));
                return see_other(&location);
            }
            PageError::NotFound => (
                "Page not found",
                "If you typed the address, check it is correct. A match or a challenge you cannot see, or no longer see, is not found either.",
            ),
            PageError::Forbidden => ("You cannot do this", "Your organisation cannot use this page."),
            PageError::Expired => ("This form has expired", "Go back, reload the page and send the form once more."),
            PageError::BadAddress => ("This address does not work", "Check the address, or start again from the menu."),
            PageError::Refused(message) => ("This cannot be done", message),
            PageError::TooMany(message) => ("Please wait", message),
            PageError::Unexpected(error) => {
                tracing::error!(error = ?error, "a page failed");
                ("Sorry, there is a problem with the service", "Try again later.")
            }
        };
        // The frame of an error page offers only the public links: it is shown without knowing
        // who asked, and posts nothing.
        let chrome = Chrome { signed_in: false, facilitator: false, csrf_token: String::new(), current: "" };
        let html = ErrorPage { chrome, title, message }
            .render()
            .unwrap_or_else(|_| "<!doctype html><title>Matchwell</title><p>Something went wrong.</p>".to_owned());
        HttpResponse::build(self.status_code()).content_type("text/html; charset=utf-8").body(html)
    }
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> PageError {
        match error {
            ApiError::NotFound => PageError::NotFound,
            ApiError::Forbidden => PageError::Forbidden,
            ApiError::Unauthenticated => PageError::LogIn { next: "/matches".to_owned() },
            ApiError::TooManyRequests => {
                PageError::TooMany("Too many attempts. Try again in a few minutes.".to_owned())
            }
            ApiError::Limited(message) => PageError::TooMany(sentence(message)),
            ApiError::Conflict(message) => PageError::Refused(sentence(message)),
            ApiError::Unexpected(error) => PageError::Unexpected(error),
            other => PageError::Refused(sentence(&other.to_string())),
        }
    }
}

impl From<store::StoreError> for PageError {
    fn from(error: store::StoreError) -> PageError {
        ApiError::from(error).into()
    }
}

/// `message` as a sentence: a capital first letter and a full stop.
pub fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut text: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !text.ends_with(['.', '!', '?']) {
        text.push('.');
    }
    text
}

/// A posted form, once its CSRF token is found to be the browser's own.
pub fn posted(request: &HttpRequest, state: &AppState, body: &[u8]) -> Result<forms::FormData, PageError> {
    let form = forms::FormData::parse(body);
    check_csrf(request, state, form.get("csrf_token"))?;
    Ok(form)
}

/// Refuses a form post whose CSRF token is not the browser's own.
pub fn check_csrf(request: &HttpRequest, state: &AppState, posted: &str) -> Result<(), PageError> {
    if csrf::valid(request, &state.csrf_key, posted) { Ok(()) } else { Err(PageError::Expired) }
}
