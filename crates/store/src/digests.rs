//! Digests: how often each account hears of what is new, what is new for an organisation in a
//! period, and the claim of each (account, period) before its digest is queued.

use chrono::{DateTime, Utc};
use domain::digest::Frequency;
use sea_orm::{ConnectionTrait, FromQueryResult, TransactionTrait};

use crate::mail::{NewEmail, enqueue};
use crate::{OrgId, Store, StoreError, statement};

#[derive(FromQueryResult)]
struct FrequencyRow {
    digest_frequency: String,
}

impl Store {
    /// The digest frequency of the account `account_public_id`.
    pub async fn digest_frequency(&self, account_public_id: &str) -> Result<Frequency, StoreError> {
        let row = FrequencyRow::find_by_statement(statement(
            self.backend(),
            "SELECT digest_frequency FROM accounts WHERE public_id = ?",
            [account_public_id.into()],
        ))
        .one(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        Frequency::parse(&row.digest_frequency).map_err(|_| StoreError::Corrupt("a digest frequency"))
    }

    /// Sets the digest frequency of the account `account_public_id`.
    pub async fn set_digest_frequency(&self, account_public_id: &str, frequency: Frequency) -> Result<(), StoreError> {
        let updated = self
            .db
            .execute_raw(statement(
                self.backend(),
                "UPDATE accounts SET digest_frequency = ? WHERE public_id = ?",
                [frequency.as_str().into(), account_public_id.into()],
            ))
            .await?;
        if updated.rows_affected() == 1 { Ok(()) } else { Err(StoreError::NotFound) }
    }
}

/// A member that a digest of `frequency` is due to for a period: it has that frequency, is
/// verified, and has no digest recorded for the period yet.
#[derive(Debug, Clone, FromQueryResult)]
pub struct DigestRecipient {
    pub account_id: i64,
    pub account_public_id: String,
    pub organisation_id: i64,
    pub email: String,
}

impl DigestRecipient {
    pub fn organisation(&self) -> OrgId {
        OrgId(self.organisation_id)
    }
}

/// What is new for one organisation in a period, as ids and counts; the caller turns them into
/// words through each party's own view, so that nothing unrevealed is named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestNews {
    /// Matches made in the period (not asked for by the other side).
    pub new_matches: Vec<String>,
    /// Matches the other side asked for from search in the period.
    pub asked_of_you: Vec<String>,
    /// Matches whose other side revealed itself in the period (not yet connected).
    pub revealed_to_you: Vec<String>,
    /// Matches connected in the period.
    pub connected: Vec<String>,
    /// The organisation's challenges that got responses in the period: id, title, count.
    pub responses: Vec<(String, String, i64)>,
    /// The organisation's challenges that got forum questions in the period: id, title, count.
    pub questions: Vec<(String, String, i64)>,
    /// Challenges of others posted in the period and still open.
    pub new_challenges: Vec<String>,
}

impl DigestNews {
    pub fn is_empty(&self) -> bool {
        *self == DigestNews::default()
    }
}

#[derive(FromQueryResult)]
struct IdRow {
    id: String,
}

#[derive(FromQueryResult)]
struct CountRow {
    id: String,
    title: String,
    count: i64,
}

impl Store {
    /// The members a digest of `frequency` for the period starting at `start` is due to.
    pub async fn digest_recipients(
        &self,
        frequency: Frequency,
        start: DateTime<Utc>,
    ) -> Result<Vec<DigestRecipient>, StoreError> {
        Ok(DigestRecipient::find_by_statement(statement(
            self.backend(),
            "SELECT a.id AS account_id, a.public_id AS account_public_id, a.organisation_id AS organisation_id, \
                    a.email AS email \
             FROM accounts a \
             WHERE a.verified_at IS NOT NULL AND a.digest_frequency = ? \
               AND NOT EXISTS (SELECT 1 FROM digests d WHERE d.account_id = a.id AND d.frequency = ? \
                               AND d.period_start = ?) \
             ORDER BY a.id",
            [frequency.as_str().into(), frequency.as_str().into(), start.into()],
        ))
        .all(&self.read)
        .await?)
    }

