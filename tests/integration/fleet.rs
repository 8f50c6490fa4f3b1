//! Several instances on one database (issue 15).

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::smtp_sink::SmtpSink;

use crate::helpers::{
    Backend, Instance, Member, PASSWORD, TestApp, answers, backends, fresh_database, matchwell_process, spawn_app,
    spawn_app_with,
};

/// `matchwell migrate` as a process of its own on `url`.
fn migrate_process(url: &str, data_dir: &std::path::Path) -> tokio::process::Command {
    let mut command = matchwell_process("migrate");
    command.env("MATCHWELL_DATA_DIR", data_dir).env("MATCHWELL_DATABASE_URL", url);
    command
}

#[tokio::test]
async fn four_processes_migrating_one_fresh_database_at_the_same_moment_all_succeed() {
    for backend in backends() {
        let (url, dir) = fresh_database(backend).await;
        let children: Vec<_> =
            (0..4).map(|_| migrate_process(&url, dir.path()).spawn().expect("matchwell migrate starts")).collect();
        for child in children {
            let output = child.wait_with_output().await.expect("matchwell migrate ends");
            assert!(
                output.status.success(),
                "{backend:?}: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let store = store::Store::open(&url).await.expect("the schema is complete");
        assert!(store.model_in_use().await.is_ok(), "{backend:?}: the last migration's table is there");
    }
}

/// The organisation of the demo organisation `i` of `seed`.
async fn demo_org(store: &store::Store, seed: u64, i: usize) -> store::OrgId {
    let email = domain::EmailAddress::parse(&cli::demo::demo_email(seed, i)).expect("a demo address");
    store.account_by_email(&email).await.expect("store").expect("seeded").organisation
}

#[tokio::test]
async fn when_the_scorer_is_killed_another_instance_scores_the_next_change_within_30_seconds() {
    for backend in backends() {
        let (url, _dir) = fresh_database(backend).await;
        let store = store::Store::open(&url).await.expect("database");
        let catalogue = domain::Catalogue::builtin().expect("catalogue");
        cli::demo::seed(&store, &catalogue, 300, 1).await.expect("demo organisations");

        // An instance takes the scoring lease for its first pass and is killed holding it (if
        // it gave the lease back in the instant before the kill, another instance tries again).
        let mut killed = None;
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("directory");
            let mut first = Instance::start(&url, dir.path(), &[]).await;
            let deadline = Instant::now() + Duration::from_secs(60);
            let holder = loop {
                if let Some((holder, _)) = store.lease_holder(matching::SCORING_LEASE).await.expect("store") {
                    break holder;
                }
                assert!(Instant::now() < deadline, "{backend:?}: the first instance never scored");
                tokio::time::sleep(Duration::from_millis(2)).await;
            };
            first.kill_9().await;
            let at = Instant::now();
            let left = store.lease_holder(matching::SCORING_LEASE).await.expect("store");
            if left.is_some_and(|(h, _)| h == holder) {
                killed = Some(at);
                break;
            }
        }
        let killed = killed.unwrap_or_else(|| panic!("{backend:?}: never killed while holding the lease"));

        // The next change, made while another instance runs, is scored by that instance.
        let second_dir = tempfile::tempdir().expect("directory");
        let second = Instance::start(&url, second_dir.path(), &[]).await;
        let health = reqwest::get(format!("{}/healthz", second.address)).await.expect("the second instance answers");
        assert_eq!(health.status(), StatusCode::OK);
        cli::demo::seed(&store, &catalogue, 5, 2).await.expect("the next change");
        let newcomer = demo_org(&store, 2, 0).await;
        loop {
            if !store.matches_for(newcomer).await.expect("store").is_empty() {
                break;
            }
            assert!(
                killed.elapsed() < Duration::from_secs(30),
                "{backend:?}: nobody scored the change 30 s after the scorer died\n{}",
                second.logged()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let took = killed.elapsed();
        assert!(!store.matches_for(demo_org(&store, 1, 0).await).await.expect("store").is_empty());
        eprintln!("{backend:?}: the change was scored {:.1} s after the scorer was killed", took.as_secs_f64());
    }
}

#[tokio::test]
async fn login_and_registration_limits_hold_across_two_instances_on_one_database() {
    // On SQLite, which one process serves, limits are kept in memory (`server/src/limits`).
    if !backends().contains(&Backend::Postgres) {
        return;
    }
    let first = spawn_app_with(Backend::Postgres, |settings| settings.limits.registrations = 4).await;
    let second = first.another_instance().await;
    let member = first.member("fleet@example.org", "Fleet Ltd", "sme").await;
    // Wrong passwords sent at once, half through each instance: one account and client get
    // five tries in all, not five per instance.
    let tries = (0..12).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        app.login(&member.email, "not the password at all")
    });
    let statuses: Vec<StatusCode> = join_all(tries).await.iter().map(|r| r.status()).collect();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(refused, 12 - first.settings.limits.failed_logins, "{:?}: {statuses:?}", first.backend);
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS));
    for app in [&first, &second] {
        let right = app.login(&member.email, PASSWORD).await;
        assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS, "locked on every instance");
    }

    // Registrations from one client: the limit counts those made through either instance.
    let limit = first.settings.limits.registrations;
    let signups = (0..limit + 4).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        async move { app.register(&format!("new{i}@example.org"), &format!("New {i}"), "sme").await.status() }
    });
    let statuses = join_all(signups).await;
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    // The member above registered once already.
    assert_eq!(created, limit - 1, "{:?}: {statuses:?}", first.backend);
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::TOO_MANY_REQUESTS));
}

