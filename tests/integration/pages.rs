//! Server-rendered pages: language, assets, and the email verification page with its CSRF
//! protection.

use reqwest::StatusCode;

use crate::helpers::{TestApp, on_every_backend};

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
        assert!(html.contains("<form method=\"post\" action=\"/verify\">"));
        let csrf = hidden_input(&html, "csrf_token");
        assert_eq!(hidden_input(&html, "token"), token);
        // Opening the link alone verifies nothing.
        assert_eq!(app.login("ann@acme.example", "a long enough password").await.status(), StatusCode::FORBIDDEN);

        let post = |cookie: Option<String>, csrf: String| {
            let mut request =
                app.client.post(app.url("/verify")).form(&[("token", token.as_str()), ("csrf_token", &csrf)]);
            if let Some(cookie) = cookie {
                request = request.header("cookie", cookie);
            }
            request.send()
        };
        let forged = post(None, csrf.clone()).await.expect("sent");
        assert_eq!(forged.status(), StatusCode::FORBIDDEN, "no cookie, no verification");
        let wrong = post(Some(cookie.clone()), "0".repeat(64)).await.expect("sent");
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN, "a token that is not the cookie's");
        assert_eq!(app.login("ann@acme.example", "a long enough password").await.status(), StatusCode::FORBIDDEN);

        let confirmed = post(Some(cookie.clone()), csrf.clone()).await.expect("sent");
        assert_eq!(confirmed.status(), StatusCode::OK);
        assert!(confirmed.text().await.expect("html").contains("Your email is confirmed"));
        assert_eq!(app.login("ann@acme.example", "a long enough password").await.status(), StatusCode::OK);
        let again = post(Some(cookie), csrf).await.expect("sent");
        assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY, "single use");
    })
    .await;
}
