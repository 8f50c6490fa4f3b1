//! Several instances on one database (issue 15).

use crate::helpers::{backends, fresh_database, matchwell_process};

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
