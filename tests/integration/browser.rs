//! The web app in a real browser: headless Chromium driven through chromedriver (both from
//! Debian) with thirtyfour. The flows a member goes through, and axe-core (vendored in
//! `tests/vendor`) on every main page, with no serious or critical violation. A failing test
//! leaves a screenshot of each of its browsers in `target/tmp/browser-screenshots/`.
//!
//! Without chromedriver these tests pass without running, unless `MATCHWELL_REQUIRE_BROWSER=1`
//! (as `.ci/run` sets it): then a missing browser is a failure, never a silent skip. They run
//! one at a time, on SQLite (the pages' data paths run on both engines in `web.rs`).

use std::panic::AssertUnwindSafe;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::json;
use thirtyfour::prelude::*;
use thirtyfour::{ChromiumLikeCapabilities, DesiredCapabilities};

use crate::helpers::{Backend, PASSWORD, TestApp, answers, spawn_app_with};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const AXE: &str = include_str!("../vendor/axe.min.js");

/// One browser test at a time: each starts Chromium, and two cores are not many.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A headless Chromium, its chromedriver, and the app it browses.
pub struct Chrome {
    driver: WebDriver,
    chromedriver: Child,
    base: String,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port()
}

impl Chrome {
    /// Whether this machine can run the browser tests; a missing browser fails when required.
    fn available() -> bool {
        let present = std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists();
        let required = std::env::var("MATCHWELL_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        assert!(present || !required, "MATCHWELL_REQUIRE_BROWSER=1 but {CHROMEDRIVER} or {CHROMIUM} is missing");
        present
    }

    async fn start(base: &str) -> Chrome {
        let port = free_port();
        let chromedriver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(CHROMIUM).expect("binary");
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1024",
            "--lang=en-GB",
        ] {
            caps.add_arg(arg).expect("argument");
        }
        caps.add_arg(&format!("--user-data-dir={}", profile.path().display())).expect("argument");
        let url = format!("http://127.0.0.1:{port}");
        let mut driver = None;
        for _ in 0..100 {
            match WebDriver::new(url.clone(), caps.clone()).await {
                Ok(d) => {
                    driver = Some(d);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let driver = driver.expect("chromedriver answers within 10 s");
        Chrome { driver, chromedriver, base: base.to_owned(), _profile: profile }
    }

    pub async fn open(&self, path: &str) {
        self.driver.goto(format!("{}{path}", self.base)).await.expect("page opens");
    }

    /// The path (and query) of the page shown.
    pub async fn path(&self) -> String {
        let url = self.driver.current_url().await.expect("url");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub async fn html(&self) -> String {
        self.driver.source().await.expect("page source")
    }

    /// Types `text` into the field with id `id` (after clearing it).
    pub async fn fill(&self, id: &str, text: &str) {
        let field = self.driver.find(By::Id(id)).await.unwrap_or_else(|_| panic!("a field #{id}"));
        field.clear().await.expect("cleared");
        field.send_keys(text).await.expect("typed");
    }

    /// Chooses a radio or checkbox through its label, as a person would.
    pub async fn choose(&self, id: &str) {
        let selector = format!("label[for=\"{id}\"]");
        let label = self.driver.find(By::Css(selector.as_str())).await.unwrap_or_else(|_| panic!("a label for #{id}"));
        label.click().await.expect("clicked");
    }

    /// Clicks the button or link whose text contains `text`: in the page's main content if
    /// there is one there, else in its header.
    pub async fn press(&self, text: &str) {
        for scope in ["//main", ""] {
            let xpath = format!(
                "{scope}//button[contains(normalize-space(.), '{text}')] | {scope}//a[contains(normalize-space(.), '{text}')]"
            );
            if let Ok(found) = self.driver.find(By::XPath(xpath.as_str())).await {
                let page = self.driver.find(By::Tag("html")).await.expect("a page");
                found.click().await.expect("clicked");
                self.settle(page).await;
                return;
            }
        }
        panic!("no button or link \"{text}\" on {}", self.path().await);
    }

    /// Waits until `page` (the document before a click) has been replaced and the new one has
    /// loaded; a click that stays on the page (a link within it) waits a second.
    async fn settle(&self, page: WebElement) {
        for _ in 0..10 {
            if !page.is_present().await.unwrap_or(false) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for _ in 0..50 {
            let ready = self.driver.execute("return document.readyState", Vec::new()).await;
            if ready.is_ok_and(|r| r.json() == "complete") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The serious and critical violations axe-core finds on the page.
    pub async fn accessibility_problems(&self) -> Vec<String> {
        self.driver.execute(AXE, Vec::new()).await.expect("axe loads");
        let script = "return axe.run(document, {resultTypes: ['violations']}).then(function (r) { \
             return r.violations.filter(function (v) { return v.impact === 'serious' || v.impact === 'critical'; }) \
               .map(function (v) { return v.id + ' (' + v.impact + '): ' + v.help + ' at ' + \
                 v.nodes.map(function (n) { return n.target.join(' '); }).join(', '); }); });";
        let found = self.driver.execute(script, Vec::new()).await.expect("axe runs");
        found.convert::<Vec<String>>().expect("a list of violations")
    }

    async fn screenshot(&self, name: &str) {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("{name}.png"));
        match self.driver.screenshot(&path).await {
            Ok(()) => eprintln!("screenshot of the failing page: {}", path.display()),
            Err(error) => eprintln!("no screenshot: {error}"),
        }
    }

    async fn quit(mut self) {
        let _ = self.driver.clone().quit().await;
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
    }
}

/// Runs `test` with `count` browsers on a fresh app (SQLite); on failure, saves a screenshot
/// of each browser's page, then fails.
async fn browser_test(name: &str, count: usize, test: impl AsyncFnOnce(&TestApp, &[Chrome])) {
    if !Chrome::available() {
        eprintln!("{name}: skipped, no chromedriver here");
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().await;
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let mut browsers = Vec::new();
    for _ in 0..count {
        browsers.push(Chrome::start(&app.address).await);
    }
    let outcome = AssertUnwindSafe(test(&app, &browsers)).catch_unwind().await;
    if outcome.is_err() {
        for (i, browser) in browsers.iter().enumerate() {
            browser.screenshot(&format!("{name}-{i}")).await;
        }
    }
    for browser in browsers {
        browser.quit().await;
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Logs in through the form.
async fn log_in(browser: &Chrome, email: &str) {
    browser.open("/login").await;
    browser.fill("email", email).await;
    browser.fill("password", PASSWORD).await;
    browser.press("Log in").await;
    assert_eq!(browser.path().await, "/matches");
}

/// A second organisation, through the API, that answers every question like the first option
/// and offers what a trust offers.
async fn counterpart(app: &TestApp, email: &str, name: &str, kind: &str) -> crate::helpers::Member {
    let member = app.member(email, name, kind).await;
    let profile = json!({
        "anonymous_summary": "A hospital team that evaluates devices for older people",
        "sectors": ["ageing_frailty"],
        "capabilities_offered": ["clinical_evaluation"],
        "website": "https://hidden.example",
    });
    app.put("/api/v1/me/profile", &profile, &member.token).await;
    app.put("/api/v1/me/answers", &answers(|_, _| 0, "very"), &member.token).await;
    member
}

#[tokio::test]
async fn signing_up_through_the_emailed_link_answering_and_revealing_in_a_browser() {
    browser_test("sign-up", 1, async |app: &TestApp, browsers: &[Chrome]| {
        let browser = &browsers[0];
        browser.open("/").await;
        browser.press("Sign up").await;
        browser.fill("organisation_name", "Acme Sensors").await;
        browser.choose("kind").await;
        browser.fill("email", "ann@acme.example").await;
        browser.fill("password", PASSWORD).await;
        browser.press("Sign up").await;
        assert!(browser.html().await.contains("Check your email"));

        // The emailed link, opened in the browser.
        let token = app.verification_token("ann@acme.example").await;
        browser.open(&format!("/verify?token={token}")).await;
        browser.fill("password", PASSWORD).await;
        browser.press("Confirm my email").await;
        assert!(browser.html().await.contains("Your email is confirmed"));
        browser.press("Log in and answer the questionnaire").await;
        browser.fill("email", "ann@acme.example").await;
        browser.fill("password", PASSWORD).await;
        browser.press("Log in").await;
        assert_eq!(browser.path().await, "/questionnaire", "the link goes on to the questionnaire");

        // Every section of the questionnaire: the first option, accepted, by clicking labels.
        let catalogue = domain::Catalogue::builtin().expect("catalogue");
        for section in &catalogue.questionnaire.sections {
            browser.open(&format!("/questionnaire/{}", section.id)).await;
            for question in &section.questions {
                browser.choose(&format!("{}-answer", question.id)).await;
                browser.choose(&format!("{}-acceptable", question.id)).await;
            }
            browser.press("Save and continue").await;
        }
        assert!(browser.path().await.starts_with("/questionnaire"));
        browser.open("/questionnaire").await;
        let count = catalogue.questionnaire.question_count();
        assert!(browser.html().await.contains(&format!("{count} of {count} questions answered")));

        // A match appears; revealing asks first.
        let trust = counterpart(app, "bo@trust.example", "Riverside Trust", "health_org").await;
        app.score().await;
        browser.open("/matches").await;
        let html = browser.html().await;
        assert!(html.contains("mw-chart") && !html.contains("Riverside"));
        browser.press("See ").await;
        browser.press("Reveal yourself").await;
        assert!(browser.html().await.contains("This cannot be undone"));
        browser.press("Yes, reveal who we are").await;
        assert!(browser.html().await.contains("You revealed yourself"));
        let theirs: serde_json::Value =
            app.get("/api/v1/matches", Some(&trust.token)).await.json().await.expect("json");
        assert_eq!(theirs["matches"][0]["identity"]["organisation_name"], "Acme Sensors");
    })
    .await;
}

#[tokio::test]
async fn two_organisations_connect_in_their_own_browsers() {
    browser_test("connect", 2, async |app: &TestApp, browsers: &[Chrome]| {
        let sme = counterpart(app, "ann@acme.example", "Acme Sensors", "sme").await;
        let trust = counterpart(app, "bo@trust.example", "Riverside Trust", "health_org").await;
        app.score().await;
        for (browser, member) in browsers.iter().zip([&sme, &trust]) {
            log_in(browser, &member.email).await;
            browser.press("See ").await;
            browser.press("Reveal yourself").await;
            browser.press("Yes, reveal who we are").await;
        }
        let html = browsers[1].html().await;
        assert!(html.contains("You are connected"), "{html}");
        assert!(html.contains("Acme Sensors"));
        browsers[0].open("/matches").await;
        assert!(browsers[0].html().await.contains("Riverside Trust"));
        // Both were told by email, once.
        app.deliver_emails().await;
        for member in [&sme, &trust] {
            let connected = app.emails_to(&member.email).iter().filter(|e| e.contains("/matches/")).count();
            assert_eq!(connected, 1, "{}", member.email);
        }
    })
    .await;
}

#[tokio::test]
async fn searching_and_asking_for_an_introduction_in_a_browser() {
    browser_test("search", 1, async |app: &TestApp, browsers: &[Chrome]| {
        let browser = &browsers[0];
        let seeker = counterpart(app, "sam@seeker.example", "Seeker Devices", "sme").await;
        let trust = counterpart(app, "bo@trust.example", "Riverside Trust", "health_org").await;
        log_in(browser, &seeker.email).await;
        browser.press("Find partners").await;
        browser.fill("q", "evaluate").await;
        browser.press("Search").await;
        let html = browser.html().await;
        assert!(html.contains("A hospital team that evaluates devices"), "stemmed: evaluate finds evaluates");
        assert!(!html.contains("Riverside"));
        browser.press("Ask for an introduction").await;
        assert!(browser.html().await.contains("You asked for an introduction"));
        let theirs: serde_json::Value =
            app.get("/api/v1/matches", Some(&trust.token)).await.json().await.expect("json");
        assert_eq!(theirs["matches"][0]["asked_by_them"], true);
    })
    .await;
}

#[tokio::test]
async fn a_challenge_posted_asked_about_responded_to_and_shortlisted_in_browsers() {
    browser_test("challenge", 2, async |app: &TestApp, browsers: &[Chrome]| {
        let (poster, responder) = (&browsers[0], &browsers[1]);
        let trust = counterpart(app, "bo@trust.example", "Riverside Trust", "health_org").await;
        let sme = counterpart(app, "ann@acme.example", "Acme Sensors", "sme").await;
        log_in(poster, &trust.email).await;
        poster.press("Challenges").await;
        poster.press("Post a challenge").await;
        poster.fill("title", "Preventing recurrent falls at home").await;
        poster
            .fill(
                "problem_statement",
                "Older people fall again within a year of a first fall; we want fewer second falls.",
            )
            .await;
        poster.choose("sectors-ageing_frailty").await;
        poster.choose("capabilities_needed").await;
        poster.fill("deadline", "31").await;
        poster.fill("deadline-month", "12").await;
        poster.fill("deadline-year", "2099").await;
        poster.press("Post the challenge").await;
        let html = poster.html().await;
        assert!(html.contains("Your challenge is posted"), "{html}");
        let challenge = poster.path().await.split('?').next().expect("path").to_owned();

        log_in(responder, &sme.email).await;
        responder.open(&challenge).await;
        responder.fill("question", "Do you have data on falls at night?").await;
        responder.press("Post the question").await;
        responder.fill("summary", "We make a wearable that detects near-falls and could run an evaluation.").await;
        responder.choose("stages-evidence").await;
        responder.press("Send my response").await;
        assert!(responder.html().await.contains("Your response is sent"));

        poster.open(&challenge).await;
        assert!(poster.html().await.contains("Do you have data on falls at night?"));
        poster.press("Review the responses").await;
        let review = poster.html().await;
        assert!(review.contains("detects near-falls") && !review.contains("Acme"));
        poster.press("Shortlist").await;
        assert!(poster.html().await.contains("is shortlisted"));
        responder.open(&challenge).await;
        assert!(responder.html().await.contains("Shortlisted"));
    })
    .await;
}

#[tokio::test]
async fn a_rejected_form_is_corrected_in_a_browser() {
    browser_test("form", 1, async |app: &TestApp, browsers: &[Chrome]| {
        let browser = &browsers[0];
        browser.open("/register").await;
        browser.fill("organisation_name", "Acme Sensors").await;
        browser.fill("email", "not an address").await;
        browser.fill("password", "short").await;
        browser.press("Sign up").await;
        let html = browser.html().await;
        assert!(html.contains("There is a problem"));
        assert_eq!(
            browser
                .driver
                .find(By::Id("organisation_name"))
                .await
                .expect("field")
                .value()
                .await
                .expect("value")
                .as_deref(),
            Some("Acme Sensors")
        );
        // The summary's link takes the keyboard to the field.
        browser.press("Enter a valid email address").await;
        let focused = browser.driver.active_element().await.expect("focus");
        assert_eq!(focused.id().await.expect("id").as_deref(), Some("email"));
        assert!(browser.accessibility_problems().await.is_empty(), "the rejected form is accessible");
        browser.choose("kind").await;
        browser.fill("email", "ann@acme.example").await;
        browser.fill("password", PASSWORD).await;
        browser.press("Sign up").await;
        assert!(browser.html().await.contains("Check your email"));
        assert!(
            !app.emails_to("ann@acme.example").is_empty()
                || !app.link_tokens("ann@acme.example", "verify?token=").await.is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn every_main_page_passes_axe_without_serious_or_critical_violations() {
    browser_test("axe", 1, async |app: &TestApp, browsers: &[Chrome]| {
        let browser = &browsers[0];
        let sme = counterpart(app, "ann@acme.example", "Acme Sensors", "sme").await;
        let trust = counterpart(app, "bo@trust.example", "Riverside Trust", "health_org").await;
        app.score().await;
        let challenge = json!({
            "title": "Preventing recurrent falls at home",
            "problem_statement": "Older people fall again within a year of a first fall; we want fewer second falls.",
            "sectors": ["ageing_frailty"],
            "capabilities_needed": ["clinical_evaluation"],
            "deadline": "2099-12-31",
        });
        let posted: serde_json::Value =
            app.post("/api/v1/challenges", &challenge, Some(&trust.token)).await.json().await.expect("json");
        let id = posted["id"].as_str().expect("id").to_owned();
        app.post(
            &format!("/api/v1/challenges/{id}/questions"),
            &json!({"text": "Is there data on night falls?"}),
            Some(&sme.token),
        )
        .await;
        app.post(
            &format!("/api/v1/challenges/{id}/responses"),
            &json!({"summary": "We make a wearable that detects near-falls.", "stages": ["evidence"]}),
            Some(&sme.token),
        )
        .await;
        let matches: serde_json::Value = app.get("/api/v1/matches", Some(&sme.token)).await.json().await.expect("json");
        let match_id = matches["matches"][0]["id"].as_str().expect("a match").to_owned();
        let section = domain::Catalogue::builtin().expect("catalogue").questionnaire.sections[0].id.clone();
        // A connected match with a published story, so that the story's parts are checked too.
        for member in [&sme, &trust] {
            app.post(&format!("/api/v1/matches/{match_id}/reveal"), &json!({}), Some(&member.token)).await;
        }
        let outcome = json!({"outcome": "collaborating"});
        app.post(&format!("/api/v1/matches/{match_id}/outcome"), &outcome, Some(&sme.token)).await;
        let story = json!({"title": "Fewer falls at home", "text": "A year of trials with the community falls team."});
        app.post(&format!("/api/v1/matches/{match_id}/story"), &story, Some(&sme.token)).await;
        let approve = json!({"revision": 1});
        let approved =
            app.post(&format!("/api/v1/matches/{match_id}/story/approve"), &approve, Some(&trust.token)).await;
        assert_eq!(approved.status(), reqwest::StatusCode::OK);

        let mut problems = Vec::new();
        let visitor_pages =
            ["/", "/register", "/login", "/forgot-password", "/verify?token=ab", "/no-such-page", "/stories"];
        for path in visitor_pages {
            browser.open(path).await;
            problems.extend(browser.accessibility_problems().await.into_iter().map(|p| format!("{path}: {p}")));
        }
        for (member, pages) in [
            (
                &sme,
                vec![
                    "/matches".to_owned(),
                    format!("/matches/{match_id}"),
                    format!("/matches/{match_id}/reveal"),
                    "/profile".to_owned(),
                    "/questionnaire".to_owned(),
                    format!("/questionnaire/{section}"),
                    "/search".to_owned(),
                    "/challenges".to_owned(),
                    format!("/challenges/{id}"),
                    "/settings".to_owned(),
                ],
            ),
            (
                &trust,
                vec!["/challenges/new".to_owned(), format!("/challenges/{id}/responses"), format!("/challenges/{id}")],
            ),
        ] {
            log_in(browser, &member.email).await;
            for path in pages {
                browser.open(&path).await;
                problems.extend(browser.accessibility_problems().await.into_iter().map(|p| format!("{path}: {p}")));
            }
            browser.press("Log out").await;
        }
        assert!(problems.is_empty(), "serious or critical accessibility problems:\n{}", problems.join("\n"));
    })
    .await;
}
