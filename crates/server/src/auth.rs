//! Passwords (argon2id), access tokens (HS256 JWT with issuer, audience and expiry checked)
//! and the `Member` extractor that turns a bearer token into the caller's account.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store::OrgId;
use store::accounts::{Account, Role, Session};

use crate::errors::ApiError;
use crate::state::AppState;

const ISSUER: &str = "matchwell";
const AUDIENCE: &str = "matchwell-api";

/// What a token says: the account (`sub`, its random public id), its organisation's public
/// id, and the session version it was issued under (a password reset or change moves the
/// account to a new version, which ends every earlier token). Tokens go only to the account's
/// owner, and carry no internal id.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    org: String,
    ver: i64,
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

    /// A token for a verified account at session version `version`; and its lifetime in
    /// seconds.
    pub fn issue(&self, account: &Account, version: i64) -> Result<(String, i64), ApiError> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: account.public_id.clone(),
            org: account.organisation_public_id.clone(),
            ver: version,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now,
            exp: now + self.ttl.num_seconds(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::unexpected(e, "failed to sign an access token"))?;
        Ok((token, self.ttl.num_seconds()))
    }

    /// The claims of a well-signed, current token.
    fn claims(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok().map(|data| data.claims)
    }
}

/// Accounts' current sessions, kept for a second after they were read so that a request does
/// not wait on the database to check its token. A reset or change made by this process drops
/// the account at once; one made by another process too on PostgreSQL (`notices.rs`), and
/// otherwise within about two [`Sessions::FRESH`] periods.
#[derive(Debug, Default)]
pub struct Sessions {
    entries: Mutex<HashMap<String, (Session, Instant)>>,
}

impl Sessions {
    /// How long a session read from the store is trusted.
    pub const FRESH: Duration = Duration::from_secs(1);
    const CAPACITY: usize = 100_000;

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Session, Instant)>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The session of `account` if it was read less than [`Sessions::FRESH`] ago. Once it is
    /// older, the first caller gets `None` and reads it again, while callers meanwhile keep
    /// getting the entry (its clock restarts), so a burst of requests makes one read, not one
    /// each.
    fn get(&self, account: &str) -> Option<Session> {
        let mut entries = self.lock();
        let (session, read) = entries.get_mut(account)?;
        if read.elapsed() < Self::FRESH {
            return Some(session.clone());
        }
        *read = Instant::now();
        None
    }

    fn put(&self, account: &str, session: Session) {
        let mut entries = self.lock();
        if entries.len() >= Self::CAPACITY {
            entries.retain(|_, (_, read)| read.elapsed() < Self::FRESH);
        }
        entries.insert(account.to_owned(), (session, Instant::now()));
    }

    /// Drops what is known of `account` (after its sessions were ended).
    pub fn forget(&self, account: &str) {
        self.lock().remove(account);
    }

    /// Drops what is known of every account (when changes may have been missed).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The current session of `account`.
    async fn current(&self, store: &store::Store, account: &str) -> Result<Option<Session>, ApiError> {
        if let Some(session) = self.get(account) {
            return Ok(Some(session));
        }
        let Some(session) = store.session(account).await? else { return Ok(None) };
        self.put(account, session.clone());
        Ok(Some(session))
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

/// The authenticated caller: a verified account whose token is of its current session, and
/// its organisation.
#[derive(Debug, Clone)]
pub struct Member {
    pub public_id: String,
    org: OrgId,
    /// The organisation's public id.
    pub org_public_id: String,
    facilitator: bool,
}

impl Member {
    pub fn org(&self) -> OrgId {
        self.org
    }

    pub fn is_facilitator(&self) -> bool {
        self.facilitator
    }

    /// The member of a current web session.
    pub(crate) fn from_session(account_public_id: String, session: Session) -> Member {
        Member {
            public_id: account_public_id,
            org: session.organisation,
            org_public_id: session.organisation_public_id,
            facilitator: session.role == Role::Facilitator,
        }
    }

    /// The caller of a bearer token, if the token is well signed, current, and of the
    /// account's current session.
    pub async fn from_token(state: &AppState, token: &str) -> Result<Option<Member>, ApiError> {
        let Some(claims) = state.tokens.claims(token) else { return Ok(None) };
        let Some(session) = state.sessions.current(&state.store, &claims.sub).await? else { return Ok(None) };
        if session.organisation_public_id != claims.org || session.version != claims.ver {
            return Ok(None);
        }
        Ok(Some(Member {
            public_id: claims.sub,
            org: session.organisation,
            org_public_id: session.organisation_public_id,
            facilitator: session.role == Role::Facilitator,
        }))
    }
}

impl FromRequest for Member {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Member, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let token = request
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(|token| token.trim().to_owned());
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ApiError::unexpected(anyhow::anyhow!("no state"), "reading the app state"))?;
            let token = token.ok_or(ApiError::Unauthenticated)?;
            Member::from_token(&state, &token).await?.ok_or(ApiError::Unauthenticated)
        })
    }
}
