//! Sign-up, email verification, login, password resets and changes.
//!
//! The mailbox owner decides the password: verifying asks for the password of the sign-up
//! whose link is used, and signing up again before verifying replaces the pending sign-up, so
//! a stranger who registers someone else's address never holds the account. None of these
//! endpoints tells the caller whether an address is known: a second registration answers like
//! the first, the reset and resend requests answer alike for any address, and an unknown
//! address costs a password check at login like a known one.

use actix_web::{HttpRequest, HttpResponse, post, put, web};
use chrono::Utc;
use domain::{EmailAddress, FieldErrors, OrgKind, OrganisationName, Password};
use serde::Deserialize;
use serde_json::json;
use store::accounts::{Registered, Registration, Role, TokenUse};

use crate::auth::{Member, hash_password, new_token, token_hash, verify_password};
use crate::errors::ApiError;
use crate::routes::client;
use crate::state::AppState;

/// How long a verification link works.
const VERIFY_FOR: chrono::Duration = chrono::Duration::hours(48);
/// How long a password-reset link works.
const RESET_FOR: chrono::Duration = chrono::Duration::hours(1);

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    email: String,
    password: String,
    organisation_name: String,
    kind: String,
}

/// A sign-up, parsed.
pub struct SignUp {
    pub email: EmailAddress,
    pub password: Password,
    pub name: OrganisationName,
    pub kind: OrgKind,
}

impl SignUp {
    pub fn parse(email: &str, password: String, name: &str, kind: &str) -> Result<SignUp, FieldErrors> {
        let mut errors = FieldErrors::new();
        let email = errors.check("email", EmailAddress::parse(email));
        let password = errors.check("password", Password::parse(password));
        let name = errors.check("organisation_name", OrganisationName::parse(name));
        let kind = errors.check("kind", OrgKind::parse(kind));
        match (email, password, name, kind) {
            (Some(email), Some(password), Some(name), Some(kind)) => Ok(SignUp { email, password, name, kind }),
            _ => Err(errors),
        }
    }
}

/// Registers `sign_up` (the same for the API and the web form): a verification link to a new
/// or still unverified address, a notice to the owner of a verified one.
pub async fn sign_up(request: &HttpRequest, state: &AppState, sign_up: SignUp) -> Result<(), ApiError> {
    let key = format!("register:{}", client(request, state));
    if !state.limiter.acquire(&[(&key, state.settings.limits.registrations)]).await? {
        return Err(ApiError::TooManyRequests);
    }
    let token = new_token();
    let now = Utc::now();
    let registration = Registration {
        password_hash: hash_password(sign_up.password).await?,
        email: sign_up.email,
        name: sign_up.name,
        kind: sign_up.kind,
        token_hash: token_hash(&token),
        token_expires_at: now + VERIFY_FOR,
    };
    let public_url = &state.settings.public_url;
    let attempt = uuid::Uuid::new_v4().to_string();
    let recipient = registration.email.as_str();
    let verification = mail::compose::verification(&attempt, recipient, public_url, &token);
    match state.store.register(&registration, &verification, now).await? {
        Registered::Created => tracing::info!("organisation registered"),
        Registered::Replaced => tracing::info!("pending registration replaced"),
        Registered::AlreadyVerified => {
            let notice = mail::compose::already_registered(&attempt, recipient, public_url);
            state.store.enqueue_email(&notice, now).await?;
            tracing::info!("registration for an address that already has an account");
        }
    }
    Ok(())
}

#[utoipa::path(
    tag = "accounts",
    responses(
        (status = 201, description = "A verification email is on its way (the same answer for an address already taken)", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    )
)]
#[post("/auth/register")]
pub async fn register(
    request: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let parsed = SignUp::parse(&body.email, body.password, &body.organisation_name, &body.kind)?;
    sign_up(&request, &state, parsed).await?;
    Ok(HttpResponse::Created().json(json!({
        "status": "verification_sent",
        "message": "Check your inbox: we sent a link to confirm your email address.",
    })))
}

/// Why a verification was refused.
#[derive(Debug)]
pub enum VerifyError {
    /// Unknown, used, replaced by a later sign-up, or expired.
    InvalidLink,
    /// Not the password of the sign-up that sent this link.
    WrongPassword,
    TooManyAttempts,
    Unexpected(ApiError),
}

