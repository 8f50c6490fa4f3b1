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
        let store = Store::connect(&settings.database_url).await.context("failed to connect to the database")?;
        store.migrate().await.context("failed to apply migrations")?;
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

pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store = Store::connect(&settings.database_url).await.context("failed to connect to the database")?;
    store.migrate().await.context("failed to apply migrations")?;
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
    let store = Store::connect(&settings.database_url).await.context("failed to connect to the database")?;
    store.migrate().await.context("failed to apply migrations")?;
    let catalogue = Arc::new(Catalogue::builtin()?);
    let mut matchmaker = Matchmaker::new(catalogue, settings.matching.clone());
    let holder = format!("cli-{}", std::process::id());
    let lease = chrono::Duration::minutes(30);
    let mut waited = false;
    while !store.acquire_lease(matching::SCORING_LEASE, &holder, chrono::Utc::now(), lease).await? {
        if !waited {
            tracing::info!("another process is scoring; waiting for it to finish");
            waited = true;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    let report = matchmaker.run(&store, full, progress).await;
    store.release_lease(matching::SCORING_LEASE, &holder).await?;
    report
}

/// Queues the digests that are due now, once each, and sends what the queue holds
/// (`matchwell digest`, for cron: no `serve` needs to run); with `dry_run`, only says what it
/// would queue. An email the mail server refuses stays queued for a later retry.
pub async fn digest(settings: &Settings, dry_run: bool) -> anyhow::Result<server::digests::Report> {
    let store = Store::connect(&settings.database_url).await.context("failed to connect to the database")?;
    store.migrate().await.context("failed to apply migrations")?;
    let catalogue = Arc::new(Catalogue::builtin()?);
    let anonymity = Arc::new(matching::anonymity::Anonymity::new(catalogue.clone(), settings.k_anonymity));
    let digester = server::digests::Digester::new(store.clone(), catalogue, anonymity, settings);
    let report = digester.run(chrono::Utc::now(), dry_run).await?;
    if !dry_run {
        let mailer = mail::Mailer::new(
            settings.smtp_url.as_ref().map(secrecy::ExposeSecret::expose_secret),
            settings.outbox(),
            &settings.mail_from,
        )?;
        // Each email is claimed before it is sent, so a `serve` sending at the same time
        // sends none of them twice; one that fails is rescheduled and not taken again here.
        while mail::send_due(&store, &mailer).await? != mail::Sending::default() {}
    }
    Ok(report)
}
