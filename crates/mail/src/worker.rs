//! The worker that drains the email queue: claim one email, send it, mark it sent; a failure
//! is retried later with a growing delay.

use std::time::Duration;

use chrono::Utc;
use store::Store;
use tokio::sync::watch;

use crate::Mailer;

/// What one step of the worker did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Execution {
    Sent,
    Failed,
    EmptyQueue,
}

/// Claims and sends at most one email.
pub async fn try_execute_task(store: &Store, mailer: &Mailer) -> anyhow::Result<Execution> {
    let Some(email) = store.claim_email(Utc::now()).await? else {
        return Ok(Execution::EmptyQueue);
    };
    match mailer.send(&email).await {
        Ok(()) => {
            store.mark_email_sent(email.id, Utc::now()).await?;
            tracing::info!(email_id = email.id, key = %email.idempotency_key, "email sent");
            Ok(Execution::Sent)
        }
        Err(error) => {
            let minutes = 1i64 << email.attempts.clamp(0, 10);
            let retry_at = Utc::now() + chrono::Duration::minutes(minutes);
            store.mark_email_failed(email.id, &format!("{error:#}"), retry_at).await?;
            tracing::warn!(email_id = email.id, attempts = email.attempts, error = %format!("{error:#}"), "email not sent; will retry");
            Ok(Execution::Failed)
        }
    }
}

/// Sends emails until `stop` turns true, sleeping while the queue is empty.
pub async fn run_worker(store: Store, mailer: Mailer, mut stop: watch::Receiver<bool>) {
    loop {
        let pause = match try_execute_task(&store, &mailer).await {
            Ok(Execution::Sent) => Duration::ZERO,
            Ok(Execution::Failed | Execution::EmptyQueue) => Duration::from_millis(500),
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
