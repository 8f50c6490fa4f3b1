//! The web app over HTTP, as a browser without JavaScript uses it: cookie sessions, forms with
//! CSRF tokens, rejected forms that keep what was typed, and the pages of matches. (The same
//! flows in a real browser are in `browser.rs`.)

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Member, PASSWORD, TestApp, answers, on_every_backend};

/// A browser without JavaScript: keeps cookies, follows redirects itself, and fills in forms
/// with the CSRF token of the page they are on.
pub struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookies: HashMap<String, String>,
    /// `Set-Cookie` headers seen, for checking their attributes.
    pub set_cookies: Vec<String>,
}

/// A page as the browser got it.
pub struct Visit {
    pub status: StatusCode,
    /// Where it ended after redirects.
    pub path: String,
    pub html: String,
}

impl Visit {
    /// The value of the hidden input `name`.
    pub fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start =
            self.html.find(&marker).map(|i| i + marker.len()).unwrap_or_else(|| panic!("{name} in {}", self.html));
        self.html[start..].chars().take_while(|c| *c != '"').collect()
    }
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Browser<'a> {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Browser { app, client, cookies: HashMap::new(), set_cookies: Vec::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub fn cookie(&self, name: &str) -> Option<&String> {
        self.cookies.get(name)
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    async fn send(&mut self, mut request: reqwest::RequestBuilder) -> Visit {
        let mut redirects = 0;
        loop {
            let response = request.header("cookie", self.cookie_header()).send().await.expect("request sent");
            for header in response.headers().get_all("set-cookie") {
                let header = header.to_str().expect("ascii").to_owned();
                let pair = header.split(';').next().expect("pair");
                let (name, value) = pair.split_once('=').expect("name=value");
                if value.is_empty() || header.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
                self.set_cookies.push(header);
            }
            let status = response.status();
            if status.is_redirection() && redirects < 10 {
                redirects += 1;
                let location = response.headers()["location"].to_str().expect("location").to_owned();
                assert!(location.starts_with('/'), "redirects stay on the site: {location}");
                request = self.client.get(self.app.url(&location));
                continue;
            }
            let path = response.url().path().to_owned();
            let html = response.text().await.expect("body");
            return Visit { status, path, html };
        }
    }

    pub async fn get(&mut self, path: &str) -> Visit {
        let request = self.client.get(self.app.url(path));
        self.send(request).await
    }

    /// Posts `fields` to `action` with the CSRF token of `page`.
    pub async fn post(&mut self, page: &Visit, action: &str, fields: &[(&str, &str)]) -> Visit {
        let csrf = page.hidden("csrf_token");
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", &csrf)];
        form.extend_from_slice(fields);
        let request = self.client.post(self.app.url(action)).form(&form);
        self.send(request).await
    }

    /// Logs in through the form.
    pub async fn log_in(&mut self, email: &str) -> Visit {
        let page = self.get("/login").await;
        self.post(&page, "/login", &[("email", email), ("password", PASSWORD), ("next", "/matches")]).await
    }
}

#[tokio::test]
async fn signing_up_confirming_and_logging_in_through_the_forms() {
    on_every_backend(async |app: TestApp| {
        let mut browser = Browser::new(&app);
        let form = browser.get("/register").await;
        assert_eq!(form.status, StatusCode::OK);
        let fields = [
            ("organisation_name", "Acme Sensors"),
            ("kind", "sme"),
            ("email", "ann@acme.example"),
            ("password", PASSWORD),
        ];
        let sent = browser.post(&form, "/register", &fields).await;
        assert_eq!(sent.status, StatusCode::OK);
        assert!(sent.html.contains("Check your email"), "{}", sent.html);

        let token = app.verification_token("ann@acme.example").await;
        let link = browser.get(&format!("/verify?token={token}")).await;
        let confirmed = browser.post(&link, "/verify", &[("token", &token), ("password", PASSWORD)]).await;
        assert!(confirmed.html.contains("Your email is confirmed"));

        // A page for members sends a visitor to log in, and back afterwards.
        let matches = browser.get("/matches").await;
        assert_eq!(matches.path, "/login");
        assert_eq!(matches.hidden("next"), "/matches");
        let logged_in = browser
            .post(&matches, "/login", &[("email", "ann@acme.example"), ("password", PASSWORD), ("next", "/matches")])
            .await;
        assert_eq!((logged_in.status, logged_in.path.as_str()), (StatusCode::OK, "/matches"));
        assert!(logged_in.html.contains("Your matches") && logged_in.html.contains("Log out"));
    })
    .await;
}

#[tokio::test]
async fn session_cookies_are_http_only_lax_and_secure_behind_https() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("ann@acme.example", "Acme", "sme").await;
        let mut browser = Browser::new(&app);
        browser.log_in(&member.email).await;
        let session =
            browser.set_cookies.iter().find(|c| c.starts_with("matchwell_session=")).expect("a session cookie");
        assert!(
            session.contains("HttpOnly") && session.contains("SameSite=Lax") && session.contains("Path=/"),
            "{session}"
        );
        assert!(!session.contains("Secure"), "plain http in tests: {session}");
    })
    .await;
    let https = crate::helpers::spawn_app_with(crate::helpers::backends()[0], |s| {
        s.public_url = "https://matchwell.test".to_owned();
    })
    .await;
    let member = https.member("ann@acme.example", "Acme", "sme").await;
    let mut browser = Browser::new(&https);
    browser.log_in(&member.email).await;
    let session = browser.set_cookies.iter().find(|c| c.starts_with("matchwell_session=")).expect("a session cookie");
    assert!(session.contains("Secure"), "{session}");
}

