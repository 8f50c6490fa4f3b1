//! Registration, verification, login and access tokens.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, on_every_backend};

async fn error_fields(response: reqwest::Response) -> Vec<String> {
    let body: Value = response.json().await.expect("json");
    let mut fields: Vec<String> =
        body["error"]["fields"].as_object().map(|f| f.keys().cloned().collect()).unwrap_or_default();
    fields.sort();
    fields
}

#[tokio::test]
async fn an_organisation_registers_verifies_its_email_and_logs_in() {
    on_every_backend(async |app: TestApp| {
        let registered = app.register("ann@acme.example", "Acme Health", "sme").await;
        assert_eq!(registered.status(), StatusCode::CREATED);
        let before = app.login("ann@acme.example", PASSWORD).await;
        assert_eq!(before.status(), StatusCode::FORBIDDEN);
        let body: Value = before.json().await.expect("json");
        assert_eq!(body["error"]["code"], "email_not_verified");

        let token = app.verification_token("ann@acme.example").await;
        assert_eq!(token.len(), 64, "a 256-bit token");
        let verified = app.verify(&token, PASSWORD).await;
        assert_eq!(verified.status(), StatusCode::OK);
        let again = app.verify(&token, PASSWORD).await;
        assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY, "tokens are single-use");

        let login = app.login("ANN@acme.example", PASSWORD).await;
        assert_eq!(login.status(), StatusCode::OK);
        let body: Value = login.json().await.expect("json");
        assert_eq!(body["token_type"], "Bearer");
        assert!(body["expires_in"].as_i64().is_some_and(|s| s > 0));
        let token = body["access_token"].as_str().expect("token");
        let me: Value = app.get("/api/v1/me", Some(token)).await.json().await.expect("json");
        assert_eq!(me["organisation"]["name"], "Acme Health");
        assert_eq!(me["account"]["email"], "ann@acme.example");
    })
    .await;
}

