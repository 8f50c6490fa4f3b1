//! The worker that drains the email queue: claim a few emails, send them side by side over the
//! mailer's pooled connections, and mark each sent as soon as the server took it; a failure is
//! retried later with a growing delay.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use store::Store;
use store::mail::QueuedEmail;
use tokio::sync::watch;

use crate::Mailer;

/// What one step of the worker did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Execution {
    Sent,
    Failed,
    EmptyQueue,
}

/// How many emails one step claims; they are sent [`Mailer::concurrency`] at a time.
const CLAIM_AT_ONCE: u32 = 32;

/// Claims and sends at most one email.
pub async fn try_execute_task(store: &Store, mailer: &Mailer) -> anyhow::Result<Execution> {
    try_execute_task_at(store, mailer, Utc::now()).await
}

/// [`try_execute_task`] as if it were `now` (a failure is retried after a delay from `now`).
pub async fn try_execute_task_at(store: &Store, mailer: &Mailer, now: DateTime<Utc>) -> anyhow::Result<Execution> {
    let Some(email) = store.claim_email(now).await? else {
        return Ok(Execution::EmptyQueue);
    };
    deliver(store, mailer, email, now).await
}

/// What [`send_due`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sending {
    pub sent: usize,
    pub failed: usize,
}

/// Claims a few due emails and sends them side by side; nothing sent and nothing failed means
/// that the queue holds nothing due.
pub async fn send_due(store: &Store, mailer: &Mailer) -> anyhow::Result<Sending> {
    let now = Utc::now();
    let claimed = store.claim_emails(now, CLAIM_AT_ONCE).await?;
    let mut steps = futures_util::stream::iter(claimed)
        .map(|email| deliver(store, mailer, email, now))
        .buffer_unordered(mailer.concurrency());
    let mut done = Sending::default();
    let mut first_error = None;
    while let Some(step) = steps.next().await {
        match step {
            Ok(Execution::Sent) => done.sent += 1,
            Ok(_) => done.failed += 1,
            // The store failed: the email stays claimed until its claim runs out, then is retried.
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    match first_error {
        Some(error) if done == Sending::default() => Err(error),
        Some(error) => {
            tracing::error!(error = %format!("{error:#}"), "an email's state could not be recorded");
            Ok(done)
        }
        None => Ok(done),
    }
}

/// Sends one claimed email and records the outcome: sent, or failed and due again after a
/// delay that doubles with each attempt (one minute, two, four, … up to about seventeen hours).
async fn deliver(store: &Store, mailer: &Mailer, email: QueuedEmail, now: DateTime<Utc>) -> anyhow::Result<Execution> {
    match mailer.send(&email).await {
        Ok(()) => {
            store.mark_email_sent(email.id, Utc::now()).await?;
            tracing::info!(email_id = email.id, key = %email.idempotency_key, "email sent");
            Ok(Execution::Sent)
        }
        Err(error) => {
            let minutes = 1i64 << (email.attempts - 1).clamp(0, 10);
            let retry_at = now + chrono::Duration::minutes(minutes);
            store.mark_email_failed(email.id, &format!("{error:#}"), retry_at).await?;
            tracing::warn!(email_id = email.id, attempts = email.attempts, error = %format!("{error:#}"), "email not sent; will retry");
            Ok(Execution::Failed)
        }
    }
}

/// Sends emails until `stop` turns true, sleeping while nothing is due.
pub async fn run_worker(store: Store, mailer: Mailer, mut stop: watch::Receiver<bool>) {
    loop {
        let pause = match send_due(&store, &mailer).await {
            Ok(Sending { sent, .. }) if sent > 0 => Duration::ZERO,
            Ok(_) => Duration::from_millis(500),
            Err(error) => {
                tracing::error!(error = %format!("{error:#}"), "email worker step failed");
                Duration::from_secs(2)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
    }
}
