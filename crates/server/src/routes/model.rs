//! The scoring model, for facilitators: the version in use with its weights, what it was
//! trained on, its evaluation and its history, and learning a new one from outcomes (the same
//! as `matchwell learn`). Weights and evaluations are aggregates of every outcome: nothing here
//! names an organisation or a pair.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::{Value, json};
use store::models::StoredModel;

use crate::auth::Member;
use crate::errors::ApiError;
use crate::state::AppState;

/// Versions shown in the history.
pub const HISTORY: u64 = 20;

fn evaluation(auc: f64, log_loss: f64) -> Value {
    json!({"auc": auc, "log_loss": log_loss})
}

/// One version as JSON.
pub fn version_json(stored: &StoredModel) -> Value {
    let model = &stored.model;
    json!({
        "version": stored.version,
        "adopted_at": stored.adopted_at,
        "trained_on": model.trained_on,
        "successes": model.successes,
        "weights": model.weights,
        "evaluation": model.evaluation.map(|e| json!({
            "held_out": evaluation(e.auc, e.log_loss),
            "previous_model": evaluation(e.previous_auc, e.previous_log_loss),
        })),
        "reason": model.reason,
    })
}

/// The versions, newest (the one in use) first; forbidden to anyone but a facilitator.
pub async fn history_of(state: &AppState, member: &Member) -> Result<Vec<StoredModel>, ApiError> {
    if !member.is_facilitator() {
        return Err(ApiError::Forbidden);
    }
    // Makes sure version 1 exists.
    matching::models::in_use(&state.store, &state.catalogue)
        .await
        .map_err(|e| ApiError::unexpected(e, "failed to read the model in use"))?;
    Ok(state.store.model_history(HISTORY).await?)
}

#[utoipa::path(
    tag = "facilitators",
    responses(
        (status = 200, description = "The model in use and its history", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[get("/admin/model")]
pub async fn get_model(member: Member, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let history = history_of(&state, &member).await?;
    let current = history.first().ok_or_else(|| ApiError::unexpected(anyhow::anyhow!("no model"), "no model"))?;
    let mut body = version_json(current);
    body["min_outcomes"] = json!(state.settings.learn_min_outcomes);
    body["history"] = Value::Array(history.iter().map(version_json).collect());
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(body))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LearnBody {
    /// Evaluate only; adopt nothing.
    #[serde(default)]
    dry_run: bool,
}

/// Learns from the recorded outcomes (see `matching::models::learn`); after an adoption, this
/// process uses the new model at once and its scoring worker rescores everyone.
pub async fn learn_for(
    state: &AppState,
    member: &Member,
    dry_run: bool,
) -> Result<matching::models::LearnReport, ApiError> {
    if !member.is_facilitator() {
        return Err(ApiError::Forbidden);
    }
    let report = matching::models::learn(
        &state.store,
        &state.catalogue,
        state.settings.learn_min_outcomes,
        dry_run,
        state.clock.now(),
    )
    .await
    .map_err(|e| ApiError::unexpected(e, "failed to learn from outcomes"))?;
    if report.adopted.is_some() {
        state.models.refresh(&state.store).await.map_err(|e| ApiError::unexpected(e, "failed to load the model"))?;
        state.scoring.notify_one();
    }
    Ok(report)
}

/// A learning run as JSON.
pub fn report_json(report: &matching::models::LearnReport, dry_run: bool) -> Value {
    let learned = &report.learned;
    json!({
        "dry_run": dry_run,
        "adopted": report.adopted.is_some(),
        "version": report.adopted.unwrap_or(report.before),
        "reason": learned.reason,
        "examples": learned.examples,
        "successes": learned.successes,
        "candidate": {
            "weights": report.candidate_weights,
            "evaluation": learned.candidate.map(|e| evaluation(e.auc, e.log_loss)),
        },
        "in_use": {
            "version": report.before,
            "weights": report.current_weights,
            "evaluation": learned.current.map(|e| evaluation(e.auc, e.log_loss)),
        },
    })
}

#[utoipa::path(
    tag = "facilitators",
    request_body(content = Option<LearnBody>, content_type = "application/json"),
    responses(
        (status = 200, description = "What learning found, and whether it adopted a new model", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[post("/admin/model/learn")]
pub async fn learn(member: Member, state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    // The body is optional: none means a real run.
    let body: LearnBody = if body.iter().all(u8::is_ascii_whitespace) {
        LearnBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadJson(e.to_string()))?
    };
    let dry_run = body.dry_run;
    let report = learn_for(&state, &member, dry_run).await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(report_json(&report, dry_run)))
}
