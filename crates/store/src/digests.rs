//! Digest preferences: how often each account hears of what is new.

use domain::digest::Frequency;
use sea_orm::{ConnectionTrait, FromQueryResult};

use crate::{Store, StoreError, statement};

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
