//! Liveness: the process answers and the database does too.

use actix_web::{HttpResponse, get, web};

use crate::state::AppState;

#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "The process and its database answer", body = serde_json::Value),
        (status = 503, description = "The database does not answer", body = serde_json::Value)
    )
)]
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ping().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({"status": "ok"})),
        Err(error) => {
            tracing::error!(error = %error, "health check: the database does not answer");
            HttpResponse::ServiceUnavailable().json(serde_json::json!({"status": "database unavailable"}))
        }
    }
}
