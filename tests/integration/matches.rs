//! Confidential matches: anonymous views, aliases, reveal, decline, outcomes, and the
//! confidentiality invariants of CONTRACT.md.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Member, TestApp, answers, on_every_backend};

/// Three organisations that all answer alike, so that each is matched with the other two.
async fn three_members(app: &TestApp) -> (Member, Member, Member) {
    let a = app.member("ann@acme-secret.example", "Acme Secret Ltd", "sme").await;
    let b = app.member("bo@trust.example", "Riverside NHS Trust", "health_org").await;
    let c = app.member("cy@uni.example", "University of Elsewhere", "academic").await;
    let profile = json!({
        "website": "https://acme-secret.example/about",
        "description": "Acme's confidential plans for a falls sensor",
        "anonymous_summary": "A small team with a falls-prevention device",
        "sectors": ["ageing_frailty"],
        "capabilities_offered": ["engineering_prototyping"],
        "capabilities_sought": ["clinical_evaluation"],
        "region": "wales",
    });
    assert_eq!(app.put("/api/v1/me/profile", &profile, &a.token).await.status(), StatusCode::OK);
    let trust = json!({"sectors": ["ageing_frailty"], "capabilities_offered": ["clinical_evaluation", "test_beds_patient_access"]});
    assert_eq!(app.put("/api/v1/me/profile", &trust, &b.token).await.status(), StatusCode::OK);
    for member in [&a, &b, &c] {
        let saved = app.put("/api/v1/me/answers", &answers(|_, _| 0, "very"), &member.token).await;
        assert_eq!(saved.status(), StatusCode::OK);
    }
    app.score().await;
    (a, b, c)
}

async fn matches_of(app: &TestApp, member: &Member) -> Vec<Value> {
    let body: Value = app.get("/api/v1/matches", Some(&member.token)).await.json().await.expect("json");
    body["matches"].as_array().expect("matches").clone()
}

/// The match in `member`'s list with the organisation of `three_members` that is of `kind`.
/// Anonymous views need not show the kind, so the test finds the pair through the store.
async fn match_with(app: &TestApp, member: &Member, kind: &str) -> Value {
    let other = match kind {
        "sme" => "ann@acme-secret.example",
        "health_org" => "bo@trust.example",
        _ => "cy@uni.example",
    };
    match_between(app, member, other).await
}

/// The match in `member`'s list whose counterpart is the organisation of `other` (an email).
async fn match_between(app: &TestApp, member: &Member, other: &str) -> Value {
    let (mine, theirs) = (app.org_of(&member.email).await, app.org_of(other).await);
    let views = app.store.matches_for(mine).await.expect("store");
    let id = views
        .iter()
        .find(|v| v.counterpart == theirs)
        .map(|v| v.id.clone())
        .unwrap_or_else(|| panic!("{} has a match with {other}", member.name));
    matches_of(app, member).await.into_iter().find(|m| m["id"] == id.as_str()).expect("listed")
}

#[tokio::test]
async fn members_see_anonymous_matches_with_a_vector_and_reasons() {
    on_every_backend(async |app: TestApp| {
        let (a, b, _) = three_members(&app).await;
        let seen_by_a = match_with(&app, &a, "health_org").await;
        let seen_by_b = match_with(&app, &b, "sme").await;
        assert_eq!(seen_by_a["id"], seen_by_b["id"], "one id for both parties");
        assert!(uuid::Uuid::parse_str(seen_by_a["id"].as_str().expect("id")).is_ok_and(|u| u.get_version_num() == 4));
        for dimension in ["values", "working_style", "org_health", "goals", "capabilities", "sectors", "standards"] {
            let value = seen_by_a["compatibility"][dimension].as_f64().expect(dimension);
            assert!((0.0..=1.0).contains(&value), "{dimension}");
        }
        // Identical answers: shared standards well beyond chance, less what chance could give.
        assert!(seen_by_a["compatibility"]["standards"].as_f64().is_some_and(|s| s > 0.7), "{seen_by_a}");
        assert!(seen_by_a["score"].as_f64().is_some_and(|s| s > 0.8), "{seen_by_a}");
        assert_eq!(seen_by_a["compatibility"]["capabilities"], 1.0, "B offers what A seeks");
        assert!(seen_by_a["confidence"].as_f64().is_some_and(|c| c > 0.5));
        let reasons = seen_by_a["explanation"].as_array().expect("explanation");
        assert!(reasons.iter().any(|r| r.as_str().is_some_and(|r| r.starts_with("Strong fit on"))), "{reasons:?}");
        let standards = |r: &serde_json::Value| r.as_str().is_some_and(|r| r.starts_with("You accept and rule out"));
        assert!(reasons.iter().any(standards), "{reasons:?}");
        assert_eq!(seen_by_a["my_status"], "suggested");
        assert_eq!(seen_by_a["their_status"], "hidden");
        assert!(seen_by_a["identity"].is_null());
        assert_eq!(seen_by_b["counterpart"]["anonymous_summary"], "A small team with a falls-prevention device");
        let one = app.get(&format!("/api/v1/matches/{}", seen_by_b["id"].as_str().expect("id")), Some(&b.token)).await;
        assert_eq!(one.status(), StatusCode::OK);
        let one: Value = one.json().await.expect("json");
        assert_eq!(one["alias"], seen_by_b["alias"]);
    })
    .await;
}

