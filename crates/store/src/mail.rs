//! The email queue: emails are written here in the same transaction as the change they tell
//! about, and sent later by a worker that claims one at a time. A row's idempotency key makes
//! queuing the same email twice a no-op.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, FromQueryResult, QueryFilter, Set};

use crate::entities::email_queue;
use crate::{Store, StoreError, statement};

/// An email to queue.
#[derive(Clone, PartialEq, Eq)]
pub struct NewEmail {
    /// Names the event, e.g. `verify:<account>` or `connected:<match>:<org>`: the same event
    /// never queues two emails.
    pub idempotency_key: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    /// The one-click unsubscribe address of a message a member may stop (a digest): sent as
    /// the `List-Unsubscribe` and `List-Unsubscribe-Post` headers (RFC 8058).
    pub list_unsubscribe: Option<String>,
}

impl std::fmt::Debug for NewEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewEmail").field("idempotency_key", &self.idempotency_key).finish_non_exhaustive()
    }
}

/// A claimed email, to send now.
#[derive(Clone, PartialEq, Eq, FromQueryResult)]
pub struct QueuedEmail {
    pub id: i64,
    pub idempotency_key: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    pub list_unsubscribe: Option<String>,
    pub attempts: i32,
    /// The claim that holds it (one per [`Store::claim_emails`]).
    pub claim_token: String,
}

impl std::fmt::Debug for QueuedEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedEmail")
            .field("id", &self.id)
            .field("idempotency_key", &self.idempotency_key)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// How long a claim lasts before another worker may retry the email: short, so that the
/// emails of a worker that died are sent by another soon after. A worker renews the claims of
/// the emails it is still sending (see [`Store::extend_email_claims`]), so a slow server does
/// not make them look abandoned.
pub const CLAIM: Duration = Duration::seconds(30);

pub(crate) async fn enqueue(db: &impl ConnectionTrait, email: &NewEmail, now: DateTime<Utc>) -> Result<(), StoreError> {
    let row = email_queue::ActiveModel {
        idempotency_key: Set(email.idempotency_key.clone()),
        recipient: Set(email.recipient.clone()),
        subject: Set(email.subject.clone()),
        text_body: Set(email.text_body.clone()),
        html_body: Set(email.html_body.clone()),
        list_unsubscribe: Set(email.list_unsubscribe.clone()),
        created_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_until: Set(None),
        sent_at: Set(None),
        last_error: Set(None),
        ..Default::default()
    };
    email_queue::Entity::insert(row)
        .on_conflict(OnConflict::column(email_queue::Column::IdempotencyKey).do_nothing().to_owned())
        .try_insert()
        .exec(db)
        .await?;
    Ok(())
}

impl Store {
    /// Queues an email on its own (most are queued inside the transaction of their event).
    pub async fn enqueue_email(&self, email: &NewEmail, now: DateTime<Utc>) -> Result<(), StoreError> {
        enqueue(&self.db, email, now).await
    }

    /// Claims the oldest email that is due and not claimed by a live worker.
    pub async fn claim_email(&self, now: DateTime<Utc>) -> Result<Option<QueuedEmail>, StoreError> {
        Ok(self.claim_emails(now, 1).await?.pop())
    }

