//! Several instances on one database (issue 15).

use std::time::{Duration, Instant};

use crate::helpers::{Instance, backends, fresh_database, matchwell_process};

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

        // The first instance takes the scoring lease for its first pass and is killed holding it.
        let first_dir = tempfile::tempdir().expect("directory");
        let mut first = Instance::start(&url, first_dir.path(), &[]).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        let holder = loop {
            if let Some((holder, _)) = store.lease_holder(matching::SCORING_LEASE).await.expect("store") {
                break holder;
            }
            assert!(Instant::now() < deadline, "{backend:?}: the first instance never scored");
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        first.kill_9().await;
        let killed = Instant::now();
        let left = store.lease_holder(matching::SCORING_LEASE).await.expect("store");
        assert_eq!(left.map(|(h, _)| h), Some(holder), "{backend:?}: killed while holding the lease");

        // The next change, made while another instance runs, is scored by that instance.
        let second_dir = tempfile::tempdir().expect("directory");
        let second = Instance::start(&url, second_dir.path(), &[]).await;
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
