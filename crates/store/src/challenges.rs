//! Challenges: posting and editing them, the responses of organisations that could help, each
//! party's view of a response, shortlisting, declining and revealing, and the public forum.
//!
//! Confidentiality lives here as it does for matches: a response shows its responder under a
//! random alias; the responder's identity is selected only once it revealed itself and the
//! poster has not declined it, and the poster's only once the poster revealed itself to this
//! responder. A decline is never shown to the responder. Forum questions carry their asker's
//! alias for the challenge, never its identity.

use chrono::{DateTime, Utc};
use domain::challenge::{Challenge, Response, Stage};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, FromQueryResult};

use crate::mail::{NewEmail, enqueue};
use crate::{OrgId, Store, StoreError, from_json, statement, to_json};

/// What the poster did with a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseStatus {
    Submitted,
    Shortlisted,
    Declined,
}

impl ResponseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseStatus::Submitted => "submitted",
            ResponseStatus::Shortlisted => "shortlisted",
            ResponseStatus::Declined => "declined",
        }
    }

    pub(crate) fn parse(raw: &str) -> Result<ResponseStatus, StoreError> {
        match raw {
            "submitted" => Ok(ResponseStatus::Submitted),
            "shortlisted" => Ok(ResponseStatus::Shortlisted),
            "declined" => Ok(ResponseStatus::Declined),
            _ => Err(StoreError::Corrupt("a response status")),
        }
    }
}

/// A challenge as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRecord {
    pub id: String,
    /// The poster's internal id: for access checks and its anonymous profile, never shown.
    pub poster: OrgId,
    pub challenge: Challenge,
    pub closed_at: Option<DateTime<Utc>>,
    pub featured: bool,
    pub created_at: DateTime<Utc>,
    pub responses: i64,
    pub questions: i64,
}

impl ChallengeRecord {
    /// Open until its deadline, unless its poster closed it earlier.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.closed_at.is_none() && self.challenge.deadline > now
    }
}

#[derive(Debug, FromQueryResult)]
struct ChallengeRow {
    id: String,
    poster_id: i64,
    title: String,
    problem_statement: String,
    sectors: String,
    innovation_stage: Option<String>,
    capabilities_needed: String,
    links: String,
    deadline: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    featured: bool,
    created_at: DateTime<Utc>,
    responses: i64,
    questions: i64,
}

const CHALLENGE: &str = "SELECT c.id, c.poster_id, c.title, c.problem_statement, c.sectors, c.innovation_stage, \
       c.capabilities_needed, c.links, c.deadline, c.closed_at, c.featured, c.created_at, \
       (SELECT COUNT(*) FROM challenge_responses r WHERE r.challenge_id = c.id) AS responses, \
       (SELECT COUNT(*) FROM challenge_questions q WHERE q.challenge_id = c.id AND q.hidden_at IS NULL) AS questions \
  FROM challenges c";

impl TryFrom<ChallengeRow> for ChallengeRecord {
    type Error = StoreError;

    fn try_from(row: ChallengeRow) -> Result<ChallengeRecord, StoreError> {
        Ok(ChallengeRecord {
            id: row.id,
            poster: OrgId(row.poster_id),
            challenge: Challenge {
                title: row.title,
                problem_statement: row.problem_statement,
                sectors: from_json(&row.sectors)?,
                innovation_stage: row.innovation_stage,
                capabilities_needed: from_json(&row.capabilities_needed)?,
                deadline: row.deadline,
                links: from_json(&row.links)?,
            },
            closed_at: row.closed_at,
            featured: row.featured,
            created_at: row.created_at,
            responses: row.responses,
            questions: row.questions,
        })
    }
}

/// Who a party of a response is, once it revealed itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyIdentity {
    pub organisation_name: String,
    pub website: Option<String>,
    pub contact_email: String,
    pub description: Option<String>,
}

