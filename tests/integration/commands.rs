//! The `matchwell` commands that work on the database: demo data and scoring.

use std::sync::{Arc, Mutex};

use crate::helpers::{TestApp, on_every_backend};

#[tokio::test]
async fn demo_data_seeds_matchable_organisations_once_and_score_matches_them() {
    on_every_backend(async |app: TestApp| {
        let catalogue = domain::Catalogue::builtin().expect("catalogue");
        let created = cli::demo::seed(&app.store, &catalogue, 40, 3).await.expect("seeded");
        assert_eq!(created, 40);
        assert_eq!(cli::demo::seed(&app.store, &catalogue, 40, 3).await.expect("seeded"), 0, "only once");
        let progress = Arc::new(Mutex::new(Vec::new()));
        let seen = progress.clone();
        let report = cli::ops::score(
            &app.settings,
            true,
            Arc::new(move |done, total| seen.lock().expect("lock").push((done, total))),
        )
        .await
        .expect("scored");
        assert_eq!(report.organisations, 40);
        assert!(report.saved.created > 0, "{report:?}");
        let steps = progress.lock().expect("lock").clone();
        assert!(steps.last().is_some_and(|(done, total)| done == total && *total > 0), "{steps:?}");
        // A demo organisation can log in and sees anonymous matches.
        let login = app.login(&cli::demo::demo_email(3, 0), cli::demo::DEMO_PASSWORD).await;
        assert_eq!(login.status(), reqwest::StatusCode::OK);
        let token: serde_json::Value = login.json().await.expect("json");
        let token = token["access_token"].as_str().expect("token");
        let matches: serde_json::Value = app.get("/api/v1/matches", Some(token)).await.json().await.expect("json");
        let list = matches["matches"].as_array().expect("list");
        assert!(!list.is_empty());
        assert!(list.iter().all(|m| m["identity"].is_null()));
        // Scoring again changes nothing that is already right.
        let again = cli::ops::score(&app.settings, true, Arc::new(|_, _| {})).await.expect("scored");
        assert_eq!((again.saved.created, again.saved.updated), (0, 0), "{again:?}");
    })
    .await;
}
