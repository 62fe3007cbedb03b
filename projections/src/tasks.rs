//! Tasks and the people in them, read from the `tasks` and `task_roles` tables.

use crate::bulk::{placeholders, rows_per_statement};
use crate::directory::parse_id;
use crate::read_model::parse_label;
use crate::{Database, StoreError};
use domain::task::TaskStatus;
use domain::{AccountId, PersonId, TaskId, WorkgroupId};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor, Row};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    pub id: TaskId,
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    pub creator: PersonId,
    pub created_at: i64,
}

/// Where a page of tasks ends: tasks are listed oldest first, ties broken by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskCursor {
    pub created_at: i64,
    pub id: TaskId,
}

impl TaskCursor {
    pub fn encode(&self) -> String {
        format!("{}:{}", self.created_at, self.id)
    }

    pub fn decode(s: &str) -> Option<Self> {
        let (at, id) = s.split_once(':')?;
        Some(Self {
            created_at: at.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

impl TaskRecord {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let status: String = row.try_get("status")?;
        Ok(Self {
            id: parse_id(row, "task_id")?,
            title: row.try_get("title")?,
            description: row.try_get("description")?,
            status: parse_label("task status", &status)?,
            creator: parse_id(row, "creator_id")?,
            created_at: row.try_get("created_at")?,
        })
    }

    pub fn cursor(&self) -> TaskCursor {
        TaskCursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

macro_rules! columns {
    () => {
        "t.task_id, t.title, t.description, t.status, t.creator_id, t.created_at"
    };
}
const COLUMNS: &str = columns!();
const BY_ID: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM tasks t WHERE t.account_id = $1 AND t.task_id = $2"
);

/// One task, as a request reads it.
pub async fn by_id(
    db: &Database,
    account: AccountId,
    task: TaskId,
) -> Result<Option<TaskRecord>, StoreError> {
    get(&db.any, account, task).await
}

pub async fn get<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    account: AccountId,
    task: TaskId,
) -> Result<Option<TaskRecord>, StoreError> {
    let row = sqlx::query(BY_ID)
        .bind(account.to_string())
        .bind(task.to_string())
        .fetch_optional(executor)
        .await?;
    row.as_ref().map(TaskRecord::from_row).transpose()
}

/// The tasks `person` created or holds a role in, a page at a time.
pub async fn of_person(
    db: &Database,
    account: AccountId,
    person: PersonId,
    after: Option<&TaskCursor>,
    limit: i64,
) -> Result<Vec<TaskRecord>, StoreError> {
    let theirs = "(t.creator_id = $2 OR EXISTS (
                   SELECT 1 FROM task_roles r
                    WHERE r.account_id = t.account_id AND r.task_id = t.task_id
                      AND r.person_id = $2))";
    page(db, account, theirs, person.to_string(), after, limit).await
}

/// The tasks of a workgroup, a page at a time, oldest first.
pub async fn of_group(
    db: &Database,
    account: AccountId,
    group: WorkgroupId,
    after: Option<&TaskCursor>,
    limit: i64,
) -> Result<Vec<TaskRecord>, StoreError> {
    page(
        db,
        account,
        "t.workgroup_id = $2",
        group.to_string(),
        after,
        limit,
    )
    .await
}

/// A page of the account's tasks that meet `condition` (which may use `$2`, bound to
/// `argument`), oldest first, after `after`.
async fn page(
    db: &Database,
    account: AccountId,
    condition: &str,
    argument: String,
    after: Option<&TaskCursor>,
    limit: i64,
) -> Result<Vec<TaskRecord>, StoreError> {
    let (after_at, after_id) = match after {
        Some(c) => (c.created_at, c.id.to_string()),
        None => (i64::MIN, String::new()),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM tasks t
          WHERE t.account_id = $1 AND {condition}
            AND (t.created_at > $3 OR (t.created_at = $3 AND t.task_id > $4))
          ORDER BY t.created_at, t.task_id
          LIMIT $5"
    );
    let rows = sqlx::query(&sql)
        .bind(account.to_string())
        .bind(argument)
        .bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&db.any)
        .await?;
    rows.iter().map(TaskRecord::from_row).collect()
}

/// Everyone who follows each of `tasks` (its creator and every person with a role in
/// it), read in statements of a thousand tasks, each task's people in order of id; a
/// task not found has nobody.
pub async fn people_of_many(
    connection: &mut AnyConnection,
    tasks: &[(AccountId, TaskId)],
) -> Result<HashMap<(AccountId, TaskId), Vec<PersonId>>, StoreError> {
    let mut people: HashMap<(AccountId, TaskId), Vec<PersonId>> = HashMap::new();
    for chunk in tasks.chunks(rows_per_statement(2)) {
        let wanted = placeholders(chunk.len(), &["", ""]);
        let sql = format!(
            "SELECT account_id, task_id, creator_id AS person_id FROM tasks
              WHERE (account_id, task_id) IN (VALUES {wanted})
             UNION
             SELECT account_id, task_id, person_id FROM task_roles
              WHERE (account_id, task_id) IN (VALUES {wanted})"
        );
        let mut query = sqlx::query(&sql);
        for (account, task) in chunk {
            query = query.bind(account.to_string()).bind(task.to_string());
        }
        for row in query.fetch_all(&mut *connection).await? {
            let task = (parse_id(&row, "account_id")?, parse_id(&row, "task_id")?);
            people
                .entry(task)
                .or_default()
                .push(parse_id(&row, "person_id")?);
        }
    }
    for list in people.values_mut() {
        list.sort_unstable();
        list.dedup();
    }
    Ok(people)
}
