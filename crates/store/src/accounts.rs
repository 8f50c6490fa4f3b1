//! Accounts: registration, email verification, password resets and changes, and what an access
//! token is checked against (the session version).
//!
//! The mailbox owner decides the password: a registration stores its password hash on the
//! verification token it sends, registering an address that is not verified yet replaces the
//! pending registration and voids its earlier links, and verifying gives the account the
//! password of the registration whose link was used. A role beyond `member` is given only at
//! verification.

use chrono::{DateTime, Utc};
use domain::{EmailAddress, OrgKind, OrganisationName};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter,
    QuerySelect, Set,
};

use crate::entities::{account, email_token, organisation};
use crate::generations::{POPULATION, bump, stamp};
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
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Facilitator => "facilitator",
        }
    }

    pub(crate) fn parse(raw: &str) -> Result<Role, StoreError> {
        match raw {
            "member" => Ok(Role::Member),
            "facilitator" => Ok(Role::Facilitator),
            _ => Err(StoreError::Corrupt("an account role")),
        }
    }
}

/// What an emailed token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Verify,
    Reset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Verify => "verify",
            Purpose::Reset => "reset",
        }
    }
}

/// A sign-up: the organisation, the password it chose, and the token its link carries.
#[derive(Debug)]
pub struct Registration {
    pub email: EmailAddress,
    pub password_hash: String,
    pub name: OrganisationName,
    pub kind: OrgKind,
    /// SHA-256 of the token sent by email, hex.
    pub token_hash: String,
    pub token_expires_at: DateTime<Utc>,
}

/// What a registration did. The caller answers all three alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    /// A new organisation and account; the verification email is queued.
    Created,
    /// The address had a registration that was not verified: it is replaced (password, name,
    /// kind), its earlier links no longer work, and a fresh verification email is queued.
    Replaced,
    /// The address belongs to a verified account; nothing changed and nothing was queued.
    AlreadyVerified,
}

/// An account as authentication needs it.
#[derive(Clone)]
pub struct Account {
    pub public_id: String,
    pub organisation: OrgId,
    /// The organisation's public id (what access tokens carry).
    pub organisation_public_id: String,
    pub email: EmailAddress,
    pub password_hash: String,
    pub role: Role,
    pub verified: bool,
    pub session_version: i64,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").field("public_id", &self.public_id).field("role", &self.role).finish_non_exhaustive()
    }
}

/// What an access token is checked against: the current session version of its account, and
/// who the account is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub organisation: OrgId,
    pub organisation_public_id: String,
    pub role: Role,
    pub version: i64,
}

/// A verification token that can still be used, and the password its registration chose.
#[derive(Clone)]
pub struct PendingVerification {
    pub email: EmailAddress,
    pub password_hash: String,
}

impl std::fmt::Debug for PendingVerification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingVerification(<redacted>)")
    }
}

/// Whether an emailed token was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenUse {
    /// Used; the account's public id (whose cached sessions should be dropped).
    Accepted { account: String },
    /// Unknown, already used, replaced, for another purpose, or expired.
    Invalid,
}

async fn account_of(db: &impl ConnectionTrait, model: account::Model) -> Result<Account, StoreError> {
    let organisation =
        organisation::Entity::find_by_id(model.organisation_id).one(db).await?.ok_or(StoreError::NotFound)?;
    Ok(Account {
        email: EmailAddress::parse(&model.email).map_err(|_| StoreError::Corrupt("an account email"))?,
        public_id: model.public_id,
        organisation: OrgId(model.organisation_id),
        organisation_public_id: organisation.public_id,
        password_hash: model.password_hash,
        role: Role::parse(&model.role)?,
        verified: model.verified_at.is_some(),
        session_version: model.session_version,
    })
}

/// The account with this address, its row locked until the transaction ends (on PostgreSQL;
/// SQLite has one writer at a time). Changes to an account lock its row before its tokens, so
/// that two of them never wait on each other.
async fn lock_account_by_email(txn: &DatabaseTransaction, email: &str) -> Result<Option<account::Model>, StoreError> {
    let mut query = account::Entity::find().filter(account::Column::Email.eq(email));
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    Ok(query.one(txn).await?)
}

async fn lock_account(txn: &DatabaseTransaction, id: i64) -> Result<account::Model, StoreError> {
    let mut query = account::Entity::find_by_id(id);
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(txn).await?.ok_or(StoreError::NotFound)
}

