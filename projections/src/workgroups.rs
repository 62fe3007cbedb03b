//! Workgroups and memberships, read from the `workgroups` and `workgroup_members`
//! tables.

use crate::directory::{parse_id, rows_among};
use crate::permission::Candidates;
use crate::read_model::parse_label;
use crate::{Database, StoreError};
use domain::workgroup::{InvitePolicy, MemberRole};
use domain::{AccountId, PersonId, WorkgroupId};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashSet;

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
    pub created_at: i64,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub person: PersonId,
    pub role: MemberRole,
    /// When the membership ends by itself, if it does (milliseconds since the epoch).
    pub expires_at: Option<i64>,
}

pub async fn get(
    db: &Database,
    account: AccountId,
    group: WorkgroupId,
) -> Result<Option<WorkgroupRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT workgroup_id, name, extranet, invite_policy, created_at FROM workgroups
          WHERE account_id = $1 AND workgroup_id = $2",
    )
    .bind(account.to_string())
    .bind(group.to_string())
    .fetch_optional(&db.any)
    .await?;
    row.as_ref().map(record).transpose()
}

fn record(row: &AnyRow) -> Result<WorkgroupRecord, StoreError> {
    let extranet: i16 = row.try_get("extranet")?;
    let policy: String = row.try_get("invite_policy")?;
    Ok(WorkgroupRecord {
        id: parse_id(row, "workgroup_id")?,
        name: row.try_get("name")?,
        extranet: extranet != 0,
        invite_policy: parse_label("invite policy", &policy)?,
        created_at: row.try_get("created_at")?,
    })
}

/// A page of the account's groups, oldest first (ties by id), after the
/// `(created_at, id)` of the last one shown.
pub async fn page(
    db: &Database,
    account: AccountId,
    after: Option<(i64, WorkgroupId)>,
    limit: i64,
) -> Result<Vec<WorkgroupRecord>, StoreError> {
    let (after_at, after_id) = match after {
        Some((at, id)) => (at, id.to_string()),
        None => (i64::MIN, String::new()),
    };
    let rows = sqlx::query(
        "SELECT workgroup_id, name, extranet, invite_policy, created_at FROM workgroups
          WHERE account_id = $1 AND (created_at > $2 OR (created_at = $2 AND workgroup_id > $3))
          ORDER BY created_at, workgroup_id
          LIMIT $4",
    )
    .bind(account.to_string())
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(&db.any)
    .await?;
    rows.iter().map(record).collect()
}

/// A page of the groups a viewer's [`Candidates`] name: [`page`] for all of them,
/// [`page_among`] for a set.
pub async fn page_of(
    db: &Database,
    account: AccountId,
    candidates: &Candidates<WorkgroupId>,
    after: Option<(i64, WorkgroupId)>,
    limit: i64,
) -> Result<Vec<WorkgroupRecord>, StoreError> {
    match candidates {
        Candidates::All => page(db, account, after, limit).await,
        Candidates::Only(ids) => page_among(db, account, ids, after, limit).await,
    }
}

/// [`page`], read only among the groups of `among`: the same order, cursor and limit.
pub async fn page_among(
    db: &Database,
    account: AccountId,
    among: &HashSet<WorkgroupId>,
    after: Option<(i64, WorkgroupId)>,
    limit: i64,
) -> Result<Vec<WorkgroupRecord>, StoreError> {
    let (after_at, after_id) = match after {
        Some((at, id)) => (at, id.to_string()),
        None => (i64::MIN, String::new()),
    };
    let sql = "SELECT workgroup_id, name, extranet, invite_policy, created_at FROM workgroups
          WHERE account_id = $1 AND (created_at > $2 OR (created_at = $2 AND workgroup_id > $3))
            AND workgroup_id IN ({ids})
          ORDER BY created_at, workgroup_id
          LIMIT $4";
    let rows = rows_among(db, sql, 5, among, |q| {
        q.bind(account.to_string())
            .bind(after_at)
            .bind(after_id.clone())
            .bind(limit)
    })
    .await?;
    let mut groups = rows.iter().map(record).collect::<Result<Vec<_>, _>>()?;
    // The ids' text order, as `ORDER BY workgroup_id` has it.
    groups.sort_by_cached_key(|g| (g.created_at, g.id.to_string()));
    groups.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(groups)
}

/// A page of a group's members, by person id, after `after`.
pub async fn members(
    db: &Database,
    account: AccountId,
    group: WorkgroupId,
    after: Option<PersonId>,
    limit: i64,
) -> Result<Vec<Membership>, StoreError> {
    let rows = sqlx::query(
        "SELECT person_id, role, expires_at FROM workgroup_members
          WHERE account_id = $1 AND workgroup_id = $2 AND person_id > $3
          ORDER BY person_id
          LIMIT $4",
    )
    .bind(account.to_string())
    .bind(group.to_string())
    .bind(after.map(|p| p.to_string()).unwrap_or_default())
    .bind(limit)
    .fetch_all(&db.any)
    .await?;
    rows.iter()
        .map(|row| {
            let role: String = row.try_get("role")?;
            Ok(Membership {
                person: parse_id(row, "person_id")?,
                role: parse_label("member role", &role)?,
                expires_at: row.try_get("expires_at")?,
            })
        })
        .collect()
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
