//! `serve`, `migrate` and `score`: the service's commands.

use std::sync::Arc;

use anyhow::Context;
use domain::Catalogue;
use matching::Matchmaker;
use server::{Application, Settings};
use store::Store;

/// Runs the web app and its workers until the process is stopped; with `demo`, first seeds
/// demonstration organisations unless they are there already.
pub async fn serve(settings: Settings, demo: bool) -> anyhow::Result<()> {
    if demo {
        let store = Store::open(&settings.database_url).await.context("failed to open the database")?;
        let catalogue = Catalogue::builtin()?;
        let created = crate::demo::seed_once(&store, &catalogue, crate::demo::DEMO_ORGS, 42).await?;
        if created > 0 {
            tracing::info!(organisations = created, "demo organisations created");
        }
        tracing::info!(
            email = crate::demo::demo_email(42, 0),
            "demo data: log in as this or any demo organisation with the demo password (see the README)"
        );
    }
    let application = Application::build(settings).await?;
    tracing::info!(port = application.port(), "matchwell is serving");
    application.run_until_stopped().await
}

/// Applies pending migrations (`matchwell migrate`).
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    Store::open(&settings.database_url).await.context("failed to open the database")?;
    Ok(())
}

/// Recomputes every organisation's matches from scratch, holding the scoring lease so that no
/// `serve` process scores at the same time. A one-shot process has no earlier state to work
/// from, so `full` and incremental runs compute the same; `serve` scores incrementally.
pub async fn score(
    settings: &Settings,
    full: bool,
    progress: Arc<dyn Fn(usize, usize) + Send + Sync>,
) -> anyhow::Result<matching::Report> {
    let store = Store::open(&settings.database_url).await.context("failed to open the database")?;
    let catalogue = Arc::new(Catalogue::builtin()?);
    let holder = format!("cli-{}", std::process::id());
    let mut matchmaker = Matchmaker::new(catalogue, settings.matching.clone()).holding(&holder);
    let lease = matching::LEASE_TTL;
    let mut waited = false;
    while !store.acquire_lease(matching::SCORING_LEASE, &holder, chrono::Utc::now(), lease).await? {
        if !waited {
            tracing::info!("another process is scoring; waiting for it to finish");
            waited = true;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    let pass = matchmaker.run(&store, full, progress);
    let report = matching::holding_lease(&store, matching::SCORING_LEASE, &holder, pass).await;
    store.release_lease(matching::SCORING_LEASE, &holder).await?;
    report
}

/// Queues the digests that are due now, once each, and sends what the queue holds
/// (`matchwell digest`, for cron: no `serve` needs to run); with `dry_run`, only says what it
/// would queue. Sending starts while digests are still being queued. An email the mail server
/// refuses stays queued for a later retry.
pub async fn digest(settings: &Settings, dry_run: bool) -> anyhow::Result<server::digests::Report> {
    let store = Store::open(&settings.database_url).await.context("failed to open the database")?;
    let catalogue = Arc::new(Catalogue::builtin()?);
    let anonymity = Arc::new(matching::anonymity::Anonymity::new(catalogue.clone(), settings.k_anonymity));
    let digester = server::digests::Digester::new(store.clone(), catalogue, anonymity, settings);
    if dry_run {
        return digester.run(chrono::Utc::now(), true).await;
    }
    let mailer = settings.mailer()?;
    let (queued_all, mut queuing_done) = tokio::sync::watch::channel(false);
    let queue = async {
        let report = digester.run(chrono::Utc::now(), false).await;
        queued_all.send_replace(true);
        report
    };
    // Each email is claimed before it is sent, so a `serve` sending at the same time sends
    // none of them twice; one that fails is rescheduled and not taken again here.
    let send = async {
        loop {
            let finished = *queuing_done.borrow_and_update();
            if mail::send_due(&store, &mailer).await? == mail::Sending::default() {
                if finished {
                    return anyhow::Ok(());
                }
                tokio::select! {
                    _ = queuing_done.changed() => {}
                    _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => {}
                }
            }
        }
    };
    let (report, sent) = tokio::join!(queue, send);
    sent?;
    report
}

/// Learns from the recorded outcomes (`matchwell learn`): see `matching::models::learn`. A
/// `serve` process notices an adopted model within seconds and rescores everyone.
pub async fn learn(settings: &Settings, dry_run: bool) -> anyhow::Result<matching::models::LearnReport> {
    let store = Store::open(&settings.database_url).await.context("failed to open the database")?;
    let catalogue = Catalogue::builtin()?;
    matching::models::learn(&store, &catalogue, settings.learn_min_outcomes, dry_run, chrono::Utc::now()).await
}

/// What a learning run found, for the terminal.
pub fn describe_learning(report: &matching::models::LearnReport, dry_run: bool) -> String {
    let learned = &report.learned;
    let mut out = format!(
        "{} outcomes ({} successes); model in use: version {}\n",
        learned.examples, learned.successes, report.before
    );
    out.push_str(&format!("{:<16} {:>8} {:>9}\n", "dimension", "in use", "learned"));
    for (id, weight) in &report.candidate_weights {
        let current = report.current_weights.get(id).copied().unwrap_or_default();
        out.push_str(&format!("{id:<16} {current:>8.3} {weight:>9.3}\n"));
    }
    if let (Some(candidate), Some(current)) = (learned.candidate, learned.current) {
        out.push_str(&format!(
            "held-out AUC {:.3} (in use {:.3}), log-loss {:.3} (in use {:.3})\n",
            candidate.auc, current.auc, candidate.log_loss, current.log_loss
        ));
    }
    let verdict = match (report.adopted, dry_run) {
        (Some(version), _) => format!("adopted as version {version}: {}", learned.reason),
        (None, true) if learned.adopt => format!("would adopt (dry run): {}", learned.reason),
        (None, _) => format!("kept version {}: {}", report.before, learned.reason),
    };
    out.push_str(&verdict);
    out.push('\n');
    out
}
