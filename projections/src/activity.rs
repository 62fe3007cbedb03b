//! The activity stream: group events, shown to each viewer as the permission rules
//! allow. Employees see the activity of company groups and of the extranet groups they
//! belong to, marked as extranet; extranet users see their own groups only; guests
//! have no stream.

use crate::directory::parse_id;
use crate::permission::sql::group_visible;
use crate::permission::Viewer;
use crate::projector::Projection;
use crate::{tasks, Database, LogPosition, StoreError, StoredEvent};
use cqrs_es::Aggregate;
use domain::task::{Task, TaskEvent};
use domain::workgroup::{Workgroup, WorkgroupEvent};
use domain::{AccountId, PersonId, TaskId, Timestamp, WorkgroupId};
use sqlx::{Any, Row, Transaction};

/// The projection that writes the stream. It follows behind the read models, whose
/// tasks table says which group a task belongs to.
pub struct Activity;

type Tx = Transaction<'static, Any>;

#[async_trait::async_trait]
impl Projection for Activity {
    fn name(&self) -> &'static str {
        "activity"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["activity"]
    }

    async fn apply(&self, tx: &mut Tx, e: &StoredEvent) -> Result<(), StoreError> {
        let Ok(account) = e.account_id.parse::<AccountId>() else {
            return Ok(());
        };
        let entry: Option<(WorkgroupId, &str, Option<String>, String)> = match e
            .aggregate_type
            .as_str()
        {
            Workgroup::TYPE => {
                let Ok(group) = e.entity_id().parse::<WorkgroupId>() else {
                    return Ok(());
                };
                match e.decode::<WorkgroupEvent>()? {
                    WorkgroupEvent::WorkgroupCreated { name, .. } => {
                        Some((group, "group_created", None, name))
                    }
                    WorkgroupEvent::MemberAdded { person, .. } => Some((
                        group,
                        "member_added",
                        Some(person.to_string()),
                        String::new(),
                    )),
                    WorkgroupEvent::MemberRemoved { person, .. } => Some((
                        group,
                        "member_removed",
                        Some(person.to_string()),
                        String::new(),
                    )),
                    _ => None,
                }
            }
            Task::TYPE => {
                let Ok(task) = e.entity_id().parse::<TaskId>() else {
                    return Ok(());
                };
                let Some(record) = tasks::get(&mut **tx, account, task).await? else {
                    return Ok(());
                };
                let group = sqlx::query(
                    "SELECT workgroup_id FROM tasks WHERE account_id = $1 AND task_id = $2",
                )
                .bind(account.to_string())
                .bind(task.to_string())
                .fetch_optional(&mut **tx)
                .await?
                .and_then(|row| {
                    row.try_get::<Option<String>, _>("workgroup_id")
                        .ok()
                        .flatten()
                })
                .and_then(|g| g.parse::<WorkgroupId>().ok());
                let Some(group) = group else { return Ok(()) };
                let subject = Some(task.to_string());
                match e.decode::<TaskEvent>()? {
                    TaskEvent::TaskCreated { title, .. } => {
                        Some((group, "task_created", subject, title))
                    }
                    TaskEvent::CommentAdded { text, .. } => {
                        Some((group, "comment_added", subject, text))
                    }
                    TaskEvent::PersonAssigned { .. } | TaskEvent::PersonUnassigned { .. } => None,
                    _ => Some((group, "task_changed", subject, record.title)),
                }
            }
            _ => None,
        };
        let Some((group, kind, subject, detail)) = entry else {
            return Ok(());
        };
        sqlx::query(
            "INSERT INTO activity (account_id, workgroup_id, tx, position, at, actor_id, kind, subject_id, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(&e.account_id)
        .bind(group.to_string())
        .bind(e.position.tx)
        .bind(e.position.position)
        .bind(e.metadata.at.0)
        .bind(e.metadata.actor.map(|a| a.to_string()))
        .bind(kind)
        .bind(subject)
        .bind(detail)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// One entry of a viewer's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub position: LogPosition,
    pub at: Timestamp,
    pub workgroup: WorkgroupId,
    /// Shown marked as extranet: the group lets external users in.
    pub extranet: bool,
    pub actor: Option<PersonId>,
    pub kind: String,
    pub subject: Option<String>,
    pub detail: String,
}

/// The newest entries `viewer` may see, newest first; `before` continues a page.
pub async fn stream_for(
    db: &Database,
    viewer: &Viewer,
    before: Option<LogPosition>,
    limit: i64,
) -> Result<Vec<Entry>, StoreError> {
    let before = before.unwrap_or(LogPosition::END);
    let sql = format!(
        "SELECT a.workgroup_id, a.tx, a.position, a.at, a.actor_id, a.kind, a.subject_id, a.detail, w.extranet
           FROM activity a
           JOIN workgroups w ON w.account_id = a.account_id AND w.workgroup_id = a.workgroup_id
          WHERE a.account_id = $1 AND {visible}
            AND (a.tx < $3 OR (a.tx = $3 AND a.position < $4))
          ORDER BY a.tx DESC, a.position DESC
          LIMIT $5",
        visible = group_visible(viewer, "$2"),
    );
    let rows = sqlx::query(&sql)
        .bind(viewer.account.to_string())
        .bind(viewer.person.to_string())
        .bind(before.tx)
        .bind(before.position)
        .bind(limit)
        .fetch_all(&db.any)
        .await?;
    rows.iter()
        .map(|row| {
            let extranet: i16 = row.try_get("extranet")?;
            let actor: Option<String> = row.try_get("actor_id")?;
            Ok(Entry {
                position: LogPosition {
                    tx: row.try_get("tx")?,
                    position: row.try_get("position")?,
                },
                at: Timestamp(row.try_get("at")?),
                workgroup: parse_id(row, "workgroup_id")?,
                extranet: extranet != 0,
                actor: actor.and_then(|a| a.parse().ok()),
                kind: row.try_get("kind")?,
                subject: row.try_get("subject_id")?,
                detail: row.try_get("detail")?,
            })
        })
        .collect()
}
