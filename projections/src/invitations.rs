//! Invitations as the "invited" list shows them, read from the `invitations` table.

use crate::directory::parse_id;
use crate::read_model::parse_label;
use crate::{Database, StoreError};
use domain::task::TaskRole;
use domain::{AccountId, InvitationId, PersonId, TaskId, Timestamp};
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct InvitationRecord {
    pub id: InvitationId,
    pub person: PersonId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub task: TaskId,
    pub role: TaskRole,
    pub sponsor: PersonId,
    pub pending: bool,
    pub nonce: String,
    pub expires_at: Timestamp,
}

pub async fn get(
    db: &Database,
    account: AccountId,
    invitation: InvitationId,
) -> Result<Option<InvitationRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT invitation_id, person_id, email, first_name, last_name, task_id, task_role,
                sponsor_id, status, nonce, expires_at
           FROM invitations WHERE account_id = $1 AND invitation_id = $2",
    )
    .bind(account.to_string())
    .bind(invitation.to_string())
    .fetch_optional(&db.any)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let role: String = row.try_get("task_role")?;
    let status: String = row.try_get("status")?;
    Ok(Some(InvitationRecord {
        id: parse_id(&row, "invitation_id")?,
        person: parse_id(&row, "person_id")?,
        email: row.try_get("email")?,
        first_name: row.try_get("first_name")?,
        last_name: row.try_get("last_name")?,
        task: parse_id(&row, "task_id")?,
        role: parse_label("task role", &role)?,
        sponsor: parse_id(&row, "sponsor_id")?,
        pending: status == "pending",
        nonce: row.try_get("nonce")?,
        expires_at: Timestamp(row.try_get("expires_at")?),
    }))
}
