//! Server-rendered pages: language, assets, and the email verification page with its CSRF
//! protection.

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, on_every_backend};

fn hidden_input(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).map(|i| i + marker.len()).unwrap_or_else(|| panic!("{name} in {html}"));
    html[start..].chars().take_while(|c| *c != '"').collect()
}

#[tokio::test]
async fn pages_declare_their_language_and_use_matchwells_own_assets() {
    on_every_backend(async |app: TestApp| {
        let home = app.get("/", None).await;
        assert_eq!(home.status(), StatusCode::OK);
        assert!(home.headers().get("content-security-policy").is_some());
        let html = home.text().await.expect("html");
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains("href=\"/static/matchwell.css\""));
        assert!(!html.contains("http://") && !html.contains("https://"), "no third-party assets");
        let css = app.get("/static/matchwell.css", None).await;
        assert_eq!(css.status(), StatusCode::OK);
        assert!(css.headers()["content-type"].to_str().is_ok_and(|t| t.starts_with("text/css")));
        // The NHS.UK frontend is served by Matchwell itself, and loads nothing from elsewhere
        // (its web font's @font-face rules were removed when it was vendored).
        for (path, kind) in [
            ("/static/nhsuk/nhsuk-frontend.min.css", "text/css"),
            ("/static/nhsuk/nhsuk-frontend.min.js", "text/javascript"),
            ("/static/matchwell.mjs", "text/javascript"),
            ("/static/nhsuk/images/nhsuk-icon-cross.svg", "image/svg+xml"),
        ] {
            assert!(html.contains(path) || !path.contains("frontend.min.css"), "{path} is linked");
            let asset = app.get(path, None).await;
            assert_eq!(asset.status(), StatusCode::OK, "{path}");
            assert!(asset.headers()["content-type"].to_str().is_ok_and(|t| t.starts_with(kind)), "{path}");
            let body = asset.text().await.expect("text").replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
            assert!(!body.contains("https://") && !body.contains("http://"), "{path} loads nothing from another host");
        }
        assert_eq!(app.get("/static/../Cargo.toml", None).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(app.get("/static/nhsuk/VENDORED.md", None).await.status(), StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn the_emailed_link_confirms_the_address_after_one_click() {
    on_every_backend(async |app: TestApp| {
        app.register("ann@acme.example", "Acme", "sme").await;
        let token = app.verification_token("ann@acme.example").await;
        let page = app.get(&format!("/verify?token={token}"), None).await;
        assert_eq!(page.status(), StatusCode::OK);
        let cookie = page.headers()["set-cookie"].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
        assert!(
            page.headers()["set-cookie"]
                .to_str()
                .is_ok_and(|c| c.contains("HttpOnly") && c.contains("SameSite=Strict"))
        );
        let html = page.text().await.expect("html");
        assert!(html.contains("<form method=\"post\" action=\"/verify\" novalidate>"));
        assert!(html.contains("id=\"password\" name=\"password\" type=\"password\""), "the page asks for the password");
        let csrf = hidden_input(&html, "csrf_token");
        assert_eq!(hidden_input(&html, "token"), token);
        // Opening the link alone verifies nothing.
        assert_eq!(app.login("ann@acme.example", PASSWORD).await.status(), StatusCode::FORBIDDEN);

        let post = |cookie: Option<String>, csrf: String| {
            let form = [("token", token.as_str()), ("password", PASSWORD), ("csrf_token", &csrf)];
            let mut request = app.client.post(app.url("/verify")).form(&form);
            if let Some(cookie) = cookie {
                request = request.header("cookie", cookie);
            }
            request.send()
        };
        let forged = post(None, csrf.clone()).await.expect("sent");
        assert_eq!(forged.status(), StatusCode::FORBIDDEN, "no cookie, no verification");
        let wrong = post(Some(cookie.clone()), "0".repeat(64)).await.expect("sent");
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN, "a token that is not the cookie's");
        assert_eq!(app.login("ann@acme.example", PASSWORD).await.status(), StatusCode::FORBIDDEN);

        let confirmed = post(Some(cookie.clone()), csrf.clone()).await.expect("sent");
        assert_eq!(confirmed.status(), StatusCode::OK);
        assert!(confirmed.text().await.expect("html").contains("Your email is confirmed"));
        assert_eq!(app.login("ann@acme.example", PASSWORD).await.status(), StatusCode::OK);
        let again = post(Some(cookie), csrf).await.expect("sent");
        assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY, "single use");
    })
    .await;
}

/// Posts a page's form back with its CSRF cookie and token, plus `fields`.
async fn submit(app: &TestApp, path: &str, action: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let page = app.get(path, None).await;
    let cookie = page.headers()["set-cookie"].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
    let html = page.text().await.expect("html");
    let csrf = hidden_input(&html, "csrf_token");
    let token = hidden_input(&html, "token");
    let mut form: Vec<(&str, &str)> = vec![("csrf_token", &csrf), ("token", &token)];
    form.extend_from_slice(fields);
    app.client.post(app.url(action)).header("cookie", cookie).form(&form).send().await.expect("sent")
}

#[tokio::test]
async fn the_verify_page_asks_for_the_password_and_signing_up_again_works_as_it_says() {
    on_every_backend(async |app: TestApp| {
        app.register_with("ann@acme.example", "the stranger's passphrase", "Stranger", "sme").await;
        let strangers = app.verification_token("ann@acme.example").await;
        let wrong = submit(&app, &format!("/verify?token={strangers}"), "/verify", &[("password", PASSWORD)]).await;
        assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = wrong.text().await.expect("html");
        assert!(html.contains("not the password chosen") && html.contains("sign up yourself"), "{html}");
        // The owner signs up again, as the page says; the earlier link now says so too.
        app.register("ann@acme.example", "Acme", "sme").await;
        let owners = app.verification_token("ann@acme.example").await;
        let stale = submit(
            &app,
            &format!("/verify?token={strangers}"),
            "/verify",
            &[("password", "the stranger's passphrase")],
        )
        .await;
        assert_eq!(stale.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(stale.text().await.expect("html").contains("Sign up again"));
        let done = submit(&app, &format!("/verify?token={owners}"), "/verify", &[("password", PASSWORD)]).await;
        assert_eq!(done.status(), StatusCode::OK);
        assert!(done.text().await.expect("html").contains("Your email is confirmed"));
        assert_eq!(app.login("ann@acme.example", PASSWORD).await.status(), StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn the_emailed_reset_link_opens_a_page_that_sets_the_password() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("ann@acme.example", "Acme", "sme").await;
        app.post("/api/v1/auth/password-reset", &serde_json::json!({"email": member.email}), None).await;
        let token = app.link_tokens(&member.email, "reset-password?token=").await.pop().expect("a reset link");
        let page = format!("/reset-password?token={token}");
        let short = submit(&app, &page, "/reset-password", &[("password", "short")]).await;
        assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(short.text().await.expect("html").contains("at least 10 characters"));
        let done = submit(&app, &page, "/reset-password", &[("password", "a brand new passphrase")]).await;
        assert_eq!(done.status(), StatusCode::OK);
        assert_eq!(app.get("/api/v1/me", Some(&member.token)).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.login(&member.email, "a brand new passphrase").await.status(), StatusCode::OK);
        let again = submit(&app, &page, "/reset-password", &[("password", "another passphrase")]).await;
        assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY, "single use");
    })
    .await;
}
