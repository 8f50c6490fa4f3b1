//! Account safety: only the mailbox owner decides the password (in whichever order a stranger
//! and the owner sign up), password resets and resends that say nothing about an address,
//! sessions that end with a reset or a change, tokens without internal ids, and throttling
//! that strangers cannot turn against the owner.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, on_every_backend, spawn_app_with};

const OWNER: &str = "owner@clinic.example";
const OWNER_PASSWORD: &str = "the owner's own passphrase";
const STRANGER_PASSWORD: &str = "the stranger's passphrase";

async fn role_of(app: &TestApp, email: &str) -> store::accounts::Role {
    let email = domain::EmailAddress::parse(email).expect("email");
    app.store.account_by_email(&email).await.expect("store").expect("account").role
}

async fn field_errors(response: reqwest::Response) -> Vec<String> {
    let body: Value = response.json().await.expect("json");
    body["error"]["fields"].as_object().map(|f| f.keys().cloned().collect()).unwrap_or_default()
}

#[tokio::test]
async fn a_stranger_who_signs_up_first_never_holds_the_account() {
    on_every_backend(async |app: TestApp| {
        let stranger = app.register_with(OWNER, STRANGER_PASSWORD, "Stranger Ltd", "sme").await;
        assert_eq!(stranger.status(), StatusCode::CREATED);
        let strangers_link = app.verification_token(OWNER).await;
        // The owner follows the link it received, but it is the stranger's sign-up.
        let refused = app.verify(&strangers_link, OWNER_PASSWORD).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(field_errors(refused).await, ["password"]);
        // The owner signs up itself: the stranger's link stops working.
        let owner = app.register_with(OWNER, OWNER_PASSWORD, "Riverside Clinic", "health_org").await;
        assert_eq!(owner.status(), StatusCode::CREATED);
        let owners_link = app.verification_token(OWNER).await;
        assert_ne!(owners_link, strangers_link);
        let stale = app.verify(&strangers_link, STRANGER_PASSWORD).await;
        assert_eq!(stale.status(), StatusCode::UNPROCESSABLE_ENTITY, "the earlier link no longer works");
        assert_eq!(field_errors(stale).await, ["token"]);
        assert_eq!(app.verify(&owners_link, OWNER_PASSWORD).await.status(), StatusCode::OK);

        assert_eq!(app.login(OWNER, STRANGER_PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
        let login: Value = app.login(OWNER, OWNER_PASSWORD).await.json().await.expect("json");
        let token = login["access_token"].as_str().expect("the owner logs in");
        let me: Value = app.get("/api/v1/me", Some(token)).await.json().await.expect("json");
        assert_eq!(me["organisation"]["name"], "Riverside Clinic", "the owner's sign-up, not the stranger's");
        assert_eq!(me["organisation"]["kind"], "health_org");
    })
    .await;
}

#[tokio::test]
async fn a_stranger_who_signs_up_after_the_owner_never_holds_the_account() {
    on_every_backend(async |app: TestApp| {
        app.register_with(OWNER, OWNER_PASSWORD, "Riverside Clinic", "health_org").await;
        let first_link = app.verification_token(OWNER).await;
        // Before the owner clicks, a stranger signs up with the same address.
        app.register_with(OWNER, STRANGER_PASSWORD, "Stranger Ltd", "sme").await;
        let strangers_link = app.verification_token(OWNER).await;
        let stale = app.verify(&first_link, OWNER_PASSWORD).await;
        assert_eq!(stale.status(), StatusCode::UNPROCESSABLE_ENTITY, "replaced by the later sign-up");
        // The stranger's link reached the owner's mailbox, and needs the stranger's password.
        assert_eq!(app.verify(&strangers_link, OWNER_PASSWORD).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
        // Signing up again, as the verify page says, gives the owner the account.
        app.register_with(OWNER, OWNER_PASSWORD, "Riverside Clinic", "health_org").await;
        let owners_link = app.verification_token(OWNER).await;
        assert_eq!(app.verify(&owners_link, OWNER_PASSWORD).await.status(), StatusCode::OK);
        assert_eq!(app.verify(&strangers_link, STRANGER_PASSWORD).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.login(OWNER, STRANGER_PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.login(OWNER, OWNER_PASSWORD).await.status(), StatusCode::OK);
        // Once verified, a further sign-up changes nothing and mails the owner a notice.
        app.register_with(OWNER, STRANGER_PASSWORD, "Stranger Ltd", "sme").await;
        assert_eq!(app.login(OWNER, OWNER_PASSWORD).await.status(), StatusCode::OK);
        app.deliver_emails().await;
        assert!(app.emails_to(OWNER).iter().any(|e| e.contains("already has one")));
    })
    .await;
}

#[tokio::test]
async fn the_facilitator_role_is_given_at_verification_never_before() {
    for backend in crate::helpers::backends() {
        let boss = domain::EmailAddress::parse("boss@cluster.example").expect("email");
        let app = spawn_app_with(backend, |s| s.facilitator_emails = vec![boss.clone()]).await;
        app.register_with(boss.as_str(), STRANGER_PASSWORD, "Stranger Ltd", "sme").await;
        assert_eq!(role_of(&app, boss.as_str()).await, store::accounts::Role::Member, "{backend:?}: not before");
        assert_eq!(app.login(boss.as_str(), STRANGER_PASSWORD).await.status(), StatusCode::FORBIDDEN);
        app.register_with(boss.as_str(), OWNER_PASSWORD, "Cluster", "other").await;
        let link = app.verification_token(boss.as_str()).await;
        assert_eq!(app.verify(&link, OWNER_PASSWORD).await.status(), StatusCode::OK);
        assert_eq!(role_of(&app, boss.as_str()).await, store::accounts::Role::Facilitator, "{backend:?}");
        let login: Value = app.login(boss.as_str(), OWNER_PASSWORD).await.json().await.expect("json");
        let me: Value = app.get("/api/v1/me", login["access_token"].as_str()).await.json().await.expect("json");
        assert_eq!(me["account"]["role"], "facilitator");
        crate::helpers::drop_database(backend, &app.settings.database_url).await;
    }
}

#[tokio::test]
async fn reset_and_resend_requests_answer_alike_for_any_address() {
    on_every_backend(async |app: TestApp| {
        app.member("known@acme.example", "Acme", "sme").await;
        app.register("pending@acme.example", "Pending", "sme").await;
        app.deliver_emails().await;
        let before = app.emails_to("known@acme.example").len();
        for path in ["/api/v1/auth/password-reset", "/api/v1/auth/resend-verification"] {
            let mut answers = Vec::new();
            for email in ["known@acme.example", "pending@acme.example", "nobody@acme.example"] {
                let response = app.post(path, &json!({"email": email}), None).await;
                answers.push((response.status(), response.text().await.expect("body")));
            }
            assert!(answers.iter().all(|a| *a == answers[0]), "{path}: {answers:?}");
            assert_eq!(answers[0].0, StatusCode::ACCEPTED, "{path}");
        }
        // A reset link only to the verified account, a fresh verification link only to the
        // pending one, and nothing to an unknown address.
        assert_eq!(app.link_tokens("known@acme.example", "reset-password?token=").await.len(), 1);
        assert_eq!(app.emails_to("known@acme.example").len(), before + 1);
        assert!(app.link_tokens("pending@acme.example", "reset-password?token=").await.is_empty());
        assert_eq!(app.link_tokens("pending@acme.example", "verify?token=").await.len(), 2);
        assert!(app.emails_to("nobody@acme.example").is_empty());
        let bad = app.post("/api/v1/auth/password-reset", &json!({"email": "not an address"}), None).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    })
    .await;
}

#[tokio::test]
async fn a_resent_link_replaces_the_earlier_one_and_keeps_the_password_of_the_sign_up() {
    on_every_backend(async |app: TestApp| {
        app.register("late@acme.example", "Acme", "sme").await;
        let first = app.verification_token("late@acme.example").await;
        app.post("/api/v1/auth/resend-verification", &json!({"email": "late@acme.example"}), None).await;
        let second = app.verification_token("late@acme.example").await;
        assert_ne!(first, second);
        assert_eq!(app.verify(&first, PASSWORD).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.verify(&second, "some other password").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.verify(&second, PASSWORD).await.status(), StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn a_password_reset_sets_the_password_once_and_ends_every_session() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("reset@acme.example", "Acme", "sme").await;
        let second_session: Value = app.login(&member.email, PASSWORD).await.json().await.expect("json");
        let second_session = second_session["access_token"].as_str().expect("token").to_owned();
        app.post("/api/v1/auth/password-reset", &json!({"email": member.email}), None).await;
        let token = app.link_tokens(&member.email, "reset-password?token=").await.pop().expect("a reset link");
        assert_eq!(token.len(), 64);
        let confirm = async |password: &str| {
            app.post("/api/v1/auth/password-reset/confirm", &json!({"token": token, "password": password}), None).await
        };
        let short = confirm("short").await;
        assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(field_errors(short).await, ["password"]);
        assert_eq!(app.get("/api/v1/me", Some(&member.token)).await.status(), StatusCode::OK, "nothing changed yet");
        assert_eq!(confirm("a brand new passphrase").await.status(), StatusCode::OK);
        for old in [&member.token, &second_session] {
            assert_eq!(app.get("/api/v1/me", Some(old)).await.status(), StatusCode::UNAUTHORIZED, "sessions end");
        }
        assert_eq!(confirm("yet another passphrase").await.status(), StatusCode::UNPROCESSABLE_ENTITY, "single use");
        assert_eq!(app.login(&member.email, PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.login(&member.email, "a brand new passphrase").await.status(), StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn a_reset_link_expires_after_an_hour_and_a_newer_one_voids_it() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("expiry@acme.example", "Acme", "sme").await;
        let reset = json!({"email": member.email});
        app.post("/api/v1/auth/password-reset", &reset, None).await;
        let first = app.link_tokens(&member.email, "reset-password?token=").await.pop().expect("a link");
        let hash = server::auth::token_hash(&first);
        let later = chrono::Utc::now() + chrono::Duration::minutes(61);
        let expired = app.store.finish_password_reset(&hash, "irrelevant", later).await.expect("store");
        assert_eq!(expired, store::accounts::TokenUse::Invalid, "an hour later");
        let before_the_hour = chrono::Utc::now() + chrono::Duration::minutes(59);
        let used = app.store.finish_password_reset(&hash, "irrelevant", before_the_hour).await.expect("store");
        assert!(matches!(used, store::accounts::TokenUse::Accepted { .. }), "still valid within the hour");
        // A second link, then a third: the second stops working.
        app.post("/api/v1/auth/password-reset", &reset, None).await;
        let second = app.link_tokens(&member.email, "reset-password?token=").await.pop().expect("a link");
        app.post("/api/v1/auth/password-reset", &reset, None).await;
        let confirm = json!({"token": second, "password": "a brand new passphrase"});
        let voided = app.post("/api/v1/auth/password-reset/confirm", &confirm, None).await;
        assert_eq!(voided.status(), StatusCode::UNPROCESSABLE_ENTITY, "a newer link voids the older");
    })
    .await;
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("change@acme.example", "Acme", "sme").await;
        let wrong = json!({"current_password": "not my password", "new_password": "a brand new passphrase"});
        let refused = app.put("/api/v1/me/password", &wrong, &member.token).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(field_errors(refused).await, ["current_password"]);
        let change = json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"});
        let changed = app.put("/api/v1/me/password", &change, &member.token).await;
        assert_eq!(changed.status(), StatusCode::OK);
        let body: Value = changed.json().await.expect("json");
        let fresh = body["access_token"].as_str().expect("a token for the new session");
        assert_eq!(app.get("/api/v1/me", Some(&member.token)).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.get("/api/v1/me", Some(fresh)).await.status(), StatusCode::OK);
        assert_eq!(app.login(&member.email, "a brand new passphrase").await.status(), StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn access_tokens_carry_the_organisations_public_uuid_and_no_internal_id() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("claims@acme.example", "Acme", "sme").await;
        let internal = app.org_of(&member.email).await.0;
        let payload = member.token.split('.').nth(1).expect("a JWT");
        let claims: Value = {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url");
            serde_json::from_slice(&bytes).expect("claims")
        };
        let org = claims["org"].as_str().expect("the organisation as a string");
        assert!(uuid::Uuid::parse_str(org).is_ok_and(|u| u.get_version_num() == 4), "{claims}");
        assert!(uuid::Uuid::parse_str(claims["sub"].as_str().expect("sub")).is_ok());
        for (name, value) in claims.as_object().expect("claims") {
            if value.is_number() {
                assert!(["iat", "exp", "ver"].contains(&name.as_str()), "{name} = {value}");
            }
            if name != "ver" {
                assert_ne!(value.to_string(), internal.to_string(), "{name} is the internal id");
            }
        }
    })
    .await;
}

/// A login from the client at `address` (the test app trusts 127.0.0.1 as its proxy).
async fn login_from(app: &TestApp, address: &str, email: &str, password: &str) -> StatusCode {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", address)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("sent")
        .status()
}

#[tokio::test]
async fn failures_from_another_client_never_lock_the_owner_out() {
    for backend in crate::helpers::backends() {
        let app = spawn_app_with(backend, |s| s.trusted_proxies = vec!["127.0.0.1".parse().expect("address")]).await;
        let member = app.member("target@acme.example", "Acme", "sme").await;
        let mut tried = 0;
        for _ in 0..50 {
            match login_from(&app, "198.51.100.66", &member.email, "guessing the password").await {
                StatusCode::UNAUTHORIZED => tried += 1,
                status => assert_eq!(status, StatusCode::TOO_MANY_REQUESTS),
            }
        }
        assert_eq!(tried, 5, "{backend:?}: a handful of tries at one account from one client");
        let right = login_from(&app, "198.51.100.66", &member.email, PASSWORD).await;
        assert_eq!(right, StatusCode::TOO_MANY_REQUESTS, "even the right password waits on that client");
        // Fifty more failures at the account, each from another client.
        for i in 0..50 {
            let status = login_from(&app, &format!("203.0.113.{i}"), &member.email, "guessing the password").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{backend:?}: client {i}");
        }
        assert_eq!(login_from(&app, "192.0.2.10", &member.email, PASSWORD).await, StatusCode::OK, "{backend:?}");
        crate::helpers::drop_database(backend, &app.settings.database_url).await;
    }
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    on_every_backend(async |app: TestApp| {
        // No proxy is trusted: a client that makes up a new address per request is still one
        // client.
        let member = app.member("spoof@acme.example", "Acme", "sme").await;
        let mut tried = 0;
        for i in 0..20 {
            let address = format!("198.51.100.{i}");
            if login_from(&app, &address, &member.email, "guessing the password").await == StatusCode::UNAUTHORIZED {
                tried += 1;
            }
        }
        assert_eq!(tried, 5);
    })
    .await;
}

#[tokio::test]
async fn one_client_cannot_spray_many_accounts() {
    for backend in crate::helpers::backends() {
        let app = spawn_app_with(backend, |s| s.limits.client_failures = 8).await;
        let mut tried = 0;
        for i in 0..20 {
            if app.login(&format!("user{i}@acme.example"), "guessing the password").await.status()
                == StatusCode::UNAUTHORIZED
            {
                tried += 1;
            }
        }
        assert_eq!(tried, 8, "{backend:?}");
        crate::helpers::drop_database(backend, &app.settings.database_url).await;
    }
}

#[tokio::test]
async fn guesses_sent_at_the_same_moment_are_counted_too() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("parallel@acme.example", "Acme", "sme").await;
        let mut guesses = tokio::task::JoinSet::new();
        for i in 0..30 {
            let (client, url, email) = (app.client.clone(), app.url("/api/v1/auth/login"), member.email.clone());
            guesses.spawn(async move {
                let body = json!({"email": email, "password": format!("guess number {i:02}")});
                client.post(url).json(&body).send().await.expect("sent").status()
            });
        }
        let mut tried = 0;
        while let Some(status) = guesses.join_next().await {
            match status.expect("task") {
                StatusCode::UNAUTHORIZED => tried += 1,
                other => assert_eq!(other, StatusCode::TOO_MANY_REQUESTS),
            }
        }
        assert_eq!(tried, 5, "no more than a handful, however they are sent");
    })
    .await;
}

#[tokio::test]
async fn two_first_sign_ups_at_once_leave_one_account_and_one_working_link() {
    on_every_backend(async |app: TestApp| {
        let email = "twice@acme.example";
        let (first, second) = tokio::join!(
            app.register_with(email, "the first passphrase", "First", "sme"),
            app.register_with(email, "the second passphrase", "Second", "sme"),
        );
        assert_eq!((first.status(), second.status()), (StatusCode::CREATED, StatusCode::CREATED));
        let links = app.link_tokens(email, "verify?token=").await;
        assert_eq!(links.len(), 2);
        let mut verified = 0;
        for link in &links {
            for password in ["the first passphrase", "the second passphrase"] {
                if app.verify(link, password).await.status() == StatusCode::OK {
                    verified += 1;
                }
            }
        }
        assert_eq!(verified, 1, "only the later sign-up's link, with its own password");
    })
    .await;
}

#[tokio::test]
async fn a_reset_link_used_twice_at_once_sets_one_password() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("race@acme.example", "Acme", "sme").await;
        app.post("/api/v1/auth/password-reset", &json!({"email": member.email}), None).await;
        let token = app.link_tokens(&member.email, "reset-password?token=").await.pop().expect("a link");
        let confirm = |password: &str| json!({"token": token, "password": password});
        let (one, two) = (confirm("the first new passphrase"), confirm("the second new passphrase"));
        let (first, second) = tokio::join!(
            app.post("/api/v1/auth/password-reset/confirm", &one, None),
            app.post("/api/v1/auth/password-reset/confirm", &two, None),
        );
        let mut statuses = [first.status(), second.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::UNPROCESSABLE_ENTITY]);
        let logins = [
            app.login(&member.email, "the first new passphrase").await.status(),
            app.login(&member.email, "the second new passphrase").await.status(),
        ];
        assert_eq!(logins.iter().filter(|s| **s == StatusCode::OK).count(), 1);
    })
    .await;
}