#[tokio::test]
async fn an_organisation_has_unrelated_aliases_in_different_matches() {
    on_every_backend(async |app: TestApp| {
        let (_, b, c) = three_members(&app).await;
        let a_seen_by_b = match_with(&app, &b, "sme").await;
        let a_seen_by_c = match_with(&app, &c, "sme").await;
        assert_ne!(a_seen_by_b["id"], a_seen_by_c["id"]);
        assert_ne!(a_seen_by_b["alias"], a_seen_by_c["alias"], "two members cannot link their views");
    })
    .await;
}

/// Fails on anything in `value` that could identify an organisation by an internal id: any
/// integer, and any `*id` field that is not a match's UUID.
fn assert_no_internal_ids(value: &Value, path: &str) {
    match value {
        Value::Number(n) => assert!(!(n.is_i64() || n.is_u64()), "integer at {path}: {n}"),
        Value::Array(items) => {
            items.iter().enumerate().for_each(|(i, v)| assert_no_internal_ids(v, &format!("{path}[{i}]")))
        }
        Value::Object(fields) => {
            for (key, v) in fields {
                if key.ends_with("id") {
                    assert!(v.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_ok()), "{path}.{key} = {v}");
                }
                assert_no_internal_ids(v, &format!("{path}.{key}"));
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn nothing_identifies_an_organisation_before_it_reveals_itself() {
    on_every_backend(async |app: TestApp| {
        let (a, b, _) = three_members(&app).await;
        let internal_id = app
            .store
            .account_by_email(&domain::EmailAddress::parse(&a.email).expect("email"))
            .await
            .expect("store")
            .expect("account")
            .organisation
            .0;
        let id = match_with(&app, &b, "sme").await["id"].as_str().expect("id").to_owned();
        let mut seen = Vec::new();
        let mut record = async |response: reqwest::Response| {
            let headers = format!("{:?}", response.headers());
            let body = response.text().await.expect("body");
            seen.push(format!("{headers}\n{body}"));
            serde_json::from_str::<Value>(&body).unwrap_or(Value::Null)
        };
        let list = record(app.get("/api/v1/matches", Some(&b.token)).await).await;
        assert_no_internal_ids(&list, "list");
        let one = record(app.get(&format!("/api/v1/matches/{id}"), Some(&b.token)).await).await;
        assert_no_internal_ids(&one, "match");
        let early =
            app.post(&format!("/api/v1/matches/{id}/outcome"), &json!({"outcome": "met"}), Some(&b.token)).await;
        assert_eq!(early.status(), StatusCode::CONFLICT);
        record(early).await;
        let revealed = app.post(&format!("/api/v1/matches/{id}/reveal"), &json!({}), Some(&b.token)).await;
        assert_eq!(revealed.status(), StatusCode::OK);
        let after_own_reveal = record(revealed).await;
        assert_no_internal_ids(&after_own_reveal, "reveal");
        assert!(after_own_reveal["identity"].is_null(), "B revealing itself shows B nothing of A");
        record(app.get("/api/v1/me", Some(&b.token)).await).await;
        app.deliver_emails().await;
        seen.extend(app.emails_to(&b.email));
        let secrets = [a.name.as_str(), "Acme", a.email.as_str(), "acme-secret.example", "confidential plans"];
        for text in &seen {
            for secret in secrets {
                assert!(!text.contains(secret), "{secret:?} leaked to the other side:\n{text}");
            }
        }
        assert!(!seen.iter().any(|t| t.contains(&format!("\"organisation_id\":{internal_id}"))));

        // Once A reveals itself, B sees who A is; A still sees nothing of B until B did, which
        // it has, so both are now connected.
        let a_reveals = app.post(&format!("/api/v1/matches/{id}/reveal"), &json!({}), Some(&a.token)).await;
        assert_eq!(a_reveals.status(), StatusCode::OK);
        let view: Value = app.get(&format!("/api/v1/matches/{id}"), Some(&b.token)).await.json().await.expect("json");
        assert_eq!(view["their_status"], "revealed");
        assert_eq!(view["identity"]["organisation_name"], "Acme Secret Ltd");
        assert_eq!(view["identity"]["contact_email"], "ann@acme-secret.example");
        assert_eq!(view["identity"]["website"], "https://acme-secret.example/about");
        assert_eq!(view["connected"], true);
    })
    .await;
}

#[tokio::test]
async fn identity_stays_hidden_until_the_other_side_reveals() {
    on_every_backend(async |app: TestApp| {
        let (a, b, _) = three_members(&app).await;
        let id = match_with(&app, &a, "health_org").await["id"].as_str().expect("id").to_owned();
        app.post(&format!("/api/v1/matches/{id}/reveal"), &json!({}), Some(&a.token)).await;
        let a_view: Value = app.get(&format!("/api/v1/matches/{id}"), Some(&a.token)).await.json().await.expect("json");
        assert_eq!(a_view["my_status"], "revealed");
        assert_eq!(a_view["their_status"], "hidden");
        assert!(a_view["identity"].is_null());
        let text = serde_json::to_string(&a_view).expect("json");
        assert!(!text.contains("Riverside") && !text.contains("bo@trust.example"));
        let b_view: Value = app.get(&format!("/api/v1/matches/{id}"), Some(&b.token)).await.json().await.expect("json");
        assert_eq!(b_view["their_status"], "revealed");
        assert_eq!(b_view["connected"], false);
    })
    .await;
}

#[tokio::test]
async fn a_match_the_caller_is_not_party_to_is_404() {
    on_every_backend(async |app: TestApp| {
        let (a, b, c) = three_members(&app).await;
        let id = match_with(&app, &a, "health_org").await["id"].as_str().expect("id").to_owned();
        let _ = b;
        let paths = [
            format!("/api/v1/matches/{id}"),
            format!("/api/v1/matches/{}", uuid::Uuid::new_v4()),
            "/api/v1/matches/not-a-uuid".to_owned(),
        ];
        for path in &paths {
            assert_eq!(app.get(path, Some(&c.token)).await.status(), StatusCode::NOT_FOUND, "{path}");
        }
        for action in ["reveal", "decline"] {
            let response = app.post(&format!("/api/v1/matches/{id}/{action}"), &json!({}), Some(&c.token)).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{action}");
        }
        let outcome =
            app.post(&format!("/api/v1/matches/{id}/outcome"), &json!({"outcome": "met"}), Some(&c.token)).await;
        assert_eq!(outcome.status(), StatusCode::NOT_FOUND);
        // Nothing changed for the parties.
        let view = match_with(&app, &a, "health_org").await;
        assert_eq!(view["their_status"], "hidden");
        assert_eq!(view["my_status"], "suggested");
    })
    .await;
}

#[tokio::test]
async fn a_decline_hides_the_match_from_the_decliner_only() {
    on_every_backend(async |app: TestApp| {
        let (a, b, _) = three_members(&app).await;
        let id = match_with(&app, &b, "sme").await["id"].as_str().expect("id").to_owned();
        let declined = app.post(&format!("/api/v1/matches/{id}/decline"), &json!({}), Some(&b.token)).await;
        assert_eq!(declined.status(), StatusCode::OK);
        assert!(matches_of(&app, &b).await.iter().all(|m| m["id"] != id.as_str()), "gone from B's list");
        let seen_by_a = match_with(&app, &a, "health_org").await;
        assert_eq!(seen_by_a["id"], id.as_str());
        assert_eq!(seen_by_a["their_status"], "hidden", "A is never told");
        assert!(!serde_json::to_string(&seen_by_a).expect("json").contains("declin"));
        // A later scoring pass does not bring it back.
        app.score().await;
        assert!(matches_of(&app, &b).await.iter().all(|m| m["id"] != id.as_str()));
    })
    .await;
}

#[tokio::test]
async fn revealing_at_the_same_moment_connects_once_and_mails_each_side_once() {
    on_every_backend(async |app: TestApp| {
        let (a, _, c) = three_members(&app).await;
        let id = match_with(&app, &a, "academic").await["id"].as_str().expect("id").to_owned();
        let path = format!("/api/v1/matches/{id}/reveal");
        let empty = json!({});
        let (first, second) =
            tokio::join!(app.post(&path, &empty, Some(&a.token)), app.post(&path, &empty, Some(&c.token)));
        assert_eq!((first.status(), second.status()), (StatusCode::OK, StatusCode::OK));
        // Revealing again changes nothing and sends nothing.
        assert_eq!(app.post(&path, &json!({}), Some(&a.token)).await.status(), StatusCode::OK);
        app.deliver_emails().await;
        let to_a: Vec<String> = app.emails_to(&a.email).into_iter().filter(|e| e.contains("connected")).collect();
        let to_c: Vec<String> = app.emails_to(&c.email).into_iter().filter(|e| e.contains("connected")).collect();
        assert_eq!((to_a.len(), to_c.len()), (1, 1), "one email each");
        assert!(to_a[0].contains("University of Elsewhere") && to_a[0].contains(&c.email));
        assert!(to_c[0].contains("Acme Secret Ltd") && to_c[0].contains(&a.email));
        assert!(to_a[0].contains("Content-Type: text/plain") && to_a[0].contains("Content-Type: text/html"));
    })
    .await;
}

#[tokio::test]
async fn outcomes_are_reported_once_connected() {
    on_every_backend(async |app: TestApp| {
        let (a, b, _) = three_members(&app).await;
        let id = match_with(&app, &a, "health_org").await["id"].as_str().expect("id").to_owned();
        let outcome = format!("/api/v1/matches/{id}/outcome");
        let early = app.post(&outcome, &json!({"outcome": "met"}), Some(&a.token)).await;
        assert_eq!(early.status(), StatusCode::CONFLICT);
        for member in [&a, &b] {
            app.post(&format!("/api/v1/matches/{id}/reveal"), &json!({}), Some(&member.token)).await;
        }
        let bad = app.post(&outcome, &json!({"outcome": "married"}), Some(&a.token)).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = bad.json().await.expect("json");
        assert!(body["error"]["fields"]["outcome"].is_array());
        let met = app.post(&outcome, &json!({"outcome": "collaborating"}), Some(&a.token)).await;
        assert_eq!(met.status(), StatusCode::OK);
        let view: Value = met.json().await.expect("json");
        assert_eq!(view["my_outcome"], "collaborating");
    })
    .await;
}

#[tokio::test]
async fn the_match_list_shows_every_change_at_once() {
    on_every_backend(async |app: TestApp| {
        let (a, b, _) = three_members(&app).await;
        let before = match_with(&app, &a, "health_org").await;
        let id = before["id"].as_str().expect("id").to_owned();
        assert_eq!(before["their_status"], "hidden");
        app.post(&format!("/api/v1/matches/{id}/reveal"), &json!({}), Some(&b.token)).await;
        assert_eq!(match_with(&app, &a, "health_org").await["their_status"], "revealed", "a reveal shows at once");
        let summary = json!({"anonymous_summary": "Now with a new summary"});
        assert_eq!(app.put("/api/v1/me/profile", &summary, &b.token).await.status(), StatusCode::OK);
        let after = match_with(&app, &a, "health_org").await;
        assert_eq!(after["counterpart"]["anonymous_summary"], "Now with a new summary");
        app.post(&format!("/api/v1/matches/{id}/decline"), &json!({}), Some(&a.token)).await;
        assert!(matches_of(&app, &a).await.iter().all(|m| m["id"] != id.as_str()), "a decline shows at once");

        // A change made by another process (here, straight through the store) shows within
        // about a second.
        let with_c = match_with(&app, &a, "academic").await["id"].as_str().expect("id").to_owned();
        let email = domain::EmailAddress::parse("cy@uni.example").expect("email");
        let c_org = app.store.account_by_email(&email).await.expect("store").expect("account").organisation;
        app.store.reveal(c_org, &with_c, chrono::Utc::now(), |_| vec![]).await.expect("reveal");
        let started = std::time::Instant::now();
        while match_with(&app, &a, "academic").await["their_status"] != "revealed" {
            assert!(started.elapsed() < std::time::Duration::from_secs(3), "seen within a second or so");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn an_organisation_takes_part_in_at_most_the_configured_number_of_open_matches() {
    for backend in crate::helpers::backends() {
        let app = crate::helpers::spawn_app_with(backend, |s| s.matching.max_open = 1).await;
        let (a, b, c) = three_members(&app).await;
        let counts =
            [matches_of(&app, &a).await.len(), matches_of(&app, &b).await.len(), matches_of(&app, &c).await.len()];
        assert!(counts.iter().all(|n| *n <= 1), "{backend:?}: {counts:?}");
        assert_eq!(counts.iter().sum::<usize>(), 2, "{backend:?}: one match between two of the three");
        crate::helpers::drop_database(backend, &app.settings.database_url).await;
    }
}

#[tokio::test]
async fn a_match_keeps_its_state_when_scores_change() {
    on_every_backend(async |app: TestApp| {
        let (a, b, _) = three_members(&app).await;
        let before = match_with(&app, &a, "health_org").await;
        let id = before["id"].as_str().expect("id").to_owned();
        app.post(&format!("/api/v1/matches/{id}/reveal"), &json!({}), Some(&a.token)).await;
        // B changes half of its answers; the pair is scored again.
        let changed = answers(|i, _| usize::from(i % 2 == 1), "very");
        assert_eq!(app.put("/api/v1/me/answers", &changed, &b.token).await.status(), StatusCode::OK);
        app.score().await;
        let after: Value = app.get(&format!("/api/v1/matches/{id}"), Some(&a.token)).await.json().await.expect("json");
        assert_eq!(after["my_status"], "revealed", "the reveal survives");
        assert_eq!(after["alias"], before["alias"], "so does the alias");
        assert!(after["score"].as_f64() < before["score"].as_f64(), "the figures are new: {after}");
    })
    .await;
}

#[tokio::test]
async fn logs_carry_no_identities_passwords_or_tokens() {
    on_every_backend(async |app: TestApp| {
        let a = app.member("log-ann@quiet.example", "Quiet Devices Ltd", "sme").await;
        let b = app.member("log-bo@hush.example", "Hush Valley Health Board", "health_org").await;
        for member in [&a, &b] {
            app.put("/api/v1/me/answers", &answers(|_, _| 2, "very"), &member.token).await;
        }
        app.score().await;
        let id = matches_of(&app, &a).await[0]["id"].as_str().expect("id").to_owned();
        for member in [&a, &b] {
            app.post(&format!("/api/v1/matches/{id}/reveal"), &json!({}), Some(&member.token)).await;
        }
        app.login("log-ann@quiet.example", "a wrong password here").await;
        app.register("log-ann@quiet.example", "Quiet Devices Again", "sme").await;
        app.deliver_emails().await;
        let logs = crate::helpers::logs();
        assert!(logs.contains("matches updated") || logs.contains("match connected"), "logs were captured");
        for secret in [
            "Quiet Devices",
            "Hush Valley",
            "log-ann@quiet.example",
            "log-bo@hush.example",
            "a long enough password",
            "a wrong password here",
            a.token.as_str(),
            b.token.as_str(),
        ] {
            assert!(!logs.contains(secret), "{secret:?} was logged");
        }
    })
    .await;
}

#[tokio::test]
async fn declining_after_revealing_is_refused_and_changes_nothing() {
    on_every_backend(async |app: TestApp| {
        let (a, b, _) = three_members(&app).await;
        let id = match_with(&app, &a, "health_org").await["id"].as_str().expect("id").to_owned();
        app.post(&format!("/api/v1/matches/{id}/reveal"), &json!({}), Some(&a.token)).await;
        let declined = app.post(&format!("/api/v1/matches/{id}/decline"), &json!({}), Some(&a.token)).await;
        assert_eq!(declined.status(), StatusCode::CONFLICT);
        let mine: Value = app.get(&format!("/api/v1/matches/{id}"), Some(&a.token)).await.json().await.expect("json");
        assert_eq!(mine["my_status"], "revealed", "a reveal cannot be undone");
        let theirs = match_with(&app, &b, "sme").await;
        assert_eq!(theirs["their_status"], "revealed");
        assert_eq!(theirs["identity"]["organisation_name"], "Acme Secret Ltd");
    })
    .await;
}

#[tokio::test]
async fn a_party_that_declined_never_learns_who_the_other_side_is() {
    on_every_backend(async |app: TestApp| {
        let (a, b, _) = three_members(&app).await;
        let id = match_with(&app, &b, "sme").await["id"].as_str().expect("id").to_owned();
        let declined = app.post(&format!("/api/v1/matches/{id}/decline"), &json!({}), Some(&b.token)).await;
        assert_eq!(declined.status(), StatusCode::OK);
        // A reveals itself afterwards; B has declined and sees none of it.
        let revealed = app.post(&format!("/api/v1/matches/{id}/reveal"), &json!({}), Some(&a.token)).await;
        assert_eq!(revealed.status(), StatusCode::OK);
        let one = app.get(&format!("/api/v1/matches/{id}"), Some(&b.token)).await;
        assert_eq!(one.status(), StatusCode::NOT_FOUND, "a declined match is gone for the decliner");
        let list = app.get("/api/v1/matches", Some(&b.token)).await.text().await.expect("body");
        let reveal = app.post(&format!("/api/v1/matches/{id}/reveal"), &json!({}), Some(&b.token)).await;
        assert_eq!(reveal.status(), StatusCode::NOT_FOUND, "and cannot be revealed into a connection");
        let outcome =
            app.post(&format!("/api/v1/matches/{id}/outcome"), &json!({"outcome": "met"}), Some(&b.token)).await;
        assert_eq!(outcome.status(), StatusCode::NOT_FOUND);
        app.deliver_emails().await;
        let mut seen = app.emails_to(&b.email);
        seen.push(list);
        for text in &seen {
            for secret in ["Acme Secret", "ann@acme-secret.example", "acme-secret.example"] {
                assert!(!text.contains(secret), "{secret:?} reached the party that declined:\n{text}");
            }
        }
        let view = app.store.match_for(app.org_of(&b.email).await, &id).await;
        assert!(matches!(view, Err(store::StoreError::NotFound)), "the store gives the decliner no view");
    })
    .await;
}

#[tokio::test]
async fn the_other_sides_decline_frees_nothing_it_could_notice() {
    for backend in crate::helpers::backends() {
        let app = crate::helpers::spawn_app_with(backend, |s| s.matching.max_open = 1).await;
        // X fits Y perfectly and Z less well; Y and Z do not welcome each other's kind. With one
        // open match each, X is matched with Y only.
        let x = app.member("x@cap.example", "Org X", "sme").await;
        let y = app.member("y@cap.example", "Org Y", "health_org").await;
        let z = app.member("z@cap.example", "Org Z", "academic").await;
        for (member, kinds) in [(&y, json!(["sme"])), (&z, json!(["sme"]))] {
            let seeking = json!({"seeking_kinds": kinds});
            assert_eq!(app.put("/api/v1/me/profile", &seeking, &member.token).await.status(), StatusCode::OK);
        }
        for member in [&x, &y] {
            app.put("/api/v1/me/answers", &answers(|_, _| 0, "very"), &member.token).await;
        }
        app.put("/api/v1/me/answers", &answers(|i, _| usize::from(i % 3 == 0), "very"), &z.token).await;
        app.score().await;
        let before = matches_of(&app, &x).await;
        assert_eq!(before.len(), 1, "{backend:?}");
        assert_eq!(before[0]["id"], match_between(&app, &x, &y.email).await["id"], "{backend:?}: X is matched with Y");
        assert!(matches_of(&app, &z).await.is_empty(), "{backend:?}: Z waits for a free place");
        let id = before[0]["id"].as_str().expect("id").to_owned();
        let declined = app.post(&format!("/api/v1/matches/{id}/decline"), &json!({}), Some(&y.token)).await;
        assert_eq!(declined.status(), StatusCode::OK);
        app.score().await;
        let after: Vec<String> =
            matches_of(&app, &x).await.iter().filter_map(|m| m["id"].as_str().map(str::to_owned)).collect();
        assert_eq!(after, [id], "{backend:?}: X still counts its match, so no new one tells it of Y's decline");
        assert!(matches_of(&app, &z).await.is_empty(), "{backend:?}");
        crate::helpers::drop_database(backend, &app.settings.database_url).await;
    }
}

#[tokio::test]
async fn a_change_committed_out_of_order_still_reaches_cached_lists() {
    fn server_cache_fresh() -> std::time::Duration {
        std::time::Duration::from_millis(1100)
    }
    on_every_backend(async |app: TestApp| {
        let (a, _, _) = three_members(&app).await;
        // A's list is cached, with both of its matches; one of them is then changed by another
        // process with a timestamp older than the other match's last change (a transaction that
        // began earlier and committed later).
        let with_c = match_with(&app, &a, "academic").await["id"].as_str().expect("id").to_owned();
        let with_b = match_with(&app, &a, "health_org").await["id"].as_str().expect("id").to_owned();
        let b_org = app.org_of("bo@trust.example").await;
        app.store.decline(b_org, &with_b, chrono::Utc::now()).await.expect("touches the other match");
        // A's list is built again after that change…
        tokio::time::sleep(server_cache_fresh()).await;
        assert_eq!(match_with(&app, &a, "academic").await["their_status"], "hidden");
        // …and then C's reveal commits with an older timestamp.
        let c_org = app.org_of("cy@uni.example").await;
        let long_ago = chrono::Utc::now() - chrono::Duration::hours(1);
        app.store.reveal(c_org, &with_c, long_ago, |_| vec![]).await.expect("reveal");
        let started = std::time::Instant::now();
        while match_with(&app, &a, "academic").await["their_status"] != "revealed" {
            assert!(started.elapsed() < std::time::Duration::from_secs(3), "seen within a second or so");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_profile_change_moves_only_the_lists_that_show_it() {
    on_every_backend(async |app: TestApp| {
        let (a, b, _) = three_members(&app).await;
        let d = app.member("di@elsewhere.example", "Unmatched Org", "other").await;
        let orgs = [app.org_of(&a.email).await, app.org_of(&b.email).await, app.org_of(&d.email).await];
        let mut before = Vec::new();
        for org in orgs {
            before.push(app.store.matches_version(org).await.expect("version").list);
        }
        let summary = json!({"anonymous_summary": "Now with a new summary"});
        assert_eq!(app.put("/api/v1/me/profile", &summary, &a.token).await.status(), StatusCode::OK);
        let mut after = Vec::new();
        for org in orgs {
            after.push(app.store.matches_version(org).await.expect("version").list);
        }
        assert_eq!(after[0], before[0], "A's own list does not show A");
        assert!(after[1] > before[1], "B's list shows A's profile");
        assert_eq!(after[2], before[2], "D has no match with A");
    })
    .await;
}

#[tokio::test]
async fn concurrent_profile_edits_are_not_lost() {
    on_every_backend(async |app: TestApp| {
        let member = app.member("busy@acme.example", "Busy Org", "sme").await;
        let edits = [
            json!({"website": "https://busy.example"}),
            json!({"description": "What we do, privately"}),
            json!({"anonymous_summary": "A team that builds things"}),
            json!({"sectors": ["genomics"]}),
            json!({"region": "scotland"}),
            json!({"size_band": "micro"}),
            json!({"innovation_stage": "evidence"}),
            json!({"capabilities_offered": ["software"]}),
            json!({"capabilities_sought": ["investment"]}),
            json!({"seeking_kinds": ["academic"]}),
        ];
        let mut sent = tokio::task::JoinSet::new();
        for edit in edits.clone() {
            let (client, url, token) = (app.client.clone(), app.url("/api/v1/me/profile"), member.token.clone());
            sent.spawn(
                async move { client.put(url).json(&edit).bearer_auth(token).send().await.expect("sent").status() },
            );
        }
        while let Some(status) = sent.join_next().await {
            assert_eq!(status.expect("task"), StatusCode::OK);
        }
        let me: Value = app.get("/api/v1/me", Some(&member.token)).await.json().await.expect("json");
        let profile = &me["profile"];
        for edit in &edits {
            let (field, value) = edit.as_object().expect("object").iter().next().expect("one field");
            assert_eq!(&profile[field], value, "{field} was lost");
        }
    })
    .await;
}
