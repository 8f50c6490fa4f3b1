//! The facilitators' dashboard and metrics: the funnel by kind, sector, region and week, as
//! JSON, CSV and a page with SVG charts; counts under 5 suppressed; only for facilitators; and
//! never who was matched with whom.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Member, TestApp, answers, backends, drop_database, spawn_app_with};
use crate::web::Browser;

const BOSS: &str = "boss@cluster.example";

/// Seven SMEs in Wales, one trust in London and the facilitator; all but one SME answered the
/// whole questionnaire, that one half of it; then scored.
async fn membership(app: &TestApp) -> (Member, Vec<Member>) {
    let facilitator = app.member(BOSS, "Regional Cluster", "other").await;
    let mut members = Vec::new();
    for i in 0..7 {
        let sme = app.member(&format!("sme{i}@secret-sme.example"), &format!("Secret SME {i} Ltd"), "sme").await;
        let profile = json!({"region": "wales", "sectors": ["ageing_frailty"]});
        assert_eq!(app.put("/api/v1/me/profile", &profile, &sme.token).await.status(), StatusCode::OK);
        members.push(sme);
    }
    let trust = app.member("bo@secret-trust.example", "Secret NHS Trust", "health_org").await;
    let profile = json!({"region": "london", "sectors": ["ageing_frailty"]});
    assert_eq!(app.put("/api/v1/me/profile", &profile, &trust.token).await.status(), StatusCode::OK);
    members.push(trust);
    for member in members.iter().skip(1) {
        let saved = app.put("/api/v1/me/answers", &answers(|_, _| 0, "very"), &member.token).await;
        assert_eq!(saved.status(), StatusCode::OK);
    }
    // The first SME answered only half of the questions: it has not answered the questionnaire.
    let mut half = answers(|_, _| 0, "very");
    let all = half["answers"].as_array_mut().expect("answers");
    all.truncate(all.len() / 2);
    assert_eq!(app.put("/api/v1/me/answers", &half, &members[0].token).await.status(), StatusCode::OK);
    app.score().await;
    (facilitator, members)
}

fn assert_anonymous(text: &str, members: &[Member], aliases: &[String]) {
    for member in members {
        assert!(!text.contains(&member.name) && !text.contains(&member.email), "{} named", member.name);
    }
    for alias in aliases {
        assert!(!text.contains(alias.as_str()), "alias {alias} shown");
    }
    assert!(!text.contains("secret"), "nothing of any member");
}

