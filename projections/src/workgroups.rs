//! Workgroups and memberships, read from the `workgroups` and `workgroup_members`
//! tables.

use crate::directory::parse_id;
use crate::read_model::parse_label;
use crate::{Database, StoreError};
use domain::workgroup::{InvitePolicy, MemberRole};
use domain::{AccountId, PersonId, WorkgroupId};
use sqlx::Row;

/// The groups `person` belongs to that do not take external users.
pub async fn internal_groups_of(
    db: &Database,
    account: AccountId,
    person: PersonId,
) -> Result<Vec<WorkgroupId>, StoreError> {
    let rows = sqlx::query(
        "SELECT m.workgroup_id FROM workgroup_members m
           JOIN workgroups w ON w.account_id = m.account_id AND w.workgroup_id = m.workgroup_id
          WHERE m.account_id = $1 AND m.person_id = $2 AND w.extranet = 0",
    )
    .bind(account.to_string())
    .bind(person.to_string())
    .fetch_all(&db.any)
    .await?;
    rows.iter()
        .map(|row| parse_id(row, "workgroup_id"))
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkgroupRecord {
    pub id: WorkgroupId,
    pub name: String,
    pub extranet: bool,
    pub invite_policy: InvitePolicy,
}

pub async fn get(
    db: &Database,
    account: AccountId,
    group: WorkgroupId,
) -> Result<Option<WorkgroupRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT workgroup_id, name, extranet, invite_policy FROM workgroups
          WHERE account_id = $1 AND workgroup_id = $2",
    )
    .bind(account.to_string())
    .bind(group.to_string())
    .fetch_optional(&db.any)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let extranet: i16 = row.try_get("extranet")?;
    let policy: String = row.try_get("invite_policy")?;
    Ok(Some(WorkgroupRecord {
        id: parse_id(&row, "workgroup_id")?,
        name: row.try_get("name")?,
        extranet: extranet != 0,
        invite_policy: parse_label("invite policy", &policy)?,
    }))
}

/// The role `person` holds in `group`, if they are a member.
pub async fn role_of(
    db: &Database,
    account: AccountId,
    group: WorkgroupId,
    person: PersonId,
) -> Result<Option<MemberRole>, StoreError> {
    let row = sqlx::query(
        "SELECT role FROM workgroup_members WHERE account_id = $1 AND workgroup_id = $2 AND person_id = $3",
    )
    .bind(account.to_string())
    .bind(group.to_string())
    .bind(person.to_string())
    .fetch_optional(&db.any)
    .await?;
    row.map(|row| {
        let role: String = row.try_get("role")?;
        parse_label("member role", &role)
    })
    .transpose()
}
