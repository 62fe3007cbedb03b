//! Workgroups and memberships, read from the `workgroups` and `workgroup_members`
//! tables.

use crate::directory::parse_id;
use crate::{Database, StoreError};
use domain::{AccountId, PersonId, WorkgroupId};

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
