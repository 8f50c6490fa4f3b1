//! k-anonymous profiles (CONTRACT.md invariant 6) and anonymous summaries that cannot name
//! their organisation.

use std::sync::Arc;

use domain::anonymity::QuasiIdentifiers;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, answers, backends, drop_database, on_every_backend, spawn_app_with};

/// Whether `org` fits what an anonymous profile `shown` (its JSON) says: the same kind, region
/// (or a region of the nation shown, or of the UK), size band and stage where shown, and every
/// sector shown.
fn fits(taxonomy: &domain::Taxonomy, org: &QuasiIdentifiers, shown: &Value) -> bool {
    let same = |field: &str, value: Option<&str>| shown[field].as_str().is_none_or(|s| Some(s) == value);
    let kind = shown["kind"].as_str().is_none_or(|k| org.kind.map(|o| o.as_str()) == Some(k));
    let region = match (shown["region"].as_str(), org.region.as_deref()) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some("uk"), Some(r)) => r != domain::OUTSIDE_UK,
        (Some(shown), Some(r)) => shown == r || taxonomy.nation_of(r).is_some_and(|n| n.id == shown),
    };
    let sectors = shown["sectors"]
        .as_array()
        .expect("sectors")
        .iter()
        .all(|s| org.sectors.iter().any(|o| Some(o.as_str()) == s.as_str()));
    kind && region
        && sectors
        && same("size_band", org.size_band.as_deref())
        && same("innovation_stage", org.innovation_stage.as_deref())
}

#[tokio::test]
async fn every_anonymous_profile_of_the_demo_fits_at_least_k_organisations_besides_the_viewer() {
    for backend in backends() {
        let app = spawn_app_with(backend, |s| s.k_anonymity = 5).await;
        let catalogue = domain::Catalogue::builtin().expect("catalogue");
        cli::demo::seed(&app.store, &catalogue, 300, 42).await.expect("seeded");
        cli::ops::score(&app.settings, true, Arc::new(|_, _| {})).await.expect("scored");
        let (_, population) = app.store.population().await.expect("population");
        let mut cards = 0;
        let mut generalised = 0;
        for i in (0..300).step_by(15) {
            let email = cli::demo::demo_email(42, i);
            let viewer = app.org_of(&email).await;
            let me = &population.iter().find(|r| r.id == viewer).expect("in the population").quasi_identifiers;
            let login: Value = app.login(&email, cli::demo::DEMO_PASSWORD).await.json().await.expect("json");
            let token = login["access_token"].as_str().expect("token");
            let list: Value = app.get("/api/v1/matches", Some(token)).await.json().await.expect("json");
            for card in list["matches"].as_array().expect("matches") {
                let shown = &card["counterpart"];
                let fitting =
                    population.iter().filter(|r| fits(&catalogue.taxonomy, &r.quasi_identifiers, shown)).count();
                let others = fitting - usize::from(fits(&catalogue.taxonomy, me, shown));
                assert!(others >= 5, "{backend:?}: only {others} organisations besides the viewer fit {shown}");
                cards += 1;
                let region = shown["region"].as_str();
                if shown["size_band"].is_null() || region.is_none_or(|r| ["england", "uk"].contains(&r)) {
                    generalised += 1;
                }
            }
        }
        assert!(cards > 100, "{backend:?}: {cards} cards checked");
        assert!(generalised > 0, "{backend:?}: the demo data needs generalisation");
        // The report counts the same cards, without naming anyone.
        let report = cli::report::anonymity(&app.store, Arc::new(catalogue), 5).await.expect("report");
        assert_eq!(report.organisations, 300);
        assert!(report.cards >= cards && report.unchanged < report.cards, "{report}");
        assert!(report.to_string().contains("size band withheld"));
        drop_database(backend, &app.settings.database_url).await;
    }
}