/// A response as one of its parties sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseView {
    pub id: String,
    pub challenge_id: String,
    /// The responder's internal id: for its anonymous profile, never shown.
    pub responder: OrgId,
    pub alias: String,
    pub summary: String,
    pub stages: Vec<Stage>,
    pub status: ResponseStatus,
    /// Whether it was ever shortlisted (a later decline does not undo what the responder saw).
    pub shortlisted: bool,
    pub responder_revealed: bool,
    pub poster_revealed: bool,
    pub connected: bool,
    /// The responder, for the poster, once the responder revealed itself (never after a
    /// decline).
    pub responder_identity: Option<PartyIdentity>,
    /// The poster, for the responder, once the poster revealed itself to it.
    pub poster_identity: Option<PartyIdentity>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, FromQueryResult)]
struct ResponseRow {
    id: String,
    challenge_id: String,
    responder_id: i64,
    alias: String,
    summary: String,
    stages: String,
    status: String,
    shortlisted_at: Option<DateTime<Utc>>,
    responder_revealed_at: Option<DateTime<Utc>>,
    poster_revealed_at: Option<DateTime<Utc>>,
    connected_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    responder_name: Option<String>,
    responder_website: Option<String>,
    responder_email: Option<String>,
    responder_description: Option<String>,
    poster_name: Option<String>,
    poster_website: Option<String>,
    poster_email: Option<String>,
    poster_description: Option<String>,
}

/// Both parties' identity columns, each selected only when that party revealed itself (and,
/// for the responder, the poster has not declined it).
const RESPONSE: &str = "SELECT r.id, r.challenge_id, r.responder_id, r.alias, r.summary, r.stages, r.status, \
       r.shortlisted_at, r.responder_revealed_at, r.poster_revealed_at, r.connected_at, r.created_at, \
       CASE WHEN r.responder_revealed_at IS NOT NULL AND r.status <> 'declined' THEN ro.name END AS responder_name, \
       CASE WHEN r.responder_revealed_at IS NOT NULL AND r.status <> 'declined' THEN ro.website END AS responder_website, \
       CASE WHEN r.responder_revealed_at IS NOT NULL AND r.status <> 'declined' THEN ra.email END AS responder_email, \
       CASE WHEN r.responder_revealed_at IS NOT NULL AND r.status <> 'declined' THEN ro.description END \
            AS responder_description, \
       CASE WHEN r.poster_revealed_at IS NOT NULL THEN po.name END AS poster_name, \
       CASE WHEN r.poster_revealed_at IS NOT NULL THEN po.website END AS poster_website, \
       CASE WHEN r.poster_revealed_at IS NOT NULL THEN pa.email END AS poster_email, \
       CASE WHEN r.poster_revealed_at IS NOT NULL THEN po.description END AS poster_description \
  FROM challenge_responses r \
  JOIN challenges c ON c.id = r.challenge_id \
  JOIN organisations ro ON ro.id = r.responder_id \
  LEFT JOIN accounts ra ON ra.organisation_id = ro.id \
  JOIN organisations po ON po.id = c.poster_id \
  LEFT JOIN accounts pa ON pa.organisation_id = po.id";

fn identity(
    name: Option<String>,
    website: Option<String>,
    email: Option<String>,
    description: Option<String>,
) -> Option<PartyIdentity> {
    match (name, email) {
        (Some(organisation_name), Some(contact_email)) => {
            Some(PartyIdentity { organisation_name, website, contact_email, description })
        }
        _ => None,
    }
}

impl TryFrom<ResponseRow> for ResponseView {
    type Error = StoreError;