#[tokio::test]
async fn attempts_taken_at_once_never_pass_a_limit_and_leave_with_their_window() {
    for backend in backends() {
        let (url, _dir) = fresh_database(backend).await;
        let store = store::Store::open(&url).await.expect("database");
        let window = chrono::Duration::minutes(15);
        let now = chrono::Utc::now();
        let attempts = (0..40).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let keys: &[(&str, usize)] = if i % 2 == 0 { &[("a", 5), ("b", 30)] } else { &[("b", 30), ("a", 5)] };
                store.throttle_acquire(keys, now, window).await.expect("store")
            })
        });
        let taken = join_all(attempts).await.into_iter().filter(|t| *t.as_ref().expect("task")).count();
        assert_eq!(taken, 5, "{backend:?}");
        assert_eq!(store.throttle_count("b", now, window).await.expect("store"), 5, "nothing counted when refused");

        // Given back, one attempt may be taken again; cleared, the key starts afresh.
        store.throttle_release("a").await.expect("store");
        assert!(store.throttle_acquire(&[("a", 5)], now, window).await.expect("store"));
        assert!(!store.throttle_acquire(&[("a", 5)], now, window).await.expect("store"));
        store.throttle_clear("a").await.expect("store");
        assert_eq!(store.throttle_count("a", now, window).await.expect("store"), 0);

        // Attempts leave with the window, and a sweep deletes those of keys nobody uses.
        let later = now + window + chrono::Duration::seconds(1);
        assert!(store.throttle_acquire(&[("b", 1)], later, window).await.expect("store"), "{backend:?}");
        store.throttle_acquire(&[("c", 5)], now, window).await.expect("store");
        assert_eq!(store.throttle_sweep(later - window).await.expect("store"), 6, "b's five and c's attempt");
        assert_eq!(store.throttle_rows().await.expect("store"), 1, "b's attempt of later");
    }
}

/// `member`'s match list as `app` serves it.
async fn list(app: &TestApp, member: &Member) -> Vec<Value> {
    let body: Value = app.get("/api/v1/matches", Some(&member.token)).await.json().await.expect("json");
    body["matches"].as_array().expect("matches").clone()
}

