//! Passwords (argon2id), access tokens (HS256 JWT with issuer, audience and expiry checked)
//! and the `Member` extractor that turns a bearer token into the caller's account.

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store::OrgId;
use store::accounts::{Account, Role};

use crate::errors::ApiError;
use crate::state::AppState;

const ISSUER: &str = "matchwell";
const AUDIENCE: &str = "matchwell-api";

/// What a token says: the account (`sub`, its random public id), its organisation and role,
/// so that a request needs no database look-up to know who is calling. Tokens go only to the
/// account's owner.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    org: i64,
    role: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
}

/// Signs and checks access tokens.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: chrono::Duration,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens(<keys>)")
    }
}

impl Tokens {
    pub fn new(secret: &secrecy::SecretString, ttl: chrono::Duration) -> Tokens {
        let key = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        Tokens { encoding: EncodingKey::from_secret(key), decoding: DecodingKey::from_secret(key), validation, ttl }
    }

    /// A token for a verified account; and its lifetime in seconds.
    pub fn issue(&self, account: &Account) -> Result<(String, i64), ApiError> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: account.public_id.clone(),
            org: account.organisation.0,
            role: if account.role == Role::Facilitator { "facilitator" } else { "member" }.to_owned(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now,
            exp: now + self.ttl.num_seconds(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::unexpected(e, "failed to sign an access token"))?;
        Ok((token, self.ttl.num_seconds()))
    }

    /// The caller a valid token speaks for.
    fn member(&self, token: &str) -> Option<Member> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?.claims;
        Some(Member { public_id: claims.sub, org: OrgId(claims.org), facilitator: claims.role == "facilitator" })
    }
}

/// Hashes a password with argon2id and a random salt (on a blocking thread: it is slow on
/// purpose).
pub async fn hash_password(password: domain::Password) -> Result<String, ApiError> {
    web::block(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(password.expose().as_bytes(), &salt).map(|hash| hash.to_string())
    })
    .await
    .map_err(|e| ApiError::unexpected(e, "the password thread failed"))?
    .map_err(|e| ApiError::unexpected(anyhow::anyhow!("{e}"), "failed to hash a password"))
}

/// Whether `password` matches `hash` (on a blocking thread).
pub async fn verify_password(password: String, hash: String) -> Result<bool, ApiError> {
    web::block(move || {
        PasswordHash::new(&hash)
            .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(|e| ApiError::unexpected(e, "the password thread failed"))
}

/// SHA-256 of a token sent by email, as stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh random token for an email link (256 bits, hex).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

/// The authenticated caller: a verified account (tokens are issued only to those) and its
/// organisation.
#[derive(Debug, Clone)]
pub struct Member {
    pub public_id: String,
    org: OrgId,
    facilitator: bool,
}

impl Member {
    pub fn org(&self) -> OrgId {
        self.org
    }

    pub fn is_facilitator(&self) -> bool {
        self.facilitator
    }
}

impl FromRequest for Member {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Member, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = request.app_data::<web::Data<AppState>>() else {
            return std::future::ready(Err(ApiError::unexpected(anyhow::anyhow!("no state"), "reading the app state")));
        };
        let member = request
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .and_then(|token| state.tokens.member(token.trim()));
        std::future::ready(member.ok_or(ApiError::Unauthenticated))
    }
}