    fn try_from(row: ResponseRow) -> Result<ResponseView, StoreError> {
        let stages: Vec<String> = from_json(&row.stages)?;
        Ok(ResponseView {
            stages: stages
                .iter()
                .map(|s| Stage::parse(s).map_err(|_| StoreError::Corrupt("a response stage")))
                .collect::<Result<_, _>>()?,
            status: ResponseStatus::parse(&row.status)?,
            responder_identity: identity(
                row.responder_name,
                row.responder_website,
                row.responder_email,
                row.responder_description,
            ),
            poster_identity: identity(row.poster_name, row.poster_website, row.poster_email, row.poster_description),
            id: row.id,
            challenge_id: row.challenge_id,
            responder: OrgId(row.responder_id),
            alias: row.alias,
            summary: row.summary,
            shortlisted: row.shortlisted_at.is_some(),
            responder_revealed: row.responder_revealed_at.is_some(),
            poster_revealed: row.poster_revealed_at.is_some(),
            connected: row.connected_at.is_some(),
            created_at: row.created_at,
        })
    }
}

/// A forum question as every member reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionView {
    pub id: String,
    /// The asker's internal id: for its anonymous kind, never shown.
    pub asker: OrgId,
    pub alias: String,
    pub text: String,
    pub answer: Option<String>,
    pub hidden: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, FromQueryResult)]
struct QuestionRow {
    id: String,
    asker_id: i64,
    alias: String,
    text: String,
    answer: Option<String>,
    hidden_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

/// Both sides of a response that just connected, for the emails that announce it.
#[derive(Clone)]
pub struct ChallengeConnection {
    pub challenge_id: String,
    pub response_id: String,
    pub challenge_title: String,
    /// The poster, then the responder.
    pub parties: [crate::matches::ConnectedParty; 2],
}

impl std::fmt::Debug for ChallengeConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChallengeConnection").field("response_id", &self.response_id).finish_non_exhaustive()
    }
}

/// Which side of a response is acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Poster,
    Responder,
}

/// What a reveal did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseRevealed {
    pub connected_now: bool,
}

impl Store {
    /// Posts a challenge; its id.
    pub async fn create_challenge(
        &self,
        poster: OrgId,
        challenge: &Challenge,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let sql = "INSERT INTO challenges (id, poster_id, title, problem_statement, sectors, innovation_stage, \
                   capabilities_needed, links, deadline, closed_at, featured, created_at, updated_at) \
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, FALSE, ?, ?)";
        let values = [
            id.clone().into(),
            poster.0.into(),
            challenge.title.clone().into(),
            challenge.problem_statement.clone().into(),
            to_json(&challenge.sectors).into(),
            challenge.innovation_stage.clone().into(),
            to_json(&challenge.capabilities_needed).into(),
            to_json(&challenge.links).into(),
            challenge.deadline.into(),
            now.into(),
            now.into(),
        ];
        self.db.execute_raw(statement(self.backend(), sql, values)).await?;
        Ok(id)
    }

    /// Every challenge, featured first, then newest first.
    pub async fn challenges(&self) -> Result<Vec<ChallengeRecord>, StoreError> {
        let sql = format!("{CHALLENGE} ORDER BY c.featured DESC, c.created_at DESC, c.id");
        let rows = ChallengeRow::find_by_statement(statement(self.backend(), &sql, [])).all(&self.read).await?;
        rows.into_iter().map(ChallengeRecord::try_from).collect()
    }

    pub async fn challenge(&self, id: &str) -> Result<ChallengeRecord, StoreError> {
        let sql = format!("{CHALLENGE} WHERE c.id = ?");
        let row = ChallengeRow::find_by_statement(statement(self.backend(), &sql, [id.into()])).one(&self.read).await?;
        row.ok_or(StoreError::NotFound)?.try_into()
    }

