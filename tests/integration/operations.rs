//! Operations: Prometheus metrics (requests by route and status with latency histograms,
//! scoring runs, the email queue, sends) and request ids in the logs and answers.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, answers, backends, drop_database, logs, spawn_app_with};

/// The value of the sample `name` (with its labels as written) in a Prometheus text page.
fn sample(page: &str, name: &str) -> Option<f64> {
    page.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_by_route_scoring_runs_and_emails() {
    for backend in backends() {
        let app = spawn_app_with(backend, |s| s.background_workers = true).await;
        let a = app.member("ann@acme.example", "Acme", "sme").await;
        let b = app.member("bo@trust.example", "Trust", "health_org").await;
        for member in [&a, &b] {
            let saved = app.put("/api/v1/me/answers", &answers(|_, _| 1, "somewhat"), &member.token).await;
            assert_eq!(saved.status(), StatusCode::OK);
        }
        let unknown = uuid::Uuid::new_v4().to_string();
        for _ in 0..3 {
            let missing = app.get(&format!("/api/v1/matches/{unknown}"), Some(&a.token)).await;
            assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        }
        // An email for the mail worker to send (the test's own helpers may have sent the
        // verification emails before it).
        let email = store::mail::NewEmail {
            idempotency_key: "metrics-1".to_owned(),
            recipient: "ops@acme.example".to_owned(),
            subject: "Hello".to_owned(),
            text_body: "Plain".to_owned(),
            html_body: None,
            list_unsubscribe: None,
        };
        app.store.enqueue_email(&email, chrono::Utc::now()).await.expect("queued");
        // The workers report as they go: wait (bounded) for a scoring run and the send.
        let mut page = String::new();
        for _ in 0..100 {
            page = app.get("/metrics", None).await.text().await.expect("body");
            let scored = sample(&page, "matchwell_scoring_runs_total").unwrap_or(0.0);
            let sent = sample(&page, "matchwell_emails_sent_total").unwrap_or(0.0);
            if scored >= 1.0 && sent >= 1.0 && app.store.pending_emails().await.expect("count") == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let page = if page.is_empty() { page } else { app.get("/metrics", None).await.text().await.expect("body") };
        assert!(sample(&page, "matchwell_scoring_runs_total").is_some_and(|n| n >= 1.0), "{backend:?}: {page}");
        assert!(sample(&page, "matchwell_scoring_run_duration_seconds_count").is_some_and(|n| n >= 1.0));
        assert!(sample(&page, "matchwell_emails_sent_total").is_some_and(|n| n >= 1.0), "the worker's sends");
        assert_eq!(sample(&page, "matchwell_email_failures_total"), Some(0.0));
        let pending = app.store.pending_emails().await.expect("count") as f64;
        assert_eq!(sample(&page, "matchwell_email_queue_depth"), Some(pending));
        let route = r#"{method="GET",route="/api/v1/matches/{id}",status="404"}"#;
        assert_eq!(sample(&page, &format!("matchwell_http_requests_total{route}")), Some(3.0), "{page}");
        let latency = r#"matchwell_http_request_duration_seconds_count{method="GET",route="/api/v1/matches/{id}"}"#;
        assert_eq!(sample(&page, latency), Some(3.0));
        assert!(
            page.contains(r#"matchwell_http_request_duration_seconds_bucket{le="0.001","#)
                || page.contains("le=\"0.001\"")
        );
        assert!(page.contains(r#"route="/api/v1/me/answers",status="200""#));
        // Routes, never paths: no id, token or address reaches a label.
        assert!(!page.contains(&unknown) && !page.contains("acme") && !page.contains(&a.token));
        drop_database(backend, &app.settings.database_url).await;
    }
}

#[tokio::test]
async fn every_answer_carries_a_request_id_that_its_log_lines_carry_too() {
    let backend = backends()[0];
    let app = spawn_app_with(backend, |_| {}).await;
    let member = app.member("rid@acme.example", "Acme", "sme").await;
    let change = json!({"current_password": PASSWORD, "new_password": "another long passphrase"});
    let changed = app.put("/api/v1/me/password", &change, &member.token).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let id = changed.headers()["x-request-id"].to_str().expect("ascii").to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let other = app.get("/healthz", None).await.headers()["x-request-id"].to_str().expect("ascii").to_owned();
    assert_ne!(id, other, "one id per request");
    let logs = logs();
    let line = logs
        .lines()
        .find(|l| l.contains(&id) && l.contains("password changed"))
        .unwrap_or_else(|| panic!("a log line of the request {id}"));
    assert!(line.contains("route=/api/v1/me/password") && line.contains("method=PUT"), "{line}");
    assert!(!line.contains(&member.token) && !line.contains("rid@acme.example"), "{line}");
    drop_database(backend, &app.settings.database_url).await;
}
