//! Invitations as the "invited" list shows them, read from the `invitations` table.

use crate::bulk::rows_per_statement;
use crate::directory::parse_id;
use crate::read_model::parse_label;
use crate::EventLog;
use crate::StoreError;
use cqrs_es::Aggregate;
use domain::invitation::{Approval, Delivery, Invitation, InvitationEvent, InvitationState};
use domain::person::PersonKind;
use domain::task::TaskRole;
use domain::{
    AccountId, AggregateKey, Email, InvitationId, PersonId, PersonName, Position, TaskId,
    Timestamp, WorkgroupId,
};
use sqlx::{Any, Executor, Row};
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct InvitationRecord {
    pub id: InvitationId,
    pub person: PersonId,
    /// An email address or a phone number.
    pub address: String,
    pub first_name: String,
    pub last_name: String,
    /// What accepting makes of the person.
    pub kind: PersonKind,
    /// The task and role of a guest's invitation.
    pub task: Option<(TaskId, TaskRole)>,
    /// The group of a workgroup invitation.
    pub workgroup: Option<WorkgroupId>,
    pub sponsor: Option<PersonId>,
    pub state: InvitationState,
    pub nonce: String,
    pub expires_at: Option<Timestamp>,
    pub issued_at: i64,
    /// By link, or added directly by an administrator (with or without confirmation).
    pub delivery: Delivery,
}

const COLUMNS: &str = "invitation_id, person_id, address, first_name, last_name, person_kind,
    task_id, task_role, workgroup_id, issued_at, sponsor_id, status, nonce, expires_at,
    delivery, position";

pub async fn get<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    account: AccountId,
    invitation: InvitationId,
) -> Result<Option<InvitationRecord>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM invitations WHERE account_id = $1 AND invitation_id = $2"
    ))
    .bind(account.to_string())
    .bind(invitation.to_string())
    .fetch_optional(executor)
    .await?;
    row.as_ref().map(record_of).transpose()
}

/// Many invitations of one account, a statement per thousand: for an answer that
/// lists them (a page of the invited list, the results of a pasted list). An id with
/// no row is absent from the answer.
pub async fn get_many(
    db: &sqlx::AnyPool,
    account: AccountId,
    invitations: &[InvitationId],
) -> Result<HashMap<InvitationId, InvitationRecord>, StoreError> {
    let mut found = HashMap::with_capacity(invitations.len());
    for chunk in invitations.chunks(rows_per_statement(1)) {
        let sql = format!(
            "SELECT {COLUMNS} FROM invitations
              WHERE account_id = $1 AND invitation_id IN ({})",
            crate::bulk::list(chunk.len(), 2)
        );
        let mut query = sqlx::query(&sql).bind(account.to_string());
        for id in chunk {
            query = query.bind(id.to_string());
        }
        for row in query.fetch_all(db).await? {
            let record = record_of(&row)?;
            found.insert(record.id, record);
        }
    }
    Ok(found)
}

fn record_of(row: &sqlx::any::AnyRow) -> Result<InvitationRecord, StoreError> {
    let task: Option<String> = row.try_get("task_id")?;
    let role: Option<String> = row.try_get("task_role")?;
    let task = match (task, role) {
        (Some(task), Some(role)) => Some((
            task.parse().map_err(|_| StoreError::UnknownValue {
                what: "task_id",
                value: task.clone(),
            })?,
            parse_label("task role", &role)?,
        )),
        _ => None,
    };
    let sponsor: Option<String> = row.try_get("sponsor_id")?;
    let workgroup: Option<String> = row.try_get("workgroup_id")?;
    let expires_at: Option<i64> = row.try_get("expires_at")?;
    let status: String = row.try_get("status")?;
    let kind: String = row.try_get("person_kind")?;
    let delivery = delivery_of(row.try_get("delivery")?, row.try_get("position")?)?;
    Ok(InvitationRecord {
        id: parse_id(row, "invitation_id")?,
        person: parse_id(row, "person_id")?,
        address: row.try_get("address")?,
        first_name: row.try_get("first_name")?,
        last_name: row.try_get("last_name")?,
        kind: parse_label("person kind", &kind)?,
        task,
        workgroup: workgroup.and_then(|w| w.parse().ok()),
        sponsor: sponsor.and_then(|s| s.parse().ok()),
        state: parse_label("invitation state", &status)?,
        nonce: row.try_get("nonce")?,
        expires_at: expires_at.map(Timestamp),
        issued_at: row.try_get("issued_at")?,
        delivery,
    })
}

/// The delivery the `delivery` and `position` columns describe.
fn delivery_of(delivery: String, position: Option<String>) -> Result<Delivery, StoreError> {
    let confirm = match delivery.as_str() {
        "link" => return Ok(Delivery::Link),
        "direct" => false,
        "direct_confirm" => true,
        _ => {
            return Err(StoreError::UnknownValue {
                what: "invitation delivery",
                value: delivery,
            })
        }
    };
    let position = position.unwrap_or_default();
    let position = Position::parse(&position).map_err(|_| StoreError::UnknownValue {
        what: "position",
        value: position,
    })?;
    Ok(Delivery::Direct { position, confirm })
}

/// The "invited" list: invitations still waiting for their person (pending, or
/// registrations awaiting approval), oldest first, a page at a time after `after`
/// (the `(issued_at, invitation)` of the last one shown).
pub async fn waiting(
    db: &crate::Database,
    account: AccountId,
    after: Option<(i64, InvitationId)>,
    limit: i64,
) -> Result<Vec<InvitationRecord>, StoreError> {
    let (after_at, after_id) = match after {
        Some((at, id)) => (at, id.to_string()),
        None => (i64::MIN, String::new()),
    };
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM invitations
          WHERE account_id = $1 AND status IN ('pending', 'awaiting_approval')
            AND (issued_at > $2 OR (issued_at = $2 AND invitation_id > $3))
          ORDER BY issued_at, invitation_id
          LIMIT $4"
    ))
    .bind(account.to_string())
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(&db.any)
    .await?;
    rows.iter().map(record_of).collect()
}

/// What someone gave when they registered through the account's link.
#[derive(Debug, Clone)]
pub struct Registration {
    pub person: PersonId,
    pub email: Email,
    pub name: PersonName,
    /// argon2id, as chosen at registration; they log in with it once let in.
    pub password_hash: String,
    pub approval: Approval,
}

/// The registration `invitation` recorded, read from its event in the log: the read
/// model does not keep the password hash, and should not.
pub async fn registration(
    log: &EventLog,
    account: AccountId,
    invitation: InvitationId,
) -> Result<Option<Registration>, StoreError> {
    let key = AggregateKey::new(account, invitation.0).to_string();
    for event in log.of_aggregate(Invitation::TYPE, &key).await? {
        if let InvitationEvent::RegistrationRequested {
            person,
            email,
            name,
            password_hash,
            approval,
            ..
        } = event.decode()?
        {
            return Ok(Some(Registration {
                person,
                email,
                name,
                password_hash,
                approval,
            }));
        }
    }
    Ok(None)
}
