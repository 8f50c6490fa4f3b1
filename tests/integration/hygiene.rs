//! What keeps secrets from lingering: no caching of authenticated answers, HSTS and secure
//! cookies over HTTPS, strict CSRF tokens, private files, email bodies cleared once sent, and
//! demo data that never mixes with real organisations.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, backends, drop_database, on_every_backend, spawn_app_with};

#[tokio::test]
async fn authenticated_answers_are_never_stored_by_caches() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("ann@acme.example", "Acme", "sme").await;
        for path in ["/api/v1/me", "/api/v1/matches", "/api/v1/me/answers"] {
            let response = app.get(path, Some(&member.token)).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let cache = response.headers().get("cache-control").and_then(|v| v.to_str().ok());
            assert_eq!(cache, Some("no-store"), "{path}");
        }
        let saved = app.put("/api/v1/me/profile", &json!({"region": "wales"}), &member.token).await;
        assert_eq!(saved.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
        assert!(app.get("/healthz", None).await.headers().get("strict-transport-security").is_none(), "plain HTTP");
    })
    .await;
}

#[tokio::test]
async fn over_https_pages_send_hsts_and_secure_cookies() {
    for backend in backends() {
        let app = spawn_app_with(backend, |s| s.public_url = "https://matchwell.example".to_owned()).await;
        let page = app.get("/verify?token=00ff", None).await;
        let hsts = page.headers().get("strict-transport-security").and_then(|v| v.to_str().ok());
        assert!(hsts.is_some_and(|h| h.starts_with("max-age=")), "{backend:?}");
        let cookie = page.headers()["set-cookie"].to_str().expect("cookie").to_owned();
        assert!(cookie.contains("Secure") && cookie.contains("HttpOnly"), "{cookie}");
        drop_database(backend, &app.settings.database_url).await;
    }
}

#[tokio::test]
async fn a_form_with_an_empty_or_foreign_csrf_token_is_refused() {
    on_every_backend(async |app: TestApp| {
        for (cookie, posted) in [("", ""), ("x", "x"), (&*"Z".repeat(64), &*"Z".repeat(64))] {
            let response = app
                .client
                .post(app.url("/verify"))
                .header("cookie", format!("matchwell_csrf={cookie}"))
                .form(&[("token", "00ff"), ("password", "whatever it is"), ("csrf_token", posted)])
                .send()
                .await
                .expect("sent");
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{cookie:?}");
        }
    })
    .await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await;
    app.member("ann@acme.example", "Acme", "sme").await;
    for name in ["matchwell.db", "matchwell.db-wal", "matchwell.db-shm"] {
        let path = app.settings.data_dir.join(name);
        let mode = std::fs::metadata(&path).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}");
    }
    let outbox = std::fs::metadata(&app.outbox).expect("outbox").permissions().mode() & 0o777;
    assert_eq!(outbox, 0o700, "the outbox holds verification links");
    for entry in std::fs::read_dir(&app.outbox).expect("outbox") {
        let mode = entry.expect("entry").metadata().expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[tokio::test]
async fn email_bodies_are_cleared_once_sent() {
    on_every_backend(async |app: TestApp| {
        app.member("ann@acme.example", "Acme", "sme").await;
        app.post("/api/v1/auth/password-reset", &json!({"email": "ann@acme.example"}), None).await;
        app.deliver_emails().await;
        let sent = app.store.sent_email_bodies().await.expect("store");
        assert!(sent.len() >= 2, "the verification and the reset email");
        for (text, html) in sent {
            assert!(text.is_empty() && html.is_none(), "a sent body was kept: {text}");
        }
        // The delivered emails themselves carried the links.
        assert!(!app.link_tokens("ann@acme.example", "reset-password?token=").await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn demo_seeding_refuses_a_database_with_real_organisations_and_demo_data_can_be_removed() {
    on_every_backend(async |app: TestApp| {
        let catalogue = domain::Catalogue::builtin().expect("catalogue");
        assert_eq!(cli::demo::seed_once(&app.store, &catalogue, 20, 7).await.expect("an empty database"), 20);
        let real = app.member("real@clinic.example", "Real Clinic", "health_org").await;
        app.put("/api/v1/me/answers", &crate::helpers::answers(|_, _| 0, "somewhat"), &real.token).await;
        // A long-running matchmaker (as in `serve`) has scored them all.
        let mut matchmaker = matching::Matchmaker::new(Arc::new(catalogue.clone()), app.settings.matching.clone());
        matchmaker.run(&app.store, true, Arc::new(|_, _| {})).await.expect("scored");
        let refused = cli::demo::seed_once(&app.store, &catalogue, 20, 8).await;
        let message = format!("{:#}", refused.expect_err("a database with a real organisation"));
        assert!(message.contains("not demo data"), "{message}");

        assert_eq!(cli::demo::remove(&app.store).await.expect("removed"), 20);
        assert_eq!(
            app.login(&cli::demo::demo_email(7, 0), cli::demo::DEMO_PASSWORD).await.status(),
            StatusCode::UNAUTHORIZED
        );
        let (_, population) = app.store.population().await.expect("population");
        assert_eq!(population.len(), 1, "only the real organisation is left");
        let matches: serde_json::Value =
            app.get("/api/v1/matches", Some(&real.token)).await.json().await.expect("json");
        assert_eq!(matches["matches"], json!([]), "its matches with demo organisations went with them");
        // Its next run starts afresh rather than keep (or fail on) organisations that left.
        let report = matchmaker.run(&app.store, false, Arc::new(|_, _| {})).await.expect("scored");
        assert_eq!(report.organisations, 1);
    })
    .await;
}