#[tokio::test]
async fn among_too_few_organisations_nothing_that_could_single_one_out_is_shown() {
    for backend in backends() {
        let app = spawn_app_with(backend, |s| s.k_anonymity = 5).await;
        let a = app.member("ann@few.example", "Few Devices Ltd", "sme").await;
        let b = app.member("bo@few.example", "Few Valley Trust", "health_org").await;
        let profile = json!({
            "region": "northern_ireland", "size_band": "large", "innovation_stage": "scale",
            "sectors": ["genomics"], "anonymous_summary": "A team that builds things",
        });
        for member in [&a, &b] {
            assert_eq!(app.put("/api/v1/me/profile", &profile, &member.token).await.status(), StatusCode::OK);
            app.put("/api/v1/me/answers", &answers(|_, _| 0, "very"), &member.token).await;
        }
        app.score().await;
        let list: Value = app.get("/api/v1/matches", Some(&a.token)).await.json().await.expect("json");
        let card = &list["matches"][0];
        let id = card["id"].as_str().expect("a match");
        let one: Value = app.get(&format!("/api/v1/matches/{id}"), Some(&a.token)).await.json().await.expect("json");
        for shown in [&card["counterpart"], &one["counterpart"]] {
            for field in ["kind", "region", "size_band", "innovation_stage"] {
                assert!(shown[field].is_null(), "{backend:?}: {field} shown among two organisations: {shown}");
            }
            assert_eq!(shown["sectors"], json!([]));
            assert_eq!(shown["anonymous_summary"], "A team that builds things", "what it wrote to be shown");
        }
        drop_database(backend, &app.settings.database_url).await;
    }
}

#[tokio::test]
async fn organisations_joining_change_what_others_see_even_through_another_process() {
    on_every_backend(async |app: TestApp| {
        // With k = 1, groups need two organisations: one SME and one trust show no kind.
        let a = app.member("ann@grow.example", "Grow Devices Ltd", "sme").await;
        let b = app.member("bo@grow.example", "Grow Valley Trust", "health_org").await;
        for member in [&a, &b] {
            app.put("/api/v1/me/answers", &answers(|_, _| 0, "very"), &member.token).await;
        }
        app.score().await;
        let kind_of_b = async || {
            let list: Value = app.get("/api/v1/matches", Some(&a.token)).await.json().await.expect("json");
            list["matches"][0]["counterpart"]["kind"].clone()
        };
        assert!(kind_of_b().await.is_null(), "one of each kind cannot be shown as its kind");
        // A second trust and a second SME join; the SME is verified by another process (here,
        // straight through the store), so only the population generation tells this one.
        app.member("cy@grow.example", "Grow Other Trust", "health_org").await;
        assert!(kind_of_b().await.is_null(), "three: the lone SME would stand out");
        app.register("di@grow.example", "Grow Sensors Ltd", "sme").await;
        let token = app.verification_token("di@grow.example").await;
        let hash = server::auth::token_hash(&token);
        let joined = app.store.complete_verification(&hash, store::accounts::Role::Member, chrono::Utc::now()).await;
        assert!(matches!(joined, Ok(store::accounts::TokenUse::Accepted { .. })));
        let started = std::time::Instant::now();
        while kind_of_b().await != "health_org" {
            assert!(started.elapsed() < std::time::Duration::from_secs(3), "seen within a second or so");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn an_anonymous_summary_that_names_or_reaches_its_organisation_is_refused() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("ann@brightpath.example", "Brightpath Diagnostics Ltd", "sme").await;
        let website = json!({"website": "https://www.brightpath-dx.example"});
        assert_eq!(app.put("/api/v1/me/profile", &website, &member.token).await.status(), StatusCode::OK);
        for summary in [
            "Write to ann@brightpath.example",
            "More at https://elsewhere.example/about",
            "More at elsewhere.co.uk",
            "Call us on +44 161 496 0000",
            "Brightpath makes rapid tests",
            "The brightpath-dx team",
            "A test kit \u{202E}reversed",
            "Zero\u{200B}width",
        ] {
            let response = app.put("/api/v1/me/profile", &json!({"anonymous_summary": summary}), &member.token).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{summary:?}");
            let body: Value = response.json().await.expect("json");
            let fields: Vec<&String> = body["error"]["fields"].as_object().expect("fields").keys().collect();
            assert_eq!(fields, ["anonymous_summary"], "{summary:?}");
        }
        let me: Value = app.get("/api/v1/me", Some(&member.token)).await.json().await.expect("json");
        assert!(me["profile"]["anonymous_summary"].is_null(), "nothing was stored");
        let fine = json!({"anonymous_summary": "A small team with a rapid test for sepsis"});
        assert_eq!(app.put("/api/v1/me/profile", &fine, &member.token).await.status(), StatusCode::OK);
        // Names with invisible formatting characters are refused at sign-up.
        for name in ["Acme\u{202E}dtL", "Ac\u{200B}me Health"] {
            let response = app.register(&format!("x{}@acme.example", name.len()), name, "sme").await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
        }
    })
    .await;
}
