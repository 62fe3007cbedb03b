//! Login sessions. The token is 256 random bits handed to the client once; only its
//! SHA-256 is stored, so a copy of the database opens no session.

use crate::directory::parse_id;
use crate::{Database, StoreError};
use domain::{AccountId, PersonId, Timestamp};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// How long a session lasts without a new login.
pub const SESSION_DAYS: i64 = 14;

#[derive(Clone)]
pub struct Sessions {
    db: Database,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Sessions {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Opens a session and returns its token.
    pub async fn open(
        &self,
        account: AccountId,
        person: PersonId,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        sqlx::query(
            "INSERT INTO sessions (token_hash, account_id, person_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash(&token))
        .bind(account.to_string())
        .bind(person.to_string())
        .bind(now.0)
        .bind(now.plus_days(SESSION_DAYS).0)
        .execute(&self.db.any)
        .await?;
        Ok(token)
    }

    /// Whose session this token opens, if it is known and not expired.
    pub async fn resolve(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<(AccountId, PersonId)>, StoreError> {
        let row = sqlx::query(
            "SELECT account_id, person_id FROM sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(hash(token))
        .bind(now.0)
        .fetch_optional(&self.db.any)
        .await?;
        row.map(|row| Ok((parse_id(&row, "account_id")?, parse_id(&row, "person_id")?)))
            .transpose()
    }

    pub async fn close(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(hash(token))
            .execute(&self.db.any)
            .await?;
        Ok(())
    }
}
