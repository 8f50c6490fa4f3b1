//! Challenges and their forum: who posts, editing and closing (at the deadline too), browsing
//! with fit, responses under aliases, shortlist, decline and reveal, the forum, and that no
//! responder or asker is identified before it reveals itself.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Member, TestApp, answers, backends, drop_database, on_every_backend, spawn_app_with};

fn falls(deadline: &str) -> Value {
    json!({
        "title": "Preventing recurrent falls among older people",
        "problem_statement": "One in three people over 65 falls each year, and many fall again within months.",
        "sectors": ["ageing_frailty"],
        "innovation_stage": "evidence",
        "capabilities_needed": ["engineering_prototyping", "clinical_evaluation"],
        "deadline": deadline,
        "links": ["https://trust.example/falls-brief.pdf"],
    })
}

fn in_days(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).format("%Y-%m-%d").to_string()
}

struct Cast {
    trust: Member,
    sme: Member,
    other_sme: Member,
    university: Member,
}

/// A trust that posts, two SMEs that respond and ask, and a university that reads.
async fn cast(app: &TestApp) -> Cast {
    let trust = app.member("bo@riverside-trust.example", "Riverside NHS Trust", "health_org").await;
    let sme = app.member("ann@brightpath.example", "Brightpath Devices Ltd", "sme").await;
    let other_sme = app.member("cy@quietstep.example", "Quietstep Sensors Ltd", "sme").await;
    let university = app.member("di@elsewhere.example", "University of Elsewhere", "academic").await;
    let sme_profile = json!({
        "website": "https://brightpath.example",
        "description": "Brightpath's private plans",
        "anonymous_summary": "A small team with a falls sensor",
        "sectors": ["ageing_frailty"],
        "capabilities_offered": ["engineering_prototyping", "clinical_evaluation"],
    });
    assert_eq!(app.put("/api/v1/me/profile", &sme_profile, &sme.token).await.status(), StatusCode::OK);
    for member in [&trust, &sme, &other_sme, &university] {
        app.put("/api/v1/me/answers", &answers(|_, _| 0, "very"), &member.token).await;
    }
    Cast { trust, sme, other_sme, university }
}

async fn post_challenge(app: &TestApp, poster: &Member, body: &Value) -> String {
    let created = app.post("/api/v1/challenges", body, Some(&poster.token)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let body: Value = created.json().await.expect("json");
    body["id"].as_str().expect("an id").to_owned()
}

async fn respond(app: &TestApp, member: &Member, id: &str, summary: &str) -> reqwest::Response {
    let body = json!({"summary": summary, "stages": ["invention", "evidence"]});
    app.post(&format!("/api/v1/challenges/{id}/responses"), &body, Some(&member.token)).await
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("json")
}

#[tokio::test]
async fn only_health_organisations_and_universities_post_and_bad_challenges_store_nothing() {
    on_every_backend(async |app: TestApp| {
        let cast = cast(&app).await;
        let other = app.member("ed@cluster.example", "Regional Cluster", "other").await;
        for member in [&cast.sme, &other] {
            let refused = app.post("/api/v1/challenges", &falls(&in_days(30)), Some(&member.token)).await;
            assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        }
        let bad = json!({
            "title": "Hi", "problem_statement": "short", "sectors": ["astrology"], "innovation_stage": "done",
            "capabilities_needed": ["telepathy"], "deadline": "2001-01-01", "links": ["javascript:alert(1)"],
        });
        let refused = app.post("/api/v1/challenges", &bad, Some(&cast.trust.token)).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = json_of(refused).await;
        let mut fields: Vec<&String> = body["error"]["fields"].as_object().expect("fields").keys().collect();
        fields.sort();
        assert_eq!(
            fields,
            ["capabilities_needed", "deadline", "innovation_stage", "links", "problem_statement", "sectors", "title"]
        );
        let list = json_of(app.get("/api/v1/challenges?status=all", Some(&cast.trust.token)).await).await;
        assert_eq!(list["challenges"], json!([]), "nothing was stored");
        let id = post_challenge(&app, &cast.university, &falls(&in_days(30))).await;
        assert!(uuid::Uuid::parse_str(&id).is_ok());
        let seen = json_of(app.get(&format!("/api/v1/challenges/{id}"), Some(&cast.sme.token)).await).await;
        assert_eq!(seen["status"], "open");
        assert_eq!(seen["mine"], false);
        assert!(seen["fit"].as_f64().is_some_and(|f| (0.0..=1.0).contains(&f)));
    })
    .await;
}

#[tokio::test]
async fn the_poster_edits_until_the_first_response_and_may_close_early() {
    on_every_backend(async |app: TestApp| {
        let cast = cast(&app).await;
        let id = post_challenge(&app, &cast.trust, &falls(&in_days(30))).await;
        let path = format!("/api/v1/challenges/{id}");
        let retitle = json!({"title": "Preventing repeat falls at home"});
        assert_eq!(app.patch(&path, &retitle, &cast.sme.token).await.status(), StatusCode::FORBIDDEN, "not the poster");
        let edited = app.patch(&path, &retitle, &cast.trust.token).await;
        assert_eq!(edited.status(), StatusCode::OK);
        assert_eq!(json_of(edited).await["title"], "Preventing repeat falls at home");
        let bad = app.patch(&path, &json!({"deadline": "2001-01-01"}), &cast.trust.token).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            respond(&app, &cast.sme, &id, "We build a sensor that detects falls at home.").await.status(),
            StatusCode::CREATED
        );
        let late = app.patch(&path, &json!({"title": "Another title entirely"}), &cast.trust.token).await;
        assert_eq!(late.status(), StatusCode::CONFLICT, "edits end with the first response");
        let closed = app.patch(&path, &json!({"status": "closed"}), &cast.trust.token).await;
        assert_eq!(closed.status(), StatusCode::OK);
        assert_eq!(json_of(closed).await["status"], "closed");
        let refused = respond(&app, &cast.other_sme, &id, "We could help with evaluation of devices.").await;
        assert_eq!(refused.status(), StatusCode::CONFLICT, "a closed challenge takes no responses");
        let question = json!({"text": "Which wards would host a trial?"});
        let asked = app.post(&format!("{path}/questions"), &question, Some(&cast.other_sme.token)).await;
        assert_eq!(asked.status(), StatusCode::CONFLICT, "nor questions");
    })
    .await;
}

