//! Sessions of the web app. A browser holds a random token; the database holds its SHA-256,
//! the account, and the account's session version when the session began, so that a password
//! reset or change (which moves the version on) ends every earlier session at once, and
//! logging out deletes the row: a copied cookie is worth nothing afterwards.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult};

use crate::accounts::{Role, Session};
use crate::{OrgId, Store, StoreError, statement};

/// A current web session: whose account it is, and what a token of it is checked against.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub account_public_id: String,
    pub session: Session,
}

#[derive(FromQueryResult)]
struct Row {
    account_public_id: String,
    organisation_id: i64,
    organisation_public_id: String,
    role: String,
    session_version: i64,
}

impl Store {
    /// Begins a session of the verified account `account_public_id` at its current session
    /// version, under `token_hash`, until `expires_at`; the account's expired sessions go.
    pub async fn begin_web_session(
        &self,
        account_public_id: &str,
        token_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let backend = self.backend();
        self.db
            .execute_raw(statement(
                backend,
                "DELETE FROM web_sessions WHERE expires_at <= ? \
                 AND account_id = (SELECT id FROM accounts WHERE public_id = ?)",
                [now.into(), account_public_id.into()],
            ))
            .await?;
        let inserted = self
            .db
            .execute_raw(statement(
                backend,
                "INSERT INTO web_sessions (token_hash, account_id, session_version, created_at, expires_at) \
                 SELECT ?, id, session_version, ?, ? FROM accounts WHERE public_id = ? AND verified_at IS NOT NULL",
                [token_hash.into(), now.into(), expires_at.into(), account_public_id.into()],
            ))
            .await?;
        if inserted.rows_affected() == 1 { Ok(()) } else { Err(StoreError::NotFound) }
    }

    /// The session of `token_hash`, if it has not expired, was not ended, and began at its
    /// account's current session version.
    pub async fn web_session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<WebSession>, StoreError> {
        let row = Row::find_by_statement(statement(
            self.backend(),
            "SELECT a.public_id AS account_public_id, o.id AS organisation_id, \
                    o.public_id AS organisation_public_id, a.role AS role, a.session_version AS session_version \
             FROM web_sessions s \
             JOIN accounts a ON a.id = s.account_id \
             JOIN organisations o ON o.id = a.organisation_id \
             WHERE s.token_hash = ? AND s.expires_at > ? AND s.session_version = a.session_version \
               AND a.verified_at IS NOT NULL",
            [token_hash.into(), now.into()],
        ))
        .one(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(WebSession {
            account_public_id: row.account_public_id,
            session: Session {
                organisation: OrgId(row.organisation_id),
                organisation_public_id: row.organisation_public_id,
                role: Role::parse(&row.role)?,
                version: row.session_version,
            },
        }))
    }

    /// Ends the session of `token_hash` (logging out); ending one that is gone is no error.
    pub async fn end_web_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.db
            .execute_raw(statement(
                self.backend(),
                "DELETE FROM web_sessions WHERE token_hash = ?",
                [token_hash.into()],
            ))
            .await?;
        Ok(())
    }
}