    /// Changes a challenge in one transaction, its row locked: `change` computes the new
    /// fields from the current ones. Only its poster may, and only until the first response
    /// arrives.
    pub async fn edit_challenge<E>(
        &self,
        id: &str,
        poster: OrgId,
        now: DateTime<Utc>,
        change: impl FnOnce(&Challenge) -> Result<Challenge, E>,
    ) -> Result<Result<ChallengeRecord, E>, StoreError> {
        let txn = self.write().await?;
        let current = lock_challenge(&txn, id).await?;
        if current.poster != poster {
            return Err(StoreError::Forbidden);
        }
        if current.responses > 0 {
            return Err(StoreError::State("a challenge can be edited only until the first response arrives"));
        }
        if !current.is_open(now) {
            return Err(StoreError::State("this challenge is closed"));
        }
        let next = match change(&current.challenge) {
            Ok(next) => next,
            Err(rejected) => return Ok(Err(rejected)),
        };
        let sql = "UPDATE challenges SET title = ?, problem_statement = ?, sectors = ?, innovation_stage = ?, \
                   capabilities_needed = ?, links = ?, deadline = ?, updated_at = ? WHERE id = ?";
        let values = [
            next.title.clone().into(),
            next.problem_statement.clone().into(),
            to_json(&next.sectors).into(),
            next.innovation_stage.clone().into(),
            to_json(&next.capabilities_needed).into(),
            to_json(&next.links).into(),
            next.deadline.into(),
            now.into(),
            id.into(),
        ];
        txn.execute_raw(statement(self.backend(), sql, values)).await?;
        txn.commit().await?;
        Ok(Ok(ChallengeRecord { challenge: next, ..current }))
    }

    /// Closes a challenge before its deadline (its poster only; closing twice changes nothing).
    pub async fn close_challenge(&self, id: &str, poster: OrgId, now: DateTime<Utc>) -> Result<(), StoreError> {
        let challenge = self.challenge(id).await?;
        if challenge.poster != poster {
            return Err(StoreError::Forbidden);
        }
        let sql = "UPDATE challenges SET closed_at = ?, updated_at = ? WHERE id = ? AND closed_at IS NULL";
        self.db.execute_raw(statement(self.backend(), sql, [now.into(), now.into(), id.into()])).await?;
        Ok(())
    }

    /// Makes `id` the challenge of the month, the only featured one (a unique index keeps it
    /// so even when two facilitators feature at once).
    pub async fn feature_challenge(&self, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let txn = self.write().await?;
        let backend = self.backend();
        if backend == DatabaseBackend::Postgres {
            // Facilitators featuring at the same moment take turns.
            txn.execute_raw(statement(backend, "SELECT pg_advisory_xact_lock(7207001)", [])).await?;
        }
        let challenge = lock_challenge(&txn, id).await?;
        if !challenge.is_open(now) {
            return Err(StoreError::State("a closed challenge cannot be the challenge of the month"));
        }
        txn.execute_raw(statement(
            backend,
            "UPDATE challenges SET featured = FALSE WHERE featured AND id <> ?",
            [id.into()],
        ))
        .await?;
        txn.execute_raw(statement(backend, "UPDATE challenges SET featured = TRUE WHERE id = ?", [id.into()])).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Responds to an open challenge, or edits the caller's response (one per organisation);
    /// the response's id and whether it is new. The poster cannot respond to its own.
    pub async fn respond(
        &self,
        challenge_id: &str,
        responder: OrgId,
        response: &Response,
        alias: &mut (dyn FnMut() -> String + Send),
        now: DateTime<Utc>,
    ) -> Result<(String, bool), StoreError> {
        let txn = self.write().await?;
        let backend = self.backend();
        let challenge = lock_challenge(&txn, challenge_id).await?;
        if challenge.poster == responder {
            return Err(StoreError::Forbidden);
        }
        if !challenge.is_open(now) {
            return Err(StoreError::State("this challenge is closed and takes no new responses"));
        }
        let stages: Vec<&str> = response.stages.iter().map(|s| s.as_str()).collect();
        #[derive(FromQueryResult)]
        struct Existing {
            id: String,
        }
        let existing = Existing::find_by_statement(statement(
            backend,
            "SELECT id FROM challenge_responses WHERE challenge_id = ? AND responder_id = ?",
            [challenge_id.into(), responder.0.into()],
        ))
        .one(&txn)
        .await?;
        let result = match existing {
            Some(found) => {
                let sql = "UPDATE challenge_responses SET summary = ?, stages = ?, updated_at = ? WHERE id = ?";
                let values =
                    [response.summary.clone().into(), to_json(&stages).into(), now.into(), found.id.clone().into()];
                txn.execute_raw(statement(backend, sql, values)).await?;
                (found.id, false)
            }
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                let alias = fresh_alias(&txn, challenge_id, alias).await?;
                let sql = "INSERT INTO challenge_responses (id, challenge_id, responder_id, alias, summary, stages, \
                           status, shortlisted_at, responder_revealed_at, poster_revealed_at, connected_at, created_at, \
                           updated_at) VALUES (?, ?, ?, ?, ?, ?, 'submitted', NULL, NULL, NULL, NULL, ?, ?)";
                let values = [
                    id.clone().into(),
                    challenge_id.into(),
                    responder.0.into(),
                    alias.into(),
                    response.summary.clone().into(),
                    to_json(&stages).into(),
                    now.into(),
                    now.into(),
                ];
                txn.execute_raw(statement(backend, sql, values)).await?;
                (id, true)
            }
        };
        txn.commit().await?;
        Ok(result)
    }

