//! The start page, and the pages of accounts: signing up, confirming the email address (the
//! emailed link), logging in and out, and resetting a forgotten password. Each calls the same
//! function as its JSON endpoint (`routes::accounts`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::forms::{CsrfForm, FormErrors, local_path};
use super::{Chrome, Page, PageError, Viewer, check_csrf, see_other, session};
use crate::errors::ApiError;
use crate::routes::accounts::{self, SignUp, VerifyError};
use crate::state::AppState;

/// The kinds of organisation, with the words a sign-up form shows for them.
pub const KINDS: [(&str, &str, &str); 4] = [
    ("sme", "A company (SME)", "A small or medium-sized business with a health innovation."),
    ("health_org", "A health or care organisation", "An NHS trust, a practice, a care provider or a commissioner."),
    ("academic", "A university or research body", ""),
    ("other", "Another organisation", "A charity, a cluster, an investor or a public body."),
];

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    chrome: Chrome,
    question_count: usize,
    section_count: usize,
}

#[get("/")]
pub async fn home(request: HttpRequest, state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, PageError> {
    let questionnaire = &state.catalogue.questionnaire;
    let page = Page::new(&request, &state, viewer.0.as_ref(), "");
    let home = Home {
        chrome: page.chrome.clone(),
        question_count: questionnaire.question_count(),
        section_count: questionnaire.sections.len(),
    };
    page.render(StatusCode::OK, &home)
}

/// The token of an emailed link, as far as it can be one.
fn link_token(raw: &str) -> String {
    raw.chars().filter(char::is_ascii_hexdigit).take(128).collect()
}

#[derive(Deserialize, Default)]
pub struct RegisterForm {
    #[serde(default)]
    organisation_name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
}

#[derive(Template)]
#[template(path = "register.html")]
struct Register<'a> {
    chrome: Chrome,
    form: &'a RegisterForm,
    kinds: &'a [(&'a str, &'a str, &'a str)],
    errors: FormErrors,
    sent: bool,
}

#[get("/register")]
pub async fn register_page(
    request: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
) -> Result<HttpResponse, PageError> {
    let page = Page::new(&request, &state, viewer.0.as_ref(), "");
    let form = RegisterForm::default();
    let view = Register {
        chrome: page.chrome.clone(),
        form: &form,
        kinds: &KINDS,
        errors: FormErrors::default(),
        sent: false,
    };
    page.render(StatusCode::OK, &view)
}

#[post("/register")]
pub async fn register_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<RegisterForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&request, &state, &form.csrf_token)?;
    let mut form = form.into_inner();
    let password = std::mem::take(&mut form.password);
    let page = Page::new(&request, &state, None, "");
    let parsed = SignUp::parse(&form.email, password, &form.organisation_name, &form.kind);
    let errors = match parsed {
        Ok(sign_up) => match accounts::sign_up(&request, &state, sign_up).await {
            Ok(()) => {
                let view = Register {
                    chrome: page.chrome.clone(),
                    form: &form,
                    kinds: &KINDS,
                    errors: FormErrors::default(),
                    sent: true,
                };
                return page.render(StatusCode::OK, &view);
            }
            Err(ApiError::Validation(errors)) => errors,
            Err(other) => return Err(other.into()),
        },
        Err(errors) => errors,
    };
    let errors = FormErrors::from_fields(&errors, &["organisation_name", "kind", "email", "password"], "email");
    let view = Register { chrome: page.chrome.clone(), form: &form, kinds: &KINDS, errors, sent: false };
    page.render(StatusCode::UNPROCESSABLE_ENTITY, &view)
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

pub enum VerifyOutcome {
    Ask,
    Done,
    Invalid,
}

#[derive(Template)]
#[template(path = "verify.html")]
struct Verify<'a> {
    chrome: Chrome,
    outcome: VerifyOutcome,
    token: &'a str,
    errors: FormErrors,
}

/// The page an emailed verification link opens: it asks for the password of the sign-up, so
/// that only the person who chose it (and reads this mailbox) can confirm the address, and a
/// mail scanner that fetches the link uses nothing up.
#[get("/verify")]
pub async fn verify_page(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, PageError> {
    let token = link_token(&query.token);
    let outcome = if token.is_empty() { VerifyOutcome::Invalid } else { VerifyOutcome::Ask };
    let page = Page::new(&request, &state, None, "");
    let view = Verify { chrome: page.chrome.clone(), outcome, token: &token, errors: FormErrors::default() };
    page.render(StatusCode::OK, &view)
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
}

#[post("/verify")]
pub async fn verify_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&request, &state, &form.csrf_token)?;
    let form = form.into_inner();
    let token = link_token(&form.token);
    let page = Page::new(&request, &state, None, "");
    let (status, outcome, errors) = match accounts::verify_email(&request, &state, &token, form.password).await {
        Ok(()) => (StatusCode::OK, VerifyOutcome::Done, FormErrors::default()),
        Err(VerifyError::WrongPassword) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            VerifyOutcome::Ask,
            FormErrors::one(
                "password",
                "This is not the password chosen when this link was sent. If you did not sign up, sign up yourself with \
                 this address to claim it",
            ),
        ),
        Err(VerifyError::InvalidLink) => {
            (StatusCode::UNPROCESSABLE_ENTITY, VerifyOutcome::Invalid, FormErrors::default())
        }
        Err(VerifyError::TooManyAttempts) => return Err(ApiError::TooManyRequests.into()),
        Err(VerifyError::Unexpected(error)) => return Err(error.into()),
    };
    let view = Verify { chrome: page.chrome.clone(), outcome, token: &token, errors };
    page.render(status, &view)
}