#[tokio::test]
async fn a_challenge_closes_by_itself_at_its_deadline() {
    on_every_backend(async |app: TestApp| {
        let cast = cast(&app).await;
        let id = post_challenge(&app, &cast.trust, &falls(&in_days(1))).await;
        let open = json_of(app.get("/api/v1/challenges", Some(&cast.sme.token)).await).await;
        assert_eq!(open["challenges"].as_array().map(Vec::len), Some(1));
        app.clock.advance(chrono::Duration::days(2));
        let seen = json_of(app.get(&format!("/api/v1/challenges/{id}"), Some(&cast.sme.token)).await).await;
        assert_eq!(seen["status"], "closed");
        let open = json_of(app.get("/api/v1/challenges", Some(&cast.sme.token)).await).await;
        assert_eq!(open["challenges"], json!([]), "the default list shows open challenges");
        let closed = json_of(app.get("/api/v1/challenges?status=closed", Some(&cast.sme.token)).await).await;
        assert_eq!(closed["challenges"].as_array().map(Vec::len), Some(1));
        let refused = respond(&app, &cast.sme, &id, "We build a sensor that detects falls at home.").await;
        assert_eq!(refused.status(), StatusCode::CONFLICT);
    })
    .await;
}

#[tokio::test]
async fn browsing_filters_orders_by_fit_and_puts_the_featured_challenge_first() {
    for backend in backends() {
        let boss = domain::EmailAddress::parse("boss@cluster.example").expect("email");
        let app = spawn_app_with(backend, |s| s.facilitator_emails = vec![boss.clone()]).await;
        let cast = cast(&app).await;
        let facilitator = app.member(boss.as_str(), "Regional Cluster", "other").await;
        let falls_id = post_challenge(&app, &cast.trust, &falls(&in_days(30))).await;
        let genomics = json!({
            "title": "Faster genomic results for sepsis",
            "problem_statement": "Results take days; clinicians need them within hours to choose antibiotics.",
            "sectors": ["genomics"], "innovation_stage": "prototype",
            "capabilities_needed": ["data_analytics"], "deadline": in_days(90),
        });
        let genomics_id = post_challenge(&app, &cast.university, &genomics).await;
        let ids = async |query: &str| -> Vec<String> {
            let list = json_of(app.get(&format!("/api/v1/challenges{query}"), Some(&cast.sme.token)).await).await;
            list["challenges"]
                .as_array()
                .expect("list")
                .iter()
                .map(|c| c["id"].as_str().expect("id").to_owned())
                .collect()
        };
        assert_eq!(ids("?sector=genomics").await, vec![genomics_id.clone()], "{backend:?}");
        assert_eq!(ids("?stage=evidence").await, vec![falls_id.clone()]);
        assert_eq!(ids("?capability=data_analytics").await, vec![genomics_id.clone()]);
        assert_eq!(ids("?q=SEPSIS").await, vec![genomics_id.clone()], "text in the problem statement, any case");
        assert_eq!(ids(&format!("?deadline_before={}", in_days(60))).await, vec![falls_id.clone()]);
        assert_eq!(ids("?order=fit").await, [falls_id.clone(), genomics_id.clone()], "the SME offers what falls needs");
        let bad = app.get("/api/v1/challenges?sector=astrology&order=random", Some(&cast.sme.token)).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);

        let path = |id: &str| format!("/api/v1/admin/challenges/{id}/feature");
        assert_eq!(
            app.post(&path(&genomics_id), &json!({}), Some(&cast.trust.token)).await.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(app.post(&path(&genomics_id), &json!({}), Some(&facilitator.token)).await.status(), StatusCode::OK);
        assert_eq!(
            ids("?order=fit").await,
            [genomics_id.clone(), falls_id.clone()],
            "the challenge of the month first"
        );
        assert_eq!(app.post(&path(&falls_id), &json!({}), Some(&facilitator.token)).await.status(), StatusCode::OK);
        let list = json_of(app.get("/api/v1/challenges", Some(&cast.sme.token)).await).await;
        let featured: Vec<&Value> =
            list["challenges"].as_array().expect("list").iter().filter(|c| c["featured"] == true).collect();
        assert_eq!(featured.len(), 1, "{backend:?}: one at a time");
        assert_eq!(featured[0]["id"], falls_id.as_str());
        drop_database(backend, &app.settings.database_url).await;
    }
}

