//! What every response carries, limits, health, and the workers: email delivery and scoring.

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use store::mail::NewEmail;

use tests::smtp_sink::SmtpSink;

use crate::helpers::{Backend, TestApp, answers, backends, on_every_backend, spawn_app_with};

#[tokio::test]
async fn every_response_carries_the_security_headers_and_errors_have_one_shape() {
    on_every_backend(async |app: TestApp| {
        for path in ["/healthz", "/api/v1/taxonomy", "/api/v1/nowhere", "/api/v1/me"] {
            let response = app.get(path, None).await;
            let headers = response.headers();
            assert!(headers.get("content-security-policy").is_some(), "{path}");
            assert_eq!(headers.get("x-content-type-options").map(|v| v.as_bytes()), Some(&b"nosniff"[..]), "{path}");
        }
        let missing: Value = app.get("/api/v1/nowhere", None).await.json().await.expect("json");
        assert_eq!(missing["error"]["code"], "not_found");
        let unauthenticated = app.get("/api/v1/matches", None).await;
        assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
        let body: Value = unauthenticated.json().await.expect("json");
        assert_eq!(body["error"]["code"], "unauthenticated");
        assert!(body["error"]["message"].is_string());
    })
    .await;
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_refused_413() {
    on_every_backend(async |app: TestApp| {
        let huge = json!({"email": "a".repeat(1 << 20), "password": "x", "organisation_name": "x", "kind": "sme"});
        let response = app.post("/api/v1/auth/register", &huge, None).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "payload_too_large");
        let not_json = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("content-type", "application/json")
            .body("{")
            .send()
            .await;
        assert_eq!(not_json.expect("sent").status(), StatusCode::BAD_REQUEST);
    })
    .await;
}

#[tokio::test]
async fn health_checks_the_database() {
    on_every_backend(async |app: TestApp| {
        let response = app.get("/healthz", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["status"], "ok");
    })
    .await;
}

#[tokio::test]
async fn the_background_worker_finds_matches_within_seconds_of_new_answers() {
    for backend in backends() {
        let app = spawn_app_with(backend, |s| s.background_workers = true).await;
        let a = app.member("ann@acme.example", "Acme", "sme").await;
        let b = app.member("bo@trust.example", "Trust", "health_org").await;
        for member in [&a, &b] {
            app.put("/api/v1/me/answers", &answers(|_, _| 1, "somewhat"), &member.token).await;
        }
        let mut found = false;
        for _ in 0..100 {
            let body: Value = app.get("/api/v1/matches", Some(&a.token)).await.json().await.expect("json");
            if body["matches"].as_array().is_some_and(|m| !m.is_empty()) {
                found = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(found, "{backend:?}: a match within 10 seconds");
        crate::helpers::drop_database(backend, &app.settings.database_url).await;
    }
}

fn email(key: &str) -> NewEmail {
    NewEmail {
        idempotency_key: key.to_owned(),
        recipient: "ann@acme.example".to_owned(),
        subject: "Hello".to_owned(),
        text_body: "Plain".to_owned(),
        html_body: Some("<p>Rich</p>".to_owned()),
        list_unsubscribe: None,
    }
}

#[tokio::test]
async fn queued_emails_are_sent_once_even_when_queued_twice() {
    on_every_backend(async |app: TestApp| {
        app.store.enqueue_email(&email("hello-1"), Utc::now()).await.expect("queued");
        app.store.enqueue_email(&email("hello-1"), Utc::now()).await.expect("queued again");
        assert_eq!(app.store.pending_emails().await.expect("count"), 1);
        app.deliver_emails().await;
        let sent = app.emails_to("ann@acme.example");
        assert_eq!(sent.len(), 1);
        assert!(sent[0].contains("Subject: Hello") && sent[0].contains("Message-ID: <hello-1@matchwell>"));
        assert_eq!(app.store.pending_emails().await.expect("count"), 0);
        assert_eq!(mail::try_execute_task(&app.store, &app.mailer).await.expect("step"), mail::Execution::EmptyQueue);
    })
    .await;
}

#[tokio::test]
async fn an_email_the_server_refuses_stays_queued_for_a_retry() {
    on_every_backend(async |app: TestApp| {
        // Nothing listens on this port: the SMTP connection fails.
        let failing = mail::Mailer::new(Some("smtp://127.0.0.1:9"), app.outbox.clone(), "noreply@matchwell.test")
            .expect("mailer");
        app.store.enqueue_email(&email("retry-1"), Utc::now()).await.expect("queued");
        let step = mail::try_execute_task(&app.store, &failing).await.expect("step");
        assert_eq!(step, mail::Execution::Failed);
        assert_eq!(app.store.pending_emails().await.expect("count"), 1, "nothing lost");
        // Not due again yet, so the working mailer finds nothing to do now.
        assert_eq!(mail::try_execute_task(&app.store, &app.mailer).await.expect("step"), mail::Execution::EmptyQueue);
        let due = app.store.claim_email(Utc::now() + chrono::Duration::minutes(5)).await.expect("claim");
        assert!(due.is_some_and(|e| e.idempotency_key == "retry-1" && e.attempts == 2));
    })
    .await;
}

#[tokio::test]
async fn a_temporary_smtp_failure_is_retried_with_a_growing_delay_and_sent_once() {
    on_every_backend(async |app: TestApp| {
        let sink = SmtpSink::start().await.expect("sink");
        sink.refuse_next(2);
        let smtp = mail::Mailer::new(Some(&sink.url()), app.outbox.clone(), "noreply@matchwell.test").expect("mailer");
        app.store.enqueue_email(&email("later-1"), Utc::now()).await.expect("queued");
        let mut now = Utc::now();
        let mut delays = Vec::new();
        for _ in 0..2 {
            let step = mail::try_execute_task_at(&app.store, &smtp, now).await.expect("step");
            assert_eq!(step, mail::Execution::Failed);
            let due = app.store.next_email_due().await.expect("store").expect("still queued");
            delays.push(((due - now).num_milliseconds() as f64 / 1000.0).round());
            let early = mail::try_execute_task_at(&app.store, &smtp, due - chrono::Duration::seconds(1)).await;
            assert_eq!(early.expect("step"), mail::Execution::EmptyQueue, "not due before its delay");
            now = due;
        }
        assert_eq!(delays, [60.0, 120.0], "one minute, then two");
        assert_eq!(mail::try_execute_task_at(&app.store, &smtp, now).await.expect("step"), mail::Execution::Sent);
        assert_eq!(sink.accepted(), 1, "sent once, after two refusals");
        assert_eq!(app.store.pending_emails().await.expect("count"), 0);
    })
    .await;
}

#[tokio::test]
async fn two_workers_never_claim_the_same_email() {
    on_every_backend(async |app: TestApp| {
        for i in 0..20 {
            app.store.enqueue_email(&email(&format!("many-{i}")), Utc::now()).await.expect("queued");
        }
        let now = Utc::now();
        let claims = futures_join(&app, now).await;
        let mut keys: Vec<String> = claims.into_iter().flatten().map(|e| e.idempotency_key).collect();
        let total = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), total, "no email claimed twice");
        assert_eq!(total, 20);
    })
    .await;
}

