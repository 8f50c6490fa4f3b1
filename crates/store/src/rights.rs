//! Data rights: everything the store holds of an organisation, for its export, and its
//! erasure, after which nothing of it remains in any table but anonymous totals.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult};

use crate::challenges::ResponseStatus;
use crate::generations::{POPULATION, ROSTER, bump};
use crate::matches::bump_lists;
use crate::{OrgId, Store, StoreError, from_json, statement};

/// The caller's account, as its export shows it (never the password hash).
#[derive(Debug, Clone, FromQueryResult)]
pub struct AccountRecord {
    pub email: String,
    pub role: String,
    pub verified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub digest_frequency: String,
}

/// A match the caller declined (its other matches are exported as the caller sees them).
#[derive(Debug, Clone, FromQueryResult)]
pub struct DeclinedMatch {
    pub match_id: String,
    pub declined_at: Option<DateTime<Utc>>,
}

/// A response the caller sent to a challenge, as its responder sees it: a decline by the
/// poster shows as `submitted`, as everywhere else.
#[derive(Debug, Clone)]
pub struct OwnResponse {
    pub challenge_id: String,
    pub challenge_title: String,
    pub summary: String,
    pub stages: Vec<String>,
    pub status: ResponseStatus,
    pub revealed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A question the caller asked in a challenge's forum.
#[derive(Debug, Clone, FromQueryResult)]
pub struct OwnQuestion {
    pub challenge_id: String,
    pub text: String,
    pub answer: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A digest period claimed for the caller.
#[derive(Debug, Clone, FromQueryResult)]
pub struct DigestRecord {
    pub frequency: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub outcome: String,
    pub created_at: DateTime<Utc>,
}

/// An email sent (or to be sent) to the caller's address.
#[derive(Debug, Clone, FromQueryResult)]
pub struct EmailRecord {
    pub subject: String,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// What the store holds of an organisation beyond its profile, answers and matches (which
/// their own queries read).
#[derive(Debug, Clone)]
pub struct Holdings {
    pub account: Option<AccountRecord>,
    pub declined_matches: Vec<DeclinedMatch>,
    pub responses: Vec<OwnResponse>,
    pub questions: Vec<OwnQuestion>,
    pub digests: Vec<DigestRecord>,
    pub emails: Vec<EmailRecord>,
}

#[derive(FromQueryResult)]
struct ResponseRow {
    challenge_id: String,
    challenge_title: String,
    summary: String,
    stages: String,
    status: String,
    shortlisted_at: Option<DateTime<Utc>>,
    revealed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

/// What an erasure took with it, as anonymous totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Erased {
    pub matches: i64,
    pub connections: i64,
    pub outcomes: i64,
    /// The organisations whose match lists lost a match (their cached lists are stale).
    pub counterparts: usize,
}

#[derive(FromQueryResult)]
struct Id {
    id: i64,
}

#[derive(FromQueryResult)]
struct Totals {
    matches: i64,
    connections: i64,
    outcomes: i64,
}

#[derive(FromQueryResult)]
struct Tally {
    name: String,
    value: i64,
}

/// The totals that erasures keep, by name.
pub const ERASED_NAMES: [&str; 4] = ["organisations", "matches", "connections", "outcomes"];

impl Store {
    /// Everything of `org` that its profile, answers and match views do not already show.
    pub async fn holdings(&self, org: OrgId) -> Result<Holdings, StoreError> {
        let db = &self.read;
        let backend = self.backend();
        let one = |sql: &str| statement(backend, sql, [org.0.into()]);
        let account = AccountRecord::find_by_statement(one(
            "SELECT email, role, verified_at, created_at, digest_frequency FROM accounts WHERE organisation_id = ?",
        ))
        .one(db)
        .await?;
        let declined_matches = DeclinedMatch::find_by_statement(one(
            "SELECT match_id, declined_at FROM match_parties WHERE organisation_id = ? AND status = 'declined' \
             ORDER BY declined_at, match_id",
        ))
        .all(db)
        .await?;
        let responses = ResponseRow::find_by_statement(one(
            "SELECT r.challenge_id, c.title AS challenge_title, r.summary, r.stages, r.status, r.shortlisted_at, \
                    r.responder_revealed_at AS revealed_at, r.created_at \
               FROM challenge_responses r JOIN challenges c ON c.id = r.challenge_id \
              WHERE r.responder_id = ? ORDER BY r.created_at, r.id",
        ))
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            // As its responder sees it everywhere: shortlisted once shortlisted (even if declined
            // later), otherwise submitted; a decline never shows.
            let status = match ResponseStatus::parse(&row.status)? {
                ResponseStatus::Shortlisted => ResponseStatus::Shortlisted,
                _ if row.shortlisted_at.is_some() => ResponseStatus::Shortlisted,
                _ => ResponseStatus::Submitted,
            };
            Ok(OwnResponse {
                challenge_id: row.challenge_id,
                challenge_title: row.challenge_title,
                summary: row.summary,
                stages: from_json(&row.stages)?,
                status,
                revealed_at: row.revealed_at,
                created_at: row.created_at,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        let questions = OwnQuestion::find_by_statement(one(
            "SELECT challenge_id, text, answer, created_at FROM challenge_questions WHERE asker_id = ? \
             ORDER BY created_at, id",
        ))
        .all(db)
        .await?;
        let digests = DigestRecord::find_by_statement(one(
            "SELECT d.frequency, d.period_start, d.period_end, d.outcome, d.created_at \
               FROM digests d JOIN accounts a ON a.id = d.account_id \
              WHERE a.organisation_id = ? ORDER BY d.period_start",
        ))
        .all(db)
        .await?;
        let emails =
            EmailRecord::find_by_statement(one("SELECT e.subject, e.created_at, e.sent_at FROM email_queue e \
               JOIN accounts a ON a.email = e.recipient WHERE a.organisation_id = ? ORDER BY e.created_at, e.id"))
            .all(db)
            .await?;
        Ok(Holdings { account, declined_matches, responses, questions, digests, emails })
    }

    /// Erases `org` in one transaction: its account and sessions, answers, profile, every match
    /// it is party to (which vanishes for the other side too), its challenges with their
    /// responses and forum, its responses and questions on others' challenges, its digests, and
    /// every email to its address or about one of its matches or responses. What is kept is only how many
    /// matches, connections and outcomes went, added to anonymous totals.
    pub async fn erase_organisation(&self, org: OrgId) -> Result<Erased, StoreError> {
        let backend = self.backend();
        let txn = self.write().await?;
        let one = |sql: &str| statement(backend, sql, [org.0.into()]);
        // Lock the organisation first (PostgreSQL), so that a reveal or a save racing the
        // erasure either finishes before it or finds nothing.
        let lock = if backend == sea_orm::DatabaseBackend::Postgres {
            "SELECT id FROM organisations WHERE id = ? FOR UPDATE"
        } else {
            "SELECT id FROM organisations WHERE id = ?"
        };
        Id::find_by_statement(one(lock)).one(&txn).await?.ok_or(StoreError::NotFound)?;
        let counterparts: Vec<i64> =
            Id::find_by_statement(one("SELECT DISTINCT theirs.organisation_id AS id FROM match_parties mine \
               JOIN match_parties theirs ON theirs.match_id = mine.match_id \
                AND theirs.organisation_id <> mine.organisation_id \
              WHERE mine.organisation_id = ?"))
            .all(&txn)
            .await?
            .into_iter()
            .map(|row| row.id)
            .collect();
        let totals = Totals::find_by_statement(statement(
            backend,
            "SELECT COUNT(*) AS matches, COUNT(m.connected_at) AS connections, \
                    (SELECT COUNT(*) FROM match_parties p JOIN matches n ON n.id = p.match_id \
                      WHERE (n.org_low = ? OR n.org_high = ?) AND p.outcome IS NOT NULL) AS outcomes \
               FROM matches m WHERE m.org_low = ? OR m.org_high = ?",
            [org.0.into(), org.0.into(), org.0.into(), org.0.into()],
        ))
        .one(&txn)
        .await?
        .unwrap_or(Totals { matches: 0, connections: 0, outcomes: 0 });
        // Emails: those to the organisation's address, and those to its counterparts that name it
        // or tell of a match that goes with it (connections by match or response, asks), found
        // by their idempotency keys. The keys are read now; the emails are deleted after the
        // organisation's row, whose cascade waits for any reveal in flight, so that a connection
        // committed meanwhile is deleted too.
        let emails: Vec<String> = AccountRecord::find_by_statement(one(
            "SELECT email, role, verified_at, created_at, digest_frequency FROM accounts WHERE organisation_id = ?",
        ))
        .all(&txn)
        .await?
        .into_iter()
        .map(|a| a.email)
        .collect();
        #[derive(FromQueryResult)]
        struct Key {
            key: String,
        }
        let mut prefixes: Vec<String> =
            Key::find_by_statement(one("SELECT match_id AS key FROM match_parties WHERE organisation_id = ?"))
                .all(&txn)
                .await?
                .into_iter()
                .flat_map(|m| [format!("connected-{}-", m.key), format!("asked-{}", m.key)])
                .collect();
        prefixes.extend(
            Key::find_by_statement(statement(
                backend,
                "SELECT r.id AS key FROM challenge_responses r JOIN challenges c ON c.id = r.challenge_id \
                  WHERE r.responder_id = ? OR c.poster_id = ?",
                [org.0.into(), org.0.into()],
            ))
            .all(&txn)
            .await?
            .into_iter()
            .map(|r| format!("challenge-connected-{}-", r.key)),
        );
        // Everything else goes with the organisation's row (every reference cascades).
        txn.execute_raw(one("DELETE FROM organisations WHERE id = ?")).await?;
        for chunk in prefixes.chunks(100) {
            let likes = vec!["idempotency_key LIKE ? ESCAPE '\\'"; chunk.len()].join(" OR ");
            let values = chunk.iter().map(|prefix| format!("{}%", like_escaped(prefix)).into());
            txn.execute_raw(statement(backend, &format!("DELETE FROM email_queue WHERE {likes}"), values)).await?;
        }
        for email in &emails {
            txn.execute_raw(statement(backend, "DELETE FROM email_queue WHERE recipient = ?", [email.as_str().into()]))
                .await?;
        }
        bump_lists(&txn, &counterparts).await?;
        bump(&txn, POPULATION).await?;
        bump(&txn, ROSTER).await?;
        for (name, value) in ERASED_NAMES.into_iter().zip([1, totals.matches, totals.connections, totals.outcomes]) {
            txn.execute_raw(statement(
                backend,
                "INSERT INTO erased_tallies (name, value) VALUES (?, ?) \
                 ON CONFLICT (name) DO UPDATE SET value = erased_tallies.value + excluded.value",
                [name.into(), value.into()],
            ))
            .await?;
        }
        txn.commit().await?;
        Ok(Erased {
            matches: totals.matches,
            connections: totals.connections,
            outcomes: totals.outcomes,
            counterparts: counterparts.len(),
        })
    }

    /// The anonymous totals that erasures kept, by name (zero for none yet).
    pub async fn erased_tallies(&self) -> Result<Vec<(&'static str, i64)>, StoreError> {
        let rows = Tally::find_by_statement(statement(self.backend(), "SELECT name, value FROM erased_tallies", []))
            .all(&self.read)
            .await?;
        Ok(ERASED_NAMES
            .into_iter()
            .map(|name| (name, rows.iter().find(|row| row.name == name).map_or(0, |row| row.value)))
            .collect())
    }
}

/// `raw` with the characters that `LIKE` treats specially escaped by `\`.
fn like_escaped(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::like_escaped;

    #[test]
    fn like_patterns_match_the_address_literally() {
        assert_eq!(like_escaped("a_b%c\\d@x.org"), "a\\_b\\%c\\\\d@x.org");
    }
}
