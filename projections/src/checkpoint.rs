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

/// Moves the checkpoint inside the caller's transaction, so it commits or rolls back
/// together with the changes it covers.
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
