//! Login sessions. The token is 256 random bits handed to the client once; only its
//! SHA-256 is stored, so a copy of the database opens no session.

use crate::directory::parse_id;
use crate::{Database, LogPosition, StoreError};
use domain::{AccountId, PersonId, Timestamp};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

/// How long a session lasts without a new login.
pub const SESSION_DAYS: i64 = 14;

/// A session a token opens.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    pub account: AccountId,
    pub person: PersonId,
    /// The read models' shared checkpoint when the session was looked up.
    pub read_models_at: LogPosition,
}

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

    /// Whose session this token opens, if it is known and not expired, and where the
    /// read models stood when it was asked (read in the same statement, so it costs no
    /// extra round trip): a request must not be judged on older facts than those,
    /// whichever process applied them.
    pub async fn resolve(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT s.account_id, s.person_id, c.tx, c.position
               FROM sessions s LEFT JOIN checkpoints c ON c.name = 'read_models'
              WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(hash(token))
        .bind(now.0)
        .fetch_optional(&self.db.any)
        .await?;
        row.map(|row| {
            Ok(Session {
                account: parse_id(&row, "account_id")?,
                person: parse_id(&row, "person_id")?,
                read_models_at: LogPosition {
                    tx: row.try_get::<Option<i64>, _>("tx")?.unwrap_or(0),
                    position: row.try_get::<Option<i64>, _>("position")?.unwrap_or(0),
                },
            })
        })
        .transpose()
    }

    /// Ends every session of a person but the one `keep` opens (after a password
    /// change: whoever else knew the old password is out).
    pub async fn close_others(
        &self,
        account: AccountId,
        person: PersonId,
        keep: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM sessions WHERE account_id = $1 AND person_id = $2 AND token_hash <> $3",
        )
        .bind(account.to_string())
        .bind(person.to_string())
        .bind(hash(keep))
        .execute(&self.db.any)
        .await?;
        Ok(())
    }

    /// Ends every session of `person`: after their password was reset, whoever held
    /// an old session (perhaps the reason for the reset) is out.
    pub async fn close_all_of(
        &self,
        account: AccountId,
        person: PersonId,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND person_id = $2")
            .bind(account.to_string())
            .bind(person.to_string())
            .execute(&self.db.any)
            .await?;
        Ok(())
    }

    pub async fn close(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(hash(token))
            .execute(&self.db.any)
            .await?;
        Ok(())
    }
}
