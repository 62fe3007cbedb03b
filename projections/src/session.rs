//! Login sessions. The token is 256 random bits handed to the client once; only its
//! SHA-256 is stored, so a copy of the database opens no session.

use crate::directory;
use crate::permission::Viewer;
use crate::read_model::parse_label;
use crate::{Database, LogPosition, StoreError};
use domain::{AccountId, PersonId, Timestamp};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;

/// How long a session lasts without a new login.
pub const SESSION_DAYS: i64 = 14;

#[derive(Clone)]
pub struct Sessions {
    db: Database,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The session's person as the permission engine knows them, and where the read models
/// stood: see [`Sessions::viewer`]. Only what a viewer is made of is read: this runs on
/// every request.
static VIEWER_OF_SESSION: &str =
    "SELECT p.account_id, p.person_id, p.kind, p.status, p.administrator, c.tx, c.position
   FROM sessions s
   JOIN people p ON p.account_id = s.account_id AND p.person_id = s.person_id
   LEFT JOIN checkpoints c ON c.name = 'read_models'
  WHERE s.token_hash = $1 AND s.expires_at > $2";

/// A session's person (`None` if they are no longer active) and where the read
/// models stood.
type ViewerAt = (Option<Viewer>, LogPosition);

fn viewer_at(row: &AnyRow) -> Result<ViewerAt, StoreError> {
    let status: String = row.try_get("status")?;
    let kind: String = row.try_get("kind")?;
    let viewer = Viewer {
        account: directory::parse_id(row, "account_id")?,
        person: directory::parse_id(row, "person_id")?,
        kind: parse_label("person kind", &kind)?,
        administrator: row.try_get::<i16, _>("administrator")? != 0,
    };
    let at = LogPosition {
        tx: row.try_get::<Option<i64>, _>("tx")?.unwrap_or(0),
        position: row.try_get::<Option<i64>, _>("position")?.unwrap_or(0),
    };
    Ok(((status == "active").then_some(viewer), at))
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

    /// The person this token opens a session for, if the token is known and not
    /// expired, as the people read model has them at this moment, and where the read
    /// models stood then: one query on every request. A closed session, or a person
    /// who has been dismissed or suspended, is refused on the very next request on
    /// every server of the deployment; and the request's permission checks catch up to
    /// that position first, whichever process applied the change.
    pub async fn viewer(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<ViewerAt>, StoreError> {
        let row = sqlx::query(VIEWER_OF_SESSION)
            .bind(hash(token))
            .bind(now.0)
            .fetch_optional(&self.db.any)
            .await?;
        row.as_ref().map(viewer_at).transpose()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fresh_postgres, fresh_sqlite, NOW};
    use domain::person::PersonKind;

    async fn join(db: &Database, account: AccountId, person: PersonId, status: &str) {
        sqlx::query(
            "INSERT INTO people (account_id, person_id, kind, status, email, first_name,
                                 last_name, administrator, password_hash, joined_at)
             VALUES ($1, $2, 'guest', $3, 'gus@client.test', 'Gus', 'Guest', 0, '', 0)",
        )
        .bind(account.to_string())
        .bind(person.to_string())
        .bind(status)
        .execute(&db.any)
        .await
        .expect("insert a person");
    }

    async fn a_token_opens_its_person_until_it_expires_or_is_closed(db: Database) {
        let sessions = Sessions::new(db.clone());
        let account = AccountId::new_random();
        let (gus, dora) = (PersonId::new_random(), PersonId::new_random());
        join(&db, account, gus, "active").await;
        join(&db, account, dora, "dismissed").await;
        let token = sessions.open(account, gus, NOW).await.expect("open");

        let found = sessions.viewer(&token, NOW).await.expect("look up");
        let (viewer, _) = found.expect("the token opens Gus's session");
        let viewer = viewer.expect("Gus is active");
        assert_eq!(
            (
                viewer.account,
                viewer.person,
                viewer.kind,
                viewer.administrator
            ),
            (account, gus, PersonKind::Guest, false)
        );

        // A dismissed person's session is still found, with no viewer.
        let dismissed = sessions.open(account, dora, NOW).await.expect("open");
        let found = sessions.viewer(&dismissed, NOW).await.expect("look up");
        assert!(found.is_some_and(|(viewer, _)| viewer.is_none()));

        let expired = NOW.plus_days(SESSION_DAYS);
        assert!(sessions
            .viewer(&token, expired)
            .await
            .expect("look up")
            .is_none());
        assert!(sessions
            .viewer("unknown", NOW)
            .await
            .expect("look up")
            .is_none());
        sessions.close(&token).await.expect("close");
        assert!(sessions
            .viewer(&token, NOW)
            .await
            .expect("look up")
            .is_none());
    }

    #[tokio::test]
    async fn on_sqlite() {
        a_token_opens_its_person_until_it_expires_or_is_closed(fresh_sqlite().await).await;
    }

    #[tokio::test]
    async fn on_postgres() {
        a_token_opens_its_person_until_it_expires_or_is_closed(fresh_postgres().await).await;
    }
}
