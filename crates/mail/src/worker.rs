//! The worker that drains the email queue: claim a few emails, send them side by side over the
//! mailer's pooled connections, and mark each sent as soon as the server took it; a failure is
//! retried later with a growing delay.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::{FutureExt, StreamExt};
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

/// How often a worker renews the claims on the emails it is still sending: three times per
/// claim, so that one slow or failed renewal does not lose them.
const RENEW_CLAIMS: Duration = Duration::from_secs(10);

/// What [`send_due`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sending {
    pub sent: usize,
    pub failed: usize,
    /// Not sent because their claim ran out first (another worker may have them).
    pub released: usize,
}

/// Claims a few due emails and sends them side by side, renewing the claims while they are
/// sent; nothing sent and nothing failed means that the queue holds nothing due. Each email is
/// marked sent as soon as the server took it: those that finished together are marked in one
/// statement, without waiting for any other. An email whose claim ran out before its turn came
/// (the renewals failed for a whole claim) is left to whichever worker claims it next, so that
/// it is not sent twice.
pub async fn send_due(store: &Store, mailer: &Mailer) -> anyhow::Result<Sending> {
    let now = Utc::now();
    // Two rounds of the mailer's concurrency: enough to keep every connection busy.
    let at_once = u32::try_from(mailer.concurrency() * 2).unwrap_or(u32::MAX);
    let claimed = store.claim_emails(now, at_once).await?;
    let Some(token) = claimed.first().map(|email| email.claim_token.clone()) else {
        return Ok(Sending::default());
    };
    let mut in_flight: Vec<i64> = claimed.iter().map(|email| email.id).collect();
    let lost: Mutex<HashSet<i64>> = Mutex::default();
    let is_lost = |id: i64| lost.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).contains(&id);
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + RENEW_CLAIMS, RENEW_CLAIMS);
    let mut sends = futures_util::stream::iter(claimed)
        .map(|email| async move {
            if is_lost(email.id) {
                return (email, None);
            }
            let result = mailer.send(&email).await;
            (email, Some(result))
        })
        .buffer_unordered(mailer.concurrency());
    let mut done = Sending::default();
    loop {
        let first = tokio::select! {
            next = sends.next() => match next {
                Some(first) => first,
                None => break,
            },
            _ = heartbeat.tick() => {
                // Still sending: keep the claims, so that no other worker sends these too.
                match store.extend_email_claims(&token, &in_flight, Utc::now()).await {
                    Ok(held) => {
                        let mut lost = lost.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                        lost.extend(in_flight.iter().filter(|id| held.binary_search(id).is_err()));
                    }
                    Err(error) => tracing::warn!(error = %error, "failed to renew the claims on emails being sent"),
                }
                continue;
            }
        };
        let mut finished = vec![first];
        while let Some(Some(next)) = sends.next().now_or_never() {
            finished.push(next);
        }
        in_flight.retain(|id| finished.iter().all(|(email, _)| email.id != *id));
        let mut sent = Vec::new();
        for (email, result) in finished {
            match result {
                Some(Ok(())) => sent.push(email.id),
                Some(Err(error)) => {
                    failed(store, &email, &error, now).await?;
                    done.failed += 1;
                }
                None => {
                    tracing::warn!(
                        email_id = email.id,
                        "an email's claim ran out before it was sent; left to the next claim"
                    );
                    done.released += 1;
                }
            }
        }
        // Marked first: a store failure here leaves them claimed, and they are sent again once
        // the claim runs out (at least once, never lost).
        store.mark_emails_sent(&sent, Utc::now()).await?;
        if !sent.is_empty() {
            tracing::info!(emails = sent.len(), "emails sent");
        }
        done.sent += sent.len();
    }
    Ok(done)
}

/// Sends one claimed email and records the outcome.
async fn deliver(store: &Store, mailer: &Mailer, email: QueuedEmail, now: DateTime<Utc>) -> anyhow::Result<Execution> {
    match mailer.send(&email).await {
        Ok(()) => {
            store.mark_email_sent(email.id, Utc::now()).await?;
            tracing::info!(email_id = email.id, key = %email.idempotency_key, "email sent");
            Ok(Execution::Sent)
        }
        Err(error) => {
            failed(store, &email, &error, now).await?;
            Ok(Execution::Failed)
        }
    }
}

/// Records a failed attempt: the email is due again after a delay that doubles with each
/// attempt (one minute, two, four, … up to about seventeen hours).
async fn failed(store: &Store, email: &QueuedEmail, error: &anyhow::Error, now: DateTime<Utc>) -> anyhow::Result<()> {
    let minutes = 1i64 << (email.attempts - 1).clamp(0, 10);
    let retry_at = now + chrono::Duration::minutes(minutes);
    store.mark_email_failed(email, &format!("{error:#}"), retry_at).await?;
    tracing::warn!(email_id = email.id, attempts = email.attempts, error = %format!("{error:#}"), "email not sent; will retry");
    Ok(())
}

/// Sends emails until `stop` turns true, sleeping while nothing is due; `observe` hears what
/// each round did (for metrics).
pub async fn run_worker(
    store: Store,
    mailer: Mailer,
    mut stop: watch::Receiver<bool>,
    observe: impl Fn(Sending) + Send + 'static,
) {
    loop {
        let round = send_due(&store, &mailer).await;
        if let Ok(sending) = &round {
            observe(*sending);
        }
        let pause = match round {
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