#[tokio::test]
async fn logging_out_ends_the_session_on_the_server() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("ann@acme.example", "Acme", "sme").await;
        let mut browser = Browser::new(&app);
        let home = browser.log_in(&member.email).await;
        assert_eq!(home.path, "/matches");
        let copied = browser.cookie("matchwell_session").expect("session").clone();
        let out = browser.post(&home, "/logout", &[]).await;
        assert_eq!(out.path, "/login");
        assert!(browser.cookie("matchwell_session").is_none(), "the browser forgets the cookie");
        // The copied cookie no longer opens anything.
        let mut thief = Browser::new(&app);
        thief.set_cookie("matchwell_session", &copied);
        assert_eq!(thief.get("/matches").await.path, "/login");
        // Logging out needs the page's CSRF token.
        let mut again = Browser::new(&app);
        again.log_in(&member.email).await;
        let forged = again
            .client
            .post(app.url("/logout"))
            .header("cookie", again.cookie_header())
            .form(&[("csrf_token", "x")])
            .send()
            .await
            .expect("sent");
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        assert_eq!(again.get("/matches").await.path, "/matches", "still logged in");
    })
    .await;
}

#[tokio::test]
async fn a_password_reset_ends_every_web_session() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("ann@acme.example", "Acme", "sme").await;
        let mut browser = Browser::new(&app);
        browser.log_in(&member.email).await;
        assert_eq!(browser.get("/matches").await.path, "/matches");
        let forgot = browser.get("/forgot-password").await;
        let sent = browser.post(&forgot, "/forgot-password", &[("email", &member.email), ("purpose", "reset")]).await;
        assert!(sent.html.contains("Check your email"));
        let token = app.link_tokens(&member.email, "reset-password?token=").await.pop().expect("a reset link");
        let mut other = Browser::new(&app);
        let page = other.get(&format!("/reset-password?token={token}")).await;
        let done =
            other.post(&page, "/reset-password", &[("token", &token), ("password", "a brand new passphrase")]).await;
        assert!(done.html.contains("Your password is changed"));
        assert_eq!(browser.get("/matches").await.path, "/login", "the earlier session ended");
    })
    .await;
}

#[tokio::test]
async fn a_rejected_form_keeps_what_was_typed_and_says_what_to_fix() {
    on_every_backend(async |app: TestApp| {
        let mut browser = Browser::new(&app);
        let form = browser.get("/register").await;
        let fields = [
            ("organisation_name", "Acme <Sensors>"),
            ("kind", "sme"),
            ("email", "not an address"),
            ("password", "short"),
        ];
        let rejected = browser.post(&form, "/register", &fields).await;
        assert_eq!(rejected.status, StatusCode::UNPROCESSABLE_ENTITY);
        let html = &rejected.html;
        assert!(html.contains("<title>Error: "), "the title says there is an error");
        // One error summary, at the top, linking to each field in the form's order.
        assert_eq!(html.matches("class=\"nhsuk-error-summary\"").count(), 1);
        let summary = html.find("nhsuk-error-summary").expect("summary");
        assert!(summary < html.find("<form").expect("form"));
        let (email, password) = (
            html.find("href=\"#email\"").expect("email link"),
            html.find("href=\"#password\"").expect("password link"),
        );
        assert!(email < password);
        // Inline errors, tied to their fields.
        assert!(html.contains("id=\"email-error\"") && html.contains("aria-describedby=\"email-hint email-error\""));
        assert!(html.contains("id=\"password-error\""));
        // What was typed is kept (escaped), except the password; the radio stays chosen.
        assert!(
            html.contains("value=\"Acme &#60;Sensors&#62;\"") || html.contains("value=\"Acme &lt;Sensors&gt;\""),
            "{html}"
        );
        assert!(html.contains("value=\"not an address\""));
        assert!(!html.contains("value=\"short\""));
        assert!(html.contains("value=\"sme\" checked"));
        assert!(
            app.store
                .account_by_email(&domain::EmailAddress::parse("ann@acme.example").expect("email"))
                .await
                .expect("store")
                .is_none()
        );
        // Corrected, it goes through.
        let fixed = browser
            .post(
                &rejected,
                "/register",
                &[
                    ("organisation_name", "Acme Sensors"),
                    ("kind", "sme"),
                    ("email", "ann@acme.example"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(fixed.status, StatusCode::OK);
        assert!(fixed.html.contains("Check your email"));
    })
    .await;
}

#[tokio::test]
async fn logging_in_goes_back_only_to_pages_of_this_site() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("ann@acme.example", "Acme", "sme").await;
        for next in ["https://evil.example/", "//evil.example/", "/\\evil.example"] {
            let mut browser = Browser::new(&app);
            let page = browser.get(&format!("/login?next={}", next.replace('/', "%2F"))).await;
            let done = browser
                .post(&page, "/login", &[("email", &member.email), ("password", PASSWORD), ("next", next)])
                .await;
            assert_eq!(done.path, "/matches", "{next}");
        }
        let mut browser = Browser::new(&app);
        let wrong = browser.get("/login").await;
        let refused =
            browser.post(&wrong, "/login", &[("email", &member.email), ("password", "not the password")]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            refused.html.contains("href=\"#email\"") && refused.html.contains(&format!("value=\"{}\"", member.email))
        );
        assert!(browser.cookie("matchwell_session").is_none());
    })
    .await;
}

