//! Sessions of the web app: a random 256-bit token in an `HttpOnly`, `SameSite=Lax` cookie
//! (`Secure` when the service is reached over HTTPS), whose hash the database keeps with the
//! account's session version. Logging out deletes it on the server; a password reset or change
//! ends every session begun before it. The JSON API never reads this cookie (it takes bearer
//! tokens only), so no API call can be made by a page of another site through it.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use chrono::Utc;

use super::PageError;
use crate::auth::{Member, new_token, token_hash};
use crate::state::AppState;

const COOKIE: &str = "matchwell_session";
/// How long a web session lasts.
const SESSION_FOR: chrono::Duration = chrono::Duration::hours(12);

/// Begins a session for the verified account `account_public_id`; the cookie that carries it.
pub async fn begin(state: &AppState, account_public_id: &str) -> Result<Cookie<'static>, PageError> {
    let token = new_token();
    let now = Utc::now();
    state.store.begin_web_session(account_public_id, &token_hash(&token), now, now + SESSION_FOR).await?;
    Ok(Cookie::build(COOKIE, token)
        .path("/")
        .http_only(true)
        .secure(state.settings.https())
        .same_site(SameSite::Lax)
        .max_age(time::Duration::seconds(SESSION_FOR.num_seconds()))
        .finish())
}

/// Ends the request's session on the server; the cookie that removes it from the browser.
pub async fn end(request: &HttpRequest, state: &AppState) -> Result<Cookie<'static>, PageError> {
    if let Some(token) = request.cookie(COOKIE) {
        state.store.end_web_session(&token_hash(token.value())).await?;
    }
    let mut removal = Cookie::build(COOKIE, "").path("/").http_only(true).secure(state.settings.https()).finish();
    removal.make_removal();
    Ok(removal)
}

/// The member whose session the request carries, if any.
async fn member(request: &HttpRequest) -> Result<Option<Member>, PageError> {
    let Some(state) = request.app_data::<web::Data<AppState>>() else {
        return Err(PageError::Unexpected(anyhow::anyhow!("no app state")));
    };
    let Some(token) = request.cookie(COOKIE).map(|c| c.value().to_owned()) else { return Ok(None) };
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let Some(found) = state.store.web_session(&token_hash(&token), Utc::now()).await? else { return Ok(None) };
    Ok(Some(Member::from_session(found.account_public_id, found.session)))
}

/// Whoever is looking at a page: a signed-in member, or a visitor.
#[derive(Debug)]
pub struct Viewer(pub Option<Member>);

impl FromRequest for Viewer {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Viewer, PageError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move { member(&request).await.map(Viewer) })
    }
}

/// A signed-in member; a visitor is sent to log in, and then back to this page.
#[derive(Debug)]
pub struct SignedIn(pub Member);

impl FromRequest for SignedIn {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<SignedIn, PageError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            match member(&request).await? {
                Some(member) => Ok(SignedIn(member)),
                None => {
                    // Back to this page after logging in; after a form post, to its page.
                    let next = if request.method() == actix_web::http::Method::GET {
                        request.uri().path_and_query().map_or("/matches", |p| p.as_str()).to_owned()
                    } else {
                        "/matches".to_owned()
                    };
                    Err(PageError::LogIn { next })
                }
            }
        })
    }
}