    /// Every response to a challenge, for its poster (oldest first); not found for anyone
    /// else.
    pub async fn responses_for_poster(
        &self,
        challenge_id: &str,
        poster: OrgId,
    ) -> Result<Vec<ResponseView>, StoreError> {
        let challenge = self.challenge(challenge_id).await?;
        if challenge.poster != poster {
            return Err(StoreError::NotFound);
        }
        let sql = format!("{RESPONSE} WHERE r.challenge_id = ? ORDER BY r.created_at, r.id");
        let rows = ResponseRow::find_by_statement(statement(self.backend(), &sql, [challenge_id.into()]))
            .all(&self.read)
            .await?;
        rows.into_iter().map(ResponseView::try_from).collect()
    }

    /// The caller's own response to a challenge, if it responded.
    pub async fn own_response(&self, challenge_id: &str, responder: OrgId) -> Result<Option<ResponseView>, StoreError> {
        let sql = format!("{RESPONSE} WHERE r.challenge_id = ? AND r.responder_id = ?");
        let row =
            ResponseRow::find_by_statement(statement(self.backend(), &sql, [challenge_id.into(), responder.0.into()]))
                .one(&self.read)
                .await?;
        row.map(ResponseView::try_from).transpose()
    }

    /// One response and which side `org` is on; not found unless it is the challenge's poster
    /// or the responder.
    pub async fn response(
        &self,
        challenge_id: &str,
        response_id: &str,
        org: OrgId,
    ) -> Result<(ResponseView, Side), StoreError> {
        let challenge = self.challenge(challenge_id).await?;
        let sql = format!("{RESPONSE} WHERE r.challenge_id = ? AND r.id = ?");
        let row =
            ResponseRow::find_by_statement(statement(self.backend(), &sql, [challenge_id.into(), response_id.into()]))
                .one(&self.read)
                .await?;
        let view = ResponseView::try_from(row.ok_or(StoreError::NotFound)?)?;
        if challenge.poster == org {
            Ok((view, Side::Poster))
        } else if view.responder == org {
            Ok((view, Side::Responder))
        } else {
            Err(StoreError::NotFound)
        }
    }