#[tokio::test]
async fn the_fit_is_the_scoring_engines() {
    on_every_backend(async |app: TestApp| {
        let cast = cast(&app).await;
        let id = post_challenge(&app, &cast.trust, &falls(&in_days(30))).await;
        let fit_for = async |member: &Member| {
            json_of(app.get(&format!("/api/v1/challenges/{id}"), Some(&member.token)).await).await["fit"]
                .as_f64()
                .expect("fit")
        };
        let catalogue = domain::Catalogue::builtin().expect("catalogue");
        let layout = catalogue.questionnaire.layout();
        let orgs = [app.org_of(&cast.sme.email).await, app.org_of(&cast.trust.email).await];
        let rows = app.store.scoring_rows_of(&orgs, &catalogue.questionnaire).await.expect("rows");
        let input = |org| {
            let row = rows.iter().find(|r| r.id == org).expect("row");
            (domain::scoring_input(&catalogue, row.kind, &row.profile, &row.answers), row.profile.sectors.clone())
        };
        let ((sme, sme_sectors), (trust, _)) = (input(orgs[0]), input(orgs[1]));
        let needs = scoring::ChallengeNeeds {
            capabilities: catalogue
                .taxonomy
                .capabilities
                .bits(&["engineering_prototyping".into(), "clinical_evaluation".into()]),
            sectors: catalogue.taxonomy.sectors.bits(&["ageing_frailty".into()]),
        };
        let expected = scoring::challenge_fit(
            layout,
            &scoring::Model::standard(layout),
            &scoring::FitWeights::default(),
            needs,
            &sme,
            catalogue.taxonomy.sectors.bits(&sme_sectors),
            &trust,
        )
        .expect("fit");
        assert!((fit_for(&cast.sme).await - f64::from(expected.fit)).abs() < 1e-6);
        assert!(fit_for(&cast.sme).await > fit_for(&cast.other_sme).await, "capabilities and sectors count");
    })
    .await;
}