/// Two organisations matched with each other, each logged in with a browser.
async fn matched_pair(app: &TestApp) -> (Member, Member, String) {
    let a = app.member("ann@acme-secret.example", "Acme Secret Ltd", "sme").await;
    let b = app.member("bo@trust.example", "Riverside NHS Trust", "health_org").await;
    let profile = json!({
        "website": "https://acme-secret.example/about",
        "description": "Acme's confidential plans",
        "anonymous_summary": "A small team with a falls-prevention device",
        "sectors": ["ageing_frailty"],
        "capabilities_offered": ["engineering_prototyping"],
        "capabilities_sought": ["clinical_evaluation"],
    });
    assert_eq!(app.put("/api/v1/me/profile", &profile, &a.token).await.status(), StatusCode::OK);
    let trust = json!({"sectors": ["ageing_frailty"], "capabilities_offered": ["clinical_evaluation"]});
    assert_eq!(app.put("/api/v1/me/profile", &trust, &b.token).await.status(), StatusCode::OK);
    for member in [&a, &b] {
        assert_eq!(
            app.put("/api/v1/me/answers", &answers(|_, _| 0, "very"), &member.token).await.status(),
            StatusCode::OK
        );
    }
    app.score().await;
    let views = app.store.matches_for(app.org_of(&a.email).await).await.expect("store");
    let id = views.first().expect("a match").id.clone();
    (a, b, id)
}

#[tokio::test]
async fn match_pages_show_the_chart_and_reasons_and_no_identity_before_a_reveal() {
    on_every_backend(async |app: TestApp| {
        let (a, b, id) = matched_pair(&app).await;
        let mut trust = Browser::new(&app);
        let list = trust.log_in(&b.email).await;
        assert!(list.html.contains(&format!("href=\"/matches/{id}\"")));
        let page = trust.get(&format!("/matches/{id}")).await;
        assert_eq!(page.status, StatusCode::OK);
        for html in [&list.html, &page.html] {
            // The chart: server-drawn SVG with a text alternative.
            assert!(html.contains("<svg class=\"mw-chart\"") && html.contains("role=\"img\""));
            assert!(html.contains("<title id=\"") && html.contains("<desc id=\""));
            // Nothing of the SME's identity before it reveals itself.
            for secret in ["Acme Secret", "acme-secret", "confidential plans", a.email.as_str()] {
                assert!(!html.contains(secret), "{secret} leaked before a reveal");
            }
        }
        assert!(page.html.contains("A small team with a falls-prevention device"), "the anonymous summary is shown");
        // Revealing asks first, and says that it cannot be undone.
        let confirm = trust.get(&format!("/matches/{id}/reveal")).await;
        assert!(confirm.html.contains("This cannot be undone"));
        let forged = trust
            .client
            .post(app.url(&format!("/matches/{id}/reveal")))
            .header("cookie", trust.cookie_header())
            .form(&[("csrf_token", "0")])
            .send()
            .await
            .expect("sent");
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        let revealed = trust.post(&confirm, &format!("/matches/{id}/reveal"), &[]).await;
        assert!(revealed.html.contains("You revealed yourself"));

        // The SME still sees no name until it reveals too; then both are connected.
        let mut sme = Browser::new(&app);
        sme.log_in(&a.email).await;
        let seen = sme.get(&format!("/matches/{id}")).await;
        assert!(seen.html.contains("Riverside NHS Trust"), "the trust revealed itself");
        let confirm = sme.get(&format!("/matches/{id}/reveal")).await;
        assert!(confirm.html.contains("connected at once"));
        let connected = sme.post(&confirm, &format!("/matches/{id}/reveal"), &[]).await;
        assert!(connected.html.contains("You are connected"));
        let theirs = trust.get(&format!("/matches/{id}")).await;
        assert!(theirs.html.contains("Acme Secret Ltd") && theirs.html.contains("Connected"));

        // The outcome form: a bad value is refused beside the field; a good one is kept.
        let bad = trust.post(&theirs, &format!("/matches/{id}/outcome"), &[("outcome", "married")]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.html.contains("href=\"#outcome\"") && bad.html.contains("id=\"outcome-error\""));
        let good = trust.post(&theirs, &format!("/matches/{id}/outcome"), &[("outcome", "collaborating")]).await;
        assert!(
            good.html.contains("your outcome is recorded") && good.html.contains("value=\"collaborating\" checked")
        );
    })
    .await;
}

