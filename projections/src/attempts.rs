//! Counts of attempts to get in, shared by every server of a deployment (table
//! `attempt_counts`). The gateway decides what a key is and how many attempts it
//! allows; this module only counts, atomically on both backends.
//!
//! Each key has one row: when its window opened and how many attempts it has let
//! through since. Counting is one `INSERT … ON CONFLICT DO UPDATE … RETURNING`, which
//! PostgreSQL and SQLite (3.35 and later; sqlx bundles a newer one) run atomically, so
//! two servers counting the same key at once both see the other's attempt.

use crate::{Database, StoreError};
use sqlx::Row;

/// One key to count an attempt against, and how many attempts its window allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub key: String,
    pub limit: u32,
}

/// Rows swept per statement: a sweep never holds the table for long.
const SWEEP_BATCH: i64 = 1000;

/// Opens a new window when the key's has lasted `window_ms`, or counts one more
/// attempt in it; answers the window's start and its count with this attempt.
const COUNT: &str = "INSERT INTO attempt_counts (key, window_start, attempts) VALUES ($1, $2, 1)
     ON CONFLICT (key) DO UPDATE SET
       window_start = CASE WHEN attempt_counts.window_start <= $3
                           THEN excluded.window_start ELSE attempt_counts.window_start END,
       attempts = CASE WHEN attempt_counts.window_start <= $3
                       THEN 1 ELSE attempt_counts.attempts + 1 END
     RETURNING window_start, attempts";

/// Counts one attempt against every key at `now_ms`, or, if any key has had its
/// limit's worth in its current window, counts nothing and answers how many
/// milliseconds until the last of those windows ends.
///
/// All keys are counted in one transaction that is rolled back on refusal, so that a
/// refused attempt uses up no key's budget: a client that waits as told gets exactly
/// its limit. Callers pass keys in one fixed order (address before client), so two
/// transactions never wait on each other's rows crosswise.
pub async fn count(
    db: &Database,
    keys: &[Counted],
    now_ms: i64,
    window_ms: i64,
) -> Result<Result<(), i64>, StoreError> {
    if keys.is_empty() {
        return Ok(Ok(()));
    }
    let mut tx = db.begin_write().await?;
    let mut wait: Option<i64> = None;
    for Counted { key, limit } in keys {
        let row = sqlx::query(COUNT)
            .bind(key)
            .bind(now_ms)
            .bind(now_ms - window_ms)
            .fetch_one(&mut *tx)
            .await?;
        let window_start: i64 = row.try_get("window_start")?;
        let attempts: i64 = row.try_get("attempts")?;
        if attempts > i64::from(*limit) {
            let left = (window_start + window_ms - now_ms).max(0);
            wait = Some(wait.map_or(left, |w| w.max(left)));
        }
    }
    match wait {
        Some(wait) => {
            tx.rollback().await?;
            Ok(Err(wait))
        }
        None => {
            tx.commit().await?;
            Ok(Ok(()))
        }
    }
}

/// Deletes the rows whose window ended by `now_ms`, a bounded batch at a time, and
/// answers how many went. Their keys start afresh either way; this only keeps the
/// table as small as the keys tried lately.
pub async fn sweep(db: &Database, now_ms: i64, window_ms: i64) -> Result<u64, StoreError> {
    let mut swept = 0;
    loop {
        let deleted = sqlx::query(
            "DELETE FROM attempt_counts WHERE key IN (
               SELECT key FROM attempt_counts WHERE window_start <= $1 LIMIT $2)",
        )
        .bind(now_ms - window_ms)
        .bind(SWEEP_BATCH)
        .execute(&db.any)
        .await?
        .rows_affected();
        swept += deleted;
        if deleted < SWEEP_BATCH as u64 {
            return Ok(swept);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fresh_postgres, fresh_sqlite};

    fn key(name: &str, limit: u32) -> Counted {
        Counted {
            key: name.to_owned(),
            limit,
        }
    }

    async fn counts_in_windows_and_refused_attempts_are_not_counted(db: Database) {
        let window = 900_000;
        let both = [key("address", 2), key("client", 3)];
        assert_eq!(count(&db, &both, 0, window).await.unwrap(), Ok(()));
        assert_eq!(count(&db, &both, 100_000, window).await.unwrap(), Ok(()));
        assert_eq!(
            count(&db, &both, 200_000, window).await.unwrap(),
            Err(700_000)
        );
        // The refusal counted nothing: the client has one attempt left.
        let other = [key("other address", 2), key("client", 3)];
        assert_eq!(count(&db, &other, 300_000, window).await.unwrap(), Ok(()));
        assert_eq!(
            count(&db, &other, 300_000, window).await.unwrap(),
            Err(600_000)
        );
        // The window that opened at 0 ends at 900 000: a new one opens.
        assert_eq!(
            count(&db, &both[..1], 900_000, window).await.unwrap(),
            Ok(())
        );
        assert_eq!(
            count(&db, &both[..1], 900_001, window).await.unwrap(),
            Ok(())
        );
        assert_eq!(
            count(&db, &both[..1], 900_002, window).await.unwrap(),
            Err(899_998)
        );

        assert_eq!(sweep(&db, 1_199_999, window).await.unwrap(), 1);
        let left: Vec<String> = sqlx::query_scalar("SELECT key FROM attempt_counts ORDER BY key")
            .fetch_all(&db.any)
            .await
            .unwrap();
        assert_eq!(left, ["address", "other address"]);
    }

    #[tokio::test]
    async fn counts_on_sqlite() {
        counts_in_windows_and_refused_attempts_are_not_counted(fresh_sqlite().await).await;
    }

    #[tokio::test]
    async fn counts_on_postgres() {
        counts_in_windows_and_refused_attempts_are_not_counted(fresh_postgres().await).await;
    }

    #[tokio::test]
    async fn concurrent_attempts_on_postgres_never_pass_the_limit() {
        let db = fresh_postgres().await;
        let tries = (0..20).map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                count(&db, &[key("address", 5), key("client", 100)], 0, 900_000).await
            })
        });
        let mut let_through = 0;
        for tried in futures_join(tries).await {
            if tried.unwrap().unwrap().is_ok() {
                let_through += 1;
            }
        }
        assert_eq!(let_through, 5);
    }

    async fn futures_join<T>(
        handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
    ) -> Vec<Result<T, tokio::task::JoinError>> {
        let mut out = Vec::new();
        for handle in handles.collect::<Vec<_>>() {
            out.push(handle.await);
        }
        out
    }
}
