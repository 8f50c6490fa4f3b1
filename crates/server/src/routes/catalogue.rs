//! The published vocabularies and the questionnaire.

use actix_web::{HttpResponse, get, web};
use domain::Vocabulary;
use serde_json::{Value, json};

use crate::state::AppState;

fn terms(vocabulary: &Vocabulary) -> Value {
    vocabulary.terms().iter().map(|t| json!({"id": t.id, "label": t.label})).collect()
}

#[utoipa::path(
    tag = "catalogue",
    responses(
        (status = 200, description = "The vocabularies of the profile fields", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    )
)]
#[get("/taxonomy")]
pub async fn taxonomy(state: web::Data<AppState>) -> HttpResponse {
    let t = &state.catalogue.taxonomy;
    HttpResponse::Ok().json(json!({
        "kinds": terms(&t.kinds),
        "sectors": terms(&t.sectors),
        "regions": terms(&t.regions),
        // What an anonymous profile's region may also say, once generalised.
        "areas": t.areas().iter().map(|a| json!({"id": a.id, "label": a.label})).collect::<Value>(),
        "size_bands": terms(&t.size_bands),
        "innovation_stages": terms(&t.innovation_stages),
        "capabilities": terms(&t.capabilities),
        "importance": ["irrelevant", "a_little", "somewhat", "very", "mandatory"],
    }))
}

#[utoipa::path(
    tag = "catalogue",
    responses(
        (status = 200, description = "The questionnaire", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    )
)]
#[get("/questionnaire")]
pub async fn questionnaire(state: web::Data<AppState>) -> HttpResponse {
    let q = &state.catalogue.questionnaire;
    let sections: Vec<Value> = q
        .sections
        .iter()
        .map(|s| {
            let questions: Vec<Value> = s
                .questions
                .iter()
                .map(|q| {
                    let options: Vec<Value> = q.options.iter().map(|o| json!({"id": o.id, "label": o.label})).collect();
                    json!({"id": q.id, "topic": q.topic, "text": q.text, "options": options})
                })
                .collect();
            json!({"id": s.id, "title": s.title, "description": s.description, "questions": questions})
        })
        .collect();
    HttpResponse::Ok().json(json!({"version": q.version, "sections": sections}))
}