/// The token `token_hash` of `purpose` if it is still valid (not used, not expired).
async fn valid_token(
    txn: &DatabaseTransaction,
    token_hash: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<Option<email_token::Model>, StoreError> {
    Ok(email_token::Entity::find()
        .filter(email_token::Column::TokenHash.eq(token_hash))
        .filter(email_token::Column::Purpose.eq(purpose.as_str()))
        .filter(email_token::Column::UsedAt.is_null())
        .filter(email_token::Column::ExpiresAt.gt(now))
        .one(txn)
        .await?)
}

/// Voids every unused token of `purpose` of an account.
async fn void_tokens(
    txn: &DatabaseTransaction,
    account_id: i64,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    email_token::Entity::update_many()
        .col_expr(email_token::Column::UsedAt, Expr::value(now))
        .filter(email_token::Column::AccountId.eq(account_id))
        .filter(email_token::Column::Purpose.eq(purpose.as_str()))
        .filter(email_token::Column::UsedAt.is_null())
        .exec(txn)
        .await?;
    Ok(())
}

async fn insert_token(
    txn: &DatabaseTransaction,
    account_id: i64,
    purpose: Purpose,
    token_hash: &str,
    expires_at: DateTime<Utc>,
    password_hash: Option<String>,
) -> Result<(), StoreError> {
    email_token::ActiveModel {
        account_id: Set(account_id),
        token_hash: Set(token_hash.to_owned()),
        expires_at: Set(expires_at),
        used_at: Set(None),
        purpose: Set(purpose.as_str().to_owned()),
        password_hash: Set(password_hash),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Marks a token of `purpose` used, if it is still valid; the token row.
async fn use_token(
    txn: &DatabaseTransaction,
    token_hash: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<Option<email_token::Model>, StoreError> {
    let used = email_token::Entity::update_many()
        .col_expr(email_token::Column::UsedAt, Expr::value(now))
        .filter(email_token::Column::TokenHash.eq(token_hash))
        .filter(email_token::Column::Purpose.eq(purpose.as_str()))
        .filter(email_token::Column::UsedAt.is_null())
        .filter(email_token::Column::ExpiresAt.gt(now))
        .exec(txn)
        .await?;
    if used.rows_affected != 1 {
        return Ok(None);
    }
    Ok(email_token::Entity::find().filter(email_token::Column::TokenHash.eq(token_hash)).one(txn).await?)
}

impl Store {
    /// Registers an address. A new one gets an organisation, an account and a verification
    /// token; one that is not verified yet has its pending registration replaced and its earlier
    /// links voided; either way `verification` is queued in the same transaction. A verified
    /// address is left alone ([`Registered::AlreadyVerified`]).
    pub async fn register(
        &self,
        registration: &Registration,
        verification: &NewEmail,
        now: DateTime<Utc>,
    ) -> Result<Registered, StoreError> {
        // Two first registrations of one address at the same moment: the loser of the insert
        // finds the winner's account on its second try and replaces it.
        match self.try_register(registration, verification, now).await {
            Err(StoreError::Conflict) => self.try_register(registration, verification, now).await,
            other => other,
        }
    }

    async fn try_register(
        &self,
        registration: &Registration,
        verification: &NewEmail,
        now: DateTime<Utc>,
    ) -> Result<Registered, StoreError> {
        let txn = self.write().await?;
        let existing = lock_account_by_email(&txn, registration.email.as_str()).await?;
        let (account_id, registered) = match existing {
            Some(found) if found.verified_at.is_some() => return Ok(Registered::AlreadyVerified),
            Some(found) => {
                void_tokens(&txn, found.id, Purpose::Verify, now).await?;
                let replaced = account::Entity::update_many()
                    .col_expr(account::Column::PasswordHash, Expr::value(registration.password_hash.clone()))
                    .filter(account::Column::Id.eq(found.id))
                    .filter(account::Column::VerifiedAt.is_null())
                    .exec(&txn)
                    .await?;
                if replaced.rows_affected != 1 {
                    return Ok(Registered::AlreadyVerified);
                }
                organisation::Entity::update_many()
                    .col_expr(organisation::Column::Name, Expr::value(registration.name.as_str()))
                    .col_expr(organisation::Column::Kind, Expr::value(registration.kind.as_str()))
                    .filter(organisation::Column::Id.eq(found.organisation_id))
                    .exec(&txn)
                    .await?;
                (found.id, Registered::Replaced)
            }
            None => {
                let org = insert_organisation(&txn, registration.name.as_str(), registration.kind, false, now).await?;
                let created = account::ActiveModel {
                    public_id: Set(uuid::Uuid::new_v4().to_string()),
                    organisation_id: Set(org.0),
                    email: Set(registration.email.as_str().to_owned()),
                    password_hash: Set(registration.password_hash.clone()),
                    role: Set(Role::Member.as_str().to_owned()),
                    verified_at: Set(None),
                    created_at: Set(now),
                    session_version: Set(0),
                    ..Default::default()
                }
                .insert(&txn)
                .await?;
                (created.id, Registered::Created)
            }
        };
        insert_token(
            &txn,
            account_id,
            Purpose::Verify,
            &registration.token_hash,
            registration.token_expires_at,
            Some(registration.password_hash.clone()),
        )
        .await?;
        enqueue(&txn, verification, now).await?;
        txn.commit().await?;
        Ok(registered)
    }

    /// The verification token `token_hash` if it can still be used: the address it confirms and
    /// the password hash of the registration that sent it.
    pub async fn pending_verification(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingVerification>, StoreError> {
        let token = email_token::Entity::find()
            .filter(email_token::Column::TokenHash.eq(token_hash))
            .filter(email_token::Column::Purpose.eq(Purpose::Verify.as_str()))
            .filter(email_token::Column::UsedAt.is_null())
            .filter(email_token::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await?;
        let Some(token) = token else { return Ok(None) };
        let Some(password_hash) = token.password_hash else { return Ok(None) };
        let account = account::Entity::find_by_id(token.account_id).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        let email = EmailAddress::parse(&account.email).map_err(|_| StoreError::Corrupt("an account email"))?;
        Ok(Some(PendingVerification { email, password_hash }))
    }

    /// Uses a verification token (single use, before it expires, not voided by a later
    /// registration): the account is verified with the password and the `role` of that
    /// registration, and joins the population that is matched.
    pub async fn complete_verification(
        &self,
        token_hash: &str,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<TokenUse, StoreError> {
        let txn = self.write().await?;
        let Some(found) = valid_token(&txn, token_hash, Purpose::Verify, now).await? else {
            return Ok(TokenUse::Invalid);
        };
        let account = lock_account(&txn, found.account_id).await?;
        let Some(token) = use_token(&txn, token_hash, Purpose::Verify, now).await? else {
            return Ok(TokenUse::Invalid);
        };
        let Some(password_hash) = token.password_hash else { return Ok(TokenUse::Invalid) };
        if account.verified_at.is_some() {
            return Ok(TokenUse::Invalid);
        }
        account::Entity::update_many()
            .col_expr(account::Column::VerifiedAt, Expr::value(now))
            .col_expr(account::Column::PasswordHash, Expr::value(password_hash))
            .col_expr(account::Column::Role, Expr::value(role.as_str()))
            .col_expr(account::Column::SessionVersion, Expr::col(account::Column::SessionVersion).add(1))
            .filter(account::Column::Id.eq(account.id))
            .exec(&txn)
            .await?;
        void_tokens(&txn, account.id, Purpose::Verify, now).await?;
        // The organisation joins the matched population: due for scoring, and counted in
        // anonymous profiles from now on.
        organisation::Entity::update_many()
            .col_expr(organisation::Column::ChangedAt, Expr::value(now))
            .filter(organisation::Column::Id.eq(account.organisation_id))
            .exec(&txn)
            .await?;
        bump(&txn, POPULATION).await?;
        stamp(&txn, &[account.organisation_id]).await?;
        txn.commit().await?;
        Ok(TokenUse::Accepted { account: account.public_id })
    }

    /// Queues a fresh verification link for an address that is registered but not verified
    /// (earlier links stop working; the pending password stays). Whether one was queued.
    pub async fn resend_verification(
        &self,
        email: &EmailAddress,
        token_hash: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        message: &NewEmail,
    ) -> Result<bool, StoreError> {
        let txn = self.write().await?;
        let found = lock_account_by_email(&txn, email.as_str()).await?;
        let Some(found) = found.filter(|a| a.verified_at.is_none()) else { return Ok(false) };
        void_tokens(&txn, found.id, Purpose::Verify, now).await?;
        insert_token(&txn, found.id, Purpose::Verify, token_hash, expires_at, Some(found.password_hash)).await?;
        enqueue(&txn, message, now).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Queues a password-reset link for a verified account (earlier reset links stop working).
    /// Whether one was queued; nothing happens for an unknown or unverified address.
    pub async fn start_password_reset(
        &self,
        email: &EmailAddress,
        token_hash: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        message: &NewEmail,
    ) -> Result<bool, StoreError> {
        let txn = self.write().await?;
        let found = lock_account_by_email(&txn, email.as_str()).await?;
        let Some(found) = found.filter(|a| a.verified_at.is_some()) else { return Ok(false) };
        void_tokens(&txn, found.id, Purpose::Reset, now).await?;
        insert_token(&txn, found.id, Purpose::Reset, token_hash, expires_at, None).await?;
        enqueue(&txn, message, now).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Uses a reset token: sets the new password and ends every earlier session.
    pub async fn finish_password_reset(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenUse, StoreError> {
        let txn = self.write().await?;
        let Some(found) = valid_token(&txn, token_hash, Purpose::Reset, now).await? else {
            return Ok(TokenUse::Invalid);
        };
        let account = lock_account(&txn, found.account_id).await?;
        if use_token(&txn, token_hash, Purpose::Reset, now).await?.is_none() {
            return Ok(TokenUse::Invalid);
        }
        set_password(&txn, account.id, password_hash).await?;
        void_tokens(&txn, account.id, Purpose::Reset, now).await?;
        txn.commit().await?;
        Ok(TokenUse::Accepted { account: account.public_id })
    }

    /// Sets a new password for a logged-in account, ends every earlier session and voids any
    /// reset link; the new session version.
    pub async fn change_password(
        &self,
        account_public_id: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let txn = self.write().await?;
        let found = account::Entity::find()
            .filter(account::Column::PublicId.eq(account_public_id))
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        let account = lock_account(&txn, found.id).await?;
        set_password(&txn, account.id, password_hash).await?;
        void_tokens(&txn, account.id, Purpose::Reset, now).await?;
        let version = lock_account(&txn, account.id).await?.session_version;
        txn.commit().await?;
        Ok(version)
    }

    pub async fn account_by_email(&self, email: &EmailAddress) -> Result<Option<Account>, StoreError> {
        let found = account::Entity::find().filter(account::Column::Email.eq(email.as_str())).one(&self.read).await?;
        match found {
            Some(model) => Ok(Some(account_of(&self.read, model).await?)),
            None => Ok(None),
        }
    }

    pub async fn account_by_public_id(&self, public_id: &str) -> Result<Option<Account>, StoreError> {
        let found = account::Entity::find().filter(account::Column::PublicId.eq(public_id)).one(&self.read).await?;
        match found {
            Some(model) => Ok(Some(account_of(&self.read, model).await?)),
            None => Ok(None),
        }
    }

    /// What a token of this account is checked against; `None` for an unknown or unverified
    /// account.
    pub async fn session(&self, account_public_id: &str) -> Result<Option<Session>, StoreError> {
        let found = account::Entity::find()
            .filter(account::Column::PublicId.eq(account_public_id))
            .filter(account::Column::VerifiedAt.is_not_null())
            .find_also_related(organisation::Entity)
            .one(&self.read)
            .await?;
        let Some((account, Some(organisation))) = found else { return Ok(None) };
        Ok(Some(Session {
            organisation: OrgId(organisation.id),
            organisation_public_id: organisation.public_id,
            role: Role::parse(&account.role)?,
            version: account.session_version,
        }))
    }
}

async fn set_password(txn: &DatabaseTransaction, account_id: i64, password_hash: &str) -> Result<(), StoreError> {
    account::Entity::update_many()
        .col_expr(account::Column::PasswordHash, Expr::value(password_hash))
        .col_expr(account::Column::SessionVersion, Expr::col(account::Column::SessionVersion).add(1))
        .filter(account::Column::Id.eq(account_id))
        .exec(txn)
        .await?;
    Ok(())
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
    /// Inserts demonstration organisations ready to be matched, all in one transaction.
    pub async fn seed_organisations(
        &self,
        seeded: &[SeededOrganisation],
        questionnaire: &domain::Questionnaire,
        now: DateTime<Utc>,
    ) -> Result<Vec<OrgId>, StoreError> {
        let txn = self.write().await?;
        let mut created = Vec::with_capacity(seeded.len());
        for one in seeded {
            let org = insert_organisation(&txn, one.name.as_str(), one.kind, true, now).await?;
            account::ActiveModel {
                public_id: Set(uuid::Uuid::new_v4().to_string()),
                organisation_id: Set(org.0),
                email: Set(one.email.as_str().to_owned()),
                password_hash: Set(one.password_hash.clone()),
                role: Set(Role::Member.as_str().to_owned()),
                verified_at: Set(Some(now)),
                created_at: Set(now),
                session_version: Set(0),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            write_profile(&txn, org, &one.profile, now).await?;
            write_answers(&txn, org, &one.answers, questionnaire, now).await?;
            created.push(org);
        }
        bump(&txn, POPULATION).await?;
        stamp(&txn, &created.iter().map(|o| o.0).collect::<Vec<_>>()).await?;
        txn.commit().await?;
        // An organisation, its account and about one answer per question each.
        self.after_bulk_write(&[], created.len() * (questionnaire.question_count() + 2)).await;
        Ok(created)
    }
}
