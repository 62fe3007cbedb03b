//! Login sessions. The token is 256 random bits handed to the client once; only its
//! SHA-256 is stored, so a copy of the database opens no session.

use crate::directory;
use crate::permission::Viewer;
use crate::read_model::parse_label;
use crate::row::RecordRow;
use crate::{Database, LogPosition, StoreError};
use domain::{AccountId, PersonId, Timestamp};
use quick_cache::sync::Cache;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// How long a session lasts without a new login.
pub const SESSION_DAYS: i64 = 14;

/// Sessions kept in memory on a SQLite file, at most (see [`Sessions::viewer`]).
const KNOWN_SESSIONS: usize = 100_000;

#[derive(Clone)]
pub struct Sessions {
    db: Database,
    /// On a SQLite file: sessions already read, trusted while the beacon stands still.
    known: Option<Arc<Cache<String, KnownSession>>>,
}

/// A session as it was read, and what the beacon said just before.
#[derive(Clone)]
struct KnownSession {
    viewer: Option<Viewer>,
    expires_at: i64,
    position: LogPosition,
    sessions_ended: u64,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The session's person as the permission engine knows them, and where the read models
/// stood: see [`Sessions::viewer`]. Only what a viewer is made of is read: this runs on
/// every request.
static VIEWER_OF_SESSION: &str =
    "SELECT p.account_id, p.person_id, p.kind, p.status, p.administrator,
        s.expires_at, c.tx, c.position
   FROM sessions s
   JOIN people p ON p.account_id = s.account_id AND p.person_id = s.person_id
   LEFT JOIN checkpoints c ON c.name = 'read_models'
  WHERE s.token_hash = $1 AND s.expires_at > $2";

/// A session's person (`None` if they are no longer active) and where the read
/// models stood.
type ViewerAt = (Option<Viewer>, LogPosition);

/// A session row as read: its person, where the read models stood, when it expires.
struct SessionRow {
    viewer: Option<Viewer>,
    at: LogPosition,
    expires_at: i64,
}

fn session_row(row: &impl RecordRow) -> Result<SessionRow, StoreError> {
    let status: String = row.value("status")?;
    let kind: String = row.value("kind")?;
    let viewer = Viewer {
        account: directory::parse_id(row, "account_id")?,
        person: directory::parse_id(row, "person_id")?,
        kind: parse_label("person kind", &kind)?,
        administrator: row.value::<i16>("administrator")? != 0,
    };
    Ok(SessionRow {
        viewer: (status == "active").then_some(viewer),
        at: LogPosition {
            tx: row.value::<Option<i64>>("tx")?.unwrap_or(0),
            position: row.value::<Option<i64>>("position")?.unwrap_or(0),
        },
        expires_at: row.value("expires_at")?,
    })
}

impl Sessions {
    pub fn new(db: Database) -> Self {
        let known = db
            .beacon
            .as_ref()
            .map(|_| Arc::new(Cache::new(KNOWN_SESSIONS)));
        Self { db, known }
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
    /// models stood then. Asked on every request: a closed session, or a person who
    /// has been dismissed or suspended, is refused on the very next request on every
    /// server of the deployment; and the request's permission checks catch up to that
    /// position first, whichever process applied the change.
    ///
    /// On PostgreSQL that is one query (the session, its person and the shared
    /// checkpoint). On a SQLite file a session read before stands while no process has
    /// ended a session or moved the read models since (which is how a dismissal or a
    /// suspension arrives): the beacon says so without a read transaction.
    pub async fn viewer(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<ViewerAt>, StoreError> {
        let (Some(known), Some(beacon)) = (&self.known, &self.db.beacon) else {
            return Ok(self.read(token, now).await?.map(|row| (row.viewer, row.at)));
        };
        let (position, sessions_ended) = (beacon.position(), beacon.sessions_ended());
        if let Some(session) = known.get(token) {
            if session.position == position
                && session.sessions_ended == sessions_ended
                && session.expires_at > now.0
            {
                return Ok(Some((session.viewer, position)));
            }
        }
        let Some(row) = self.read(token, now).await? else {
            known.remove(token);
            return Ok(None);
        };
        // Stamped with what the beacon said before the read: a change that came in
        // between makes the next request read again.
        let session = KnownSession {
            viewer: row.viewer.clone(),
            expires_at: row.expires_at,
            position,
            sessions_ended,
        };
        known.insert(token.to_owned(), session);
        Ok(Some((row.viewer, row.at.max(position))))
    }

    async fn read(&self, token: &str, now: Timestamp) -> Result<Option<SessionRow>, StoreError> {
        let token = hash(token);
        if let Some(inline) = &self.db.inline {
            return inline.row(VIEWER_OF_SESSION, (token, now.0), |row| session_row(row));
        }
        let row = sqlx::query(VIEWER_OF_SESSION)
            .bind(token)
            .bind(now.0)
            .fetch_optional(&self.db.any)
            .await?;
        row.as_ref().map(session_row).transpose()
    }

    /// Tells every process on a SQLite file that sessions were ended, once the
    /// deletion is committed and before the caller is answered.
    fn ended(&self) {
        if let Some(beacon) = &self.db.beacon {
            beacon.session_ended();
        }
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
        self.ended();
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
        self.ended();
        Ok(())
    }

    pub async fn close(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(hash(token))
            .execute(&self.db.any)
            .await?;
        self.ended();
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
        let db = fresh_sqlite().await;
        assert!(
            db.inline.is_some(),
            "a SQLite file is read on the calling thread"
        );
        a_token_opens_its_person_until_it_expires_or_is_closed(db).await;
    }

    #[tokio::test]
    async fn on_sqlite_through_sqlx() {
        let mut db = fresh_sqlite().await;
        db.inline = None;
        db.beacon = None;
        a_token_opens_its_person_until_it_expires_or_is_closed(db).await;
    }

    /// Two processes on one SQLite file: each keeps the sessions it has read, and trusts
    /// them exactly as long as the beacon stands still.
    #[tokio::test]
    async fn on_a_sqlite_file_a_session_read_stands_until_the_beacon_moves() {
        let dir = std::env::temp_dir().join(format!("extranet-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        let url = format!("sqlite://{}/extranet.db", dir.display());
        let db = Database::open(&url).await.expect("open");
        let other = Database::open(&url)
            .await
            .expect("open again, as another process");
        let (here, there) = (Sessions::new(db.clone()), Sessions::new(other.clone()));
        let account = AccountId::new_random();
        let gus = PersonId::new_random();
        join(&db, account, gus, "active").await;
        let is_viewer = |found: Option<ViewerAt>| found.is_some_and(|(v, _)| v.is_some());

        let token = here.open(account, gus, NOW).await.expect("open");
        assert!(is_viewer(here.viewer(&token, NOW).await.expect("look up")));
        // A row deleted behind the sessions' back is not seen: the session read stands…
        sqlx::query("DELETE FROM sessions")
            .execute(&db.any)
            .await
            .expect("delete");
        assert!(is_viewer(here.viewer(&token, NOW).await.expect("look up")));
        // …until the beacon moves: here, a session ended in another process.
        let other_token = there.open(account, gus, NOW).await.expect("open");
        there.close(&other_token).await.expect("close");
        assert!(here.viewer(&token, NOW).await.expect("look up").is_none());

        // A dismissal arrives as the read models' new position.
        let token = here.open(account, gus, NOW).await.expect("open");
        assert!(is_viewer(here.viewer(&token, NOW).await.expect("look up")));
        sqlx::query("UPDATE people SET status = 'dismissed'")
            .execute(&db.any)
            .await
            .expect("dismiss");
        assert!(is_viewer(here.viewer(&token, NOW).await.expect("look up")));
        let beacon = other.beacon.as_ref().expect("a SQLite file has a beacon");
        let moved = LogPosition {
            tx: 0,
            position: beacon.position().position + 1,
        };
        beacon.publish(moved);
        let found = here.viewer(&token, NOW).await.expect("look up");
        assert!(found.is_some_and(|(viewer, at)| viewer.is_none() && at >= moved));

        // And a session kept in memory still expires on time.
        sqlx::query("UPDATE people SET status = 'active'")
            .execute(&db.any)
            .await
            .expect("reinstate");
        beacon.publish(LogPosition {
            tx: 0,
            position: moved.position + 1,
        });
        assert!(is_viewer(here.viewer(&token, NOW).await.expect("look up")));
        let expired = NOW.plus_days(SESSION_DAYS);
        assert!(here
            .viewer(&token, expired)
            .await
            .expect("look up")
            .is_none());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[tokio::test]
    async fn on_postgres() {
        a_token_opens_its_person_until_it_expires_or_is_closed(fresh_postgres().await).await;
    }
}