async fn futures_join(app: &TestApp, now: chrono::DateTime<Utc>) -> Vec<Option<store::mail::QueuedEmail>> {
    let mut handles = Vec::new();
    for _ in 0..20 {
        let store = app.store.clone();
        handles.push(tokio::spawn(async move { store.claim_email(now).await.expect("claim") }));
    }
    let mut claims = Vec::new();
    for handle in handles {
        claims.push(handle.await.expect("task"));
    }
    claims
}

#[tokio::test]
async fn only_one_process_holds_the_scoring_lease() {
    on_every_backend(async |app: TestApp| {
        let now = Utc::now();
        let ttl = chrono::Duration::minutes(1);
        assert!(app.store.acquire_lease("scoring", "one", now, ttl).await.expect("lease"));
        assert!(!app.store.acquire_lease("scoring", "two", now, ttl).await.expect("lease"));
        assert!(app.store.acquire_lease("scoring", "one", now, ttl).await.expect("renewal"));
        let later = now + chrono::Duration::minutes(2);
        assert!(app.store.acquire_lease("scoring", "two", later, ttl).await.expect("expired lease"));
        app.store.release_lease("scoring", "two").await.expect("release");
        assert!(app.store.acquire_lease("scoring", "three", later, ttl).await.expect("released lease"));
        if app.backend == Backend::Postgres {
            // Several contenders at once: exactly one wins.
            let mut handles = Vec::new();
            for i in 0..8 {
                let store = app.store.clone();
                handles.push(tokio::spawn(async move {
                    store.acquire_lease("race", &format!("p{i}"), Utc::now(), chrono::Duration::minutes(1)).await
                }));
            }
            let mut winners = 0;
            for handle in handles {
                winners += usize::from(handle.await.expect("task").expect("lease"));
            }
            assert_eq!(winners, 1);
        }
    })
    .await;
}

#[tokio::test]
async fn emails_go_through_smtp_when_a_server_is_configured() {
    on_every_backend(async |app: TestApp| {
        let sink = SmtpSink::start().await.expect("sink");
        let smtp = mail::Mailer::new(Some(&sink.url()), app.outbox.clone(), "noreply@matchwell.test").expect("mailer");
        app.store.enqueue_email(&email("smtp-1"), Utc::now()).await.expect("queued");
        assert_eq!(mail::try_execute_task(&app.store, &smtp).await.expect("step"), mail::Execution::Sent);
        let messages = sink.messages();
        assert_eq!(messages.len(), 1);
        let message = String::from_utf8_lossy(&messages[0]);
        assert!(message.contains("Subject: Hello"), "{message}");
        assert!(message.contains("To: ann@acme.example"), "{message}");
        assert_eq!(app.store.pending_emails().await.expect("count"), 0);
        assert!(app.emails_to("ann@acme.example").is_empty(), "nothing in the outbox when SMTP is used");
    })
    .await;
}

#[tokio::test]
async fn an_email_that_can_be_stopped_carries_the_one_click_unsubscribe_headers() {
    on_every_backend(async |app: TestApp| {
        let mut stoppable = email("digest-test");
        stoppable.list_unsubscribe = Some("http://matchwell.test/unsubscribe?token=abc123".to_owned());
        app.store.enqueue_email(&stoppable, Utc::now()).await.expect("queued");
        app.store.enqueue_email(&email("plain-test"), Utc::now()).await.expect("queued");
        app.deliver_emails().await;
        let sent = app.emails_to("ann@acme.example");
        let digest = sent.iter().find(|e| e.contains("digest-test")).expect("the digest");
        assert!(digest.contains("List-Unsubscribe: <http://matchwell.test/unsubscribe?token=abc123>"), "{digest}");
        assert!(digest.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        let plain = sent.iter().find(|e| e.contains("plain-test")).expect("the other email");
        assert!(!plain.contains("List-Unsubscribe"), "only emails a member may stop carry it");
    })
    .await;
}