impl From<VerifyError> for ApiError {
    fn from(error: VerifyError) -> ApiError {
        match error {
            VerifyError::InvalidLink => {
                FieldErrors::one("token", "this link is not valid, was already used, was replaced by a newer one, or has expired").into()
            }
            VerifyError::WrongPassword => FieldErrors::one(
                "password",
                "this is not the password chosen when this link was sent; if you did not sign up, sign up yourself to claim your address",
            )
            .into(),
            VerifyError::TooManyAttempts => ApiError::TooManyRequests,
            VerifyError::Unexpected(error) => error,
        }
    }
}

impl From<store::StoreError> for VerifyError {
    fn from(error: store::StoreError) -> VerifyError {
        VerifyError::Unexpected(error.into())
    }
}

/// Verifies an address with the token of its link and the password of the sign-up that sent
/// it (the same for the API and the web form). The facilitator role is given here, never
/// before.
pub async fn verify_email(
    request: &HttpRequest,
    state: &AppState,
    token: &str,
    password: String,
) -> Result<(), VerifyError> {
    let token = token.trim();
    if token.is_empty() || token.len() > 128 {
        return Err(VerifyError::InvalidLink);
    }
    // Every attempt counts until it succeeds, so that parallel guesses are counted too.
    let failures = format!("verify:{}", client(request, state));
    if !state.limiter.acquire(&[(&failures, state.settings.limits.client_failures)]).await? {
        return Err(VerifyError::TooManyAttempts);
    }
    let hash = token_hash(token);
    let now = Utc::now();
    let Some(pending) = state.store.pending_verification(&hash, now).await? else {
        return Err(VerifyError::InvalidLink);
    };
    if !verify_password(password, pending.password_hash).await.map_err(VerifyError::Unexpected)? {
        return Err(VerifyError::WrongPassword);
    }
    state.limiter.release(&failures).await;
    let role =
        if state.settings.facilitator_emails.contains(&pending.email) { Role::Facilitator } else { Role::Member };
    match state.store.complete_verification(&hash, role, now).await? {
        TokenUse::Accepted { account } => {
            state.sessions.forget(&account);
            // A new member of the population: anonymous profiles may now show more.
            state.match_lists.clear();
            tracing::info!(account = %account, "email verified");
            Ok(())
        }
        TokenUse::Invalid => Err(VerifyError::InvalidLink),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    token: String,
    password: String,
}

#[utoipa::path(
    tag = "accounts",
    responses(
        (status = 200, description = "The email address is verified", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    )
)]
#[post("/auth/verify")]
pub async fn verify(
    request: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<VerifyBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    verify_email(&request, &state, &body.token, body.password).await?;
    Ok(HttpResponse::Ok().json(json!({"verified": true})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailBody {
    email: String,
}

/// What every reset or resend request is answered, whatever the address.
fn email_request_accepted() -> HttpResponse {
    HttpResponse::Accepted().json(json!({
        "status": "accepted",
        "message": "If this address has an account, we have sent it an email with a link.",
    }))
}

/// Counts a request for a link to `email`, per address and client and per client; whether a
/// link may be sent. Over the limit the request is still answered as usual (202), so that it
/// tells nothing, and nobody but the owner's own client can use up the owner's requests.
async fn email_request_allowed(
    request: &HttpRequest,
    state: &AppState,
    email: &EmailAddress,
) -> Result<bool, ApiError> {
    let limit = state.settings.limits.email_requests;
    let client = client(request, state);
    let by_email = format!("email-request:{}:{client}", email.as_str());
    let by_client = format!("email-request-client:{client}");
    Ok(state.limiter.acquire(&[(&by_email, limit), (&by_client, limit * 10)]).await?)
}

/// The least time a reset or resend request takes, whatever the address, so that its timing
/// does not tell whether the address has an account.
const EMAIL_REQUEST_TIME: std::time::Duration = std::time::Duration::from_millis(250);

/// Runs `work` and answers no sooner than [`EMAIL_REQUEST_TIME`] after `started`.
async fn padded<T>(started: std::time::Instant, work: impl Future<Output = T>) -> T {
    let result = work.await;
    tokio::time::sleep_until((started + EMAIL_REQUEST_TIME).into()).await;
    result
}

/// Sends a password-reset link if the address has a verified account (the same for the API
/// and the web form); the caller answers alike either way.
pub async fn request_password_reset(request: &HttpRequest, state: &AppState, email: &str) -> Result<(), ApiError> {
    let started = std::time::Instant::now();
    let email = EmailAddress::parse(email).map_err(|m| FieldErrors::one("email", m))?;
    padded(started, async {
        if !email_request_allowed(request, state, &email).await? {
            tracing::info!("password reset not sent: too many requests");
            return Ok(());
        }
        send_password_reset(state, &email).await
    })
    .await
}

async fn send_password_reset(state: &AppState, email: &EmailAddress) -> Result<(), ApiError> {
    let token = new_token();
    let now = Utc::now();
    let message = mail::compose::password_reset(
        &uuid::Uuid::new_v4().to_string(),
        email.as_str(),
        &state.settings.public_url,
        &token,
    );
    let sent = state.store.start_password_reset(email, &token_hash(&token), now + RESET_FOR, now, &message).await?;
    tracing::info!(sent, "password reset requested");
    Ok(())
}

#[utoipa::path(
    tag = "accounts",
    responses(
        (status = 202, description = "A reset link is sent if the address has an account (the same answer either way)", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    )
)]
#[post("/auth/password-reset")]
pub async fn password_reset(
    request: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<EmailBody>,
) -> Result<HttpResponse, ApiError> {
    request_password_reset(&request, &state, &body.email).await?;
    Ok(email_request_accepted())
}

/// Sets a new password with a reset token, ending every earlier session (the same for the API
/// and the web form).
pub async fn confirm_password_reset(state: &AppState, token: &str, password: String) -> Result<(), ApiError> {
    let mut errors = FieldErrors::new();
    let password = errors.check("password", Password::parse(password));
    let token = token.trim();
    if token.is_empty() || token.len() > 128 {
        errors.add("token", "this link is not valid");
    }
    let Some(password) = password.filter(|_| errors.is_empty()) else { return Err(errors.into()) };
    let hash = hash_password(password).await?;
    match state.store.finish_password_reset(&token_hash(token), &hash, Utc::now()).await? {
        TokenUse::Accepted { account } => {
            state.sessions.forget(&account);
            tracing::info!(account = %account, "password reset");
            Ok(())
        }
        TokenUse::Invalid => {
            Err(FieldErrors::one("token", "this link is not valid, was already used, or has expired").into())
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    token: String,
    password: String,
}

#[utoipa::path(
    tag = "accounts",
    responses(
        (status = 200, description = "The password is changed and every earlier session ended", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    )
)]
#[post("/auth/password-reset/confirm")]
pub async fn password_reset_confirm(
    state: web::Data<AppState>,
    body: web::Json<ResetBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    confirm_password_reset(&state, &body.token, body.password).await?;
    Ok(HttpResponse::Ok().json(json!({"password_reset": true})))
}

/// Sends a fresh verification link if the address is registered but not verified.
pub async fn request_verification(request: &HttpRequest, state: &AppState, email: &str) -> Result<(), ApiError> {
    let started = std::time::Instant::now();
    let email = EmailAddress::parse(email).map_err(|m| FieldErrors::one("email", m))?;
    padded(started, async {
        if !email_request_allowed(request, state, &email).await? {
            tracing::info!("verification link not sent: too many requests");
            return Ok(());
        }
        send_verification(state, &email).await
    })
    .await
}

async fn send_verification(state: &AppState, email: &EmailAddress) -> Result<(), ApiError> {
    let token = new_token();
    let now = Utc::now();
    let message = mail::compose::verification(
        &uuid::Uuid::new_v4().to_string(),
        email.as_str(),
        &state.settings.public_url,
        &token,
    );
    let sent = state.store.resend_verification(email, &token_hash(&token), now + VERIFY_FOR, now, &message).await?;
    tracing::info!(sent, "verification link requested");
    Ok(())
}

#[utoipa::path(
    tag = "accounts",
    responses(
        (status = 202, description = "A new link is sent if the address has a pending sign-up (the same answer either way)", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    )
)]
#[post("/auth/resend-verification")]
pub async fn resend_verification(
    request: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<EmailBody>,
) -> Result<HttpResponse, ApiError> {
    request_verification(&request, &state, &body.email).await?;
    Ok(email_request_accepted())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    email: String,
    password: String,
}

/// The verified account of `email` and `password` (the same for the API and the web form).
/// Failures are counted per account and client, and per client, so that nobody can lock the
/// owner out by failing from elsewhere, while no client gets more than a handful of tries at
/// one account.
pub async fn authenticate(
    request: &HttpRequest,
    state: &AppState,
    email: &str,
    password: String,
) -> Result<store::accounts::Account, ApiError> {
    let email = EmailAddress::parse(email).map_err(|m| FieldErrors::one("email", m))?;
    let limits = &state.settings.limits;
    let client = client(request, state);
    let by_account = format!("login:{}:{client}", email.as_str());
    let by_client = format!("login-client:{client}");
    // Every attempt counts until it succeeds, so that parallel guesses are counted too.
    if !state.limiter.acquire(&[(&by_account, limits.failed_logins), (&by_client, limits.client_failures)]).await? {
        return Err(ApiError::TooManyRequests);
    }
    let account = state.store.account_by_email(&email).await?;
    let hash = account.as_ref().map_or_else(|| state.dummy_hash.clone(), |a| a.password_hash.clone());
    let matches = verify_password(password, hash).await?;
    let Some(account) = account.filter(|_| matches) else {
        return Err(ApiError::WrongCredentials);
    };
    state.limiter.clear(&by_account).await;
    state.limiter.release(&by_client).await;
    if !account.verified {
        return Err(ApiError::EmailNotVerified);
    }
    Ok(account)
}

#[utoipa::path(
    tag = "accounts",
    responses(
        (status = 200, description = "An access token", body = crate::routes::openapi::Token),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    )
)]
#[post("/auth/login")]
pub async fn login(
    request: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let account = authenticate(&request, &state, &body.email, body.password).await?;
    let (access_token, expires_in) = state.tokens.issue(&account, account.session_version)?;
    Ok(HttpResponse::Ok().json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
    })))
}