    /// Claims up to `limit` of the oldest emails that are due and not claimed by a live worker,
    /// oldest first. On PostgreSQL, `FOR UPDATE SKIP LOCKED` lets several workers claim side by
    /// side; SQLite has one writer at a time. The outer conditions are checked again on each
    /// row itself, so two workers can never both claim one.
    pub async fn claim_emails(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<QueuedEmail>, StoreError> {
        let backend = self.backend();
        let skip_locked = if backend == DatabaseBackend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
        // The picked rows are locked in a CTE of their own, evaluated once, before the update.
        let sql = format!(
            "WITH picked AS (SELECT id FROM email_queue WHERE sent_at IS NULL AND next_attempt_at <= ? \
                             AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY id LIMIT {limit} {skip_locked}) \
             UPDATE email_queue SET claimed_until = ?, claim_token = ?, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM picked) AND sent_at IS NULL AND (claimed_until IS NULL OR claimed_until < ?) \
             RETURNING id, idempotency_key, recipient, subject, text_body, html_body, list_unsubscribe, attempts, claim_token"
        );
        let token = uuid::Uuid::new_v4().to_string();
        let values = [now.into(), now.into(), (now + CLAIM).into(), token.into(), now.into()];
        let mut claimed = QueuedEmail::find_by_statement(statement(backend, &sql, values)).all(&self.db).await?;
        claimed.sort_by_key(|email| email.id);
        Ok(claimed)
    }

    /// Renews the claim `token` on these emails, still being sent, until [`CLAIM`] after
    /// `now`; the ids whose claim it still held. The others ran out and another worker may
    /// have claimed them: their claims are left alone, and the caller must not send them.
    pub async fn extend_email_claims(
        &self,
        token: &str,
        ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        #[derive(FromQueryResult)]
        struct Held {
            id: i64,
        }
        let mut held = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let placeholders = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "UPDATE email_queue SET claimed_until = ? WHERE claim_token = ? AND claimed_until >= ? \
                 AND sent_at IS NULL AND id IN ({placeholders}) RETURNING id"
            );
            let mut values: Vec<sea_orm::Value> = vec![(now + CLAIM).into(), token.into(), now.into()];
            values.extend(chunk.iter().map(|id| sea_orm::Value::from(*id)));
            let rows = Held::find_by_statement(statement(self.backend(), &sql, values)).all(&self.db).await?;
            held.extend(rows.into_iter().map(|row| row.id));
        }
        held.sort_unstable();
        Ok(held)
    }

    /// Marks a claimed email as sent and clears its body, which may hold a verification or
    /// reset link (the row stays, so its idempotency key still keeps a repeat from being
    /// queued).
    pub async fn mark_email_sent(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.mark_emails_sent(&[id], now).await
    }

    /// [`Store::mark_email_sent`] for several emails at once, in one statement.
    pub async fn mark_emails_sent(&self, ids: &[i64], now: DateTime<Utc>) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        email_queue::Entity::update_many()
            .col_expr(email_queue::Column::SentAt, sea_orm::sea_query::Expr::value(now))
            .col_expr(email_queue::Column::TextBody, sea_orm::sea_query::Expr::value(""))
            .col_expr(email_queue::Column::HtmlBody, sea_orm::sea_query::Expr::value(Option::<String>::None))
            .col_expr(email_queue::Column::LastError, sea_orm::sea_query::Expr::value(Option::<String>::None))
            .filter(email_queue::Column::Id.is_in(ids.iter().copied()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Records a failed attempt of the claim `email`; the email is retried from `retry_at`.
    /// Nothing changes if another worker has claimed it since.
    pub async fn mark_email_failed(
        &self,
        email: &QueuedEmail,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE email_queue SET last_error = ?, next_attempt_at = ?, claimed_until = NULL \
                   WHERE id = ? AND claim_token = ? AND sent_at IS NULL";
        let values = [error.into(), retry_at.into(), email.id.into(), email.claim_token.as_str().into()];
        self.db.execute_raw(statement(self.backend(), sql, values)).await?;
        Ok(())
    }

    /// What is still stored of the bodies of sent emails (for checks that nothing is kept).
    pub async fn sent_email_bodies(&self) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let sent =
            email_queue::Entity::find().filter(email_queue::Column::SentAt.is_not_null()).all(&self.read).await?;
        Ok(sent.into_iter().map(|row| (row.text_body, row.html_body)).collect())
    }

    /// When the next unsent email is due (none when nothing waits).
    pub async fn next_email_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        use sea_orm::{QueryOrder, QuerySelect};
        let next = email_queue::Entity::find()
            .filter(email_queue::Column::SentAt.is_null())
            .order_by_asc(email_queue::Column::NextAttemptAt)
            .limit(1)
            .one(&self.read)
            .await?;
        Ok(next.map(|row| row.next_attempt_at))
    }

    /// Emails not sent yet.
    pub async fn pending_emails(&self) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        Ok(email_queue::Entity::find().filter(email_queue::Column::SentAt.is_null()).count(&self.read).await?)
    }
}
