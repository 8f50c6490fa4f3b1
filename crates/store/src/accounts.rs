//! Registration, email verification and the account behind a login or an access token.

use chrono::{DateTime, Utc};
use domain::{EmailAddress, OrgKind, OrganisationName};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};

use crate::entities::{account, email_token};
use crate::mail::{NewEmail, enqueue};
use crate::organisations::{insert_organisation, write_answers, write_profile};
use crate::{OrgId, Store, StoreError};

/// What an account may do beyond its own organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Member,
    Facilitator,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Facilitator => "facilitator",
        }
    }

    fn parse(raw: &str) -> Role {
        if raw == "facilitator" { Role::Facilitator } else { Role::Member }
    }
}

/// A new organisation with its account and first verification token.
#[derive(Debug)]
pub struct Registration {
    pub email: EmailAddress,
    pub password_hash: String,
    pub name: OrganisationName,
    pub kind: OrgKind,
    pub role: Role,
    /// SHA-256 of the token sent by email, hex.
    pub token_hash: String,
    pub token_expires_at: DateTime<Utc>,
}

/// An account as authentication needs it.
#[derive(Clone)]
pub struct Account {
    pub id: i64,
    pub public_id: String,
    pub organisation: OrgId,
    pub email: EmailAddress,
    pub password_hash: String,
    pub role: Role,
    pub verified: bool,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").field("public_id", &self.public_id).field("role", &self.role).finish_non_exhaustive()
    }
}

fn account(model: account::Model) -> Option<Account> {
    Some(Account {
        email: EmailAddress::parse(&model.email).ok()?,
        id: model.id,
        public_id: model.public_id,
        organisation: OrgId(model.organisation_id),
        password_hash: model.password_hash,
        role: Role::parse(&model.role),
        verified: model.verified_at.is_some(),
    })
}

/// Whether a verification token was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    Verified,
    /// Unknown, already used or expired.
    Invalid,
}

impl Store {
    /// Creates the organisation, its account and its verification token, and queues the
    /// verification email built by `email` from the new account's public id, all in one
    /// transaction. [`StoreError::Conflict`] when the email is taken (nothing is stored).
    pub async fn register(
        &self,
        registration: Registration,
        now: DateTime<Utc>,
        email: impl FnOnce(&str) -> NewEmail,
    ) -> Result<Account, StoreError> {
        let txn = self.db.begin().await?;
        let org = insert_organisation(&txn, registration.name.as_str(), registration.kind, now).await?;
        let public_id = uuid::Uuid::new_v4().to_string();
        let created = account::ActiveModel {
            public_id: Set(public_id.clone()),
            organisation_id: Set(org.0),
            email: Set(registration.email.as_str().to_owned()),
            password_hash: Set(registration.password_hash),
            role: Set(registration.role.as_str().to_owned()),
            verified_at: Set(None),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        email_token::ActiveModel {
            account_id: Set(created.id),
            token_hash: Set(registration.token_hash),
            expires_at: Set(registration.token_expires_at),
            used_at: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        enqueue(&txn, &email(&public_id), now).await?;
        txn.commit().await?;
        account(created).ok_or(StoreError::NotFound)
    }

    /// Uses a verification token: single use, before it expires.
    pub async fn verify_email(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Verification, StoreError> {
        let txn = self.db.begin().await?;
        let used = email_token::Entity::update_many()
            .col_expr(email_token::Column::UsedAt, sea_orm::sea_query::Expr::value(now))
            .filter(email_token::Column::TokenHash.eq(token_hash))
            .filter(email_token::Column::UsedAt.is_null())
            .filter(email_token::Column::ExpiresAt.gt(now))
            .exec(&txn)
            .await?;
        if used.rows_affected != 1 {
            return Ok(Verification::Invalid);
        }
        let token = email_token::Entity::find()
            .filter(email_token::Column::TokenHash.eq(token_hash))
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        account::Entity::update_many()
            .col_expr(account::Column::VerifiedAt, sea_orm::sea_query::Expr::value(now))
            .filter(account::Column::Id.eq(token.account_id))
            .filter(account::Column::VerifiedAt.is_null())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(Verification::Verified)
    }

    pub async fn account_by_email(&self, email: &EmailAddress) -> Result<Option<Account>, StoreError> {
        let found = account::Entity::find().filter(account::Column::Email.eq(email.as_str())).one(&self.read).await?;
        Ok(found.and_then(account))
    }

    pub async fn account_by_public_id(&self, public_id: &str) -> Result<Option<Account>, StoreError> {
        let found = account::Entity::find().filter(account::Column::PublicId.eq(public_id)).one(&self.read).await?;
        Ok(found.and_then(account))
    }
}

/// A complete organisation for demonstrations: account already verified, profile and answers.
#[derive(Debug)]
pub struct SeededOrganisation {
    pub email: EmailAddress,
    pub password_hash: String,
    pub name: OrganisationName,
    pub kind: OrgKind,
    pub profile: domain::Profile,
    pub answers: domain::AnswerSet,
}

impl Store {
    /// Inserts an organisation ready to be matched (demo data), all in one transaction.
    pub async fn seed_organisation(
        &self,
        seeded: &SeededOrganisation,
        questionnaire: &domain::Questionnaire,
        now: DateTime<Utc>,
    ) -> Result<OrgId, StoreError> {
        let txn = self.db.begin().await?;
        let org = insert_organisation(&txn, seeded.name.as_str(), seeded.kind, now).await?;
        account::ActiveModel {
            public_id: Set(uuid::Uuid::new_v4().to_string()),
            organisation_id: Set(org.0),
            email: Set(seeded.email.as_str().to_owned()),
            password_hash: Set(seeded.password_hash.clone()),
            role: Set(Role::Member.as_str().to_owned()),
            verified_at: Set(Some(now)),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        write_profile(&txn, org, &seeded.profile, now).await?;
        write_answers(&txn, org, &seeded.answers, questionnaire, now).await?;
        txn.commit().await?;
        Ok(org)
    }
}
