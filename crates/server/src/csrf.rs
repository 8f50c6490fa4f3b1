//! CSRF protection for the web forms: a random token in a `SameSite=Strict`, `HttpOnly`
//! cookie and the same token in each form; a form post whose token does not match its cookie
//! is refused (403).

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};

const COOKIE: &str = "matchwell_csrf";

/// The request's CSRF token, or a new one with the cookie that carries it.
pub fn token(request: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    if let Some(existing) = request.cookie(COOKIE).map(|c| c.value().to_owned()).filter(|t| t.len() == 64) {
        return (existing, None);
    }
    let token = crate::auth::new_token();
    let cookie = Cookie::build(COOKIE, token.clone()).path("/").http_only(true).same_site(SameSite::Strict).finish();
    (token, Some(cookie))
}

/// Whether a posted form's token matches the request's cookie.
pub fn valid(request: &HttpRequest, posted: &str) -> bool {
    let Some(cookie) = request.cookie(COOKIE) else { return false };
    let expected = cookie.value().as_bytes();
    let posted = posted.as_bytes();
    // Compare in constant time.
    expected.len() == posted.len() && expected.iter().zip(posted).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}
