//! Stopping digests from the link in one: the link's token is signed for its account, so it
//! needs no login. Opening it asks for a click (a mail scanner that fetches links stops
//! nothing); a `POST` to the same address stops digests at once, as RFC 8058's one-click
//! unsubscribe sends it (without cookies, so without a CSRF token: the signed token is the
//! proof, and stopping emails is all it can do).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use domain::digest::Frequency;

use super::{Chrome, Page, PageError};
use crate::state::AppState;

#[derive(serde::Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct Unsubscribe<'a> {
    chrome: Chrome,
    token: &'a str,
    done: bool,
}

#[get("/unsubscribe")]
pub async fn ask(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, PageError> {
    state.unsubscribe_key.open(&query.token).ok_or(PageError::NotFound)?;
    let page = Page::new(&request, &state, None, "");
    let view = Unsubscribe { chrome: page.chrome.clone(), token: &query.token, done: false };
    page.render(StatusCode::OK, &view)
}

#[post("/unsubscribe")]
pub async fn stop(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, PageError> {
    let account = state.unsubscribe_key.open(&query.token).ok_or(PageError::NotFound)?;
    match state.store.set_digest_frequency(&account, Frequency::Off).await {
        Ok(()) | Err(store::StoreError::NotFound) => {}
        Err(other) => return Err(other.into()),
    }
    tracing::info!("digests stopped from an unsubscribe link");
    let page = Page::new(&request, &state, None, "");
    let view = Unsubscribe { chrome: page.chrome.clone(), token: "", done: true };
    page.render(StatusCode::OK, &view)
}