/// Waits until `seen` holds of what `read` returns, called once the change was made. It must
/// hold within `within` of `primed` (when the other instance cached its copy, which it trusts
/// for a second: this tells a notice from a version check), or, when the change itself took
/// longer than that (a loaded machine), within 200 ms of it.
async fn shows_within<T>(primed: Instant, within: Duration, read: impl AsyncFn() -> T, seen: impl Fn(&T) -> bool) {
    let deadline = (primed + within).max(Instant::now() + Duration::from_millis(200));
    loop {
        let value = read().await;
        if seen(&value) {
            return;
        }
        assert!(Instant::now() < deadline, "not shown {} ms after the cached read", primed.elapsed().as_millis());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Two instances on one fresh PostgreSQL database, and two members that match (an SME and a
/// health organisation), scored.
async fn two_instances_and_a_match() -> (TestApp, TestApp, Member, Member) {
    let first = spawn_app(Backend::Postgres).await;
    let second = first.another_instance().await;
    let a = first.member("ann@fleet.example", "Ann Fleet Ltd", "sme").await;
    let b = first.member("bo@fleet.example", "Bo Fleet Trust", "health_org").await;
    for member in [&a, &b] {
        let saved = first.put("/api/v1/me/answers", &answers(|_, _| 0, "very"), &member.token).await;
        assert_eq!(saved.status(), StatusCode::OK);
    }
    first.score().await;
    (first, second, a, b)
}

#[tokio::test]
async fn a_change_made_through_one_instance_shows_through_another_at_once() {
    if !backends().contains(&Backend::Postgres) {
        return;
    }
    let (first, second, a, b) = two_instances_and_a_match().await;
    let within = Duration::from_millis(700);

    // A reveal through the first instance, read through the second, which has just cached the
    // list (and would trust its copy for a second without the notice).
    let before = list(&second, &a).await;
    let primed = Instant::now();
    assert_eq!(before.len(), 1);
    assert_eq!(before[0]["their_status"], "hidden");
    let revealed_id = before[0]["id"].as_str().expect("id").to_owned();
    let revealed = first.post(&format!("/api/v1/matches/{revealed_id}/reveal"), &json!({}), Some(&b.token)).await;
    assert_eq!(revealed.status(), StatusCode::OK);
    shows_within(primed, within, async || list(&second, &a).await, |l| l[0]["their_status"] == "revealed").await;

    // A new match, made by a scoring pass elsewhere.
    let c = first.member("cy@fleet.example", "Cy Fleet University", "academic").await;
    let saved = first.put("/api/v1/me/answers", &answers(|_, _| 0, "very"), &c.token).await;
    assert_eq!(saved.status(), StatusCode::OK);
    assert_eq!(list(&second, &a).await.len(), 1);
    let primed = Instant::now();
    first.score().await;
    shows_within(primed, within, async || list(&second, &a).await, |l| l.len() == 2).await;

    // A decline (of the match with the newcomer: the one it revealed itself in stays).
    let mine = list(&second, &b).await;
    let primed = Instant::now();
    let id = mine.iter().map(|m| m["id"].as_str().expect("id")).find(|id| *id != revealed_id).expect("two").to_owned();
    let declined = first.post(&format!("/api/v1/matches/{id}/decline"), &json!({}), Some(&b.token)).await;
    assert_eq!(declined.status(), StatusCode::OK);
    shows_within(primed, within, async || list(&second, &b).await, |l| l.iter().all(|m| m["id"] != id.as_str())).await;

    // A password change ends the old session on every instance.
    assert_eq!(second.get("/api/v1/me", Some(&a.token)).await.status(), StatusCode::OK);
    let primed = Instant::now();
    let change = json!({"current_password": PASSWORD, "new_password": "another long enough password"});
    assert_eq!(first.put("/api/v1/me/password", &change, &a.token).await.status(), StatusCode::OK);
    shows_within(
        primed,
        within,
        async || second.get("/api/v1/me", Some(&a.token)).await.status(),
        |s| *s == StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[tokio::test]
async fn an_instance_whose_listening_connection_is_cut_listens_again_and_shows_changes_at_once() {
    if !backends().contains(&Backend::Postgres) {
        return;
    }
    let (first, second, a, b) = two_instances_and_a_match().await;

    // Both instances' listening connections end, as when the network or the server fails.
    let listening = async || first.store.listeners_for_tests().await.expect("store");
    let deadline = Instant::now() + Duration::from_secs(10);
    while listening().await < 2 {
        assert!(Instant::now() < deadline, "both instances listen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(first.store.cut_listeners_for_tests().await.expect("store"), 2);
    let deadline = Instant::now() + Duration::from_secs(10);
    while listening().await < 2 {
        assert!(Instant::now() < deadline, "the instances listen again after losing their connections");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Notices reach the second instance again: a reveal shows before its cached copy expires.
    let before = list(&second, &a).await;
    let primed = Instant::now();
    assert_eq!(before[0]["their_status"], "hidden");
    let id = before[0]["id"].as_str().expect("id").to_owned();
    assert_eq!(
        first.post(&format!("/api/v1/matches/{id}/reveal"), &json!({}), Some(&b.token)).await.status(),
        StatusCode::OK
    );
    let within = Duration::from_millis(700);
    shows_within(primed, within, async || list(&second, &a).await, |l| l[0]["their_status"] == "revealed").await;
}

/// `count` emails queued straight into the store, to `member<i>@example.org`.
async fn queue_emails(store: &store::Store, count: usize) {
    for i in 0..count {
        let email = store::mail::NewEmail {
            idempotency_key: format!("fleet:{i}"),
            recipient: format!("member{i}@example.org"),
            subject: format!("Message {i}"),
            text_body: "Hello from the fleet".to_owned(),
            html_body: None,
            list_unsubscribe: None,
        };
        store.enqueue_email(&email, chrono::Utc::now()).await.expect("queued");
    }
}

#[tokio::test]
async fn a_killed_instances_email_claims_are_taken_over_within_a_claim_and_nothing_is_sent_twice() {
    if !backends().contains(&Backend::Postgres) {
        return;
    }
    let (url, _dir) = fresh_database(Backend::Postgres).await;
    let store = store::Store::open(&url).await.expect("database");
    queue_emails(&store, 30).await;
    let sink = SmtpSink::start().await.expect("sink");
    let smtp = sink.url();
    let env = [("MATCHWELL_SMTP_URL", smtp.as_str()), ("MATCHWELL_SMTP_CONNECTIONS", "2")];

    // The first instance sends ten, then the server stops answering while it holds claims.
    sink.hold_after(10);
    let first_dir = tempfile::tempdir().expect("directory");
    let mut first = Instance::start(&url, first_dir.path(), &env).await;
    let stalled = sink.wait_until(Duration::from_secs(60), |accepted, held| accepted == 10 && held > 0).await;
    assert!(stalled, "the first instance reached the held messages\n{}", first.logged());
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.sent_email_bodies().await.expect("store").len() < 10 {
        assert!(Instant::now() < deadline, "what the server accepted is recorded as sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill_9().await;
    let killed = Instant::now();

    // Another instance sends the rest, those the dead one had claimed once their claims run
    // out; what the dead one wrote to its held connections is never taken as accepted.
    sink.release_new_connections();
    let second_dir = tempfile::tempdir().expect("directory");
    let second = Instance::start(&url, second_dir.path(), &env).await;
    let within = Duration::from_secs(store::mail::CLAIM.num_seconds() as u64 + 20);
    let done = sink.wait_until(within, |accepted, _| accepted >= 30).await;
    assert!(done, "sent {} of 30 within {within:?} of the kill\n{}", sink.accepted(), second.logged());
    let took = killed.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut ids: Vec<String> = sink
        .messages()
        .iter()
        .map(|raw| {
            let message = mail_parser::MessageParser::default().parse(raw).expect("a message");
            message.message_id().expect("a Message-ID").to_owned()
        })
        .collect();
    ids.sort();
    let sent = ids.len();
    ids.dedup();
    assert_eq!((sent, ids.len()), (30, 30), "each email once");
    assert_eq!(store.pending_emails().await.expect("store"), 0);
    eprintln!("the dead instance's emails were all sent {:.1} s after the kill", took.as_secs_f64());
}

#[tokio::test]
async fn a_worker_renews_only_its_own_claims_and_learns_which_it_lost() {
    for backend in backends() {
        let (url, _dir) = fresh_database(backend).await;
        let store = store::Store::open(&url).await.expect("database");
        queue_emails(&store, 2).await;
        let start = chrono::Utc::now() + chrono::Duration::seconds(1);
        let at = |seconds: i64| start + chrono::Duration::seconds(seconds);
        assert_eq!(store::mail::CLAIM, chrono::Duration::seconds(30));
        let mine = store.claim_emails(at(0), 10).await.expect("store");
        assert_eq!(mine.len(), 2);
        let (first, second) = (&mine[0], &mine[1]);
        let token = first.claim_token.clone();
        assert_eq!(second.claim_token, token, "one claim");

        // Still sending the first, the worker renews it; it stalls on the second.
        assert_eq!(store.extend_email_claims(&token, &[first.id], at(25)).await.expect("store"), [first.id]);
        let theirs = store.claim_emails(at(31), 10).await.expect("store");
        assert_eq!(theirs.iter().map(|e| e.id).collect::<Vec<_>>(), [second.id], "{backend:?}: only the lapsed one");
        assert_ne!(theirs[0].claim_token, token);

        // The first worker learns that it lost the second, and leaves the new claim alone.
        let held = store.extend_email_claims(&token, &[first.id, second.id], at(32)).await.expect("store");
        assert_eq!(held, [first.id], "{backend:?}");
        store.mark_email_failed(second, "gave up", at(32)).await.expect("store");
        assert!(store.claim_emails(at(60), 10).await.expect("store").is_empty(), "{backend:?}: both still claimed");
        let later = store.claim_emails(at(61) + chrono::Duration::milliseconds(500), 10).await.expect("store");
        assert_eq!(later.iter().map(|e| e.id).collect::<Vec<_>>(), [second.id], "its claim ran out unrenewed");
        let last = store.claim_emails(at(63), 10).await.expect("store");
        assert_eq!(last.iter().map(|e| e.id).collect::<Vec<_>>(), [first.id], "once the renewed claim ran out");
    }
}

#[tokio::test]
async fn the_fleet_script_runs_two_instances_behind_haproxy_that_share_one_login_limit() {
    let haproxy = std::process::Command::new("haproxy").arg("-v").output().is_ok_and(|o| o.status.success());
    let required = std::env::var("MATCHWELL_REQUIRE_HAPROXY").is_ok_and(|v| v == "1");
    assert!(haproxy || !required, "MATCHWELL_REQUIRE_HAPROXY=1 but haproxy is not installed");
    if !haproxy || !backends().contains(&Backend::Postgres) {
        return;
    }
    let (url, _dir) = fresh_database(Backend::Postgres).await;
    // The script takes this port and the next two.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port();
    let output = tokio::process::Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/fleet.sh"))
        .args(["--check", "--binary", env!("CARGO_BIN_EXE_matchwell-under-test")])
        .env("MATCHWELL_DATABASE_URL", &url)
        .env("FLEET_PORT", port.saturating_sub(3).to_string())
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output()
        .await
        .expect("the script runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("401 401 401 401 401 429 429 429"), "{stdout}");
}

#[tokio::test]
async fn two_instances_started_together_send_each_due_digest_once() {
    if !backends().contains(&Backend::Postgres) {
        return;
    }
    let app = spawn_app(Backend::Postgres).await;
    let expected = crate::digests::a_day_of_matches(&app, 30).await;
    let sink = SmtpSink::start().await.expect("sink");
    let smtp = sink.url();
    let env = [("MATCHWELL_SMTP_URL", smtp.as_str())];
    let (one, two) = (tempfile::tempdir().expect("directory"), tempfile::tempdir().expect("directory"));
    let url = &app.settings.database_url;
    let (first, second) = tokio::join!(Instance::start(url, one.path(), &env), Instance::start(url, two.path(), &env));
    let sent = sink.wait_until(Duration::from_secs(60), |accepted, _| accepted >= expected.len()).await;
    assert!(sent, "{} of {} digests sent\n{}\n{}", sink.accepted(), expected.len(), first.logged(), second.logged());
    // Anything sent twice would arrive about now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut recipients: Vec<String> = sink
        .messages()
        .iter()
        .map(|raw| {
            let message = mail_parser::MessageParser::default().parse(raw).expect("a message");
            message.to().and_then(|to| to.first()).and_then(|a| a.address()).expect("a recipient").to_owned()
        })
        .collect();
    recipients.sort();
    assert_eq!(recipients, expected, "each digest once, from one instance or the other");
}

#[tokio::test]
async fn a_scorer_saves_only_while_it_holds_the_lease() {
    for backend in backends() {
        let (url, _dir) = fresh_database(backend).await;
        let store = store::Store::open(&url).await.expect("database");
        let (lease, ttl) = (matching::SCORING_LEASE, matching::LEASE_TTL);
        let now = chrono::Utc::now();
        assert!(store.acquire_lease(lease, "first", now, ttl).await.expect("store"));
        let save = |holder: &'static str, at| store.save_candidates_holding((lease, holder), vec![], 25, at);
        assert!(save("first", now).await.is_ok(), "{backend:?}: the holder saves");
        let refused = save("second", now).await;
        assert!(matches!(refused, Err(store::StoreError::State(_))), "{backend:?}: {refused:?}");
        // The first holder's lease ran out and the second took it: the first saves nothing.
        let later = now + ttl + chrono::Duration::seconds(1);
        assert!(store.acquire_lease(lease, "second", later, ttl).await.expect("store"));
        assert!(matches!(save("first", later).await, Err(store::StoreError::State(_))), "{backend:?}");
        assert!(save("second", later).await.is_ok());
    }
}