#[tokio::test]
async fn strangers_cannot_use_up_the_owners_reset_requests() {
    for backend in crate::helpers::backends() {
        let app = spawn_app_with(backend, |s| s.trusted_proxies = vec!["127.0.0.1".parse().expect("address")]).await;
        let member = app.member("busy@acme.example", "Acme", "sme").await;
        let ask = async |address: &str| {
            app.client
                .post(app.url("/api/v1/auth/password-reset"))
                .header("x-forwarded-for", address)
                .json(&json!({"email": member.email}))
                .send()
                .await
                .expect("sent")
                .status()
        };
        for _ in 0..12 {
            assert_eq!(ask("198.51.100.66").await, StatusCode::ACCEPTED, "{backend:?}: the answer never changes");
        }
        let sent_to_stranger = app.link_tokens(&member.email, "reset-password?token=").await.len();
        assert_eq!(sent_to_stranger, 5, "{backend:?}: one client gets five links sent per window");
        assert_eq!(ask("192.0.2.10").await, StatusCode::ACCEPTED);
        let links = app.link_tokens(&member.email, "reset-password?token=").await;
        assert_eq!(links.len(), 6, "{backend:?}: the owner's own request still sends a link");
        crate::helpers::drop_database(backend, &app.settings.database_url).await;
    }
}
