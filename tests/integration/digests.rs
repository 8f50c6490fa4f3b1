//! Email digests: what is new in a member's period, once per period however many runs, never an
//! unrevealed identity, nothing when nothing is new, and one-click unsubscribe.

use std::sync::Arc;

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Member, TestApp, answers, on_every_backend};

/// A digest writer over the test app's database, as `serve` and `matchwell digest` make one.
fn digester(app: &TestApp) -> server::digests::Digester {
    let catalogue = Arc::new(domain::Catalogue::builtin().expect("catalogue"));
    let anonymity = Arc::new(matching::anonymity::Anonymity::new(catalogue.clone(), app.settings.k_anonymity));
    server::digests::Digester::new(app.store.clone(), catalogue, anonymity, &app.settings)
}

/// Two organisations matched today; the SME gets daily digests.
async fn matched_today(app: &TestApp) -> (Member, Member) {
    let sme = app.member("ann@acme-secret.example", "Acme Secret Ltd", "sme").await;
    let trust = app.member("bo@trust-secret.example", "Riverside Secret Trust", "health_org").await;
    let profile = json!({"website": "https://trust-secret.example", "description": "Riverside's private plans",
                         "capabilities_offered": ["clinical_evaluation"]});
    app.put("/api/v1/me/profile", &profile, &trust.token).await;
    for member in [&sme, &trust] {
        app.put("/api/v1/me/answers", &answers(|_, _| 0, "very"), &member.token).await;
    }
    app.put("/api/v1/me/digest", &json!({"frequency": "daily"}), &sme.token).await;
    app.score().await;
    (sme, trust)
}

#[tokio::test]
async fn a_digest_tells_what_is_new_once_with_both_parts_and_no_unrevealed_identity() {
    on_every_backend(async |app: TestApp| {
        let (sme, trust) = matched_today(&app).await;
        let tomorrow = Utc::now() + Duration::days(1);
        let dry = digester(&app).run(tomorrow, true).await.expect("dry run");
        assert_eq!(dry.queued, 1, "{:?}", dry.lines);
        assert_eq!(app.store.pending_emails().await.expect("store"), 0, "a dry run queues nothing");

        let report = digester(&app).run(tomorrow, false).await.expect("run");
        assert_eq!(report.queued, 1, "the SME's daily digest; the trust's week had nothing");
        let again = digester(&app).run(tomorrow, false).await.expect("run");
        assert_eq!(again.queued, 0, "a period is sent once");
        app.deliver_emails().await;
        let digests: Vec<String> =
            app.emails_to(&sme.email).into_iter().filter(|e| e.contains("What is new")).collect();
        assert_eq!(digests.len(), 1, "{:?}", app.emails_to(&sme.email));
        let message = &digests[0];
        assert!(message.contains("Content-Type: text/plain") && message.contains("Content-Type: text/html"));
        assert!(message.contains("List-Unsubscribe: <http://matchwell.test/unsubscribe?token="));
        assert!(message.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        let matches: Value = app.get("/api/v1/matches", Some(&sme.token)).await.json().await.expect("json");
        let alias = matches["matches"][0]["alias"].as_str().expect("alias");
        let id = matches["matches"][0]["id"].as_str().expect("id");
        assert!(message.contains(alias) && message.contains(&format!("http://matchwell.test/matches/{id}")));
        assert!(message.contains("% compatible") && message.contains("http://matchwell.test/settings"));
        for secret in ["Riverside", "trust-secret", "private plans", trust.email.as_str()] {
            assert!(!message.contains(secret), "{secret} is in a digest before any reveal");
        }
        assert!(
            app.emails_to(&trust.email).iter().all(|e| !e.contains("What is new")),
            "the trust's weekly period had nothing new"
        );

        // The unsubscribe link: a page that asks, then one click stops digests.
        let start =
            message.find("http://matchwell.test/unsubscribe?token=").expect("link") + "http://matchwell.test".len();
        let link: String =
            message[start..].chars().take_while(|c| !c.is_whitespace() && *c != '"' && *c != '>').collect();
        let page = app.get(&link, None).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.expect("html").contains("Stop digest emails?"));
        let frequency: Value = app.get("/api/v1/me/digest", Some(&sme.token)).await.json().await.expect("json");
        assert_eq!(frequency["frequency"], "daily", "opening the link stops nothing");
        let stopped = app.client.post(app.url(&link)).body("List-Unsubscribe=One-Click").send().await.expect("sent");
        assert_eq!(stopped.status(), StatusCode::OK);
        let frequency: Value = app.get("/api/v1/me/digest", Some(&sme.token)).await.json().await.expect("json");
        assert_eq!(frequency["frequency"], "off");
        let forged = app.client.post(app.url(&link.replace("token=", "token=x"))).send().await.expect("sent");
        assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn two_runs_at_once_queue_each_digest_once_and_nothing_new_sends_nothing() {
    on_every_backend(async |app: TestApp| {
        let (sme, _trust) = matched_today(&app).await;
        let quiet = app.member("cy@quiet.example", "Quiet Ltd", "other").await;
        app.put("/api/v1/me/digest", &json!({"frequency": "daily"}), &quiet.token).await;
        let tomorrow = Utc::now() + Duration::days(1);
        let (first, second) = (digester(&app), digester(&app));
        let (a, b) = tokio::join!(first.run(tomorrow, false), second.run(tomorrow, false));
        let (a, b) = (a.expect("run"), b.expect("run"));
        assert_eq!(a.queued + b.queued, 1, "one digest, whichever run claimed it");
        app.deliver_emails().await;
        assert_eq!(app.emails_to(&sme.email).iter().filter(|e| e.contains("What is new")).count(), 1);
        assert!(app.emails_to(&quiet.email).iter().all(|e| !e.contains("What is new")), "nothing new, nothing sent");
        // The next day has nothing new for anyone.
        let later = digester(&app).run(tomorrow + Duration::days(1), false).await.expect("run");
        assert_eq!(later.queued, 0);
    })
    .await;
}

#[tokio::test]
async fn the_digest_command_says_what_it_would_send_and_then_sends_it() {
    on_every_backend(async |app: TestApp| {
        let (_sme, trust) = matched_today(&app).await;
        // A weekly member hears of last week: move the match's creation back into it.
        let week = domain::digest::Frequency::Weekly.last_period(Utc::now()).expect("a period");
        app.put("/api/v1/me/digest", &json!({"frequency": "weekly"}), &trust.token).await;
        let matches: Value = app.get("/api/v1/matches", Some(&trust.token)).await.json().await.expect("json");
        let id = matches["matches"][0]["id"].as_str().expect("id").to_owned();
        app.store.backdate_match_for_tests(&id, week.0 + Duration::hours(1)).await.expect("backdated");
        let dry = cli::ops::digest(&app.settings, true).await.expect("dry run");
        assert!(
            dry.lines.iter().any(|l| l.starts_with("would queue weekly") && l.contains(&trust.email)),
            "{:?}",
            dry.lines
        );
        let sent = cli::ops::digest(&app.settings, false).await.expect("run");
        assert!(sent.lines.iter().any(|l| l.starts_with("queued weekly")), "{:?}", sent.lines);
        // The command sends what it queued: no `serve` needs to run beside cron.
        assert_eq!(app.store.pending_emails().await.expect("store"), 0);
        assert_eq!(app.emails_to(&trust.email).iter().filter(|e| e.contains("What is new")).count(), 1);
        let again = cli::ops::digest(&app.settings, false).await.expect("run");
        assert!(again.lines.is_empty(), "{:?}", again.lines);
    })
    .await;
}
