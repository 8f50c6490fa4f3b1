//! CSRF protection for the web forms: a token in a `SameSite=Strict`, `HttpOnly` cookie
//! (`Secure` when the service is reached over HTTPS) and the same token in each form. A token
//! has the server's own format, 64 lower-case hex characters: a random nonce and its HMAC under
//! a key derived from the server's secret, so that a token planted in the cookie by anyone else
//! (cookie tossing from a sibling domain) is refused. A form post is accepted only when both
//! are present, are the server's own and match.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use hmac::Mac;

const COOKIE: &str = "matchwell_csrf";

/// The key that signs CSRF tokens.
#[derive(Clone)]
pub struct CsrfKey([u8; 32]);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(<secret>)")
    }
}

impl CsrfKey {
    /// A key for CSRF tokens derived from the server's secret (distinct from its JWT key).
    pub fn derive(secret: &[u8]) -> CsrfKey {
        CsrfKey(crate::keys::derive(secret, b"matchwell csrf tokens"))
    }

    fn tag(&self, nonce: &[u8]) -> [u8; 16] {
        let mut mac = crate::keys::hmac(&self.0);
        mac.update(nonce);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&full[..16]);
        tag
    }

    /// A fresh token.
    fn issue(&self) -> String {
        let mut nonce = [0u8; 16];
        rand::fill(&mut nonce);
        format!("{}{}", hex::encode(nonce), hex::encode(self.tag(&nonce)))
    }

    /// Whether `token` is one this server issued.
    fn own(&self, token: &str) -> bool {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return false;
        }
        let (Ok(nonce), Ok(tag)) = (hex::decode(&token[..32]), hex::decode(&token[32..])) else { return false };
        let mut mac = crate::keys::hmac(&self.0);
        mac.update(&nonce);
        mac.verify_truncated_left(&tag).is_ok()
    }
}

/// The request's CSRF token, or a new one with the cookie that carries it.
pub fn token(request: &HttpRequest, key: &CsrfKey, secure: bool) -> (String, Option<Cookie<'static>>) {
    if let Some(existing) = request.cookie(COOKIE).map(|c| c.value().to_owned()).filter(|t| key.own(t)) {
        return (existing, None);
    }
    let token = key.issue();
    let cookie = Cookie::build(COOKIE, token.clone())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish();
    (token, Some(cookie))
}

/// Whether a posted form's token matches the request's cookie, and both are the server's own.
pub fn valid(request: &HttpRequest, key: &CsrfKey, posted: &str) -> bool {
    let Some(cookie) = request.cookie(COOKIE) else { return false };
    let expected = cookie.value();
    if !key.own(expected) || !key.own(posted) {
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
    fn only_the_servers_own_matching_tokens_pass() {
        let key = CsrfKey::derive(b"a secret");
        let good = key.issue();
        assert_eq!(good.len(), 64);
        assert!(valid(&with_cookie(&good), &key, &good));
        assert!(!valid(&with_cookie(""), &key, ""), "empty values that match");
        assert!(!valid(&with_cookie("x"), &key, "x"), "short values that match");
        let planted = "ab".repeat(32);
        assert!(!valid(&with_cookie(&planted), &key, &planted), "64 hex characters, but not the server's");
        let other_server = CsrfKey::derive(b"another secret").issue();
        assert!(!valid(&with_cookie(&other_server), &key, &other_server));
        assert!(!valid(&with_cookie(&good), &key, &key.issue()), "two tokens of the server that differ");
        assert!(!valid(&TestRequest::default().to_http_request(), &key, &good), "no cookie");
    }

    #[test]
    fn the_cookie_is_secure_over_https_and_a_planted_cookie_is_replaced() {
        let key = CsrfKey::derive(b"a secret");
        let request = TestRequest::default().to_http_request();
        let (_, cookie) = token(&request, &key, true);
        assert_eq!(cookie.and_then(|c| c.secure()), Some(true));
        let (_, cookie) = token(&request, &key, false);
        assert_ne!(cookie.and_then(|c| c.secure()), Some(true));
        let (issued, cookie) = token(&with_cookie(&"ab".repeat(32)), &key, false);
        assert!(cookie.is_some() && key.own(&issued), "a planted token is not reused");
    }
}