    /// What is new for `org` in `[start, end)`.
    pub async fn digest_news(
        &self,
        org: OrgId,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<DigestNews, StoreError> {
        let backend = self.backend();
        let ids = |sql: &'static str| {
            IdRow::find_by_statement(statement(backend, sql, [org.0.into(), start.into(), end.into(), org.0.into()]))
                .all(&self.read)
        };
        // `me` is the organisation's party, never declined: a declined match is gone for it.
        // Every query starts from the organisation's parties (their index), never from all
        // matches in the period.
        let new_matches = ids("SELECT m.id AS id FROM match_parties me JOIN matches m ON m.id = me.match_id \
             WHERE me.organisation_id = ? AND me.status <> 'declined' AND m.created_at >= ? AND m.created_at < ? \
               AND COALESCE(m.asked_by, me.organisation_id) = ? ORDER BY m.score DESC")
        .await?;
        let asked_of_you = ids("SELECT m.id AS id FROM match_parties me JOIN matches m ON m.id = me.match_id \
             WHERE me.organisation_id = ? AND me.status <> 'declined' AND m.created_at >= ? AND m.created_at < ? \
               AND COALESCE(m.asked_by, me.organisation_id) <> ? ORDER BY m.score DESC")
        .await?;
        let revealed_to_you = ids("SELECT m.id AS id FROM match_parties me JOIN matches m ON m.id = me.match_id \
             JOIN match_parties them ON them.match_id = m.id AND them.organisation_id <> me.organisation_id \
             WHERE me.organisation_id = ? AND me.status <> 'declined' AND them.status = 'revealed' \
               AND them.revealed_at >= ? AND them.revealed_at < ? AND m.connected_at IS NULL \
               AND me.organisation_id = ? ORDER BY m.score DESC")
        .await?;
        let connected = ids("SELECT m.id AS id FROM match_parties me JOIN matches m ON m.id = me.match_id \
             WHERE me.organisation_id = ? AND m.connected_at >= ? AND m.connected_at < ? \
               AND me.organisation_id = ? ORDER BY m.score DESC")
        .await?;
        let counts = |sql: &'static str| {
            CountRow::find_by_statement(statement(backend, sql, [org.0.into(), start.into(), end.into()]))
                .all(&self.read)
        };
        let responses = counts(
            "SELECT c.id AS id, c.title AS title, COUNT(*) AS count FROM challenge_responses r \
             JOIN challenges c ON c.id = r.challenge_id \
             WHERE c.poster_id = ? AND r.created_at >= ? AND r.created_at < ? GROUP BY c.id, c.title ORDER BY c.id",
        )
        .await?;
        let questions = counts(
            "SELECT c.id AS id, c.title AS title, COUNT(*) AS count FROM challenge_questions q \
             JOIN challenges c ON c.id = q.challenge_id \
             WHERE c.poster_id = ? AND q.created_at >= ? AND q.created_at < ? AND q.hidden_at IS NULL \
             GROUP BY c.id, c.title ORDER BY c.id",
        )
        .await?;
        let new_challenges = IdRow::find_by_statement(statement(
            backend,
            "SELECT id FROM challenges WHERE poster_id <> ? AND created_at >= ? AND created_at < ? \
               AND closed_at IS NULL AND deadline > ? ORDER BY created_at",
            [org.0.into(), start.into(), end.into(), end.into()],
        ))
        .all(&self.read)
        .await?;
        let list = |rows: Vec<IdRow>| rows.into_iter().map(|r| r.id).collect();
        let tally = |rows: Vec<CountRow>| rows.into_iter().map(|r| (r.id, r.title, r.count)).collect();
        Ok(DigestNews {
            new_matches: list(new_matches),
            asked_of_you: list(asked_of_you),
            revealed_to_you: list(revealed_to_you),
            connected: list(connected),
            responses: tally(responses),
            questions: tally(questions),
            new_challenges: list(new_challenges),
        })
    }

    /// Claims the digest of `account_id` for its period and, in the same transaction, queues
    /// `email` (none when nothing was new). `false` when another run claimed it first: then
    /// nothing is queued. A crash leaves either both or neither, so a later run sends each
    /// remaining digest once and repeats none.
    pub async fn record_digest(
        &self,
        account_id: i64,
        frequency: Frequency,
        (start, end): (DateTime<Utc>, DateTime<Utc>),
        email: Option<&NewEmail>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let txn = self.db.begin().await?;
        let outcome = if email.is_some() { "queued" } else { "empty" };
        let claimed = txn
            .execute_raw(statement(
                self.backend(),
                "INSERT INTO digests (account_id, frequency, period_start, period_end, outcome, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [account_id.into(), frequency.as_str().into(), start.into(), end.into(), outcome.into(), now.into()],
            ))
            .await?
            .rows_affected()
            == 1;
        if !claimed {
            txn.rollback().await?;
            return Ok(false);
        }
        if let Some(email) = email {
            enqueue(&txn, email, now).await?;
        }
        txn.commit().await?;
        Ok(true)
    }
}

impl Store {
    /// Moves a match's creation time (tests of periods only).
    #[doc(hidden)]
    pub async fn backdate_match_for_tests(&self, id: &str, created_at: DateTime<Utc>) -> Result<(), StoreError> {
        self.db
            .execute_raw(statement(
                self.backend(),
                "UPDATE matches SET created_at = ? WHERE id = ?",
                [created_at.into(), id.into()],
            ))
            .await?;
        Ok(())
    }
}
