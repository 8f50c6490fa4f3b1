//! CSRF protection for the web forms: a random token in a `SameSite=Strict`, `HttpOnly`
//! cookie (`Secure` when the service is reached over HTTPS) and the same token in each form. A
//! form post is accepted only when both are present, have the server's own format (64
//! lower-case hex characters) and match.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};

const COOKIE: &str = "matchwell_csrf";

/// Whether `token` has the format of a token this server issues.
fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The request's CSRF token, or a new one with the cookie that carries it.
pub fn token(request: &HttpRequest, secure: bool) -> (String, Option<Cookie<'static>>) {
    if let Some(existing) = request.cookie(COOKIE).map(|c| c.value().to_owned()).filter(|t| well_formed(t)) {
        return (existing, None);
    }
    let token = crate::auth::new_token();
    let cookie = Cookie::build(COOKIE, token.clone())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish();
    (token, Some(cookie))
}

/// Whether a posted form's token matches the request's cookie.
pub fn valid(request: &HttpRequest, posted: &str) -> bool {
    let Some(cookie) = request.cookie(COOKIE) else { return false };
    let expected = cookie.value();
    if !well_formed(expected) || !well_formed(posted) {
        return false;
    }
    // Compare in constant time.
    expected.bytes().zip(posted.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn with_cookie(value: &str) -> HttpRequest {
        TestRequest::default().cookie(Cookie::new(COOKIE, value.to_owned())).to_http_request()
    }

    #[test]
    fn only_matching_well_formed_tokens_pass() {
        let good = "ab".repeat(32);
        assert!(valid(&with_cookie(&good), &good));
        assert!(!valid(&with_cookie(""), ""), "empty values that match");
        assert!(!valid(&with_cookie("x"), "x"), "short values that match");
        let foreign = "Z".repeat(64);
        assert!(!valid(&with_cookie(&foreign), &foreign), "not the server's format");
        assert!(!valid(&with_cookie(&good), &"cd".repeat(32)));
        assert!(!valid(&TestRequest::default().to_http_request(), &good), "no cookie");
    }

    #[test]
    fn the_cookie_is_secure_over_https() {
        let request = TestRequest::default().to_http_request();
        let (_, cookie) = token(&request, true);
        assert_eq!(cookie.and_then(|c| c.secure()), Some(true));
        let (_, cookie) = token(&request, false);
        assert_ne!(cookie.and_then(|c| c.secure()), Some(true));
    }
}