#[derive(Deserialize, Default)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf_token: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct Login<'a> {
    chrome: Chrome,
    form: &'a LoginForm,
    errors: FormErrors,
    unverified: bool,
}

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

#[get("/login")]
pub async fn login_page(
    request: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, PageError> {
    let next = local_path(&query.next).to_owned();
    if viewer.0.is_some() {
        return Ok(see_other(&next));
    }
    let page = Page::new(&request, &state, None, "");
    let form = LoginForm { next, ..LoginForm::default() };
    let view = Login { chrome: page.chrome.clone(), form: &form, errors: FormErrors::default(), unverified: false };
    page.render(StatusCode::OK, &view)
}

#[post("/login")]
pub async fn login_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&request, &state, &form.csrf_token)?;
    let mut form = form.into_inner();
    let password = std::mem::take(&mut form.password);
    form.next = local_path(&form.next).to_owned();
    let (errors, unverified) = match accounts::authenticate(&request, &state, &form.email, password).await {
        Ok(account) => {
            let cookie = session::begin(&state, &account.public_id).await?;
            let mut response = see_other(&form.next);
            response.add_cookie(&cookie).map_err(|e| PageError::Unexpected(e.into()))?;
            return Ok(response);
        }
        Err(ApiError::Validation(errors)) => (FormErrors::from_fields(&errors, &["email", "password"], "email"), false),
        Err(ApiError::WrongCredentials) => (
            FormErrors::one("email", "Enter the email address and password of your account; one of them is not right"),
            false,
        ),
        Err(ApiError::EmailNotVerified) => (
            FormErrors::one("email", "Confirm your email address first: follow the link in the email we sent you"),
            true,
        ),
        Err(other) => return Err(other.into()),
    };
    let page = Page::new(&request, &state, None, "");
    let view = Login { chrome: page.chrome.clone(), form: &form, errors, unverified };
    page.render(StatusCode::UNPROCESSABLE_ENTITY, &view)
}

/// Ends the session on the server, and in the browser.
#[post("/logout")]
pub async fn logout(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&request, &state, &form.csrf_token)?;
    let removal = session::end(&request, &state).await?;
    let mut response = see_other("/login?logged_out=1");
    response.add_cookie(&removal).map_err(|e| PageError::Unexpected(e.into()))?;
    Ok(response)
}

#[derive(Deserialize, Default)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    csrf_token: String,
}

#[derive(Deserialize)]
pub struct PurposeQuery {
    #[serde(default)]
    purpose: String,
}

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct Forgot<'a> {
    chrome: Chrome,
    form: &'a EmailForm,
    errors: FormErrors,
    sent: bool,
}

/// Asks for a password-reset link (or, with `purpose=verify`, a new verification link).
#[get("/forgot-password")]
pub async fn forgot_page(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<PurposeQuery>,
) -> Result<HttpResponse, PageError> {
    let page = Page::new(&request, &state, None, "");
    let purpose = if query.purpose == "verify" { "verify" } else { "reset" };
    let form = EmailForm { purpose: purpose.to_owned(), ..EmailForm::default() };
    let view = Forgot { chrome: page.chrome.clone(), form: &form, errors: FormErrors::default(), sent: false };
    page.render(StatusCode::OK, &view)
}

#[post("/forgot-password")]
pub async fn forgot_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<EmailForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&request, &state, &form.csrf_token)?;
    let form = form.into_inner();
    let sent = if form.purpose == "verify" {
        accounts::request_verification(&request, &state, &form.email).await
    } else {
        accounts::request_password_reset(&request, &state, &form.email).await
    };
    let page = Page::new(&request, &state, None, "");
    let (status, errors, sent) = match sent {
        Ok(()) => (StatusCode::OK, FormErrors::default(), true),
        Err(ApiError::Validation(errors)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, FormErrors::from_fields(&errors, &["email"], "email"), false)
        }
        Err(other) => return Err(other.into()),
    };
    let view = Forgot { chrome: page.chrome.clone(), form: &form, errors, sent };
    page.render(status, &view)
}

pub enum ResetOutcome {
    Ask,
    Done,
    Invalid,
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct Reset<'a> {
    chrome: Chrome,
    outcome: ResetOutcome,
    token: &'a str,
    errors: FormErrors,
}

/// The page an emailed password-reset link opens.
#[get("/reset-password")]
pub async fn reset_page(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, PageError> {
    let token = link_token(&query.token);
    let outcome = if token.is_empty() { ResetOutcome::Invalid } else { ResetOutcome::Ask };
    let page = Page::new(&request, &state, None, "");
    let view = Reset { chrome: page.chrome.clone(), outcome, token: &token, errors: FormErrors::default() };
    page.render(StatusCode::OK, &view)
}

#[post("/reset-password")]
pub async fn reset_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&request, &state, &form.csrf_token)?;
    let form = form.into_inner();
    let token = link_token(&form.token);
    let page = Page::new(&request, &state, None, "");
    let (status, outcome, errors) = match accounts::confirm_password_reset(&state, &token, form.password).await {
        Ok(()) => (StatusCode::OK, ResetOutcome::Done, FormErrors::default()),
        Err(ApiError::Validation(errors)) if errors.fields().contains_key("token") => {
            (StatusCode::UNPROCESSABLE_ENTITY, ResetOutcome::Invalid, FormErrors::default())
        }
        Err(ApiError::Validation(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ResetOutcome::Ask,
            FormErrors::from_fields(&errors, &["password"], "password"),
        ),
        Err(other) => return Err(other.into()),
    };
    let view = Reset { chrome: page.chrome.clone(), outcome, token: &token, errors };
    page.render(status, &view)
}
