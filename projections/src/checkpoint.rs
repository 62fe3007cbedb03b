//! How far a consumer of the log has got, stored next to what it wrote.

use crate::{LogPosition, StoreError};
use sqlx::{Any, AnyPool, Row, Transaction};

pub async fn load(pool: &AnyPool, name: &str) -> Result<LogPosition, StoreError> {
    let row = sqlx::query("SELECT tx, position FROM checkpoints WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?;
    Ok(match row {
        Some(row) => LogPosition {
            tx: row.try_get("tx")?,
            position: row.try_get("position")?,
        },
        None => LogPosition::START,
    })
}

/// The checkpoint as seen inside a transaction, for readers that must see it
/// consistently with the tables it covers.
pub async fn load_in(
    tx: &mut Transaction<'static, Any>,
    name: &str,
) -> Result<LogPosition, StoreError> {
    let row = sqlx::query("SELECT tx, position FROM checkpoints WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(row) => LogPosition {
            tx: row.try_get("tx")?,
            position: row.try_get("position")?,
        },
        None => LogPosition::START,
    })
}

/// Moves the checkpoint from `from` to `to` inside the caller's transaction, so it
/// commits or rolls back together with the changes it covers. Returns false, and
/// moves nothing, when the checkpoint is no longer at `from`: another process applied
/// the same events first, and the caller must roll back and start again from where
/// the checkpoint now is.
pub async fn advance(
    tx: &mut Transaction<'static, Any>,
    name: &str,
    from: LogPosition,
    to: LogPosition,
) -> Result<bool, StoreError> {
    let moved = if from == LogPosition::START {
        sqlx::query(
            "INSERT INTO checkpoints (name, tx, position) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET tx = excluded.tx, position = excluded.position
              WHERE checkpoints.tx = 0 AND checkpoints.position = 0",
        )
        .bind(name)
        .bind(to.tx)
        .bind(to.position)
        .execute(&mut **tx)
        .await?
    } else {
        sqlx::query("UPDATE checkpoints SET tx = $4, position = $5 WHERE name = $1 AND tx = $2 AND position = $3")
            .bind(name)
            .bind(from.tx)
            .bind(from.position)
            .bind(to.tx)
            .bind(to.position)
            .execute(&mut **tx)
            .await?
    };
    Ok(moved.rows_affected() == 1)
}

/// Sets the checkpoint, whatever it was (for followers that are alone by design).
pub async fn save(
    tx: &mut Transaction<'static, Any>,
    name: &str,
    at: LogPosition,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO checkpoints (name, tx, position) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET tx = excluded.tx, position = excluded.position",
    )
    .bind(name)
    .bind(at.tx)
    .bind(at.position)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