#[tokio::test]
async fn responses_are_one_per_organisation_and_only_the_poster_reads_them_all() {
    on_every_backend(async |app: TestApp| {
        let cast = cast(&app).await;
        let id = post_challenge(&app, &cast.trust, &falls(&in_days(30))).await;
        let path = format!("/api/v1/challenges/{id}/responses");
        assert_eq!(
            respond(&app, &cast.sme, &id, "We build a sensor that detects falls at home.").await.status(),
            StatusCode::CREATED
        );
        let edited = respond(&app, &cast.sme, &id, "We build a sensor that detects falls, and we can trial it.").await;
        assert_eq!(edited.status(), StatusCode::OK, "a second response edits the first");
        assert_eq!(
            respond(&app, &cast.other_sme, &id, "We could evaluate devices in care homes.").await.status(),
            StatusCode::CREATED
        );
        let own_response = app
            .post(
                &path,
                &json!({"summary": "We would respond to ourselves here.", "stages": ["scale"]}),
                Some(&cast.trust.token),
            )
            .await;
        assert_eq!(own_response.status(), StatusCode::FORBIDDEN, "the poster does not respond to its own");
        let bad = app.post(&path, &json!({"summary": "short", "stages": []}), Some(&cast.sme.token)).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);

        let all = json_of(app.get(&path, Some(&cast.trust.token)).await).await;
        assert_eq!(all["responses"].as_array().map(Vec::len), Some(2));
        let own = json_of(app.get(&path, Some(&cast.sme.token)).await).await;
        let own = own["responses"].as_array().expect("responses");
        assert_eq!(own.len(), 1);
        assert_eq!(own[0]["summary"], "We build a sensor that detects falls, and we can trial it.");
        assert_eq!(app.get(&path, Some(&cast.university.token)).await.status(), StatusCode::NOT_FOUND);
        let someone_elses = all["responses"][1]["id"].as_str().expect("id");
        let peek = app.post(&format!("{path}/{someone_elses}/reveal"), &json!({}), Some(&cast.university.token)).await;
        assert_eq!(peek.status(), StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn responders_and_askers_stay_anonymous_until_they_reveal_themselves() {
    on_every_backend(async |app: TestApp| {
        let cast = cast(&app).await;
        let id = post_challenge(&app, &cast.trust, &falls(&in_days(30))).await;
        respond(&app, &cast.sme, &id, "We build a sensor that detects falls at home.").await;
        let first = json!({"text": "Which wards would host a trial?"});
        let second = json!({"text": "Is there funding for a pilot?"});
        let questions = format!("/api/v1/challenges/{id}/questions");
        assert_eq!(app.post(&questions, &first, Some(&cast.sme.token)).await.status(), StatusCode::CREATED);
        assert_eq!(app.post(&questions, &second, Some(&cast.sme.token)).await.status(), StatusCode::CREATED);
        let named = json!({"text": "Brightpath would like to know the budget."});
        assert_eq!(
            app.post(&questions, &named, Some(&cast.sme.token)).await.status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );

        let mut seen = Vec::new();
        for (member, paths) in [
            (
                &cast.trust,
                vec![
                    format!("/api/v1/challenges/{id}/responses"),
                    questions.clone(),
                    format!("/api/v1/challenges/{id}"),
                ],
            ),
            (
                &cast.other_sme,
                vec![questions.clone(), format!("/api/v1/challenges/{id}"), "/api/v1/challenges".to_owned()],
            ),
            (&cast.university, vec![questions.clone()]),
        ] {
            for path in paths {
                let response = app.get(&path, Some(&member.token)).await;
                assert_eq!(response.status(), StatusCode::OK, "{path}");
                seen.push(response.text().await.expect("body"));
            }
        }
        let forum: Value = serde_json::from_str(&seen[1]).expect("json");
        let forum = forum["questions"].as_array().expect("questions");
        assert_eq!(forum.len(), 2);
        assert_eq!(forum[0]["alias"], forum[1]["alias"], "one alias per challenge per asker");
        let responses: Value = serde_json::from_str(&seen[0]).expect("json");
        let response = &responses["responses"][0];
        assert!(response["identity"].is_null());
        assert_ne!(response["alias"], forum[0]["alias"], "the response and the forum do not link");
        app.deliver_emails().await;
        seen.extend(app.emails_to(&cast.trust.email));
        for text in &seen {
            for secret in ["Brightpath", "ann@brightpath.example", "brightpath.example", "private plans"] {
                assert!(!text.contains(secret), "{secret:?} leaked:\n{text}");
            }
            for internal_key in ["responder_id", "poster_id", "asker_id", "organisation_id", "responder\":", "asker\":"]
            {
                assert!(!text.contains(internal_key), "{internal_key} in {text}");
            }
        }
        // Another challenge: another alias.
        let other = post_challenge(&app, &cast.university, &falls(&in_days(40))).await;
        app.post(&format!("/api/v1/challenges/{other}/questions"), &first, Some(&cast.sme.token)).await;
        let there =
            json_of(app.get(&format!("/api/v1/challenges/{other}/questions"), Some(&cast.trust.token)).await).await;
        assert_ne!(there["questions"][0]["alias"], forum[0]["alias"]);
    })
    .await;
}

#[tokio::test]
async fn a_decline_is_never_shown_to_the_responder_and_the_poster_reveals_only_to_a_shortlist() {
    on_every_backend(async |app: TestApp| {
        let cast = cast(&app).await;
        let id = post_challenge(&app, &cast.trust, &falls(&in_days(30))).await;
        respond(&app, &cast.sme, &id, "We build a sensor that detects falls at home.").await;
        respond(&app, &cast.other_sme, &id, "We could evaluate devices in care homes.").await;
        let path = format!("/api/v1/challenges/{id}/responses");
        let all = json_of(app.get(&path, Some(&cast.trust.token)).await).await;
        let rid = |i: usize| all["responses"][i]["id"].as_str().expect("id").to_owned();
        let (brightpath, quietstep) = (rid(0), rid(1));
        let early = app.post(&format!("{path}/{brightpath}/reveal"), &json!({}), Some(&cast.trust.token)).await;
        assert_eq!(early.status(), StatusCode::CONFLICT, "only to a shortlisted responder");
        let declined = app.post(&format!("{path}/{quietstep}/decline"), &json!({}), Some(&cast.trust.token)).await;
        assert_eq!(declined.status(), StatusCode::OK);
        assert_eq!(json_of(declined).await["status"], "declined", "the poster sees its decline");
        let theirs = app.get(&path, Some(&cast.other_sme.token)).await.text().await.expect("body");
        assert!(!theirs.contains("declin"), "the responder never sees it: {theirs}");
        assert!(theirs.contains("\"status\":\"submitted\""));
        // A responder that reveals after a decline stays unknown to the poster.
        app.post(&format!("{path}/{quietstep}/reveal"), &json!({}), Some(&cast.other_sme.token)).await;
        let after = app.get(&path, Some(&cast.trust.token)).await.text().await.expect("body");
        assert!(!after.contains("Quietstep") && !after.contains("cy@quietstep.example"), "{after}");
        let responder =
            json_of(app.post(&format!("{path}/{brightpath}/shortlist"), &json!({}), Some(&cast.sme.token)).await).await;
        assert_eq!(responder["error"]["code"], "not_found", "a responder cannot shortlist");
        let shortlisted =
            app.post(&format!("{path}/{brightpath}/shortlist"), &json!({}), Some(&cast.trust.token)).await;
        assert_eq!(shortlisted.status(), StatusCode::OK);
        let own = json_of(app.get(&path, Some(&cast.sme.token)).await).await;
        assert_eq!(own["responses"][0]["status"], "shortlisted", "a shortlist is shown");
        assert_eq!(
            app.post(&format!("{path}/{brightpath}/reveal"), &json!({}), Some(&cast.trust.token)).await.status(),
            StatusCode::OK
        );
        let decline_after =
            app.post(&format!("{path}/{brightpath}/decline"), &json!({}), Some(&cast.trust.token)).await;
        assert_eq!(decline_after.status(), StatusCode::CONFLICT, "a reveal cannot be undone");
        let own = json_of(app.get(&path, Some(&cast.sme.token)).await).await;
        assert_eq!(own["responses"][0]["identity"]["organisation_name"], "Riverside NHS Trust");
        let poster_side = json_of(app.get(&path, Some(&cast.trust.token)).await).await;
        assert!(poster_side["responses"][0]["identity"].is_null(), "the responder has not revealed itself");
    })
    .await;
}

#[tokio::test]
async fn revealing_at_the_same_moment_connects_once_and_mails_each_side_once() {
    on_every_backend(async |app: TestApp| {
        let cast = cast(&app).await;
        let id = post_challenge(&app, &cast.trust, &falls(&in_days(30))).await;
        respond(&app, &cast.sme, &id, "We build a sensor that detects falls at home.").await;
        let path = format!("/api/v1/challenges/{id}/responses");
        let rid = json_of(app.get(&path, Some(&cast.trust.token)).await).await["responses"][0]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        app.post(&format!("{path}/{rid}/shortlist"), &json!({}), Some(&cast.trust.token)).await;
        let reveal = format!("{path}/{rid}/reveal");
        let empty = json!({});
        let (a, b) = tokio::join!(
            app.post(&reveal, &empty, Some(&cast.trust.token)),
            app.post(&reveal, &empty, Some(&cast.sme.token))
        );
        assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
        app.post(&reveal, &empty, Some(&cast.sme.token)).await;
        app.deliver_emails().await;
        let connected =
            |email: &str| app.emails_to(email).into_iter().filter(|e| e.contains("connected")).collect::<Vec<_>>();
        let (to_trust, to_sme) = (connected(&cast.trust.email), connected(&cast.sme.email));
        assert_eq!((to_trust.len(), to_sme.len()), (1, 1), "one email each");
        assert!(to_trust[0].contains("Brightpath Devices Ltd") && to_sme[0].contains("Riverside NHS Trust"));
        let view = json_of(app.get(&path, Some(&cast.trust.token)).await).await;
        assert_eq!(view["responses"][0]["connected"], true);
        assert_eq!(view["responses"][0]["identity"]["contact_email"], cast.sme.email.as_str());
    })
    .await;
}

#[tokio::test]
async fn the_poster_answers_and_a_facilitator_hides_a_post_from_everyone_else() {
    for backend in backends() {
        let boss = domain::EmailAddress::parse("boss@cluster.example").expect("email");
        let app = spawn_app_with(backend, |s| s.facilitator_emails = vec![boss.clone()]).await;
        let cast = cast(&app).await;
        let facilitator = app.member(boss.as_str(), "Regional Cluster", "other").await;
        let id = post_challenge(&app, &cast.trust, &falls(&in_days(30))).await;
        let questions = format!("/api/v1/challenges/{id}/questions");
        let asked = json_of(
            app.post(&questions, &json!({"text": "Which wards would host a trial?"}), Some(&cast.sme.token)).await,
        )
        .await;
        let qid = asked["id"].as_str().expect("id").to_owned();
        app.post(&questions, &json!({"text": "Something rude about the trust"}), Some(&cast.other_sme.token)).await;
        let answer = json!({"text": "Two frailty wards and the community team."});
        let not_poster = app.post(&format!("{questions}/{qid}/answer"), &answer, Some(&cast.university.token)).await;
        assert_eq!(not_poster.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            app.post(&format!("{questions}/{qid}/answer"), &answer, Some(&cast.trust.token)).await.status(),
            StatusCode::OK
        );
        let forum = json_of(app.get(&questions, Some(&cast.university.token)).await).await;
        assert_eq!(forum["questions"][0]["answer"], "Two frailty wards and the community team.");
        let rude = forum["questions"][1]["id"].as_str().expect("id").to_owned();
        let hide = format!("/api/v1/admin/challenges/{id}/questions/{rude}/hide");
        assert_eq!(app.post(&hide, &json!({}), Some(&cast.trust.token)).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.post(&hide, &json!({}), Some(&facilitator.token)).await.status(), StatusCode::OK);
        for member in [&cast.university, &cast.trust, &cast.other_sme] {
            let forum = app.get(&questions, Some(&member.token)).await.text().await.expect("body");
            assert!(!forum.contains("Something rude"), "{backend:?}: hidden from everyone else");
        }
        let seen_by_facilitator = app.get(&questions, Some(&facilitator.token)).await.text().await.expect("body");
        assert!(seen_by_facilitator.contains("Something rude") && seen_by_facilitator.contains("\"hidden\":true"));
        drop_database(backend, &app.settings.database_url).await;
    }
}

#[tokio::test]
async fn the_demo_has_challenges_with_responses_and_questions() {
    on_every_backend(async |app: TestApp| {
        let catalogue = domain::Catalogue::builtin().expect("catalogue");
        cli::demo::seed_once(&app.store, &catalogue, 60, 5).await.expect("seeded");
        let login = json_of(app.login(&cli::demo::demo_email(5, 1), cli::demo::DEMO_PASSWORD).await).await;
        let token = login["access_token"].as_str().expect("token");
        let list = json_of(app.get("/api/v1/challenges", Some(token)).await).await;
        let challenges = list["challenges"].as_array().expect("challenges");
        assert_eq!(challenges.len(), 4);
        assert_eq!(challenges[0]["featured"], true, "the challenge of the month first");
        for challenge in challenges {
            assert_eq!(challenge["status"], "open");
            assert_eq!(challenge["questions"], 1);
            let forum = json_of(
                app.get(
                    &format!("/api/v1/challenges/{}/questions", challenge["id"].as_str().expect("id")),
                    Some(token),
                )
                .await,
            )
            .await;
            assert!(forum["questions"][0]["answer"].is_string(), "{forum}");
        }
        let responses: usize = {
            let mut total = 0;
            for challenge in challenges {
                let record = app.store.challenge(challenge["id"].as_str().expect("id")).await.expect("challenge");
                total += record.responses as usize;
            }
            total
        };
        assert!(responses >= 8, "{responses} responses");
        assert_eq!(cli::demo::seed_challenges(&app.store, &catalogue, 5).await.expect("again"), 0, "only once");
    })
    .await;
}

#[tokio::test]
async fn a_decline_after_a_shortlist_changes_nothing_the_responder_sees() {
    on_every_backend(async |app: TestApp| {
        let cast = cast(&app).await;
        let id = post_challenge(&app, &cast.trust, &falls(&in_days(30))).await;
        respond(&app, &cast.sme, &id, "We build a sensor that detects falls at home.").await;
        let path = format!("/api/v1/challenges/{id}/responses");
        let rid = json_of(app.get(&path, Some(&cast.trust.token)).await).await["responses"][0]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        app.post(&format!("{path}/{rid}/shortlist"), &json!({}), Some(&cast.trust.token)).await;
        let before = app.get(&path, Some(&cast.sme.token)).await.text().await.expect("body");
        let challenge_before =
            app.get(&format!("/api/v1/challenges/{id}"), Some(&cast.sme.token)).await.text().await.expect("body");
        assert!(before.contains("\"status\":\"shortlisted\""));
        assert_eq!(
            app.post(&format!("{path}/{rid}/decline"), &json!({}), Some(&cast.trust.token)).await.status(),
            StatusCode::OK
        );
        assert_eq!(app.get(&path, Some(&cast.sme.token)).await.text().await.expect("body"), before, "the same body");
        let challenge_after =
            app.get(&format!("/api/v1/challenges/{id}"), Some(&cast.sme.token)).await.text().await.expect("body");
        assert_eq!(challenge_after, challenge_before);
        // Revealing afterwards tells the poster nothing.
        app.post(&format!("{path}/{rid}/reveal"), &json!({}), Some(&cast.sme.token)).await;
        let poster_side = json_of(app.get(&path, Some(&cast.trust.token)).await).await;
        assert_eq!(poster_side["responses"][0]["their_status"], "hidden");
        assert!(poster_side["responses"][0]["identity"].is_null());
    })
    .await;
}

#[tokio::test]
async fn the_poster_stays_anonymous_to_responders_until_it_reveals_itself() {
    on_every_backend(async |app: TestApp| {
        let cast = cast(&app).await;
        let trust_profile = json!({"website": "https://riverside-trust.example", "description": "Riverside's plans"});
        app.put("/api/v1/me/profile", &trust_profile, &cast.trust.token).await;
        let id = post_challenge(&app, &cast.trust, &falls(&in_days(30))).await;
        respond(&app, &cast.sme, &id, "We build a sensor that detects falls at home.").await;
        let questions = format!("/api/v1/challenges/{id}/questions");
        let asked = json_of(
            app.post(&questions, &json!({"text": "Which wards would host a trial?"}), Some(&cast.sme.token)).await,
        )
        .await;
        let qid = asked["id"].as_str().expect("id");
        let named = json!({"text": "Ask Riverside's falls team for the details."});
        let refused = app.post(&format!("{questions}/{qid}/answer"), &named, Some(&cast.trust.token)).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "the poster's answers are screened too");
        let own_link = json!({"links": ["https://riverside-trust.example/brief.pdf"]});
        let refused = app.post("/api/v1/challenges", &falls_with_links(&own_link), Some(&cast.trust.token)).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "a link to its own website");
        app.post(&format!("{questions}/{qid}/answer"), &json!({"text": "Two frailty wards."}), Some(&cast.trust.token))
            .await;
        let mut seen = Vec::new();
        for path in [
            format!("/api/v1/challenges/{id}"),
            format!("/api/v1/challenges/{id}/responses"),
            questions.clone(),
            "/api/v1/challenges".to_owned(),
        ] {
            seen.push(app.get(&path, Some(&cast.sme.token)).await.text().await.expect("body"));
        }
        app.deliver_emails().await;
        seen.extend(app.emails_to(&cast.sme.email));
        for text in &seen {
            for secret in ["Riverside", "bo@riverside-trust.example", "riverside-trust.example"] {
                assert!(!text.contains(secret), "{secret:?} reached the responder:\n{text}");
            }
        }
    })
    .await;
}

fn falls_with_links(links: &Value) -> Value {
    let mut body = falls(&in_days(30));
    body["links"] = links["links"].clone();
    body
}

#[tokio::test]
async fn responders_and_askers_are_shown_only_as_their_group() {
    // With k = 1, groups of two: the two SMEs are shown as SMEs; with k = 5, the five
    // organisations are too few for anything, the asker's kind included.
    for (k, kind) in [(1, json!("sme")), (5, Value::Null)] {
        for backend in backends() {
            let app = spawn_app_with(backend, |s| s.k_anonymity = k).await;
            let cast = cast(&app).await;
            app.member("ed@cluster.example", "Regional Cluster", "other").await;
            let id = post_challenge(&app, &cast.trust, &falls(&in_days(30))).await;
            respond(&app, &cast.sme, &id, "We build a sensor that detects falls at home.").await;
            let questions = format!("/api/v1/challenges/{id}/questions");
            app.post(&questions, &json!({"text": "Which wards would host a trial?"}), Some(&cast.sme.token)).await;
            let forum = json_of(app.get(&questions, Some(&cast.university.token)).await).await;
            assert_eq!(forum["questions"][0]["kind"], kind, "{backend:?} k={k}");
            let responses =
                json_of(app.get(&format!("/api/v1/challenges/{id}/responses"), Some(&cast.trust.token)).await).await;
            let counterpart = &responses["responses"][0]["counterpart"];
            assert_eq!(counterpart["kind"], kind, "{backend:?} k={k}");
            if k == 5 {
                for field in ["region", "size_band", "innovation_stage"] {
                    assert!(counterpart[field].is_null(), "{field}");
                }
                assert_eq!(counterpart["sectors"], json!([]));
            }
            drop_database(backend, &app.settings.database_url).await;
        }
    }
}

#[tokio::test]
async fn the_rules_hold_at_their_edges() {
    for backend in backends() {
        let boss = domain::EmailAddress::parse("boss@cluster.example").expect("email");
        let app = spawn_app_with(backend, |s| s.facilitator_emails = vec![boss.clone()]).await;
        let cast = cast(&app).await;
        let facilitator = app.member(boss.as_str(), "Regional Cluster", "other").await;
        let id = post_challenge(&app, &cast.trust, &falls(&in_days(30))).await;
        let path = format!("/api/v1/challenges/{id}");
        // A partly invalid edit stores nothing.
        let partly = json!({"title": "A perfectly good new title", "deadline": "2001-01-01"});
        assert_eq!(app.patch(&path, &partly, &cast.trust.token).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            json_of(app.get(&path, Some(&cast.sme.token)).await).await["title"],
            "Preventing recurrent falls among older people"
        );
        // One organisation responding twice at once has one response.
        let body = json!({"summary": "We build a sensor that detects falls at home.", "stages": ["evidence"]});
        let url = format!("{path}/responses");
        let (a, b) =
            tokio::join!(app.post(&url, &body, Some(&cast.sme.token)), app.post(&url, &body, Some(&cast.sme.token)));
        let mut statuses = [a.status(), b.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::CREATED], "{backend:?}");
        assert_eq!(
            json_of(app.get(&url, Some(&cast.trust.token)).await).await["responses"].as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(
            app.get(&url, Some(&facilitator.token)).await.status(),
            StatusCode::NOT_FOUND,
            "not even a facilitator"
        );
        // A hidden question leaves the count and cannot be answered.
        let questions = format!("{path}/questions");
        let asked = json_of(
            app.post(&questions, &json!({"text": "Which wards would host a trial?"}), Some(&cast.sme.token)).await,
        )
        .await;
        let qid = asked["id"].as_str().expect("id").to_owned();
        assert_eq!(json_of(app.get(&path, Some(&cast.sme.token)).await).await["questions"], 1);
        app.post(&format!("/api/v1/admin/challenges/{id}/questions/{qid}/hide"), &json!({}), Some(&facilitator.token))
            .await;
        assert_eq!(json_of(app.get(&path, Some(&cast.sme.token)).await).await["questions"], 0);
        let answer = json!({"text": "Two frailty wards."});
        assert_eq!(
            app.post(&format!("{questions}/{qid}/answer"), &answer, Some(&cast.trust.token)).await.status(),
            StatusCode::NOT_FOUND
        );
        app.deliver_emails().await;
        assert!(app.emails_to(&cast.trust.email).iter().all(|e| !e.contains("question")), "no email per question");
        // Query strings get the usual error shape.
        let odd = app.get("/api/v1/challenges?colour=blue", Some(&cast.sme.token)).await;
        assert_eq!(odd.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(json_of(odd).await["error"]["code"], "validation_failed");
        // Two facilitators featuring at once: both succeed, one is featured.
        let other = post_challenge(&app, &cast.university, &falls(&in_days(40))).await;
        let feature = |id: &str| format!("/api/v1/admin/challenges/{id}/feature");
        let (first, second, empty) = (feature(&id), feature(&other), json!({}));
        let (a, b) = tokio::join!(
            app.post(&first, &empty, Some(&facilitator.token)),
            app.post(&second, &empty, Some(&facilitator.token)),
        );
        assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK), "{backend:?}");
        let list = json_of(app.get("/api/v1/challenges", Some(&cast.sme.token)).await).await;
        let featured = list["challenges"].as_array().expect("list").iter().filter(|c| c["featured"] == true).count();
        assert_eq!(featured, 1);
        // A closed challenge cannot be featured, nor a response edited.
        let closed = app.patch(&path, &json!({"status": "closed"}), &cast.trust.token).await;
        assert_eq!(closed.status(), StatusCode::OK, "{}", closed.text().await.unwrap_or_default());
        assert_eq!(app.post(&feature(&id), &json!({}), Some(&facilitator.token)).await.status(), StatusCode::CONFLICT);
        assert_eq!(app.post(&url, &body, Some(&cast.sme.token)).await.status(), StatusCode::CONFLICT);
        drop_database(backend, &app.settings.database_url).await;
    }
}
