//! Sign-up, email verification and login. Neither registering nor logging in tells the
//! caller whether an email is known: a second registration answers like the first (and mails
//! the owner instead), and an unknown email costs a password check like a known one.

use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::Utc;
use domain::{EmailAddress, FieldErrors, OrgKind, OrganisationName, Password};
use serde::Deserialize;
use serde_json::json;
use store::StoreError;
use store::accounts::{Registration, Role, Verification};

use crate::auth::{hash_password, new_token, token_hash, verify_password};
use crate::errors::ApiError;
use crate::routes::client;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    email: String,
    password: String,
    organisation_name: String,
    kind: String,
}

#[post("/auth/register")]
pub async fn register(
    request: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let limits = &state.settings.limits;
    let key = format!("register:{}", client(&request));
    if state.limiter.count(&key, limits.window) >= limits.registrations {
        return Err(ApiError::TooManyRequests);
    }
    state.limiter.record(&key);
    let body = body.into_inner();
    let mut errors = FieldErrors::new();
    let email = errors.check("email", EmailAddress::parse(&body.email));
    let password = errors.check("password", Password::parse(body.password));
    let name = errors.check("organisation_name", OrganisationName::parse(&body.organisation_name));
    let kind = errors.check("kind", OrgKind::parse(&body.kind));
    let (Some(email), Some(password), Some(name), Some(kind)) = (email, password, name, kind) else {
        return Err(ApiError::Validation(errors));
    };
    let password_hash = hash_password(password).await?;
    let token = new_token();
    let now = Utc::now();
    let role = if state.settings.facilitator_emails.contains(&email) { Role::Facilitator } else { Role::Member };
    let registration = Registration {
        email: email.clone(),
        password_hash,
        name,
        kind,
        role,
        token_hash: token_hash(&token),
        token_expires_at: now + chrono::Duration::hours(48),
    };
    let public_url = state.settings.public_url.clone();
    let recipient = email.as_str().to_owned();
    let registered = state
        .store
        .register(registration, now, |account| digest::compose::verification(account, &recipient, &public_url, &token))
        .await;
    match registered {
        Ok(account) => tracing::info!(account = %account.public_id, "organisation registered"),
        Err(StoreError::Conflict) => {
            let attempt = uuid::Uuid::new_v4().to_string();
            let notice = digest::compose::already_registered(&attempt, email.as_str(), &public_url);
            state.store.enqueue_email(&notice, now).await?;
            tracing::info!("registration for an address that already has an account");
        }
        Err(other) => return Err(other.into()),
    }
    Ok(HttpResponse::Created().json(json!({
        "status": "verification_sent",
        "message": "Check your inbox: we sent a link to confirm your email address.",
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    token: String,
}

#[post("/auth/verify")]
pub async fn verify(state: web::Data<AppState>, body: web::Json<VerifyBody>) -> Result<HttpResponse, ApiError> {
    let token = body.token.trim();
    if token.is_empty() || token.len() > 128 {
        return Err(FieldErrors::one("token", "this link is not valid").into());
    }
    match state.store.verify_email(&token_hash(token), Utc::now()).await? {
        Verification::Verified => Ok(HttpResponse::Ok().json(json!({"verified": true}))),
        Verification::Invalid => {
            Err(FieldErrors::one("token", "this link is not valid, was already used, or has expired").into())
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    email: String,
    password: String,
}

#[post("/auth/login")]
pub async fn login(
    request: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let email = EmailAddress::parse(&body.email).map_err(|m| FieldErrors::one("email", m))?;
    let limits = &state.settings.limits;
    let by_email = format!("login-email:{}", email.as_str());
    let by_client = format!("login-client:{}", client(&request));
    if state.limiter.count(&by_email, limits.window) >= limits.failed_logins
        || state.limiter.count(&by_client, limits.window) >= limits.failed_logins * 4
    {
        return Err(ApiError::TooManyRequests);
    }
    let account = state.store.account_by_email(&email).await?;
    let hash = account.as_ref().map_or_else(|| state.dummy_hash.clone(), |a| a.password_hash.clone());
    let matches = verify_password(body.password, hash).await?;
    let Some(account) = account.filter(|_| matches) else {
        state.limiter.record(&by_email);
        state.limiter.record(&by_client);
        return Err(ApiError::WrongCredentials);
    };
    if !account.verified {
        return Err(ApiError::EmailNotVerified);
    }
    state.limiter.clear(&by_email);
    let (access_token, expires_in) = state.tokens.issue(&account)?;
    Ok(HttpResponse::Ok().json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
    })))
}