#[tokio::test]
async fn a_declined_match_leaves_the_list_and_other_members_matches_are_not_found() {
    on_every_backend(async |app: TestApp| {
        let (a, _b, id) = matched_pair(&app).await;
        let stranger = app.member("cy@elsewhere.example", "Elsewhere", "other").await;
        let mut outsider = Browser::new(&app);
        outsider.log_in(&stranger.email).await;
        for path in [format!("/matches/{id}"), format!("/matches/{id}/reveal"), "/matches/not-a-uuid".to_owned()] {
            let page = outsider.get(&path).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
            assert!(page.html.contains("Page not found") && !page.html.contains("Acme"));
        }
        let mut sme = Browser::new(&app);
        sme.log_in(&a.email).await;
        let page = sme.get(&format!("/matches/{id}")).await;
        let declined = sme.post(&page, &format!("/matches/{id}/decline"), &[]).await;
        assert_eq!(declined.path, "/matches");
        assert!(!declined.html.contains(&id));
        assert_eq!(sme.get(&format!("/matches/{id}")).await.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn every_link_in_the_account_and_match_emails_opens_a_page() {
    on_every_backend(async |app: TestApp| {
        let (a, b, id) = matched_pair(&app).await;
        app.register("ann@acme-secret.example", "Again", "sme").await; // the "already registered" notice
        app.post("/api/v1/auth/password-reset", &json!({"email": a.email}), None).await;
        app.post(&format!("/api/v1/matches/{id}/reveal"), &json!({}), Some(&a.token)).await;
        app.post(&format!("/api/v1/matches/{id}/reveal"), &json!({}), Some(&b.token)).await;
        app.deliver_emails().await;
        let mut links = Vec::new();
        for email in app.emails_to(&a.email).into_iter().chain(app.emails_to(&b.email)) {
            let mut rest = email.as_str();
            while let Some(start) = rest.find("http://matchwell.test/") {
                let link: String = rest[start + "http://matchwell.test".len()..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
                    .collect();
                rest = &rest[start + 10..];
                links.push(link.trim_end_matches(['.', ',', ')', '>']).to_owned());
            }
        }
        links.sort();
        links.dedup();
        for needed in ["/login", "/verify?token=", "/reset-password?token=", "/matches/"] {
            assert!(links.iter().any(|l| l.starts_with(needed)), "an email links to {needed}: {links:?}");
        }
        let mut browser = Browser::new(&app);
        browser.log_in(&a.email).await;
        for link in &links {
            let page = browser.get(link).await;
            assert_eq!(page.status, StatusCode::OK, "{link}");
            assert!(page.html.starts_with("<!doctype html>"), "{link} is a page");
        }
    })
    .await;
}

#[tokio::test]
async fn the_profile_page_saves_every_field_and_keeps_a_rejected_form() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("ann@acme.example", "Acme", "sme").await;
        let mut browser = Browser::new(&app);
        browser.log_in(&member.email).await;
        let page = browser.get("/profile").await;
        assert!(page.html.contains("Your profile") && page.html.contains("Acme"));
        let good = [
            ("anonymous_summary", "A small team with a falls-prevention device"),
            ("sectors", "ageing_frailty"),
            ("sectors", "mental_health"),
            ("capabilities_offered", "engineering_prototyping"),
            ("capabilities_sought", "clinical_evaluation"),
            ("seeking_kinds", "health_org"),
            ("region", "wales"),
            ("size_band", ""),
            ("innovation_stage", ""),
            ("website", "https://acme.example"),
            ("description", "Our private plans"),
        ];
        let saved = browser.post(&page, "/profile", &good).await;
        assert_eq!((saved.status, saved.path.as_str()), (StatusCode::OK, "/profile"));
        assert!(saved.html.contains("Your profile is saved"));
        for checked in [
            "value=\"ageing_frailty\" checked",
            "value=\"mental_health\" checked",
            "value=\"health_org\" checked",
            "value=\"wales\" selected",
        ] {
            assert!(saved.html.contains(checked), "{checked}");
        }
        let me: serde_json::Value = app.get("/api/v1/me", Some(&member.token)).await.json().await.expect("json");
        let mut sectors: Vec<String> = serde_json::from_value(me["profile"]["sectors"].clone()).expect("sectors");
        sectors.sort();
        assert_eq!(sectors, ["ageing_frailty", "mental_health"]);
        assert_eq!(me["profile"]["website"], "https://acme.example");
        assert_eq!(me["profile"]["seeking_kinds"], json!(["health_org"]));

        // A bad web address and a summary that names a website: both refused, nothing saved,
        // and what was typed is still there.
        let mut bad: Vec<(&str, &str)> = good.to_vec();
        bad.retain(|(k, _)| *k != "website" && *k != "anonymous_summary" && *k != "sectors");
        bad.push(("website", "ftp://acme"));
        bad.push(("anonymous_summary", "See www.acme.example for more"));
        bad.push(("sectors", "mental_health"));
        let rejected = browser.post(&saved, "/profile", &bad).await;
        assert_eq!(rejected.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(rejected.html.contains("href=\"#anonymous_summary\"") && rejected.html.contains("href=\"#website\""));
        assert!(
            rejected.html.contains("value=\"ftp://acme\"")
                && rejected.html.contains("See www.acme.example for more</textarea>")
        );
        assert!(
            rejected.html.contains("value=\"mental_health\" checked")
                && !rejected.html.contains("value=\"ageing_frailty\" checked")
        );
        let me: serde_json::Value = app.get("/api/v1/me", Some(&member.token)).await.json().await.expect("json");
        assert_eq!(me["profile"]["sectors"].as_array().map(Vec::len), Some(2), "nothing stored half-way");
    })
    .await;
}

/// The form fields that answer question `question` of the built-in questionnaire with its
/// first option, accepting it, with `importance`.
fn answer_fields(question: &domain::Question, importance: &'static str) -> Vec<(String, String)> {
    let option = question.options[0].id.clone();
    vec![
        (format!("{}.answer", question.id), option.clone()),
        (format!("{}.acceptable", question.id), option),
        (format!("{}.importance", question.id), importance.to_owned()),
    ]
}

#[tokio::test]
async fn the_questionnaire_is_answered_by_section_and_keeps_progress() {
    on_every_backend(async |app: TestApp| {
        let catalogue = domain::Catalogue::builtin().expect("catalogue");
        let sections = &catalogue.questionnaire.sections;
        let member = app.member("ann@acme.example", "Acme", "sme").await;
        let mut browser = Browser::new(&app);
        browser.log_in(&member.email).await;
        let overview = browser.get("/questionnaire").await;
        assert!(
            overview.html.contains(&format!("0 of {} questions answered", catalogue.questionnaire.question_count()))
        );

        // The first section, with only its first question answered: saved, then on to the next.
        let first = &sections[0];
        let page = browser.get(&format!("/questionnaire/{}", first.id)).await;
        assert!(page.html.contains(&first.questions[0].text));
        let fields = answer_fields(&first.questions[0], "very");
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let next = browser.post(&page, &format!("/questionnaire/{}", first.id), &fields).await;
        assert_eq!(next.path, format!("/questionnaire/{}", sections[1].id));

        // A question with an own answer and nothing acceptable is refused, beside it; nothing
        // of that section is stored.
        let second = &sections[1];
        let mut half = answer_fields(&second.questions[0], "somewhat");
        half.retain(|(k, _)| !k.ends_with(".acceptable"));
        half.extend(answer_fields(&second.questions[1], "mandatory"));
        let half: Vec<(&str, &str)> = half.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let rejected = browser.post(&next, &format!("/questionnaire/{}", second.id), &half).await;
        assert_eq!(rejected.status, StatusCode::UNPROCESSABLE_ENTITY);
        let field = format!("{}-acceptable", second.questions[0].id);
        assert!(
            rejected.html.contains(&format!("href=\"#{field}\""))
                && rejected.html.contains(&format!("id=\"{field}-error\"")),
            "{}",
            rejected.html
        );
        assert!(rejected.html.contains("value=\"mandatory\" checked"), "what was chosen is kept");
        let answers: serde_json::Value =
            app.get("/api/v1/me/answers", Some(&member.token)).await.json().await.expect("json");
        assert_eq!(answers["answers"].as_array().expect("answers").len(), 1);

        // Corrected, both sections are kept.
        let fields: Vec<(String, String)> =
            [answer_fields(&second.questions[0], "somewhat"), answer_fields(&second.questions[1], "mandatory")]
                .concat();
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        browser.post(&rejected, &format!("/questionnaire/{}", second.id), &fields).await;
        let answers: serde_json::Value =
            app.get("/api/v1/me/answers", Some(&member.token)).await.json().await.expect("json");
        let answers = answers["answers"].as_array().expect("answers");
        assert_eq!(answers.len(), 3);
        assert!(
            answers
                .iter()
                .any(|a| a["question_id"] == second.questions[1].id.as_str() && a["importance"] == "mandatory")
        );
        let overview = browser.get("/questionnaire").await;
        assert!(overview.html.contains("3 of"));
        // The section page shows the saved answers.
        let again = browser.get(&format!("/questionnaire/{}", first.id)).await;
        assert!(again.html.contains("value=\"very\" checked"));
    })
    .await;
}

#[tokio::test]
async fn two_sections_saved_at_the_same_moment_are_both_kept() {
    on_every_backend(async |app: TestApp| {
        let catalogue = domain::Catalogue::builtin().expect("catalogue");
        let sections = &catalogue.questionnaire.sections;
        let member = app.member("ann@acme.example", "Acme", "sme").await;
        let mut browser = Browser::new(&app);
        browser.log_in(&member.email).await;
        let page = browser.get("/questionnaire").await;
        let csrf = page.hidden("csrf_token");
        let cookie = browser.cookie_header();
        let post = |section: &domain::Section| {
            let mut fields: Vec<(String, String)> =
                section.questions.iter().flat_map(|q| answer_fields(q, "very")).collect();
            fields.push(("csrf_token".to_owned(), csrf.clone()));
            browser
                .client
                .post(app.url(&format!("/questionnaire/{}", section.id)))
                .header("cookie", cookie.clone())
                .form(&fields)
                .send()
        };
        let (a, b) = tokio::join!(post(&sections[0]), post(&sections[1]));
        assert_eq!(a.expect("sent").status(), StatusCode::SEE_OTHER);
        assert_eq!(b.expect("sent").status(), StatusCode::SEE_OTHER);
        let answers: serde_json::Value =
            app.get("/api/v1/me/answers", Some(&member.token)).await.json().await.expect("json");
        assert_eq!(
            answers["answers"].as_array().expect("answers").len(),
            sections[0].questions.len() + sections[1].questions.len()
        );
    })
    .await;
}

#[tokio::test]
async fn searching_and_asking_for_an_introduction_through_the_pages() {
    on_every_backend(async |app: TestApp| {
        let seeker = app.member("sam@seeker.example", "Seeker Devices Ltd", "sme").await;
        let trust = app.member("bo@trust-secret.example", "Riverside Secret Trust", "health_org").await;
        let other = app.member("cy@other.example", "Other Ltd", "sme").await;
        let profile = json!({
            "anonymous_summary": "We prevent falls among older people at home",
            "capabilities_offered": ["clinical_evaluation"],
            "website": "https://trust-secret.example",
            "description": "Riverside's private plans",
        });
        assert_eq!(app.put("/api/v1/me/profile", &profile, &trust.token).await.status(), StatusCode::OK);
        for member in [&seeker, &trust, &other] {
            app.put("/api/v1/me/answers", &answers(|_, _| 0, "very"), &member.token).await;
        }
        let mut browser = Browser::new(&app);
        browser.log_in(&seeker.email).await;
        let results = browser.get("/search?q=fall").await;
        assert_eq!(results.status, StatusCode::OK);
        assert!(results.html.contains("We prevent falls among older people at home"), "stemmed: fall finds falls");
        assert!(results.html.contains("<svg class=\"mw-chart\""));
        assert!(results.html.contains("value=\"fall\""), "the form keeps the search");
        // Filters apply to what cards show: among three members a card shows no kind, so a
        // kind filter finds nothing (and gives nothing away); the form keeps the choice.
        let filtered = browser.get("/search?q=fall&kind=health_org").await;
        assert!(filtered.html.contains("value=\"health_org\" selected"));
        for secret in ["Riverside", "trust-secret", "private plans", trust.email.as_str()] {
            assert!(!results.html.contains(secret), "{secret} leaked on a search card");
        }
        // A filter that is not a known value is an error beside its field.
        let bad = browser.get("/search?sector=atlantis").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.html.contains("href=\"#sector\""));

        // Ask for an introduction from the card.
        let action_start = results.html.find("action=\"/search/").expect("an ask button") + "action=\"".len();
        let action: String = results.html[action_start..].chars().take_while(|c| *c != '"').collect();
        let asked = browser.post(&results, &action, &[]).await;
        assert!(asked.path.starts_with("/matches/"), "{}", asked.path);
        assert!(asked.html.contains("You asked for an introduction"));
        let mut theirs = Browser::new(&app);
        let list = theirs.log_in(&trust.email).await;
        assert!(list.html.contains("They asked for an introduction"));
        assert!(!list.html.contains("Seeker Devices"), "the seeker is still anonymous");

        // The card's ref is the seeker's own: another member gets 404.
        let mut outsider = Browser::new(&app);
        let page = outsider.log_in(&other.email).await;
        let stolen = outsider.post(&page, &action, &[]).await;
        assert_eq!(stolen.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn a_challenge_posted_asked_about_responded_to_shortlisted_and_revealed_through_the_pages() {
    on_every_backend(async |app: TestApp| {
        let trust = app.member("bo@trust-secret.example", "Riverside Secret Trust", "health_org").await;
        let sme = app.member("ann@acme-secret.example", "Acme Secret Ltd", "sme").await;
        let other = app.member("cy@other.example", "Other Ltd", "sme").await;
        let mut poster = Browser::new(&app);
        poster.log_in(&trust.email).await;

        // Posting: a form with a missing field comes back with what was typed.
        let form = poster.get("/challenges/new").await;
        assert_eq!(form.status, StatusCode::OK);
        let partial = [
            ("title", "Preventing recurrent falls at home"),
            ("problem_statement", "Older people fall again within a year of a first fall, and we want to stop that."),
        ];
        let rejected = poster.post(&form, "/challenges/new", &partial).await;
        assert_eq!(rejected.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(rejected.html.contains("href=\"#sectors\"") && rejected.html.contains("href=\"#deadline\""));
        assert!(rejected.html.contains("value=\"Preventing recurrent falls at home\""));
        let mut full: Vec<(&str, &str)> = partial.to_vec();
        full.extend([
            ("sectors", "ageing_frailty"),
            ("capabilities_needed", "clinical_evaluation"),
            ("deadline-day", "31"),
            ("deadline-month", "3"),
            ("deadline-year", "2099"),
            ("innovation_stage", ""),
        ]);
        let posted = poster.post(&rejected, "/challenges/new", &full).await;
        assert_eq!(posted.status, StatusCode::OK);
        assert!(posted.html.contains("Your challenge is posted"));
        let id = posted.path.trim_start_matches("/challenges/").to_owned();

        // An SME cannot post, but browses, asks in the forum and responds.
        let mut responder = Browser::new(&app);
        responder.log_in(&sme.email).await;
        assert_eq!(responder.get("/challenges/new").await.status, StatusCode::FORBIDDEN);
        let list = responder.get("/challenges").await;
        assert!(list.html.contains("Preventing recurrent falls at home"));
        assert!(!list.html.contains("Riverside"), "the poster is anonymous");
        let page = responder.get(&format!("/challenges/{id}")).await;
        let asked = responder
            .post(&page, &format!("/challenges/{id}/questions"), &[("question", "Do you have data on falls at night?")])
            .await;
        assert!(asked.html.contains("Do you have data on falls at night?"));
        let empty = responder
            .post(&asked, &format!("/challenges/{id}/respond"), &[("summary", ""), ("stages", "evidence")])
            .await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(empty.html.contains("href=\"#summary\"") && empty.html.contains("value=\"evidence\" checked"));
        let summary = "We make a wearable that detects near-falls and can run an evaluation with you.";
        let sent = responder
            .post(
                &empty,
                &format!("/challenges/{id}/respond"),
                &[("summary", summary), ("stages", "evidence"), ("stages", "adoption")],
            )
            .await;
        assert!(sent.html.contains("Your response is sent") && sent.html.contains(summary));

        // The poster answers in the forum and reviews the response: an alias, no identity.
        let page = poster.get(&format!("/challenges/{id}")).await;
        let qid_start = page.html.find("id=\"question-").expect("a question") + "id=\"question-".len();
        let qid: String = page.html[qid_start..].chars().take_while(|c| *c != '"').collect();
        let answered = poster
            .post(&page, &format!("/challenges/{id}/questions/{qid}/answer"), &[("answer", "Yes, a year of it.")])
            .await;
        assert!(answered.html.contains("Yes, a year of it."));
        let review = poster.get(&format!("/challenges/{id}/responses")).await;
        assert!(review.html.contains(summary));
        for secret in ["Acme", "acme-secret", sme.email.as_str()] {
            assert!(!review.html.contains(secret), "{secret} leaked to the poster");
        }
        let rid_start = review.html.find("id=\"response-").expect("a response") + "id=\"response-".len();
        let rid: String = review.html[rid_start..].chars().take_while(|c| *c != '"').collect();
        let shortlisted = poster.post(&review, &format!("/challenges/{id}/responses/{rid}/shortlist"), &[]).await;
        assert!(shortlisted.html.contains("is shortlisted"));
        let revealed = poster.post(&shortlisted, &format!("/challenges/{id}/responses/{rid}/reveal"), &[]).await;
        assert!(revealed.html.contains("You revealed yourself"));

        // The responder sees the shortlist and the poster's name, reveals itself: connected.
        let mine = responder.get(&format!("/challenges/{id}")).await;
        assert!(mine.html.contains("Shortlisted") && mine.html.contains("Riverside Secret Trust"));
        let connected = responder.post(&mine, &format!("/challenges/{id}/responses/{rid}/reveal"), &[]).await;
        assert!(connected.html.contains("Connected"));
        let review = poster.get(&format!("/challenges/{id}/responses")).await;
        assert!(review.html.contains("Acme Secret Ltd"));

        // Another member reads the challenge and its forum, never the responses.
        let mut outsider = Browser::new(&app);
        outsider.log_in(&other.email).await;
        assert_eq!(outsider.get(&format!("/challenges/{id}/responses")).await.status, StatusCode::NOT_FOUND);
        let public = outsider.get(&format!("/challenges/{id}")).await;
        assert!(public.html.contains("Yes, a year of it.") && !public.html.contains(summary));

        // The connection emails link to the challenge's page, which opens for both.
        app.deliver_emails().await;
        let link = format!("http://matchwell.test/challenges/{id}");
        for (email, browser) in [(&sme.email, &mut responder), (&trust.email, &mut poster)] {
            assert!(app.emails_to(email).iter().any(|e| e.contains(&link)), "{email} got a link to the challenge");
            assert_eq!(browser.get(&format!("/challenges/{id}")).await.status, StatusCode::OK);
        }
    })
    .await;
}

#[tokio::test]
async fn settings_set_the_digest_turn_search_visibility_off_and_change_the_password() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("ann@acme.example", "Acme", "sme").await;
        let mut browser = Browser::new(&app);
        browser.log_in(&member.email).await;
        let mut elsewhere = Browser::new(&app);
        elsewhere.log_in(&member.email).await;
        let page = browser.get("/settings").await;
        assert!(page.html.contains("value=\"on\" checked"), "visible by default");
        assert!(page.html.contains("value=\"weekly\" checked"), "weekly digests by default");
        let digest = browser.post(&page, "/settings/digest", &[("frequency", "daily")]).await;
        assert!(
            digest.html.contains("Your digest setting is saved") && digest.html.contains("value=\"daily\" checked")
        );
        let wrong = browser.post(&digest, "/settings/digest", &[("frequency", "hourly")]).await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(wrong.html.contains("href=\"#frequency\""));
        let read: serde_json::Value =
            app.get("/api/v1/me/digest", Some(&member.token)).await.json().await.expect("json");
        assert_eq!(read["frequency"], "daily");
        let saved = browser.post(&page, "/settings/search", &[("search_visible", "off")]).await;
        assert!(saved.html.contains("value=\"off\" checked"));
        let me: serde_json::Value = app.get("/api/v1/me", Some(&member.token)).await.json().await.expect("json");
        assert_eq!(me["profile"]["search_visible"], false);

        let wrong = browser
            .post(
                &saved,
                "/settings/password",
                &[("current_password", "not it"), ("new_password", "a brand new passphrase")],
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(wrong.html.contains("href=\"#current_password\""));
        let changed = browser
            .post(
                &wrong,
                "/settings/password",
                &[("current_password", PASSWORD), ("new_password", "a brand new passphrase")],
            )
            .await;
        assert_eq!(
            (changed.status, changed.path.as_str()),
            (StatusCode::OK, "/settings"),
            "this browser stays logged in"
        );
        assert!(changed.html.contains("Your password is changed"));
        assert_eq!(elsewhere.get("/settings").await.path, "/login", "the other session ended");
        assert_eq!(app.login(&member.email, "a brand new passphrase").await.status(), StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn every_form_of_a_signed_in_member_needs_its_csrf_token() {
    on_every_backend(async |app: TestApp| {
        let (a, b, id) = matched_pair(&app).await;
        let challenge = json!({
            "title": "Preventing recurrent falls at home",
            "problem_statement": "Older people fall again within a year of a first fall; we want fewer second falls.",
            "sectors": ["ageing_frailty"],
            "capabilities_needed": ["clinical_evaluation"],
            "deadline": "2099-12-31",
        });
        let posted: serde_json::Value =
            app.post("/api/v1/challenges", &challenge, Some(&b.token)).await.json().await.expect("json");
        let challenge = posted["id"].as_str().expect("id").to_owned();
        let other = uuid::Uuid::new_v4();
        let section = domain::Catalogue::builtin().expect("catalogue").questionnaire.sections[0].id.clone();
        let mut browser = Browser::new(&app);
        browser.log_in(&a.email).await;
        let cookies = browser.cookie_header();
        let forms = [
            "/logout".to_owned(),
            "/profile".to_owned(),
            format!("/questionnaire/{section}"),
            format!("/matches/{id}/reveal"),
            format!("/matches/{id}/decline"),
            format!("/matches/{id}/outcome"),
            "/search/anything/ask".to_owned(),
            "/challenges/new".to_owned(),
            format!("/challenges/{challenge}/respond"),
            format!("/challenges/{challenge}/questions"),
            format!("/challenges/{challenge}/questions/{other}/answer"),
            format!("/challenges/{challenge}/questions/{other}/hide"),
            format!("/challenges/{challenge}/close"),
            format!("/challenges/{challenge}/feature"),
            format!("/challenges/{challenge}/responses/{other}/shortlist"),
            "/settings/digest".to_owned(),
            "/settings/search".to_owned(),
            "/settings/password".to_owned(),
            "/settings/delete".to_owned(),
            format!("/matches/{id}/story"),
            format!("/matches/{id}/story/approve"),
            format!("/matches/{id}/story/withdraw"),
            "/admin/model/learn".to_owned(),
            format!("/admin/stories/{other}/hide"),
        ];
        for path in &forms {
            for token in ["", "0000", &"ab".repeat(32)] {
                let sent = browser
                    .client
                    .post(app.url(path))
                    .header("cookie", &cookies)
                    .form(&[
                        ("csrf_token", token),
                        ("search_visible", "off"),
                        ("summary", "A text long enough to be a response here."),
                    ])
                    .send()
                    .await
                    .expect("sent");
                assert_eq!(sent.status(), StatusCode::FORBIDDEN, "{path} with {token:?}");
            }
        }
        // Nothing happened: still logged in, nothing revealed or declined, still visible.
        assert_eq!(browser.get("/matches").await.path, "/matches");
        let view: serde_json::Value =
            app.get(&format!("/api/v1/matches/{id}"), Some(&a.token)).await.json().await.expect("json");
        assert_eq!(view["my_status"], "suggested");
        let me: serde_json::Value = app.get("/api/v1/me", Some(&a.token)).await.json().await.expect("json");
        assert_eq!(me["profile"]["search_visible"], true);
        assert_eq!(app.get("/api/v1/me", Some(&b.token)).await.status(), StatusCode::OK, "not erased");
    })
    .await;
}

#[tokio::test]
async fn addresses_that_no_page_makes_answer_with_pages_and_the_api_with_json() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("ann@acme.example", "Acme", "sme").await;
        let mut browser = Browser::new(&app);
        browser.log_in(&member.email).await;
        for (path, status) in [("/search?page=abc", StatusCode::BAD_REQUEST), ("/no-such-page", StatusCode::NOT_FOUND)]
        {
            let page = browser.get(path).await;
            assert_eq!(page.status, status, "{path}");
            assert!(page.html.starts_with("<!doctype html>") && page.html.contains("<title>"), "{path} is a page");
        }
        let api = app.get("/api/v1/search?page=abc", Some(&member.token)).await;
        assert_eq!(api.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(api.headers()["content-type"].to_str().is_ok_and(|t| t.starts_with("application/json")));
        let missing = app.get("/api/v1/nothing-here", None).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert!(missing.headers()["content-type"].to_str().is_ok_and(|t| t.starts_with("application/json")));
    })
    .await;
}

#[tokio::test]
async fn a_success_story_is_drafted_approved_published_and_hidden_through_the_pages() {
    for backend in crate::helpers::backends() {
        let boss = domain::EmailAddress::parse("boss@cluster.example").expect("email");
        let app = crate::helpers::spawn_app_with(backend, |s| s.facilitator_emails = vec![boss]).await;
        let facilitator = app.member("boss@cluster.example", "Regional Cluster", "other").await;
        let (a, b, id) = matched_pair(&app).await;
        for member in [&a, &b] {
            app.post(&format!("/api/v1/matches/{id}/reveal"), &json!({}), Some(&member.token)).await;
        }
        let collaborating = json!({"outcome": "collaborating"});
        app.post(&format!("/api/v1/matches/{id}/outcome"), &collaborating, Some(&a.token)).await;

        let mut ann = Browser::new(&app);
        ann.log_in(&a.email).await;
        let page = ann.get(&format!("/matches/{id}")).await;
        assert!(page.html.contains("Your success story") && page.html.contains("Draft the story"));
        // A rejected draft keeps what was typed and says what to fix.
        let typed = "Our sensor mat went live on two wards.";
        let rejected = ann.post(&page, &format!("/matches/{id}/story"), &[("title", ""), ("text", typed)]).await;
        assert_eq!(rejected.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(rejected.html.contains(typed) && rejected.html.contains("nhsuk-error-summary"), "{}", rejected.html);
        let fields = [("title", "Sensor mats on the wards"), ("text", typed), ("show_names", "yes")];
        let drafted = ann.post(&page, &format!("/matches/{id}/story"), &fields).await;
        assert_eq!(drafted.status, StatusCode::OK);
        assert!(drafted.html.contains("Waiting for them to approve"), "{}", drafted.html);
        assert!(!ann.get("/stories").await.html.contains("Sensor mats on the wards"), "not before both approve");

        let mut bo = Browser::new(&app);
        bo.log_in(&b.email).await;
        let theirs = bo.get(&format!("/matches/{id}")).await;
        assert!(theirs.html.contains("Waiting for you to approve") && theirs.html.contains("Sensor mats on the wards"));
        let approved = bo.post(&theirs, &format!("/matches/{id}/story/approve"), &[("revision", "1")]).await;
        assert!(approved.html.contains("it is published"), "{}", approved.html);
        let public = Browser::new(&app).get("/stories").await;
        assert!(public.html.contains("Sensor mats on the wards") && public.html.contains(&a.name));
        assert!(!public.html.contains(&id), "the match id is never public");

        // The facilitator sees the model's weights as a chart and hides the story.
        let mut boss = Browser::new(&app);
        boss.log_in(&facilitator.email).await;
        let dashboard = boss.get("/admin").await;
        assert!(dashboard.html.contains("Weights of model version 1") && dashboard.html.contains("Working style"));
        let story_id = {
            let marker = "/admin/stories/";
            let start = dashboard.html.find(marker).expect("a hide form") + marker.len();
            dashboard.html[start..].chars().take_while(|c| *c != '/').collect::<String>()
        };
        let learned = boss.post(&dashboard, "/admin/model/learn", &[("dry_run", "true")]).await;
        assert!(learned.html.contains("Version 1 stays in use") && learned.html.contains("fewer than the 50"));
        boss.post(&dashboard, &format!("/admin/stories/{story_id}/hide"), &[("hidden", "true")]).await;
        assert!(!Browser::new(&app).get("/stories").await.html.contains("Sensor mats on the wards"));
        assert!(bo.get(&format!("/matches/{id}")).await.html.contains("Hidden by a facilitator"));
        // Nobody else may hide one.
        let page = bo.get(&format!("/matches/{id}")).await;
        let refused = bo.post(&page, &format!("/admin/stories/{story_id}/hide"), &[("hidden", "false")]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);

        let database = app.settings.database_url.clone();
        drop(app);
        crate::helpers::drop_database(backend, &database).await;
    }
}