    /// The poster shortlists or declines a response. A decline is final, is never shown to the
    /// responder, and is refused once the poster revealed itself to it.
    pub async fn judge_response(
        &self,
        challenge_id: &str,
        response_id: &str,
        poster: OrgId,
        to: ResponseStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let txn = self.write().await?;
        let (row, challenge) = lock_response(&txn, challenge_id, response_id).await?;
        if challenge.poster != poster {
            return Err(StoreError::NotFound);
        }
        let current = ResponseStatus::parse(&row.status)?;
        match (current, to) {
            (from, to) if from == to => {}
            (ResponseStatus::Declined, _) => return Err(StoreError::State("this response was declined")),
            (_, ResponseStatus::Declined) if row.poster_revealed_at.is_some() => {
                return Err(StoreError::State(
                    "you have revealed yourself to this responder, and a reveal cannot be undone",
                ));
            }
            (ResponseStatus::Shortlisted, ResponseStatus::Submitted) => {
                return Err(StoreError::State("a shortlisted response stays shortlisted"));
            }
            (_, ResponseStatus::Shortlisted) => {
                let sql = "UPDATE challenge_responses SET status = ?, shortlisted_at = ?, updated_at = ? WHERE id = ?";
                let values = [to.as_str().into(), now.into(), now.into(), response_id.into()];
                txn.execute_raw(statement(self.backend(), sql, values)).await?;
            }
            _ => {
                let sql = "UPDATE challenge_responses SET status = ?, updated_at = ? WHERE id = ?";
                txn.execute_raw(statement(self.backend(), sql, [to.as_str().into(), now.into(), response_id.into()]))
                    .await?;
            }
        }
        txn.commit().await?;
        Ok(())
    }

    /// Reveals a side of a response to the other (irreversible; repeating it changes nothing).
    /// The poster reveals only to a shortlisted responder. When both have revealed, they are
    /// connected, exactly once even when both reveal at the same moment, and the emails
    /// `announce` builds are queued in the same transaction.
    pub async fn reveal_in_response(
        &self,
        challenge_id: &str,
        response_id: &str,
        org: OrgId,
        now: DateTime<Utc>,
        announce: impl FnOnce(&ChallengeConnection) -> Vec<NewEmail>,
    ) -> Result<ResponseRevealed, StoreError> {
        let txn = self.write().await?;
        let backend = self.backend();
        let (row, challenge) = lock_response(&txn, challenge_id, response_id).await?;
        let side = if challenge.poster == org {
            Side::Poster
        } else if row.responder_id == org.0 {
            Side::Responder
        } else {
            return Err(StoreError::NotFound);
        };
        let status = ResponseStatus::parse(&row.status)?;
        let (mut poster_revealed, mut responder_revealed) =
            (row.poster_revealed_at.is_some(), row.responder_revealed_at.is_some());
        match side {
            Side::Poster if !poster_revealed => {
                if status != ResponseStatus::Shortlisted {
                    return Err(StoreError::State("shortlist a response before revealing yourself to it"));
                }
                let sql = "UPDATE challenge_responses SET poster_revealed_at = ?, updated_at = ? WHERE id = ?";
                txn.execute_raw(statement(backend, sql, [now.into(), now.into(), response_id.into()])).await?;
                poster_revealed = true;
            }
            Side::Responder if !responder_revealed => {
                let sql = "UPDATE challenge_responses SET responder_revealed_at = ?, updated_at = ? WHERE id = ?";
                txn.execute_raw(statement(backend, sql, [now.into(), now.into(), response_id.into()])).await?;
                responder_revealed = true;
            }
            _ => {}
        }
        let mut connected_now = false;
        if poster_revealed && responder_revealed && status == ResponseStatus::Shortlisted {
            let sql = "UPDATE challenge_responses SET connected_at = ? WHERE id = ? AND connected_at IS NULL";
            let connected = txn.execute_raw(statement(backend, sql, [now.into(), response_id.into()])).await?;
            if connected.rows_affected() == 1 {
                connected_now = true;
                let connection = ChallengeConnection {
                    challenge_id: challenge_id.to_owned(),
                    response_id: response_id.to_owned(),
                    challenge_title: challenge.challenge.title.clone(),
                    parties: [
                        crate::matches::connected_party(&txn, challenge.poster.0).await?,
                        crate::matches::connected_party(&txn, row.responder_id).await?,
                    ],
                };
                for email in announce(&connection) {
                    enqueue(&txn, &email, now).await?;
                }
            }
        }
        txn.commit().await?;
        Ok(ResponseRevealed { connected_now })
    }

