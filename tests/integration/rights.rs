//! Data rights: the export of all of an organisation's data (no counterpart identity it was not
//! shown), and erasure, after which nothing of the organisation remains in any table and every
//! counterpart sees its matches, responses and questions vanish.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Member, PASSWORD, TestApp, answers, on_every_backend};
use crate::web::Browser;

/// What identifies Acme: none of it may survive its erasure, nor reach a counterpart before it
/// reveals itself.
const ACME_TRACES: [&str; 5] =
    ["Acme Secret Ltd", "ann@acme-secret.example", "acme-secret.example/about", "confidential plans", "acme-secret"];

struct World {
    acme: Member,
    trust: Member,
    uni: Member,
    match_id: String,
    challenge: String,
}

/// Acme (an SME) matched with a trust and a university; Acme and the trust revealed (so
/// connected, with emails naming each other), the trust posted a challenge that Acme
/// responded to and asked about, and the university posted one that Acme asked about too.
async fn world(app: &TestApp) -> World {
    let acme = app.member("ann@acme-secret.example", "Acme Secret Ltd", "sme").await;
    let trust = app.member("bo@trust.example", "Riverside NHS Trust", "health_org").await;
    let uni = app.member("cy@uni.example", "University of Elsewhere", "academic").await;
    let profile = json!({
        "website": "https://acme-secret.example/about",
        "description": "Acme's confidential plans for a falls sensor",
        "anonymous_summary": "A small team with a falls-prevention device",
        "sectors": ["ageing_frailty"],
        "capabilities_offered": ["engineering_prototyping"],
    });
    assert_eq!(app.put("/api/v1/me/profile", &profile, &acme.token).await.status(), StatusCode::OK);
    for member in [&acme, &trust, &uni] {
        assert_eq!(
            app.put("/api/v1/me/answers", &answers(|_, _| 0, "very"), &member.token).await.status(),
            StatusCode::OK
        );
    }
    app.score().await;
    let (mine, theirs) = (app.org_of(&acme.email).await, app.org_of(&trust.email).await);
    let views = app.store.matches_for(mine).await.expect("store");
    assert_eq!(views.len(), 2, "Acme is matched with both");
    let match_id = views.iter().find(|v| v.counterpart == theirs).expect("a match with the trust").id.clone();
    for member in [&acme, &trust] {
        let revealed = app.post(&format!("/api/v1/matches/{match_id}/reveal"), &json!({}), Some(&member.token)).await;
        assert_eq!(revealed.status(), StatusCode::OK);
    }
    let outcome = json!({"outcome": "met"});
    let met = app.post(&format!("/api/v1/matches/{match_id}/outcome"), &outcome, Some(&trust.token)).await;
    assert_eq!(met.status(), StatusCode::OK);
    let mut challenges = Vec::new();
    for poster in [&trust, &uni] {
        let body = json!({
            "title": "Preventing recurrent falls among older people",
            "problem_statement": "One in three people over 65 falls each year, and many fall again within months.",
            "sectors": ["ageing_frailty"],
            "capabilities_needed": ["engineering_prototyping"],
            "deadline": "2099-12-31",
        });
        let created: Value =
            app.post("/api/v1/challenges", &body, Some(&poster.token)).await.json().await.expect("json");
        challenges.push(created["id"].as_str().expect("id").to_owned());
    }
    let challenge = challenges[0].clone();
    let response =
        json!({"summary": "Our falls sensor could help to prevent second falls at home", "stages": ["evidence"]});
    let responded = app.post(&format!("/api/v1/challenges/{challenge}/responses"), &response, Some(&acme.token)).await;
    assert_eq!(responded.status(), StatusCode::CREATED);
    for id in &challenges {
        let question = json!({"text": "Which wards would host a trial of a sensor?"});
        let asked = app.post(&format!("/api/v1/challenges/{id}/questions"), &question, Some(&acme.token)).await;
        assert_eq!(asked.status(), StatusCode::CREATED);
    }
    app.deliver_emails().await;
    World { acme, trust, uni, match_id, challenge }
}

