//! Every error answer, in one shape:
//! `{"error": {"code": "...", "message": "...", "fields": {"field": ["message"]}}}`.
//! The status code of each kind is decided here and nowhere else; an unexpected error is
//! logged with its cause chain and answered with an opaque 500.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use domain::FieldErrors;
use serde::Serialize;
use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("some fields are not valid")]
    Validation(FieldErrors),
    #[error("the request body is not valid JSON for this endpoint: {0}")]
    BadJson(String),
    #[error("log in first")]
    Unauthenticated,
    #[error("wrong email or password")]
    WrongCredentials,
    #[error("confirm your email address first: follow the link we sent you")]
    EmailNotVerified,
    #[error("your organisation cannot do this")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(&'static str),
    #[error("the request body is too large")]
    TooLarge,
    #[error("too many attempts; try again later")]
    TooManyRequests,
    #[error("{0}")]
    Limited(&'static str),
    #[error("something went wrong on our side")]
    Unexpected(#[source] anyhow::Error),
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a std::collections::BTreeMap<String, Vec<String>>>,
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "validation_failed",
            ApiError::BadJson(_) => "bad_request",
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::WrongCredentials => "wrong_credentials",
            ApiError::EmailNotVerified => "email_not_verified",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooLarge => "payload_too_large",
            ApiError::TooManyRequests | ApiError::Limited(_) => "too_many_requests",
            ApiError::Unexpected(_) => "internal_error",
        }
    }

    /// An unexpected failure, with the context of what was being done.
    pub fn unexpected(error: impl Into<anyhow::Error>, doing: &'static str) -> ApiError {
        ApiError::Unexpected(error.into().context(doing))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Limit(message) => ApiError::Limited(message),
            StoreError::Forbidden => ApiError::Forbidden,
            StoreError::State(message) => ApiError::Conflict(message),
            StoreError::Conflict => ApiError::Conflict("this already exists"),
            StoreError::Database(_) | StoreError::Contended(_) | StoreError::Corrupt(_) | StoreError::Io(_) => {
                ApiError::Unexpected(anyhow::Error::new(error))
            }
        }
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> ApiError {
        ApiError::Validation(errors)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadJson(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated | ApiError::WrongCredentials => StatusCode::UNAUTHORIZED,
            ApiError::EmailNotVerified | ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests | ApiError::Limited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Unexpected(cause) = self {
            tracing::error!(error = %format!("{cause:#}"), "request failed");
        }
        let fields = match self {
            ApiError::Validation(errors) => Some(errors.fields()),
            _ => None,
        };
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, ApiError::Unauthenticated | ApiError::WrongCredentials) {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        response.json(Body { error: Detail { code: self.code(), message: self.to_string(), fields } })
    }
}

/// Turns actix's JSON extraction failures into our shape: 413 for an oversized body,
/// field-level 422 for a body of the wrong shape, 400 for one that is not JSON.
pub fn json_error(error: actix_web::error::JsonPayloadError, _: &actix_web::HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError;
    let api = match &error {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => ApiError::TooLarge,
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            ApiError::Validation(FieldErrors::one(field_of(&e.to_string()), e.to_string()))
        }
        other => ApiError::BadJson(other.to_string()),
    };
    api.into()
}

/// The field serde complains about, from messages like "missing field `email`".
fn field_of(message: &str) -> String {
    message.split('`').nth(1).unwrap_or("body").to_owned()
}

/// Turns actix's query-string failures into our shape: a field-level 422.
pub fn query_error(error: actix_web::error::QueryPayloadError, request: &actix_web::HttpRequest) -> actix_web::Error {
    let message = error.to_string();
    if !request.path().starts_with("/api/") {
        // A page's address that no form makes (`?page=abc`): a page that says so.
        return crate::pages::PageError::BadAddress.into();
    }
    ApiError::Validation(FieldErrors::one(field_of(&message), message)).into()
}