    /// The forum of a challenge, oldest first; hidden questions only for facilitators.
    pub async fn questions(&self, challenge_id: &str, with_hidden: bool) -> Result<Vec<QuestionView>, StoreError> {
        self.challenge(challenge_id).await?;
        let sql = "SELECT q.id, q.asker_id, a.alias, q.text, q.answer, q.hidden_at, q.created_at \
                   FROM challenge_questions q \
                   JOIN forum_aliases a ON a.challenge_id = q.challenge_id AND a.organisation_id = q.asker_id \
                   WHERE q.challenge_id = ? ORDER BY q.created_at, q.id";
        let rows = QuestionRow::find_by_statement(statement(self.backend(), sql, [challenge_id.into()]))
            .all(&self.read)
            .await?;
        Ok(rows
            .into_iter()
            .filter(|r| with_hidden || r.hidden_at.is_none())
            .map(|r| QuestionView {
                id: r.id,
                asker: OrgId(r.asker_id),
                alias: r.alias,
                text: r.text,
                answer: r.answer,
                hidden: r.hidden_at.is_some(),
                created_at: r.created_at,
            })
            .collect())
    }

    /// Asks a question in an open challenge's forum, under the asker's alias for this
    /// challenge (`alias` is used if it has none yet); the question's id.
    pub async fn ask(
        &self,
        challenge_id: &str,
        asker: OrgId,
        text: &str,
        alias: &mut (dyn FnMut() -> String + Send),
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let txn = self.write().await?;
        let backend = self.backend();
        let challenge = lock_challenge(&txn, challenge_id).await?;
        if challenge.poster == asker {
            return Err(StoreError::Forbidden);
        }
        if !challenge.is_open(now) {
            return Err(StoreError::State("this challenge is closed and takes no new questions"));
        }
        #[derive(FromQueryResult)]
        struct Known {
            n: i64,
        }
        let known = Known::find_by_statement(statement(
            backend,
            "SELECT COUNT(*) AS n FROM forum_aliases WHERE challenge_id = ? AND organisation_id = ?",
            [challenge_id.into(), asker.0.into()],
        ))
        .one(&txn)
        .await?;
        if known.is_none_or(|k| k.n == 0) {
            let alias = fresh_alias(&txn, challenge_id, alias).await?;
            let sql = "INSERT INTO forum_aliases (challenge_id, organisation_id, alias) VALUES (?, ?, ?)";
            txn.execute_raw(statement(backend, sql, [challenge_id.into(), asker.0.into(), alias.into()])).await?;
        }
        let id = uuid::Uuid::new_v4().to_string();
        let sql = "INSERT INTO challenge_questions (id, challenge_id, asker_id, text, answer, answered_at, hidden_at, \
                   created_at) VALUES (?, ?, ?, ?, NULL, NULL, NULL, ?)";
        txn.execute_raw(statement(
            backend,
            sql,
            [id.clone().into(), challenge_id.into(), asker.0.into(), text.into(), now.into()],
        ))
        .await?;
        txn.commit().await?;
        Ok(id)
    }

