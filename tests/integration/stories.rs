//! Success stories: drafted by a party of a connected match once one of them collaborates,
//! published only when both approved the same revision, withdrawn by either at any time, hidden
//! by a facilitator, told in digests, and erased with an organisation.

use std::sync::Arc;

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Member, PASSWORD, TestApp, answers, backends, drop_database, spawn_app_with};

const BOSS: &str = "boss@cluster.example";

/// Two organisations connected with each other, a third one, and a facilitator; the id of the
/// connected match.
async fn connected(app: &TestApp) -> (Member, Member, Member, Member, String) {
    let a = app.member("ann@acme-secret.example", "Acme Secret Ltd", "sme").await;
    let b = app.member("bo@trust-secret.example", "Riverside Secret Trust", "health_org").await;
    let c = app.member("cy@uni.example", "University of Elsewhere", "academic").await;
    let boss = app.member(BOSS, "Regional Cluster", "other").await;
    for member in [&a, &b, &c] {
        assert_eq!(
            app.put("/api/v1/me/answers", &answers(|_, _| 0, "very"), &member.token).await.status(),
            StatusCode::OK
        );
    }
    app.put("/api/v1/me/digest", &json!({"frequency": "daily"}), &c.token).await;
    app.score().await;
    let (mine, theirs) = (app.org_of(&a.email).await, app.org_of(&b.email).await);
    let id = app
        .store
        .matches_for(mine)
        .await
        .expect("store")
        .into_iter()
        .find(|v| v.counterpart == theirs)
        .expect("a match")
        .id;
    for member in [&a, &b] {
        let revealed = app.post(&format!("/api/v1/matches/{id}/reveal"), &json!({}), Some(&member.token)).await;
        assert_eq!(revealed.status(), StatusCode::OK);
    }
    (a, b, c, boss, id)
}

async fn published(app: &TestApp) -> Vec<Value> {
    let body: Value = app.get("/api/v1/stories", None).await.json().await.expect("json");
    body["stories"].as_array().expect("stories").clone()
}

async fn page(app: &TestApp) -> String {
    app.get("/stories", None).await.text().await.expect("page")
}

async fn story_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    body["story"].clone()
}

