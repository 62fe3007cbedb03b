//! The activity stream: group events, shown to each viewer as the permission rules
//! allow. Employees see the activity of company groups and of the extranet groups they
//! belong to, marked as extranet; extranet users see their own groups only; guests
//! have no stream.

use crate::bulk::{placeholders, rows_per_statement, Inserts};
use crate::directory::parse_id;
use crate::permission::sql::group_visible;
use crate::permission::Viewer;
use crate::projector::Projection;
use crate::{Database, LogPosition, StoreError, StoredEvent};
use cqrs_es::Aggregate;
use domain::task::{Task, TaskEvent};
use domain::workgroup::{Workgroup, WorkgroupEvent};
use domain::{PersonId, Timestamp, WorkgroupId};
use sqlx::{Any, Row, Transaction};
use std::collections::{HashMap, HashSet};

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

    fn added_to_only(&self) -> &'static [&'static str] {
        &["activity"]
    }

    async fn apply(&self, tx: &mut Tx, e: &StoredEvent) -> Result<(), StoreError> {
        self.apply_all(tx, std::slice::from_ref(e))
            .await
            .map_err(|(_, e)| e)
    }

    /// The batch's tasks are read in one statement and its entries written a
    /// statement per thousand: entries are only ever added, and nothing here reads
    /// them back.
    async fn apply_all(
        &self,
        tx: &mut Tx,
        events: &[StoredEvent],
    ) -> Result<(), (usize, StoreError)> {
        let tasks = tasks_of(tx, events).await.map_err(|e| (0, e))?;
        let mut entries = Inserts::new(
            "INSERT INTO activity (account_id, workgroup_id, tx, position, at, actor_id, kind, subject_id, detail)",
            9,
            "ON CONFLICT DO NOTHING",
        );
        for (at, e) in events.iter().enumerate() {
            let Some((group, kind, subject, detail)) = entry(e, &tasks).map_err(|err| (at, err))?
            else {
                continue;
            };
            entries.push(
                at,
                [
                    e.account_id.as_str().into(),
                    group.to_string().into(),
                    e.position.tx.into(),
                    e.position.position.into(),
                    e.metadata.at.0.into(),
                    e.metadata.actor.map(|a| a.to_string()).into(),
                    kind.into(),
                    subject.into(),
                    detail.into(),
                ],
            );
        }
        entries.write(tx).await
    }
}

/// A task's title and group as the read models have them, by account and task id.
type Tasks = HashMap<(String, String), (String, Option<WorkgroupId>)>;

/// The tasks the batch's task events are about, in statements of a thousand.
async fn tasks_of(tx: &mut Tx, events: &[StoredEvent]) -> Result<Tasks, StoreError> {
    let wanted: HashSet<(&str, &str)> = events
        .iter()
        .filter(|e| e.aggregate_type == Task::TYPE)
        .map(|e| (e.account_id.as_str(), e.entity_id()))
        .collect();
    let wanted: Vec<_> = wanted.into_iter().collect();
    let mut tasks = Tasks::with_capacity(wanted.len());
    for chunk in wanted.chunks(rows_per_statement(2)) {
        let sql = format!(
            "SELECT account_id, task_id, title, workgroup_id FROM tasks
              WHERE (account_id, task_id) IN (VALUES {})",
            placeholders(chunk.len(), &["", ""])
        );
        let mut query = sqlx::query(&sql);
        for (account, task) in chunk {
            query = query.bind(*account).bind(*task);
        }
        for row in query.fetch_all(&mut **tx).await? {
            let group: Option<String> = row.try_get("workgroup_id")?;
            tasks.insert(
                (row.try_get("account_id")?, row.try_get("task_id")?),
                (row.try_get("title")?, group.and_then(|g| g.parse().ok())),
            );
        }
    }
    Ok(tasks)
}

/// What an event adds to its group's stream: the group, the kind, what it is about
/// and a detail to show.
type Made = (WorkgroupId, &'static str, Option<String>, String);

/// The entry an event makes; None for an event no stream shows, or a task outside any
/// group.
fn entry(e: &StoredEvent, tasks: &Tasks) -> Result<Option<Made>, StoreError> {
    Ok(match e.aggregate_type.as_str() {
        Workgroup::TYPE => {
            let Ok(group) = e.entity_id().parse::<WorkgroupId>() else {
                return Ok(None);
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
            let task = e.entity_id();
            let Some((title, Some(group))) = tasks.get(&(e.account_id.clone(), task.to_string()))
            else {
                return Ok(None);
            };
            let subject = Some(task.to_string());
            match e.decode::<TaskEvent>()? {
                TaskEvent::TaskCreated { title, .. } => {
                    Some((*group, "task_created", subject, title))
                }
                TaskEvent::CommentAdded { text, .. } => {
                    Some((*group, "comment_added", subject, text))
                }
                TaskEvent::PersonAssigned { .. } | TaskEvent::PersonUnassigned { .. } => None,
                _ => Some((*group, "task_changed", subject, title.clone())),
            }
        }
        _ => None,
    })
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