#[tokio::test]
async fn bad_registrations_get_field_errors_and_store_nothing() {
    on_every_backend(async |app: TestApp| {
        let good =
            json!({"email": "bo@acme.example", "password": PASSWORD, "organisation_name": "Acme", "kind": "sme"});
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (json!({"email": "not-an-email"}), vec!["email"]),
            (json!({"password": "short"}), vec!["password"]),
            (json!({"organisation_name": " "}), vec!["organisation_name"]),
            (json!({"kind": "hospital"}), vec!["kind"]),
            (json!({"email": "x", "kind": "y", "password": "z"}), vec!["email", "kind", "password"]),
        ];
        for (change, fields) in cases {
            let mut body = good.clone();
            for (key, value) in change.as_object().expect("object") {
                body[key] = value.clone();
            }
            let response = app.post("/api/v1/auth/register", &body, None).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(error_fields(response).await, fields, "{body}");
        }
        let missing = app.post("/api/v1/auth/register", &json!({"email": "bo@acme.example"}), None).await;
        assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!error_fields(missing).await.is_empty());
        assert_eq!(app.store.pending_emails().await.expect("count"), 0, "nothing was queued");
        // Nothing was stored: the address is still free.
        assert_eq!(app.post("/api/v1/auth/register", &good, None).await.status(), StatusCode::CREATED);
        assert!(!app.verification_token("bo@acme.example").await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn registering_a_known_email_answers_as_for_a_new_one() {
    on_every_backend(async |app: TestApp| {
        let first = app.register("cy@acme.example", "Acme", "sme").await;
        let (first_status, first_body) = (first.status(), first.text().await.expect("body"));
        let token = app.verification_token("cy@acme.example").await;
        assert_eq!(app.verify(&token, PASSWORD).await.status(), StatusCode::OK);
        let second = app.register("cy@acme.example", "Someone Else", "academic").await;
        assert_eq!(second.status(), first_status);
        assert_eq!(second.text().await.expect("body"), first_body);
        app.deliver_emails().await;
        let emails = app.emails_to("cy@acme.example");
        assert_eq!(emails.len(), 2, "a verification email, then a notice to the owner");
        assert!(emails.iter().any(|e| e.contains("already has one")));
        let me = app.login("cy@acme.example", PASSWORD).await;
        assert_eq!(me.status(), StatusCode::OK, "the verified account is untouched");
    })
    .await;
}

#[tokio::test]
async fn login_does_not_say_whether_an_email_is_known() {
    on_every_backend(async |app: TestApp| {
        app.member("di@acme.example", "Acme", "sme").await;
        let wrong_password = app.login("di@acme.example", "not the password at all").await;
        let unknown = app.login("nobody@acme.example", "not the password at all").await;
        assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(wrong_password.text().await.expect("body"), unknown.text().await.expect("body"));
    })
    .await;
}

#[tokio::test]
async fn repeated_failed_logins_are_answered_429() {
    on_every_backend(async |app: TestApp| {
        app.member("ed@acme.example", "Acme", "sme").await;
        for _ in 0..5 {
            assert_eq!(app.login("ed@acme.example", "wrong password here").await.status(), StatusCode::UNAUTHORIZED);
        }
        let blocked = app.login("ed@acme.example", PASSWORD).await;
        assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    })
    .await;
}

#[tokio::test]
async fn an_expired_verification_link_is_refused() {
    on_every_backend(async |app: TestApp| {
        app.register("fi@acme.example", "Acme", "sme").await;
        let token = app.verification_token("fi@acme.example").await;
        let later = chrono::Utc::now() + chrono::Duration::hours(49);
        let hash = server::auth::token_hash(&token);
        let verification =
            app.store.complete_verification(&hash, store::accounts::Role::Member, later).await.expect("store");
        assert_eq!(verification, store::accounts::TokenUse::Invalid);
        let unknown = app.verify("00ff", PASSWORD).await;
        assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    })
    .await;
}

fn forge(claims: &Value, key: &[u8]) -> String {
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_secret(key)).expect("encodes")
}

#[tokio::test]
async fn tampered_expired_and_unsigned_tokens_are_401() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("gu@acme.example", "Acme", "sme").await;
        assert_eq!(app.get("/api/v1/me", Some(&member.token)).await.status(), StatusCode::OK);
        let parts: Vec<&str> = member.token.split('.').collect();
        let payload = String::from_utf8(base64_url_decode(parts[1])).expect("utf-8");
        let claims: Value = serde_json::from_str(&payload).expect("claims");
        let now = chrono::Utc::now().timestamp();
        let secret = b"test-secret-test-secret-test-secret-0123";
        let mut expired = claims.clone();
        expired["exp"] = json!(now - 10);
        let mut other_audience = claims.clone();
        other_audience["aud"] = json!("someone-else");
        let unsigned = format!("{}.{}.", base64_url_encode(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
        let mut changed = claims.clone();
        changed["sub"] = json!(uuid::Uuid::new_v4().to_string());
        let changed_payload =
            format!("{}.{}.{}", parts[0], base64_url_encode(changed.to_string().as_bytes()), parts[2]);
        let tokens = [
            ("expired", forge(&expired, secret)),
            ("wrong key", forge(&claims, b"another-secret-another-secret-another-secret")),
            ("wrong audience", forge(&other_audience, secret)),
            ("alg none", unsigned),
            ("changed payload", changed_payload),
            ("garbage", "not.a.token".to_owned()),
        ];
        // A token that names another organisation than its account's.
        let mut other_org = claims.clone();
        other_org["org"] = json!(uuid::Uuid::new_v4().to_string());
        let mut old_session = claims.clone();
        old_session["ver"] = json!(claims["ver"].as_i64().expect("a session version") - 1);
        let tokens = tokens.into_iter().chain([
            ("another organisation", forge(&other_org, secret)),
            ("an earlier session", forge(&old_session, secret)),
        ]);
        for (name, token) in tokens {
            let response = app.get("/api/v1/me", Some(&token)).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        }
        assert_eq!(app.get("/api/v1/me", None).await.status(), StatusCode::UNAUTHORIZED, "no token");
    })
    .await;
}

fn base64_url_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn base64_url_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

#[tokio::test]
async fn every_member_endpoint_requires_a_valid_token() {
    on_every_backend(async |app: TestApp| {
        let id = uuid::Uuid::new_v4();
        let body = json!({});
        let requests = [
            ("GET", "/api/v1/me".to_owned()),
            ("PUT", "/api/v1/me/profile".to_owned()),
            ("GET", "/api/v1/me/answers".to_owned()),
            ("PUT", "/api/v1/me/answers".to_owned()),
            ("GET", "/api/v1/matches".to_owned()),
            ("GET", format!("/api/v1/matches/{id}")),
            ("POST", format!("/api/v1/matches/{id}/reveal")),
            ("POST", format!("/api/v1/matches/{id}/decline")),
            ("POST", format!("/api/v1/matches/{id}/outcome")),
            ("PUT", "/api/v1/me/password".to_owned()),
        ];
        for token in [None, Some("not-a-token")] {
            for (method, path) in &requests {
                let mut request = match *method {
                    "GET" => app.client.get(app.url(path)),
                    "PUT" => app.client.put(app.url(path)).json(&body),
                    _ => app.client.post(app.url(path)).json(&body),
                };
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                let response = request.send().await.expect("sent");
                assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method} {path} with {token:?}");
            }
        }
    })
    .await;
}
