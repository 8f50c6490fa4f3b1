//! Digests: how often each account hears of what is new, what is new for an organisation in a
//! period, and the claim of each (account, period) before its digest is queued.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::digest::Frequency;
use sea_orm::{ConnectionTrait, FromQueryResult};

use crate::mail::{NewEmail, enqueue};
use crate::matches::PartyView;
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
}

impl DigestNews {
    pub fn is_empty(&self) -> bool {
        *self == DigestNews::default()
    }
}

/// What is new in a period for every organisation, with the views of the matches it names.
#[derive(Debug, Default)]
pub struct PeriodNews {
    /// By organisation; an organisation with nothing new is absent.
    pub news: HashMap<OrgId, DigestNews>,
    /// Each match named in `news`, as the organisation it is news to sees it.
    pub views: HashMap<(OrgId, String), PartyView>,
}

#[derive(FromQueryResult)]
struct NewsRow {
    organisation_id: i64,
    id: String,
}

#[derive(FromQueryResult)]
struct CountRow {
    organisation_id: i64,
    id: String,
    title: String,
    count: i64,
}

#[derive(FromQueryResult)]
struct IdRow {
    id: String,
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

    /// What is new for each of `orgs` in `[start, end)`, with the views of the matches it
    /// names: a few queries for all of them (by the organisation indexes), so that a run reads
    /// its members a batch at a time.
    pub async fn digest_news(
        &self,
        orgs: &[OrgId],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<PeriodNews, StoreError> {
        let mut news: HashMap<OrgId, DigestNews> = HashMap::new();
        let mut views = HashMap::new();
        if orgs.is_empty() {
            return Ok(PeriodNews { news, views });
        }
        let backend = self.backend();
        let marks = vec!["?"; orgs.len()].join(", ");
        let values =
            || [start.into(), end.into()].into_iter().chain(orgs.iter().map(|org| org.0.into())).collect::<Vec<_>>();
        // Matches made in the period, with each party's view (a declined match is gone for it).
        let made = format!(
            "{} AND m.created_at >= ? AND m.created_at < ? AND mine.organisation_id IN ({marks}) \
             ORDER BY m.score DESC, m.id",
            crate::matches::VIEW_OF_EVERY_PARTY
        );
        for (viewer, view) in self.views_by_statement(statement(backend, &made, values())).await? {
            let entry = news.entry(viewer).or_default();
            if view.asked_by_them { &mut entry.asked_of_you } else { &mut entry.new_matches }.push(view.id.clone());
            views.insert((viewer, view.id.clone()), view);
        }
        let revealed = format!(
            "SELECT me.organisation_id AS organisation_id, m.id AS id \
             FROM match_parties me JOIN matches m ON m.id = me.match_id \
             JOIN match_parties them ON them.match_id = me.match_id AND them.organisation_id <> me.organisation_id \
             WHERE them.revealed_at >= ? AND them.revealed_at < ? AND me.organisation_id IN ({marks}) \
               AND them.status = 'revealed' AND m.connected_at IS NULL AND me.status <> 'declined' \
             ORDER BY m.score DESC, m.id"
        );
        for row in NewsRow::find_by_statement(statement(backend, &revealed, values())).all(&self.read).await? {
            news.entry(OrgId(row.organisation_id)).or_default().revealed_to_you.push(row.id);
        }
        let connected = format!(
            "SELECT me.organisation_id AS organisation_id, m.id AS id \
             FROM match_parties me JOIN matches m ON m.id = me.match_id \
             WHERE m.connected_at >= ? AND m.connected_at < ? AND me.organisation_id IN ({marks}) \
             ORDER BY m.score DESC, m.id"
        );
        for row in NewsRow::find_by_statement(statement(backend, &connected, values())).all(&self.read).await? {
            news.entry(OrgId(row.organisation_id)).or_default().connected.push(row.id);
        }
        let responses = format!(
            "SELECT c.poster_id AS organisation_id, c.id AS id, c.title AS title, COUNT(*) AS count \
             FROM challenge_responses r JOIN challenges c ON c.id = r.challenge_id \
             WHERE r.created_at >= ? AND r.created_at < ? AND c.poster_id IN ({marks}) \
             GROUP BY c.poster_id, c.id, c.title ORDER BY c.id"
        );
        for row in CountRow::find_by_statement(statement(backend, &responses, values())).all(&self.read).await? {
            news.entry(OrgId(row.organisation_id)).or_default().responses.push((row.id, row.title, row.count));
        }
        let questions = format!(
            "SELECT c.poster_id AS organisation_id, c.id AS id, c.title AS title, COUNT(*) AS count \
             FROM challenge_questions q JOIN challenges c ON c.id = q.challenge_id \
             WHERE q.created_at >= ? AND q.created_at < ? AND c.poster_id IN ({marks}) AND q.hidden_at IS NULL \
             GROUP BY c.poster_id, c.id, c.title ORDER BY c.id"
        );
        for row in CountRow::find_by_statement(statement(backend, &questions, values())).all(&self.read).await? {
            news.entry(OrgId(row.organisation_id)).or_default().questions.push((row.id, row.title, row.count));
        }
        // Views of the reveals and connections, unless made in the period too.
        let mut more: Vec<String> = news
            .iter()
            .flat_map(|(org, n)| n.revealed_to_you.iter().chain(&n.connected).map(move |id| (*org, id)))
            .filter(|(org, id)| !views.contains_key(&(*org, (*id).clone())))
            .map(|(_, id)| id.clone())
            .collect();
        more.sort_unstable();
        more.dedup();
        views.extend(self.views_of_matches(&more).await?.into_iter().filter(|((org, _), _)| news.contains_key(org)));
        Ok(PeriodNews { news, views })
    }

    /// Challenges posted in `[start, end)` and still open at `end`: news for every member but
    /// their poster, who each see those that fit them.
    pub async fn challenges_posted(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let rows = IdRow::find_by_statement(statement(
            self.backend(),
            "SELECT id FROM challenges WHERE created_at >= ? AND created_at < ? \
               AND closed_at IS NULL AND deadline > ? ORDER BY created_at, id",
            [start.into(), end.into(), end.into()],
        ))
        .all(&self.read)
        .await?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    /// Claims each digest of `batch` (an account and its email, none when nothing was new) for
    /// the period and, in the same transaction, queues the emails of those it claimed; for each,
    /// whether it was claimed here (`false`: another run had claimed it, and nothing is queued
    /// for it). A crash leaves all of a batch or none, so a later run sends each remaining
    /// digest once and repeats none. Runs at once take the rows in the same order (by account),
    /// so on PostgreSQL one waits for the other and then skips what it claimed.
    pub async fn record_digests(
        &self,
        frequency: Frequency,
        (start, end): (DateTime<Utc>, DateTime<Utc>),
        batch: &[(i64, Option<NewEmail>)],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, StoreError> {
        let txn = self.write().await?;
        let mut claimed = Vec::with_capacity(batch.len());
        for (account_id, email) in batch {
            let outcome = if email.is_some() { "queued" } else { "empty" };
            let inserted = txn
                .execute_raw(statement(
                    self.backend(),
                    // An account erased since the run read it is skipped, not an error that
                    // would hold up the whole batch.
                    "INSERT INTO digests (account_id, frequency, period_start, period_end, outcome, created_at) \
                     SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM accounts WHERE id = ?) \
                     ON CONFLICT DO NOTHING",
                    [
                        (*account_id).into(),
                        frequency.as_str().into(),
                        start.into(),
                        end.into(),
                        outcome.into(),
                        now.into(),
                        (*account_id).into(),
                    ],
                ))
                .await?
                .rows_affected()
                == 1;
            if inserted && let Some(email) = email {
                enqueue(&txn, email, now).await?;
            }
            claimed.push(inserted);
        }
        txn.commit().await?;
        Ok(claimed)
    }
}