#[tokio::test]
async fn facilitators_see_the_funnel_with_small_counts_suppressed_and_nobody_named() {
    for backend in backends() {
        let boss = domain::EmailAddress::parse(BOSS).expect("email");
        let app = spawn_app_with(backend, |s| s.facilitator_emails = vec![boss.clone()]).await;
        let (facilitator, members) = membership(&app).await;
        // Aliases and match ids that members see, which the facilitator must never see.
        let mut aliases = Vec::new();
        for member in &members {
            let list: Value = app.get("/api/v1/matches", Some(&member.token)).await.json().await.expect("json");
            for m in list["matches"].as_array().expect("matches") {
                aliases.push(m["alias"].as_str().expect("alias").to_owned());
                aliases.push(m["id"].as_str().expect("id").to_owned());
            }
        }
        assert!(!aliases.is_empty(), "{backend:?}: members were matched");

        let response = app.get("/api/v1/admin/metrics", Some(&facilitator.token)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let text = response.text().await.expect("body");
        assert_anonymous(&text, &members, &aliases);
        let metrics: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(metrics["suppressed_under"], 5);
        assert_eq!(metrics["totals"]["registered"], 9);
        assert_eq!(metrics["totals"]["answered"], 7);
        assert_eq!(metrics["totals"]["connected"], 0);
        let kind = |k: &str| metrics["by_kind"].as_array().expect("kinds").iter().find(|r| r["kind"] == k).cloned();
        assert_eq!(kind("sme").expect("smes")["counts"]["registered"], 7);
        assert!(kind("health_org").expect("the trust")["counts"]["registered"].is_null(), "one trust: suppressed");
        assert!(kind("other").expect("the cluster")["counts"]["registered"].is_null(), "one cluster: suppressed");
        let region =
            |r: &str| metrics["by_region"].as_array().expect("regions").iter().find(|x| x["region"] == r).cloned();
        assert_eq!(region("wales").expect("wales")["counts"]["registered"], 7);
        assert!(region("london").expect("london")["counts"]["registered"].is_null());
        let sector = metrics["by_sector"].as_array().expect("sectors");
        assert_eq!(sector[0]["sector"], "ageing_frailty");
        // Eight of the nine work in it: the one outside would follow from the total.
        assert!(sector[0]["counts"]["registered"].is_null(), "{sector:?}");
        let weeks = metrics["by_week"].as_array().expect("weeks");
        assert_eq!(weeks.len(), 1);
        assert_eq!(weeks[0]["week"], domain::funnel::week(chrono::Utc::now()));
        assert_eq!(weeks[0]["counts"]["registered"], 9);
        assert!(
            metrics["matches"]["matches"].as_u64().is_some_and(|n| n >= 5) || metrics["matches"]["matches"].is_null()
        );

        let csv = app.get("/api/v1/admin/metrics.csv", Some(&facilitator.token)).await;
        assert_eq!(csv.status(), StatusCode::OK);
        assert!(csv.headers()["content-type"].to_str().expect("ascii").starts_with("text/csv"));
        let csv = csv.text().await.expect("body");
        assert_anonymous(&csv, &members, &aliases);
        assert!(
            csv.starts_with(
                "breakdown,group,registered,answered,matched,revealed,connected,met,collaborating,no_fit\n"
            )
        );
        assert!(csv.contains("\ntotal,all,9,7,"));
        assert!(csv.contains("\nkind,health_org,suppressed,"));

        // The page: the same numbers, drawn as SVG, and the CSV download.
        let mut browser = Browser::new(&app);
        browser.log_in(BOSS).await;
        let page = browser.get("/admin").await;
        assert_eq!(page.status, StatusCode::OK);
        assert_anonymous(&page.html, &members, &aliases);
        assert!(page.html.contains("<svg") && page.html.contains("Organisations at each stage"));
        assert!(page.html.contains("Registered: 9") && page.html.contains("fewer than 5"));
        assert!(page.html.contains("href=\"/admin/metrics.csv\""));
        let download = browser.get("/admin/metrics.csv").await;
        assert_eq!((download.status, download.html.as_str()), (StatusCode::OK, csv.as_str()));
        drop_database(backend, &app.settings.database_url).await;
    }
}

#[tokio::test]
async fn only_facilitators_see_the_metrics_and_the_dashboard() {
    for backend in backends() {
        let boss = domain::EmailAddress::parse(BOSS).expect("email");
        let app = spawn_app_with(backend, |s| s.facilitator_emails = vec![boss.clone()]).await;
        let member = app.member("ann@acme.example", "Acme", "sme").await;
        assert_eq!(app.get("/api/v1/admin/metrics", None).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.get("/api/v1/admin/metrics", Some(&member.token)).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.get("/api/v1/admin/metrics.csv", Some(&member.token)).await.status(), StatusCode::FORBIDDEN);
        let mut browser = Browser::new(&app);
        browser.log_in(&member.email).await;
        assert!(!browser.get("/matches").await.html.contains("href=\"/admin\""), "no dashboard link for members");
        assert_eq!(browser.get("/admin").await.status, StatusCode::FORBIDDEN);
        assert_eq!(browser.get("/admin/metrics.csv").await.status, StatusCode::FORBIDDEN);
        let mut visitor = Browser::new(&app);
        assert_eq!(visitor.get("/admin").await.path, "/login");
        app.member(BOSS, "Regional Cluster", "other").await;
        let mut boss_browser = Browser::new(&app);
        boss_browser.log_in(BOSS).await;
        assert!(boss_browser.get("/matches").await.html.contains("href=\"/admin\""), "a dashboard link");
        drop_database(backend, &app.settings.database_url).await;
    }
}
