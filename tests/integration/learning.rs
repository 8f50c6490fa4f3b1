//! Learning the model from outcomes: simulated outcomes from the demo's hidden rule are
//! learned (the favoured dimension gets the largest weight, and held-out pairs rank better),
//! a new model is versioned and rescores every match, and learning never adopts a model from
//! too few outcomes, from noise, or one no better than the model in use.

use std::collections::BTreeMap;

use rand::SeedableRng;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Member, TestApp, backends, drop_database, spawn_app_with};

const BOSS: &str = "boss@cluster.example";

async fn app_with_facilitator(backend: crate::helpers::Backend) -> (TestApp, Member) {
    let boss = domain::EmailAddress::parse(BOSS).expect("email");
    let app = spawn_app_with(backend, |s| s.facilitator_emails = vec![boss]).await;
    let facilitator = app.member(BOSS, "Regional Cluster", "other").await;
    (app, facilitator)
}

/// Demo organisations, scored.
async fn demo(app: &TestApp, orgs: usize) -> domain::Catalogue {
    let catalogue = domain::Catalogue::builtin().expect("catalogue");
    cli::demo::seed(&app.store, &catalogue, orgs, 3).await.expect("seeded");
    app.score().await;
    catalogue
}

async fn learn(app: &TestApp, token: &str, dry_run: bool) -> Value {
    let response = app.post("/api/v1/admin/model/learn", &json!({"dry_run": dry_run}), Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

/// The area under the ROC curve of `scores` for `successes` (ties count a half).
fn auc(scores: &[f64], successes: &[bool]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    let of = |kind: bool| scores.iter().zip(successes).filter(move |(_, s)| **s == kind).map(|(score, _)| *score);
    for s in of(true) {
        for f in of(false) {
            pairs += 1.0;
            wins += if s > f {
                1.0
            } else if s == f {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / pairs
}

fn weighted_mean(weights: &Value, vector: &BTreeMap<String, f64>) -> f64 {
    let weights = weights.as_object().expect("weights");
    let total: f64 = weights.values().filter_map(Value::as_f64).sum();
    weights.iter().map(|(id, w)| w.as_f64().unwrap_or(0.0) * vector.get(id).copied().unwrap_or(0.0)).sum::<f64>()
        / total
}

#[tokio::test]
async fn learning_recovers_the_hidden_rule_and_a_new_version_rescores_every_match() {
    for backend in backends() {
        let (app, boss) = app_with_facilitator(backend).await;
        demo(&app, 150).await;
        let (simulated, successes) = cli::demo::simulate_outcomes(&app.store, 250, 3).await.expect("simulated");
        assert_eq!(simulated, 250);
        assert!(successes > 60 && successes < 190, "{successes} successes");

        // Only facilitators see or change the model.
        let member = app.member("ann@acme.example", "Acme Ltd", "sme").await;
        assert_eq!(app.get("/api/v1/admin/model", Some(&member.token)).await.status(), StatusCode::FORBIDDEN);
        let refused = app.post("/api/v1/admin/model/learn", &json!({}), Some(&member.token)).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let first: Value = app.get("/api/v1/admin/model", Some(&boss.token)).await.json().await.expect("json");
        assert_eq!((first["version"].as_i64(), first["trained_on"].as_i64()), (Some(1), Some(0)));

        // A dry run evaluates and adopts nothing.
        let dry = learn(&app, &boss.token, true).await;
        assert_eq!((dry["adopted"].as_bool(), dry["version"].as_i64()), (Some(false), Some(1)), "{dry}");
        assert_eq!(dry["examples"], 250);

        let learned = learn(&app, &boss.token, false).await;
        assert_eq!((learned["adopted"].as_bool(), learned["version"].as_i64()), (Some(true), Some(2)), "{learned}");
        let held_out = &learned["candidate"]["evaluation"];
        let before = &learned["in_use"]["evaluation"];
        assert!(held_out["auc"].as_f64() > before["auc"].as_f64().map(|a| a + 0.02), "{learned}");
        assert!(held_out["log_loss"].as_f64() <= before["log_loss"].as_f64(), "{learned}");
        let weights = learned["candidate"]["weights"].clone();
        let largest = weights
            .as_object()
            .expect("weights")
            .iter()
            .max_by(|a, b| a.1.as_f64().unwrap_or(0.0).total_cmp(&b.1.as_f64().unwrap_or(0.0)))
            .map(|(id, _)| id.clone());
        assert_eq!(largest.as_deref(), Some(cli::demo::HIDDEN_RULE_DIMENSION), "{weights}");

        // Pairs that learning never saw, with outcomes from the same hidden rule, rank better.
        let fresh = app.store.untouched_demo_pairs().await.expect("pairs");
        assert!(fresh.len() >= 100, "{} pairs left", fresh.len());
        let vectors: Vec<BTreeMap<String, f64>> = fresh.iter().map(|p| p.compatibility.clone()).collect();
        let outcomes = cli::demo::hidden_rule(&vectors, &mut rand::rngs::StdRng::seed_from_u64(99));
        let truth: Vec<bool> = outcomes.iter().map(|o| *o != store::matches::Outcome::NoFit).collect();
        let score = |w: &Value| vectors.iter().map(|v| weighted_mean(w, v)).collect::<Vec<f64>>();
        let (old, new) = (auc(&score(&learned["in_use"]["weights"]), &truth), auc(&score(&weights), &truth));
        eprintln!(
            "{backend:?}: {} fresh pairs, AUC {new:.3} with the learned weights, {old:.3} with the old",
            truth.len()
        );
        assert!(new > old + 0.05, "held-out AUC {new:.3} against {old:.3}");

        // The model is versioned with what it was trained on and its history.
        let model: Value = app.get("/api/v1/admin/model", Some(&boss.token)).await.json().await.expect("json");
        assert_eq!((model["version"].as_i64(), model["trained_on"].as_i64()), (Some(2), Some(250)), "{model}");
        assert_eq!(model["weights"], weights);
        assert!(model["evaluation"]["held_out"]["auc"].as_f64().is_some());
        let versions: Vec<i64> =
            model["history"].as_array().expect("history").iter().filter_map(|v| v["version"].as_i64()).collect();
        assert_eq!(versions, [2, 1]);

        // The next scoring pass rescores every match with the new version.
        let report = app.score().await;
        assert!(report.saved.updated > 0, "{report:?}");
        let rows = app.store.every_row_for_tests().await.expect("rows");
        let match_versions: Vec<i64> = rows
            .iter()
            .filter(|(table, _)| table == "matches")
            .filter_map(|(_, row)| serde_json::from_str::<Value>(row).ok()?["model_version"].as_i64())
            .collect();
        assert!(!match_versions.is_empty() && match_versions.iter().all(|v| *v == 2), "{match_versions:?}");

        // Learning again from the same outcomes finds nothing better: version 2 stays.
        let again = learn(&app, &boss.token, false).await;
        assert_eq!((again["adopted"].as_bool(), again["version"].as_i64()), (Some(false), Some(2)), "{again}");
        // The command line says the same.
        let report = cli::ops::learn(&app.settings, true).await.expect("learn");
        assert!(report.adopted.is_none() && !report.learned.adopt, "{}", report.learned.reason);

        let database = app.settings.database_url.clone();
        drop(app);
        drop_database(backend, &database).await;
    }
}

#[tokio::test]
async fn learning_never_adopts_from_too_few_outcomes_or_from_noise() {
    for backend in backends() {
        let (app, boss) = app_with_facilitator(backend).await;
        demo(&app, 120).await;
        // Fewer outcomes than the minimum (50 by default): not even evaluated.
        cli::demo::simulate_outcomes(&app.store, 30, 5).await.expect("simulated");
        let few = learn(&app, &boss.token, false).await;
        assert_eq!(few["adopted"], false);
        assert!(few["candidate"]["evaluation"].is_null(), "{few}");
        assert!(few["reason"].as_str().is_some_and(|r| r.contains("fewer than the 50")), "{few}");

        // Outcomes that have nothing to do with the vector: nothing is learned from them.
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for pair in app.store.untouched_demo_pairs().await.expect("pairs").into_iter().take(220) {
            use rand::RngExt;
            let outcome = if rng.random_bool(0.5) {
                store::matches::Outcome::Collaborating
            } else {
                store::matches::Outcome::NoFit
            };
            app.store.simulate_outcome(&pair.id, outcome, chrono::Utc::now()).await.expect("recorded");
        }
        let noise = learn(&app, &boss.token, false).await;
        assert_eq!((noise["adopted"].as_bool(), noise["version"].as_i64()), (Some(false), Some(1)), "{noise}");
        let model: Value = app.get("/api/v1/admin/model", Some(&boss.token)).await.json().await.expect("json");
        assert_eq!(model["history"].as_array().map(Vec::len), Some(1), "no version was added");

        let database = app.settings.database_url.clone();
        drop(app);
        drop_database(backend, &database).await;
    }
}