    /// The poster answers (or re-answers) a question of its challenge's forum.
    pub async fn answer_question(
        &self,
        challenge_id: &str,
        question_id: &str,
        poster: OrgId,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let challenge = self.challenge(challenge_id).await?;
        if challenge.poster != poster {
            return Err(StoreError::Forbidden);
        }
        let sql = "UPDATE challenge_questions SET answer = ?, answered_at = ? \
                   WHERE id = ? AND challenge_id = ? AND hidden_at IS NULL";
        let values = [text.into(), now.into(), question_id.into(), challenge_id.into()];
        let done = self.db.execute_raw(statement(self.backend(), sql, values)).await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Hides a forum post from everyone but facilitators.
    pub async fn hide_question(
        &self,
        challenge_id: &str,
        question_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sql =
            "UPDATE challenge_questions SET hidden_at = ? WHERE id = ? AND challenge_id = ? AND hidden_at IS NULL";
        let values = [now.into(), question_id.into(), challenge_id.into()];
        let done = self.db.execute_raw(statement(self.backend(), sql, values)).await?;
        if done.rows_affected() != 1 {
            let exists = self.questions(challenge_id, true).await?.iter().any(|q| q.id == question_id);
            if !exists {
                return Err(StoreError::NotFound);
            }
        }
        Ok(())
    }
}

/// The challenge `id`, its row locked until the transaction ends (on PostgreSQL; SQLite has
/// one writer at a time), so that responses, edits and closing take turns.
async fn lock_challenge(txn: &DatabaseTransaction, id: &str) -> Result<ChallengeRecord, StoreError> {
    let backend = txn.get_database_backend();
    if backend == DatabaseBackend::Postgres {
        // Lock first, then read in a statement of its own: on PostgreSQL each statement sees
        // what committed before it began, so the counts are those after any response or
        // question that held the lock before us.
        txn.execute_raw(statement(backend, "SELECT id FROM challenges WHERE id = ? FOR UPDATE", [id.into()])).await?;
    }
    let sql = format!("{CHALLENGE} WHERE c.id = ?");
    let row = ChallengeRow::find_by_statement(statement(backend, &sql, [id.into()])).one(txn).await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// An alias not yet used in this challenge, by a response or in the forum (the caller holds
/// the challenge's lock, so nobody takes it meanwhile).
async fn fresh_alias(
    txn: &DatabaseTransaction,
    challenge_id: &str,
    alias: &mut (dyn FnMut() -> String + Send),
) -> Result<String, StoreError> {
    #[derive(FromQueryResult)]
    struct Taken {
        n: i64,
    }
    let sql = "SELECT (SELECT COUNT(*) FROM challenge_responses WHERE challenge_id = ? AND alias = ?) \
                    + (SELECT COUNT(*) FROM forum_aliases WHERE challenge_id = ? AND alias = ?) AS n";
    for _ in 0..20 {
        let candidate = alias();
        let values = [challenge_id.into(), candidate.clone().into(), challenge_id.into(), candidate.clone().into()];
        let taken = Taken::find_by_statement(statement(txn.get_database_backend(), sql, values)).one(txn).await?;
        if taken.is_none_or(|t| t.n == 0) {
            return Ok(candidate);
        }
    }
    Err(StoreError::State("no free alias; try again"))
}

#[derive(Debug, FromQueryResult)]
struct LockedResponse {
    responder_id: i64,
    status: String,
    responder_revealed_at: Option<DateTime<Utc>>,
    poster_revealed_at: Option<DateTime<Utc>>,
}

/// A response of `challenge_id`, its row locked (on PostgreSQL), with its challenge.
async fn lock_response(
    txn: &DatabaseTransaction,
    challenge_id: &str,
    response_id: &str,
) -> Result<(LockedResponse, ChallengeRecord), StoreError> {
    let backend = txn.get_database_backend();
    let lock = if backend == DatabaseBackend::Postgres { " FOR UPDATE" } else { "" };
    let sql = format!(
        "SELECT responder_id, status, responder_revealed_at, poster_revealed_at FROM challenge_responses \
         WHERE id = ? AND challenge_id = ?{lock}"
    );
    let row = LockedResponse::find_by_statement(statement(backend, &sql, [response_id.into(), challenge_id.into()]))
        .one(txn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let sql = format!("{CHALLENGE} WHERE c.id = ?");
    let challenge = ChallengeRow::find_by_statement(statement(backend, &sql, [challenge_id.into()]))
        .one(txn)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()?;
    Ok((row, challenge))
}
