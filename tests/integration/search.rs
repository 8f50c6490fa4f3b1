//! Partner search: ranking by the scoring engine, exclusions, stemmed free text, refs bound to
//! their searcher, k-anonymous cards, asking for an introduction, and no enumeration.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Member, TestApp, answers, backends, drop_database, on_every_backend, spawn_app_with};

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("json")
}

async fn search(app: &TestApp, member: &Member, query: &str) -> Value {
    let response = app.get(&format!("/api/v1/search{query}"), Some(&member.token)).await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    json_of(response).await
}

fn summaries(results: &Value) -> Vec<String> {
    results["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|c| c["counterpart"]["anonymous_summary"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A searcher and five organisations that agree with it on fewer and fewer questions.
async fn field(app: &TestApp) -> (Member, Vec<Member>) {
    let searcher = app.member("sam@seeker.example", "Seeker Devices Ltd", "sme").await;
    app.put("/api/v1/me/answers", &answers(|_, _| 0, "very"), &searcher.token).await;
    let names = ["Alpha", "Bravo", "Charlie", "Delta", "Echo"];
    let mut others = Vec::new();
    for (n, name) in names.iter().enumerate() {
        let member = app
            .member(
                &format!("{}@{}.example", name.to_lowercase(), name.to_lowercase()),
                &format!("{name} Org"),
                "health_org",
            )
            .await;
        let profile = json!({
            "anonymous_summary": format!("Team {n}: we prevent falls and run clinical trials"),
            "capabilities_offered": ["clinical_evaluation"],
            "website": format!("https://{}.example", name.to_lowercase()),
            "description": format!("{name}'s private description"),
        });
        assert_eq!(app.put("/api/v1/me/profile", &profile, &member.token).await.status(), StatusCode::OK);
        // The n-th organisation answers the first n*8 questions differently.
        let answers = answers(move |i, _| usize::from(i < n * 8), "very");
        app.put("/api/v1/me/answers", &answers, &member.token).await;
        others.push(member);
    }
    (searcher, others)
}

#[tokio::test]
async fn results_are_ranked_by_the_scoring_engine() {
    on_every_backend(async |app: TestApp| {
        let (searcher, others) = field(&app).await;
        // The last to join fits best: the order cannot be the order of joining.
        for (n, other) in others.iter().enumerate() {
            let reversed = answers(move |i, _| usize::from(i < (4 - n) * 8), "very");
            app.put("/api/v1/me/answers", &reversed, &other.token).await;
        }
        let results = search(&app, &searcher, "").await;
        // The engine's own order, from the same rows.
        let catalogue = domain::Catalogue::builtin().expect("catalogue");
        let layout = catalogue.questionnaire.layout();
        let model = scoring::Model::standard(layout);
        let mut ids = vec![app.org_of(&searcher.email).await];
        for other in &others {
            ids.push(app.org_of(&other.email).await);
        }
        let rows = app.store.scoring_rows_of(&ids, &catalogue.questionnaire).await.expect("rows");
        let input = |org| {
            let row = rows.iter().find(|r| r.id == org).expect("row");
            domain::scoring_input(&catalogue, row.kind, &row.profile, &row.answers)
        };
        let me = input(ids[0]);
        let mut expected: Vec<(f32, String)> = ids[1..]
            .iter()
            .enumerate()
            .map(|(n, &id)| {
                let score = scoring::compatibility(layout, &model, &me, &input(id)).expect("pair").score;
                (score, format!("Team {n}: we prevent falls and run clinical trials"))
            })
            .collect();
        expected.sort_by(|a, b| b.0.total_cmp(&a.0));
        let expected: Vec<String> = expected.into_iter().map(|(_, s)| s).collect();
        assert_eq!(summaries(&results), expected);
        assert_eq!(summaries(&results)[0], "Team 4: we prevent falls and run clinical trials");
        for card in results["results"].as_array().expect("cards") {
            assert!(card["ref"].is_string() && card["alias"].is_string());
            for dimension in ["values", "working_style", "org_health", "goals", "capabilities", "sectors"] {
                assert!(card["compatibility"][dimension].is_number(), "{dimension}");
            }
            assert!(card["explanation"].is_array());
        }
    })
    .await;
}

#[tokio::test]
async fn search_leaves_out_the_searcher_its_matches_excluded_pairs_and_the_invisible() {
    on_every_backend(async |app: TestApp| {
        let (searcher, others) = field(&app).await;
        let last = domain::Catalogue::builtin().expect("catalogue").questionnaire.question_count() - 1;
        // Echo turns search visibility off; Delta does not welcome SMEs; Charlie answers the
        // last question, which the searcher marks mandatory, unacceptably.
        app.put("/api/v1/me/profile", &json!({"search_visible": false}), &others[4].token).await;
        app.put("/api/v1/me/profile", &json!({"seeking_kinds": ["academic"]}), &others[3].token).await;
        let mut mandatory = answers(|_, _| 0, "very");
        mandatory["answers"][last]["importance"] = json!("mandatory");
        app.put("/api/v1/me/answers", &mandatory, &searcher.token).await;
        let charlie = answers(move |i, _| usize::from(i < 16 || i == last), "very");
        app.put("/api/v1/me/answers", &charlie, &others[2].token).await;
        let team = |n: usize| format!("Team {n}: we prevent falls and run clinical trials");
        let mut found = summaries(&search(&app, &searcher, "").await);
        found.sort();
        assert_eq!(found, [team(0), team(1)], "only Alpha and Bravo");
        // Visibility turned off once the search has everyone in memory.
        app.put("/api/v1/me/profile", &json!({"search_visible": false}), &others[1].token).await;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert_eq!(summaries(&search(&app, &searcher, "").await), [team(0)], "Bravo turned visibility off");
        app.put("/api/v1/me/profile", &json!({"search_visible": true}), &others[1].token).await;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        // Alpha becomes a match; from then on it is left out.
        let first = search(&app, &searcher, "").await["results"][0].clone();
        let asked = app
            .post(
                &format!("/api/v1/search/{}/ask", first["ref"].as_str().expect("ref")),
                &json!({}),
                Some(&searcher.token),
            )
            .await;
        assert_eq!(asked.status(), StatusCode::CREATED);
        assert_eq!(summaries(&search(&app, &searcher, "").await), [team(1)]);
        let from_bravo = summaries(&search(&app, &others[1], "").await);
        assert!(!from_bravo.contains(&team(4)), "invisible to everyone: {from_bravo:?}");
        assert!(!from_bravo.contains(&team(1)), "never oneself");
        // Turning visibility back on shows Echo again.
        app.put("/api/v1/me/profile", &json!({"search_visible": true}), &others[4].token).await;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert!(summaries(&search(&app, &others[1], "").await).contains(&team(4)));
    })
    .await;
}

#[tokio::test]
async fn free_text_is_stemmed_and_ranked() {
    on_every_backend(async |app: TestApp| {
        let searcher = app.member("sam@seeker.example", "Seeker Devices Ltd", "sme").await;
        let texts = [
            "We prevent falls among older people at home",
            "Wound dressings that heal leg ulcers",
            "Preventing a fall starts with a sensor and preventive exercise",
        ];
        for (n, text) in texts.iter().enumerate() {
            let member = app.member(&format!("org{n}@text.example"), &format!("Text Org {n}"), "health_org").await;
            app.put("/api/v1/me/profile", &json!({"anonymous_summary": text}), &member.token).await;
        }
        let found = summaries(&search(&app, &searcher, "?q=fall").await);
        assert_eq!(found.len(), 2, "fall finds falls: {found:?}");
        let found = summaries(&search(&app, &searcher, "?q=ulcer%20healing").await);
        assert_eq!(found, [texts[1]]);
        let found = summaries(&search(&app, &searcher, "?q=prevention%20falls%20sensor").await);
        assert_eq!(found[0], texts[2], "more of the words ranks higher: {found:?}");
        let capabilities = summaries(&search(&app, &searcher, "?q=genomics").await);
        assert!(capabilities.is_empty());
        let evaluator = app.member("org9@text.example", "Text Org 9", "academic").await;
        let offers = json!({"anonymous_summary": "A quiet team", "capabilities_offered": ["health_economics"]});
        app.put("/api/v1/me/profile", &offers, &evaluator.token).await;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let found = summaries(&search(&app, &searcher, "?q=economic").await);
        assert_eq!(found, ["A quiet team"], "the labels of capabilities offered are searched too");
        let bad = app.get("/api/v1/search?kind=pirate&page=0", Some(&searcher.token)).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = json_of(bad).await;
        assert!(body["error"]["fields"]["kind"].is_array() && body["error"]["fields"]["page"].is_array());
    })
    .await;
}

#[tokio::test]
async fn a_ref_works_only_for_its_searcher_and_asking_creates_the_match_once() {
    on_every_backend(async |app: TestApp| {
        let (searcher, others) = field(&app).await;
        let other_searcher = app.member("tam@other.example", "Other Seeker Ltd", "sme").await;
        app.put("/api/v1/me/answers", &answers(|_, _| 0, "very"), &other_searcher.token).await;
        let card = search(&app, &searcher, "?kind=health_org").await["results"][0].clone();
        let n: usize = card["counterpart"]["anonymous_summary"].as_str().expect("summary")[5..6].parse().expect("team");
        let reference = card["ref"].as_str().expect("ref").to_owned();
        let theirs = search(&app, &other_searcher, "").await;
        let same_org = theirs["results"]
            .as_array()
            .expect("cards")
            .iter()
            .find(|c| c["counterpart"]["anonymous_summary"] == card["counterpart"]["anonymous_summary"])
            .expect("the same organisation");
        assert_ne!(same_org["ref"], card["ref"], "refs are bound to their searcher");
        assert_ne!(same_org["alias"], card["alias"], "and so are aliases");
        let again = search(&app, &searcher, "?kind=health_org").await;
        assert_eq!(again["results"][0]["alias"], card["alias"], "stable for one searcher");

        let ask = format!("/api/v1/search/{reference}/ask");
        assert_eq!(app.post(&ask, &json!({}), Some(&other_searcher.token)).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            app.post("/api/v1/search/not-a-ref/ask", &json!({}), Some(&searcher.token)).await.status(),
            StatusCode::NOT_FOUND
        );
        let created = app.post(&ask, &json!({}), Some(&searcher.token)).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let id = json_of(created).await["id"].as_str().expect("id").to_owned();
        let again = app.post(&ask, &json!({}), Some(&searcher.token)).await;
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(json_of(again).await["id"], id.as_str(), "the existing match");
        // The other side sees it as asked by them, and was told by email without a name.
        let target = &others[n];
        let seen = json_of(app.get(&format!("/api/v1/matches/{id}"), Some(&target.token)).await).await;
        assert_eq!(seen["asked_by_them"], true);
        let mine = json_of(app.get(&format!("/api/v1/matches/{id}"), Some(&searcher.token)).await).await;
        assert_eq!((mine["asked_by_them"].clone(), mine["asked_by_me"].clone()), (json!(false), json!(true)));
        app.deliver_emails().await;
        let told = app.emails_to(&target.email);
        assert!(told.iter().any(|e| e.contains("asked to be introduced") && e.contains(&format!("/matches/{id}"))));
        // No longer in the searcher's results; the rest works as for any match.
        let gone = format!("Team {n}: we prevent falls and run clinical trials");
        assert!(!summaries(&search(&app, &searcher, "").await).contains(&gone));
        for member in [&searcher, target] {
            app.post(&format!("/api/v1/matches/{id}/reveal"), &json!({}), Some(&member.token)).await;
        }
        let connected = json_of(app.get(&format!("/api/v1/matches/{id}"), Some(&searcher.token)).await).await;
        assert_eq!(connected["connected"], true);
    })
    .await;
}

#[tokio::test]
async fn nothing_identifies_an_organisation_in_search_or_in_the_ask_email() {
    on_every_backend(async |app: TestApp| {
        let (searcher, others) = field(&app).await;
        let mut seen = vec![app.get("/api/v1/search", Some(&searcher.token)).await.text().await.expect("body")];
        seen.push(app.get("/api/v1/search?q=falls", Some(&searcher.token)).await.text().await.expect("body"));
        let results: Value = serde_json::from_str(&seen[0]).expect("json");
        for card in results["results"].as_array().expect("cards") {
            for key in card.as_object().expect("card").keys() {
                assert!(!key.ends_with("id"), "no ids on a card: {key}");
            }
        }
        let reference = results["results"][0]["ref"].as_str().expect("ref");
        let asked = app.post(&format!("/api/v1/search/{reference}/ask"), &json!({}), Some(&searcher.token)).await;
        let id = json_of(asked).await["id"].as_str().expect("id").to_owned();
        seen.push(app.get(&format!("/api/v1/matches/{id}"), Some(&searcher.token)).await.text().await.expect("body"));
        let mut ids = Vec::new();
        for other in &others {
            let email = domain::EmailAddress::parse(&other.email).expect("email");
            let account = app.store.account_by_email(&email).await.expect("store").expect("account");
            ids.push(account.organisation_public_id);
        }
        for text in &seen {
            for id in &ids {
                assert!(!text.contains(id.as_str()), "a public id in search:\n{text}");
            }
        }
        for other in &others {
            let name = other.name.trim_end_matches(" Org");
            for text in &seen {
                for secret in [
                    other.email.as_str(),
                    &format!("{}.example", name.to_lowercase()),
                    "private description",
                    &other.name,
                ] {
                    assert!(!text.contains(secret), "{secret:?} in search:\n{text}");
                }
            }
        }
        app.deliver_emails().await;
        for email in app.emails_to(&others[0].email) {
            for secret in ["Seeker", "sam@seeker.example", "seeker.example"] {
                assert!(!email.contains(secret), "{secret:?} in the ask email:\n{email}");
            }
        }
        let theirs =
            app.get(&format!("/api/v1/matches/{id}"), Some(&others[0].token)).await.text().await.expect("body");
        assert!(!theirs.contains("Seeker"), "{theirs}");
    })
    .await;
}

#[tokio::test]
async fn cards_are_k_anonymous() {
    for backend in backends() {
        let app = spawn_app_with(backend, |s| s.k_anonymity = 5).await;
        let (searcher, others) = field(&app).await;
        for other in &others {
            let rare = json!({"region": "northern_ireland", "size_band": "large", "innovation_stage": "scale", "sectors": ["genomics"]});
            app.put("/api/v1/me/profile", &rare, &other.token).await;
        }
        let results = search(&app, &searcher, "").await;
        assert!(!results["results"].as_array().expect("cards").is_empty());
        for card in results["results"].as_array().expect("cards") {
            let shown = &card["counterpart"];
            for field in ["kind", "region", "size_band", "innovation_stage"] {
                assert!(shown[field].is_null(), "{backend:?}: {field} among six organisations: {shown}");
            }
            assert_eq!(shown["sectors"], json!([]));
        }
        // Filters work on what cards show, so they cannot single anyone out either.
        let filtered = search(&app, &searcher, "?region=northern_ireland").await;
        assert_eq!(filtered["results"], json!([]), "{backend:?}");
        drop_database(backend, &app.settings.database_url).await;
    }
    // With k = 1 (groups of two), two SMEs and five trusts: the trusts are shown as such, and
    // filters on what is shown pass them.
    for backend in backends() {
        let app = spawn_app_with(backend, |s| s.k_anonymity = 1).await;
        let (searcher, others) = field(&app).await;
        app.member("tam@other.example", "Other Seeker Ltd", "sme").await;
        for other in &others {
            app.put("/api/v1/me/profile", &json!({"region": "wales", "sectors": ["genomics"]}), &other.token).await;
        }
        let trusts = search(&app, &searcher, "?kind=health_org&region=uk&sector=genomics").await;
        assert_eq!(trusts["results"].as_array().map(Vec::len), Some(5), "{backend:?}");
        for card in trusts["results"].as_array().expect("cards") {
            assert_eq!(card["counterpart"]["kind"], "health_org");
            assert_eq!(card["counterpart"]["region"], "wales");
        }
        assert_eq!(search(&app, &searcher, "?kind=academic").await["results"], json!([]));
        assert_eq!(search(&app, &searcher, "?region=scotland").await["results"], json!([]));
        drop_database(backend, &app.settings.database_url).await;
    }
}

#[tokio::test]
async fn asking_takes_turns_with_the_cap_and_finds_only_those_still_visible() {
    for backend in backends() {
        let app = spawn_app_with(backend, |s| s.matching.max_open = 1).await;
        let (searcher, others) = field(&app).await;
        let cards = search(&app, &searcher, "").await["results"].as_array().expect("cards").clone();
        let refs: Vec<String> = cards.iter().map(|c| c["ref"].as_str().expect("ref").to_owned()).collect();
        let ask = |reference: &str| format!("/api/v1/search/{reference}/ask");
        let (first, empty) = (ask(&refs[0]), json!({}));
        let (a, b) = tokio::join!(
            app.post(&first, &empty, Some(&searcher.token)),
            app.post(&first, &empty, Some(&searcher.token)),
        );
        let mut statuses = [a.status(), b.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::CREATED], "{backend:?}: one match for two asks at once");
        let capped = app.post(&ask(&refs[1]), &json!({}), Some(&searcher.token)).await;
        assert_eq!(capped.status(), StatusCode::CONFLICT, "{backend:?}: one open match allowed");
        let matches = json_of(app.get("/api/v1/matches", Some(&searcher.token)).await).await;
        assert_eq!(matches["matches"].as_array().map(Vec::len), Some(1));
        // An organisation that turned visibility off cannot be asked, even with a ref from before.
        let other = json_of(app.get("/api/v1/search", Some(&others[4].token)).await).await;
        let reference = other["results"][0]["ref"].as_str().expect("ref").to_owned();
        let hidden_summary = other["results"][0]["counterpart"]["anonymous_summary"].clone();
        for member in others[..4].iter().chain([&searcher]) {
            app.put("/api/v1/me/profile", &json!({"search_visible": false}), &member.token).await;
        }
        let asked = app.post(&ask(&reference), &json!({}), Some(&others[4].token)).await;
        assert_eq!(asked.status(), StatusCode::NOT_FOUND, "{backend:?}: {hidden_summary}");
        drop_database(backend, &app.settings.database_url).await;
    }
}

#[tokio::test]
async fn pages_hold_twenty_and_searches_and_asks_are_limited() {
    for backend in backends() {
        let app = spawn_app_with(backend, |s| {
            s.limits.searches = 6;
            s.limits.asks_per_day = 2;
        })
        .await;
        let catalogue = domain::Catalogue::builtin().expect("catalogue");
        cli::demo::seed(&app.store, &catalogue, 60, 9).await.expect("seeded");
        let searcher = app.member("sam@seeker.example", "Seeker Devices Ltd", "sme").await;
        app.put("/api/v1/me/answers", &answers(|_, _| 0, "somewhat"), &searcher.token).await;
        let first = search(&app, &searcher, "").await;
        assert_eq!(first["results"].as_array().map(Vec::len), Some(20), "{backend:?}");
        assert_eq!(first["next_page"], 2);
        let mut all = summaries(&first).len();
        let mut page = 2;
        loop {
            let next = search(&app, &searcher, &format!("?page={page}")).await;
            let n = next["results"].as_array().map_or(0, Vec::len);
            assert!(n <= 20);
            all += n;
            match next["next_page"].as_u64() {
                Some(p) => page = p as usize,
                None => break,
            }
        }
        assert!(all > 20 && all < 60, "{backend:?}: {all}");
        let limited = loop {
            let response = app.get("/api/v1/search", Some(&searcher.token)).await;
            if response.status() != StatusCode::OK {
                break response.status();
            }
        };
        assert_eq!(limited, StatusCode::TOO_MANY_REQUESTS, "searches are limited per member");
        let refs: Vec<String> = first["results"].as_array().expect("cards")[..3]
            .iter()
            .map(|c| c["ref"].as_str().expect("ref").to_owned())
            .collect();
        for (i, reference) in refs.iter().enumerate() {
            let asked = app.post(&format!("/api/v1/search/{reference}/ask"), &json!({}), Some(&searcher.token)).await;
            let expected = if i < 2 { StatusCode::CREATED } else { StatusCode::TOO_MANY_REQUESTS };
            assert_eq!(asked.status(), expected, "{backend:?}: ask {i}");
        }
        drop_database(backend, &app.settings.database_url).await;
    }
}

/// Waits (up to 5 s, the statistics report late) until `table` was analysed more than `after` times.
async fn analysed_since(store: &store::Store, table: &str, after: i64) -> i64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let count = store.analyses_for_tests(table).await.expect("store");
        if count > after {
            return count;
        }
        assert!(std::time::Instant::now() < deadline, "{table} not analysed after a bulk write");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn on_postgresql_bulk_seeding_and_scoring_refresh_the_planners_statistics() {
    // Planned from the statistics of empty tables, every search read all match parties (a
    // hundred times slower at 20,000 organisations) until autovacuum came by, if it was on.
    if !backends().contains(&crate::helpers::Backend::Postgres) {
        return;
    }
    let (url, _dir) = crate::helpers::fresh_database(crate::helpers::Backend::Postgres).await;
    let store = store::Store::open(&url).await.expect("database");
    let catalogue = std::sync::Arc::new(domain::Catalogue::builtin().expect("catalogue"));
    let parties = store.analyses_for_tests("match_parties").await.expect("store");
    cli::demo::seed(&store, &catalogue, 400, 3).await.expect("seeded");
    let organisations = analysed_since(&store, "organisations", 0).await;
    let parties = analysed_since(&store, "match_parties", parties).await;

    let settings = matching::Settings { k: 5, floor: 0.0, max_open: 25 };
    let mut matchmaker = matching::Matchmaker::new(catalogue, settings);
    let report = matchmaker.run(&store, true, std::sync::Arc::new(|_, _| {})).await.expect("scoring runs");
    assert!(report.saved.created >= 1000, "a bulk pass: {report:?}");
    analysed_since(&store, "match_parties", parties).await;
    // Only the tables the pass wrote.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(store.analyses_for_tests("organisations").await.expect("store"), organisations);
}