#[tokio::test]
async fn the_export_holds_all_of_the_callers_data_and_no_identity_it_was_not_shown() {
    on_every_backend(async |app: TestApp| {
        let w = world(&app).await;
        let export = app.get("/api/v1/me/export", Some(&w.acme.token)).await;
        assert_eq!(export.status(), StatusCode::OK);
        let export: Value = export.json().await.expect("json");
        assert_eq!(export["organisation"]["name"], "Acme Secret Ltd");
        assert_eq!(export["account"]["email"], "ann@acme-secret.example");
        assert_eq!(export["profile"]["description"], "Acme's confidential plans for a falls sensor");
        let questions = domain::Catalogue::builtin().expect("catalogue").questionnaire.question_count();
        assert_eq!(export["answers"]["answers"].as_array().expect("answers").len(), questions);
        let matches = export["matches"].as_array().expect("matches");
        assert_eq!(matches.len(), 2);
        let connected = matches.iter().find(|m| m["id"] == w.match_id.as_str()).expect("the connected match");
        assert_eq!(connected["identity"]["organisation_name"], "Riverside NHS Trust", "revealed to Acme");
        assert_eq!(export["responses"][0]["challenge_id"], w.challenge.as_str());
        assert_eq!(export["questions"].as_array().expect("questions").len(), 2);
        assert!(!export["emails"].as_array().expect("emails").is_empty(), "its verification email at least");
        let text = export.to_string();
        assert!(!text.contains("University of Elsewhere") && !text.contains("cy@uni.example"), "never revealed");
        assert!(!text.contains("argon2") && !text.contains("password"), "no password hash");

        // The university never saw Acme revealed: its export says nothing of who Acme is.
        let theirs = app.get("/api/v1/me/export", Some(&w.uni.token)).await.text().await.expect("body");
        for trace in ACME_TRACES {
            assert!(!theirs.contains(trace), "{trace} in the university's export");
        }
        assert_eq!(app.get("/api/v1/me/export", None).await.status(), StatusCode::UNAUTHORIZED);
    })
    .await;
}

#[tokio::test]
async fn a_response_the_poster_declined_is_exported_as_submitted() {
    on_every_backend(async |app: TestApp| {
        let w = world(&app).await;
        let responses: Value = app
            .get(&format!("/api/v1/challenges/{}/responses", w.challenge), Some(&w.trust.token))
            .await
            .json()
            .await
            .expect("json");
        let rid = responses["responses"][0]["id"].as_str().expect("id").to_owned();
        let declined = app
            .post(
                &format!("/api/v1/challenges/{}/responses/{rid}/decline", w.challenge),
                &json!({}),
                Some(&w.trust.token),
            )
            .await;
        assert_eq!(declined.status(), StatusCode::OK);
        let export: Value = app.get("/api/v1/me/export", Some(&w.acme.token)).await.json().await.expect("json");
        assert_eq!(export["responses"][0]["status"], "submitted");
        assert!(!export.to_string().contains("declined\""), "a decline is never shown to the responder");
    })
    .await;
}

#[tokio::test]
async fn a_response_shortlisted_then_declined_is_exported_as_the_api_shows_it() {
    on_every_backend(async |app: TestApp| {
        let w = world(&app).await;
        let path = format!("/api/v1/challenges/{}/responses", w.challenge);
        let responses: Value = app.get(&path, Some(&w.trust.token)).await.json().await.expect("json");
        let rid = responses["responses"][0]["id"].as_str().expect("id").to_owned();
        for action in ["shortlist", "decline"] {
            let acted = app.post(&format!("{path}/{rid}/{action}"), &json!({}), Some(&w.trust.token)).await;
            assert_eq!(acted.status(), StatusCode::OK, "{action}");
        }
        let own: Value = app.get(&path, Some(&w.acme.token)).await.json().await.expect("json");
        let export: Value = app.get("/api/v1/me/export", Some(&w.acme.token)).await.json().await.expect("json");
        assert_eq!(own["responses"][0]["status"], "shortlisted", "{own}");
        assert_eq!(export["responses"][0]["status"], "shortlisted", "the export tells no more than the API");
    })
    .await;
}

