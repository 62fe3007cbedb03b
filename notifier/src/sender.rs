//! Delivers what the outbox holds, oldest first, and retries failures with backoff.
//! Each message is claimed before it is sent, so two processes sharing the database
//! never send the same one at the same time.

use crate::mailer::{Mailer, Outgoing};
use crate::withheld::{Withheld, WithheldError};
use domain::invitation::SecretKey;
use domain::services::Clock;
use lettre::message::Mailbox;
use projections::{Database, StoreError};
use sqlx::Row;
use std::time::Duration;
use tokio::sync::watch;

const BATCH: i64 = 50;
const IDLE_POLL: Duration = Duration::from_millis(500);
const MAX_BACKOFF_MS: i64 = 60 * 60 * 1000;
/// How long a claimed message is left to its sender before another may try it: a
/// sender that died mid-delivery is replaced after this. Longer than the SMTP
/// connect timeout (10 s), so a slow server does not get the message twice.
const CLAIM_MS: i64 = 12 * 1000;

pub struct Sender {
    pub db: Database,
    pub mailer: Mailer,
    pub from: Mailbox,
    pub clock: std::sync::Arc<dyn Clock>,
    /// Makes the secrets the outbox withholds (see [`crate::withheld`]).
    pub secrets: SecretKey,
}

impl Sender {
    /// Delivers every message that is due now; returns how many were delivered.
    pub async fn deliver_due(&self) -> Result<usize, StoreError> {
        let now = self.clock.now().0;
        let rows = sqlx::query(
            "SELECT message_key, recipient, subject, body, withheld, attempts, next_try_at FROM outbox
              WHERE sent_at IS NULL AND next_try_at <= $1
              ORDER BY created_at, message_key LIMIT $2",
        )
        .bind(now)
        .bind(BATCH)
        .fetch_all(&self.db.any)
        .await?;
        let mut delivered = 0;
        for row in rows {
            let key: String = row.try_get("message_key")?;
            let to: String = row.try_get("recipient")?;
            let subject: String = row.try_get("subject")?;
            let body: String = row.try_get("body")?;
            let withheld: Option<String> = row.try_get("withheld")?;
            let attempts: i32 = row.try_get("attempts")?;
            let due: i64 = row.try_get("next_try_at")?;
            // Claim the message before sending it: another process sharing the
            // database may have picked the same row, and only one claim moves it.
            let claimed = sqlx::query(
                "UPDATE outbox SET next_try_at = $3
                  WHERE message_key = $1 AND sent_at IS NULL AND next_try_at = $2",
            )
            .bind(&key)
            .bind(due)
            .bind(now + CLAIM_MS)
            .execute(&self.db.any)
            .await?
            .rows_affected()
                == 1;
            if !claimed {
                continue;
            }
            let sent = match self.fill(body, withheld.as_deref()) {
                Ok(body) => {
                    let outgoing = Outgoing {
                        key: &key,
                        to: &to,
                        subject: &subject,
                        body: &body,
                    };
                    self.mailer
                        .deliver(&self.from, &outgoing)
                        .await
                        .map_err(|e| e.to_string())
                }
                Err(error) => {
                    // Not the mail server's fault, and trying again will not mend it;
                    // it is retried (rarely, with the backoff) so the error stays in view.
                    tracing::error!(%key, %error, "a message's withheld secret cannot be filled in");
                    Err(error.to_string())
                }
            };
            match sent {
                Ok(()) => {
                    sqlx::query("UPDATE outbox SET sent_at = $2, attempts = attempts + 1 WHERE message_key = $1")
                        .bind(&key)
                        .bind(self.clock.now().0)
                        .execute(&self.db.any)
                        .await?;
                    tracing::info!(to = %to, subject = %subject, "email sent");
                    delivered += 1;
                }
                Err(error) => {
                    let backoff = (1000_i64 << attempts.clamp(0, 22)).min(MAX_BACKOFF_MS);
                    sqlx::query(
                        "UPDATE outbox SET attempts = attempts + 1, next_try_at = $2, last_error = $3
                          WHERE message_key = $1",
                    )
                    .bind(&key)
                    .bind(now + backoff)
                    .bind(&error)
                    .execute(&self.db.any)
                    .await?;
                    tracing::warn!(to = %to, %error, attempt = attempts + 1, retry_in_ms = backoff, "email not sent; will retry");
                }
            }
        }
        Ok(delivered)
    }

    /// The body as it is sent: with the withheld secret in its slot, if it has one.
    fn fill(&self, body: String, withheld: Option<&str>) -> Result<String, WithheldError> {
        match withheld {
            None => Ok(body),
            Some(stored) => Withheld::from_stored(stored)?.fill(&body, &self.secrets),
        }
    }

    /// Delivers until `shutdown` fires; `more` wakes it when the outbox may have grown.
    pub async fn run(
        self,
        mut more: watch::Receiver<projections::LogPosition>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        tracing::info!(via = %self.mailer.describe(), "notifier sending");
        loop {
            if let Err(error) = self.deliver_due().await {
                tracing::error!(%error, "outbox could not be read");
            }
            tokio::select! {
                _ = tokio::time::sleep(IDLE_POLL) => {}
                changed = more.changed() => if changed.is_err() { more.mark_unchanged(); tokio::time::sleep(IDLE_POLL).await },
                _ = shutdown.changed() => break,
            }
            if *shutdown.borrow() {
                break;
            }
        }
    }
}
