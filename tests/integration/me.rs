//! The caller's profile and answers, and the published catalogue.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, answers, on_every_backend};

#[tokio::test]
async fn the_catalogue_is_published() {
    on_every_backend(async |app: TestApp| {
        let taxonomy: Value = app.get("/api/v1/taxonomy", None).await.json().await.expect("json");
        for field in ["kinds", "sectors", "regions", "size_bands", "innovation_stages", "capabilities"] {
            let terms = taxonomy[field].as_array().expect(field);
            assert!(
                !terms.is_empty() && terms.iter().all(|t| t["id"].is_string() && t["label"].is_string()),
                "{field}"
            );
        }
        let questionnaire: Value = app.get("/api/v1/questionnaire", None).await.json().await.expect("json");
        assert_eq!(questionnaire["version"], 1);
        let sections = questionnaire["sections"].as_array().expect("sections");
        assert_eq!(sections.len(), 4);
        let questions: usize = sections.iter().map(|s| s["questions"].as_array().map_or(0, Vec::len)).sum();
        assert!((30..=60).contains(&questions));
    })
    .await;
}

#[tokio::test]
async fn a_profile_update_changes_only_the_given_fields_and_bad_ones_change_nothing() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("ann@acme.example", "Acme", "sme").await;
        let update = json!({"region": "wales", "sectors": ["digital_health"], "website": "https://acme.example"});
        let response = app.put("/api/v1/me/profile", &update, &member.token).await;
        assert_eq!(response.status(), StatusCode::OK);
        let partial = app.put("/api/v1/me/profile", &json!({"size_band": "micro"}), &member.token).await;
        assert_eq!(partial.status(), StatusCode::OK);
        let bad = json!({"region": "atlantis", "sectors": ["astrology"], "website": "javascript:alert(1)", "size_band": "small"});
        let response = app.put("/api/v1/me/profile", &bad, &member.token).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = response.json().await.expect("json");
        let mut fields: Vec<&String> = body["error"]["fields"].as_object().expect("fields").keys().collect();
        fields.sort();
        assert_eq!(fields, ["region", "sectors", "website"]);
        let unknown = app.put("/api/v1/me/profile", &json!({"colour": "blue"}), &member.token).await;
        assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused");
        let me: Value = app.get("/api/v1/me", Some(&member.token)).await.json().await.expect("json");
        assert_eq!(me["profile"]["region"], "wales");
        assert_eq!(me["profile"]["size_band"], "micro", "the bad update changed nothing");
        assert_eq!(me["profile"]["sectors"], json!(["digital_health"]));
        assert_eq!(me["profile"]["website"], "https://acme.example");
    })
    .await;
}

#[tokio::test]
async fn answers_are_validated_as_a_whole_and_stored_all_or_nothing() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("bo@acme.example", "Acme", "sme").await;
        let good = answers(|_, _| 0, "very");
        let saved = app.put("/api/v1/me/answers", &good, &member.token).await;
        assert_eq!(saved.status(), StatusCode::OK);
        let stored: Value = app.get("/api/v1/me/answers", Some(&member.token)).await.json().await.expect("json");
        assert_eq!(stored["answers"], good["answers"]);

        let first = good["answers"][0].clone();
        let with = |change: Value| {
            let mut answer = first.clone();
            for (k, v) in change.as_object().expect("object") {
                answer[k] = v.clone();
            }
            // A valid answer first, so that a half-way store would show.
            json!({"answers": [good["answers"][1].clone(), answer]})
        };
        let cases = [
            (with(json!({"question_id": "values.nope"})), "answers[1].question_id"),
            (with(json!({"answer": "nope"})), "answers[1].answer"),
            (with(json!({"acceptable": []})), "answers[1].acceptable"),
            (with(json!({"acceptable": ["nope"]})), "answers[1].acceptable"),
            (with(json!({"importance": "extremely"})), "answers[1].importance"),
            (with(json!({"question_id": good["answers"][1]["question_id"].clone()})), "answers[1].question_id"),
        ];
        for (body, field) in cases {
            let response = app.put("/api/v1/me/answers", &body, &member.token).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            let error: Value = response.json().await.expect("json");
            assert!(error["error"]["fields"][field].is_array(), "{field}: {error}");
        }
        let after: Value = app.get("/api/v1/me/answers", Some(&member.token)).await.json().await.expect("json");
        assert_eq!(after["answers"], good["answers"], "nothing was stored half-way");
    })
    .await;
}

#[tokio::test]
async fn the_digest_frequency_is_weekly_by_default_and_can_be_daily_or_off() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("ann@acme.example", "Acme", "sme").await;
        assert_eq!(app.get("/api/v1/me/digest", None).await.status(), StatusCode::UNAUTHORIZED);
        let current: Value = app.get("/api/v1/me/digest", Some(&member.token)).await.json().await.expect("json");
        assert_eq!(current, json!({"frequency": "weekly"}));
        for frequency in ["daily", "off", "weekly"] {
            let set = app.put("/api/v1/me/digest", &json!({"frequency": frequency}), &member.token).await;
            assert_eq!(set.status(), StatusCode::OK);
            let read: Value = app.get("/api/v1/me/digest", Some(&member.token)).await.json().await.expect("json");
            assert_eq!(read["frequency"], frequency);
        }
        let bad = app.put("/api/v1/me/digest", &json!({"frequency": "hourly"}), &member.token).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = bad.json().await.expect("json");
        assert!(body["error"]["fields"]["frequency"].is_array());
        let read: Value = app.get("/api/v1/me/digest", Some(&member.token)).await.json().await.expect("json");
        assert_eq!(read["frequency"], "weekly", "nothing stored");
    })
    .await;
}