#[tokio::test]
async fn a_story_is_published_only_while_both_parties_approve_the_same_text() {
    for backend in backends() {
        let boss = domain::EmailAddress::parse(BOSS).expect("email");
        let app = spawn_app_with(backend, |s| s.facilitator_emails = vec![boss]).await;
        let (a, b, c, boss, id) = connected(&app).await;
        let story = format!("/api/v1/matches/{id}/story");
        let draft = |title: &str| json!({"title": title, "text": "We trialled a falls sensor on two wards for six months.", "show_names": true});

        // Not before one of them collaborates; never by an outsider.
        assert_eq!(app.post(&story, &draft("Too early"), Some(&a.token)).await.status(), StatusCode::CONFLICT);
        let outcome = app
            .post(&format!("/api/v1/matches/{id}/outcome"), &json!({"outcome": "collaborating"}), Some(&a.token))
            .await;
        assert_eq!(outcome.status(), StatusCode::OK);
        assert_eq!(app.post(&story, &draft("Not mine"), Some(&c.token)).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(app.get(&story, Some(&c.token)).await.status(), StatusCode::NOT_FOUND);

        // Bad input: every field at once, nothing stored.
        let bad = app.post(&story, &json!({"title": "", "text": "short"}), Some(&a.token)).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = bad.json().await.expect("json");
        assert!(body["error"]["fields"]["title"].is_array() && body["error"]["fields"]["text"].is_array(), "{body}");
        assert!(story_of(app.get(&story, Some(&a.token)).await).await.is_null());

        // A draft is approved by its author only: nothing is public.
        let first = story_of(app.post(&story, &draft("Fewer falls on the wards"), Some(&a.token)).await).await;
        assert_eq!(
            (first["revision"].as_i64(), first["approved_by_me"].as_bool(), first["published"].as_bool()),
            (Some(1), Some(true), Some(false))
        );
        assert!(published(&app).await.is_empty());
        assert!(!page(&app).await.contains("Fewer falls on the wards"));
        let seen_by_b = story_of(app.get(&story, Some(&b.token)).await).await;
        assert_eq!(
            (seen_by_b["approved_by_me"].as_bool(), seen_by_b["approved_by_them"].as_bool()),
            (Some(false), Some(true))
        );

        // A changes the text while B reads the first one: B's approval of revision 1 is refused.
        story_of(app.post(&story, &draft("Fewer falls, fewer fractures"), Some(&a.token)).await).await;
        let stale = app.post(&format!("{story}/approve"), &json!({"revision": 1}), Some(&b.token)).await;
        assert_eq!(stale.status(), StatusCode::CONFLICT);
        assert!(published(&app).await.is_empty(), "never published from approvals of different texts");

        // Both approve revision 2: published, with both names, and nothing of the match.
        let both = story_of(app.post(&format!("{story}/approve"), &json!({"revision": 2}), Some(&b.token)).await).await;
        assert_eq!(both["published"], true);
        let list = published(&app).await;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["title"], "Fewer falls, fewer fractures");
        let names: Vec<&str> = list[0]["names"].as_array().expect("names").iter().filter_map(Value::as_str).collect();
        assert!(names.contains(&a.name.as_str()) && names.contains(&b.name.as_str()), "{names:?}");
        let public = format!("{list:?}{}", page(&app).await);
        assert!(!public.contains(&id), "the match id is never public");
        assert!(page(&app).await.contains("Fewer falls, fewer fractures"));

        // It is in the next digest of a member who reads digests.
        let catalogue = Arc::new(domain::Catalogue::builtin().expect("catalogue"));
        let anonymity = Arc::new(matching::anonymity::Anonymity::new(catalogue.clone(), app.settings.k_anonymity));
        let digester = server::digests::Digester::new(app.store.clone(), catalogue, anonymity, &app.settings);
        digester.run(Utc::now() + Duration::days(1), false).await.expect("digests");
        app.deliver_emails().await;
        let digest = app.emails_to(&c.email).into_iter().find(|e| e.contains("What is new")).expect("a digest");
        assert!(digest.contains("New success stories") && digest.contains("Fewer falls, fewer fractures"), "{digest}");

        // A facilitator hides it (nobody else may), and shows it again.
        let story_id = list[0]["id"].as_str().expect("id").to_owned();
        let hide = format!("/api/v1/admin/stories/{story_id}/hide");
        assert_eq!(app.post(&hide, &json!({"hidden": true}), Some(&b.token)).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.post(&hide, &json!({"hidden": true}), Some(&boss.token)).await.status(), StatusCode::OK);
        assert!(published(&app).await.is_empty() && !page(&app).await.contains("Fewer falls"));
        assert_eq!(story_of(app.get(&story, Some(&a.token)).await).await["hidden"], true, "its parties see why");
        assert_eq!(app.post(&hide, &json!({"hidden": false}), Some(&boss.token)).await.status(), StatusCode::OK);
        assert_eq!(published(&app).await.len(), 1);

        // A new text unpublishes it until the other approves again.
        story_of(app.post(&story, &draft("Fewer falls: a year on"), Some(&b.token)).await).await;
        assert!(published(&app).await.is_empty());
        story_of(app.post(&format!("{story}/approve"), &json!({"revision": 3}), Some(&a.token)).await).await;
        assert_eq!(published(&app).await.len(), 1);

        // Either party withdraws it at any time, and its approvals go with the withdrawal.
        let withdrawn = story_of(app.delete(&story, &json!({}), &b.token).await).await;
        assert_eq!((withdrawn["withdrawn"].as_bool(), withdrawn["published"].as_bool()), (Some(true), Some(false)));
        assert!(published(&app).await.is_empty() && !page(&app).await.contains("a year on"));
        story_of(app.post(&format!("{story}/approve"), &json!({"revision": 3}), Some(&a.token)).await).await;
        assert!(published(&app).await.is_empty(), "one approval after a withdrawal is not enough");

        let database = app.settings.database_url.clone();
        drop(app);
        drop_database(backend, &database).await;
    }
}

#[tokio::test]
async fn an_erased_organisations_stories_go_with_it() {
    for backend in backends() {
        let boss = domain::EmailAddress::parse(BOSS).expect("email");
        let app = spawn_app_with(backend, |s| s.facilitator_emails = vec![boss]).await;
        let (a, b, _, _, id) = connected(&app).await;
        let story = format!("/api/v1/matches/{id}/story");
        app.post(&format!("/api/v1/matches/{id}/outcome"), &json!({"outcome": "collaborating"}), Some(&b.token)).await;
        let text = json!({"title": "A partnership to remember", "text": "Together we halved the time to diagnosis.", "show_names": false});
        story_of(app.post(&story, &text, Some(&b.token)).await).await;
        story_of(app.post(&format!("{story}/approve"), &json!({"revision": 1}), Some(&a.token)).await).await;
        assert_eq!(published(&app).await.len(), 1);
        assert!(published(&app).await[0]["names"].is_null(), "no names unless both approved showing them");
        let export: Value = app.get("/api/v1/me/export", Some(&a.token)).await.json().await.expect("json");
        assert_eq!(export["stories"][0]["title"], "A partnership to remember", "a party's export holds its stories");

        assert_eq!(
            app.delete("/api/v1/me", &json!({"password": PASSWORD}), &a.token).await.status(),
            StatusCode::NO_CONTENT
        );
        assert!(published(&app).await.is_empty());
        assert!(!page(&app).await.contains("A partnership to remember"));
        let rows = app.store.every_row_for_tests().await.expect("rows");
        assert!(
            rows.iter().all(|(table, row)| table != "stories" && !row.contains("halved the time")),
            "a story row is left"
        );

        let database = app.settings.database_url.clone();
        drop(app);
        drop_database(backend, &database).await;
    }
}