#[tokio::test]
async fn erasure_takes_the_password_and_leaves_no_trace_in_any_table() {
    on_every_backend(async |app: TestApp| {
        let w = world(&app).await;
        let org = app.org_of(&w.acme.email).await;
        let account = app
            .store
            .account_by_email(&domain::EmailAddress::parse(&w.acme.email).expect("email"))
            .await
            .expect("store")
            .expect("the account");
        assert_eq!(match_count(&app, &w.trust).await, 2);

        let wrong = app.delete("/api/v1/me", &json!({"password": "not the password"}), &w.acme.token).await;
        assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let wrong: Value = wrong.json().await.expect("json");
        assert!(wrong["error"]["fields"]["password"].is_array());
        assert_eq!(app.get("/api/v1/me", Some(&w.acme.token)).await.status(), StatusCode::OK, "nothing erased");
        let missing = app.delete("/api/v1/me", &json!({}), &w.acme.token).await;
        assert!(missing.status().is_client_error());

        let erased = app.delete("/api/v1/me", &json!({"password": PASSWORD}), &w.acme.token).await;
        assert_eq!(erased.status(), StatusCode::NO_CONTENT);

        // The account is gone: its token and its password open nothing.
        assert_eq!(app.get("/api/v1/me", Some(&w.acme.token)).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.login(&w.acme.email, PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
        // Each counterpart sees the match vanish, and the response and questions with it.
        assert_eq!(match_count(&app, &w.trust).await, 1);
        assert_eq!(match_count(&app, &w.uni).await, 1);
        let gone = app.get(&format!("/api/v1/matches/{}", w.match_id), Some(&w.trust.token)).await;
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
        let responses: Value = app
            .get(&format!("/api/v1/challenges/{}/responses", w.challenge), Some(&w.trust.token))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(responses["responses"].as_array().expect("responses").len(), 0);
        let forum: Value = app
            .get(&format!("/api/v1/challenges/{}/questions", w.challenge), Some(&w.uni.token))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(forum["questions"].as_array().expect("questions").len(), 0);

        // Scoring afterwards neither fails nor brings it back.
        app.score().await;
        assert_eq!(match_count(&app, &w.trust).await, 1);

        // Nothing of it remains in any table: no reference to its id, no trace of its name,
        // address, website, description or public ids.
        assert_eq!(app.store.references_to_organisation_for_tests(org.0).await.expect("store"), vec![]);
        let rows = app.store.every_row_for_tests().await.expect("store");
        assert!(rows.iter().any(|(table, _)| table == "organisations"), "the dump reads every table");
        for (table, row) in &rows {
            for trace in
                ACME_TRACES.iter().chain([&account.public_id.as_str(), &account.organisation_public_id.as_str()])
            {
                assert!(!row.contains(trace), "{trace} remains in {table}: {row}");
            }
        }
        // Only anonymous totals are kept.
        let tallies = app.store.erased_tallies().await.expect("store");
        assert_eq!(tallies, vec![("organisations", 1), ("matches", 2), ("connections", 1), ("outcomes", 1)]);
    })
    .await;
}

#[tokio::test]
async fn the_settings_page_downloads_the_data_and_erases_with_the_password() {
    on_every_backend(async |app: TestApp| {
        let w = world(&app).await;
        let org = app.org_of(&w.acme.email).await;
        let mut browser = Browser::new(&app);
        browser.log_in(&w.acme.email).await;
        let settings = browser.get("/settings").await;
        assert!(settings.html.contains("href=\"/settings/export\""));
        let download = browser.get("/settings/export").await;
        assert_eq!(download.status, StatusCode::OK);
        let data: Value = serde_json::from_str(&download.html).expect("a JSON file");
        assert_eq!(data["organisation"]["name"], "Acme Secret Ltd");

        let wrong = browser.post(&settings, "/settings/delete", &[("password", "not it")]).await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(wrong.html.contains("href=\"#password\""));
        assert_eq!(app.get("/api/v1/me", Some(&w.acme.token)).await.status(), StatusCode::OK);
        let done = browser.post(&wrong, "/settings/delete", &[("password", PASSWORD)]).await;
        assert_eq!(done.status, StatusCode::OK);
        assert!(done.html.contains("Your organisation is erased"));
        assert_eq!(browser.get("/settings").await.path, "/login", "the session ended with it");
        assert_eq!(app.get("/api/v1/me", Some(&w.acme.token)).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.store.references_to_organisation_for_tests(org.0).await.expect("store"), vec![]);
    })
    .await;
}

async fn match_count(app: &TestApp, member: &Member) -> usize {
    let body: Value = app.get("/api/v1/matches", Some(&member.token)).await.json().await.expect("json");
    body["matches"].as_array().expect("matches").len()
}

#[tokio::test]
async fn a_digest_run_skips_an_account_erased_after_it_read_the_recipients() {
    on_every_backend(async |app: TestApp| {
        let w = world(&app).await;
        let frequency = domain::digest::Frequency::Weekly;
        let start = chrono::Utc::now() - chrono::Duration::days(7);
        let recipients = app.store.digest_recipients(frequency, start).await.expect("store");
        assert_eq!(recipients.len(), 3);
        let acme = app.org_of(&w.acme.email).await;
        app.store.erase_organisation(acme).await.expect("erased");
        let batch: Vec<(i64, Option<store::mail::NewEmail>)> =
            recipients.iter().map(|r| (r.account_id, None)).collect();
        let claimed = app
            .store
            .record_digests(frequency, (start, chrono::Utc::now()), &batch, chrono::Utc::now())
            .await
            .expect("the batch is recorded without the erased account");
        let erased_at = recipients.iter().position(|r| r.organisation() == acme).expect("Acme was a recipient");
        for (i, claimed) in claimed.iter().enumerate() {
            assert_eq!(*claimed, i != erased_at, "recipient {i}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_scoring_pass_that_read_an_erased_organisation_saves_the_rest() {
    on_every_backend(async |app: TestApp| {
        let w = world(&app).await;
        let (acme, trust, uni) =
            (app.org_of(&w.acme.email).await, app.org_of(&w.trust.email).await, app.org_of(&w.uni.email).await);
        // A pass read everyone, then Acme erased itself before the pass saved its suggestions.
        let candidate = |a: store::OrgId, b: store::OrgId| store::matches::Candidate {
            low: a.min(b),
            high: a.max(b),
            score: 0.9,
            confidence: 0.9,
            compatibility: [("values".to_owned(), 0.9)].into(),
            explanation_low: vec![],
            explanation_high: vec![],
            alias_low: "Amber Heron 1".to_owned(),
            alias_high: "Birch Wren 2".to_owned(),
            model_version: 1,
        };
        app.store.erase_organisation(acme).await.expect("erased");
        let stranger = app.member("di@fourth.example", "Fourth Ltd", "sme").await;
        let fourth = app.org_of(&stranger.email).await;
        let saved = app
            .store
            .save_candidates(vec![candidate(acme, trust), candidate(fourth, uni)], 25, chrono::Utc::now())
            .await
            .expect("the pass saves what it can");
        assert_eq!(saved.created, 1, "the pair with the erased organisation is left out");
        assert_eq!(app.store.references_to_organisation_for_tests(acme.0).await.expect("store"), vec![]);
        assert_eq!(app.store.matches_for(fourth).await.expect("store").len(), 1);
    })
    .await;
}
