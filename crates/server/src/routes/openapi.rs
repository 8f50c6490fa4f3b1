//! The OpenAPI 3 description of every endpoint (`/api/openapi.json`), built from the handlers'
//! own `#[utoipa::path]` annotations, and its docs page (`/api/docs/`, Swagger UI served from
//! assets vendored into the binary: nothing is fetched from elsewhere).

use std::collections::BTreeMap;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{accounts, admin, catalogue, challenges, health, matches, me, model, search, stories};

/// Every error answer (`errors.rs`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    /// A stable code: `validation_failed`, `not_found`, `unauthenticated`, …
    code: String,
    /// For people.
    message: String,
    /// On validation errors (422): the messages of each field that is not valid.
    fields: Option<BTreeMap<String, Vec<String>>>,
}

/// An access token, for `Authorization: Bearer <access_token>`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Token {
    access_token: String,
    /// Always `Bearer`.
    token_type: String,
    /// Seconds until it expires.
    expires_in: i64,
}

/// The endpoints under `/api/v1`.
#[derive(OpenApi)]
#[openapi(paths(
    accounts::register,
    accounts::verify,
    accounts::login,
    accounts::password_reset,
    accounts::password_reset_confirm,
    accounts::resend_verification,
    accounts::change_password,
    catalogue::taxonomy,
    catalogue::questionnaire,
    me::get_me,
    me::export,
    me::delete_me,
    me::update_profile,
    me::get_answers,
    me::save_answers,
    me::get_digest,
    me::put_digest,
    matches::list,
    matches::get,
    matches::reveal,
    matches::decline,
    matches::outcome,
    challenges::list,
    challenges::create,
    challenges::get,
    challenges::edit,
    challenges::respond,
    challenges::list_responses,
    challenges::act,
    challenges::list_questions,
    challenges::ask,
    challenges::answer,
    challenges::feature,
    challenges::hide,
    admin::metrics,
    admin::metrics_csv,
    search::search,
    search::ask,
    stories::get_story,
    stories::post_story,
    stories::approve_story,
    stories::withdraw_story,
    stories::list,
    stories::admin_list,
    stories::hide,
    model::get_model,
    model::learn,
))]
struct V1;

/// The bearer scheme that member endpoints name.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Matchwell",
        description = "Partner matching for health innovation: confidential matches, challenges and partner search. \
                       A resource the caller may not see is 404, never 403; every error has the `ErrorBody` shape."
    ),
    paths(health::healthz, crate::metrics::prometheus),
    nest((path = "/api/v1", api = V1)),
    components(schemas(ErrorBody, ErrorDetail, Token, matches::MatchView, matches::MatchList, matches::AnonymousView, matches::IdentityView)),
    modifiers(&Bearer)
)]
pub struct ApiDoc;

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(ApiDoc::openapi)
}

/// The docs page and the document it reads.
pub fn docs() -> utoipa_swagger_ui::SwaggerUi {
    utoipa_swagger_ui::SwaggerUi::new("/api/docs/{_:.*}").url("/api/openapi.json", document().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described() {
        let document = document();
        let paths: Vec<&String> = document.paths.paths.keys().collect();
        for path in ["/healthz", "/metrics", "/api/v1/auth/register", "/api/v1/matches/{id}", "/api/v1/me/export"] {
            assert!(paths.iter().any(|p| *p == path), "{path} in {paths:?}");
        }
        let operations: usize = document
            .paths
            .paths
            .values()
            .map(|item| {
                [&item.get, &item.put, &item.post, &item.delete, &item.patch].iter().filter(|o| o.is_some()).count()
            })
            .sum();
        assert_eq!(operations, 49, "every handler of routes/ and /metrics");
    }
}