/// Changes `member`'s password (the same for the API and the settings page): every earlier
/// session ends; the account and its new session version.
pub async fn change_password_of(
    request: &HttpRequest,
    state: &AppState,
    member: &Member,
    current_password: String,
    new_password: String,
) -> Result<(store::accounts::Account, i64), ApiError> {
    let new_password = Password::parse(new_password).map_err(|m| FieldErrors::one("new_password", m))?;
    let account = confirm_password(request, state, member, current_password, "current_password").await?;
    let hash = hash_password(new_password).await?;
    let version = state.store.change_password(&account.public_id, &hash, Utc::now()).await?;
    state.sessions.forget(&account.public_id);
    tracing::info!(account = %account.public_id, "password changed");
    Ok((account, version))
}

/// `member`'s account, when `password` is its password (checked under the same limit on
/// failures as logging in); a wrong one is an error on the field `field`.
pub async fn confirm_password(
    request: &HttpRequest,
    state: &AppState,
    member: &Member,
    password: String,
    field: &'static str,
) -> Result<store::accounts::Account, ApiError> {
    let account = state.store.account_by_public_id(&member.public_id).await?.ok_or(ApiError::Unauthenticated)?;
    let failures = format!("login:{}:{}", account.email.as_str(), client(request, state));
    if !state.limiter.acquire(&[(&failures, state.settings.limits.failed_logins)]).await? {
        return Err(ApiError::TooManyRequests);
    }
    if !verify_password(password, account.password_hash.clone()).await? {
        return Err(FieldErrors::one(field, "this is not your current password").into());
    }
    state.limiter.release(&failures).await;
    Ok(account)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the caller's password: every earlier session ends, and the answer carries a token
/// for the new one.
#[utoipa::path(
    tag = "accounts",
    responses(
        (status = 200, description = "A token for the new session", body = crate::routes::openapi::Token),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[put("/me/password")]
pub async fn change_password(
    request: HttpRequest,
    member: Member,
    state: web::Data<AppState>,
    body: web::Json<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let (account, version) =
        change_password_of(&request, &state, &member, body.current_password, body.new_password).await?;
    let (access_token, expires_in) = state.tokens.issue(&account, version)?;
    Ok(HttpResponse::Ok().json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
    })))
}
