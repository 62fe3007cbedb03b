//! The viewer's activity stream.

use super::context::{follower_caught_up, state, viewer};
use super::error::ApiError;
use super::global_id::id_of;
use super::page;
use super::types::time;
use async_graphql::connection::Connection;
use async_graphql::{Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use domain::{PersonId, TaskId};
use projections::activity::{self, Entry};
use projections::LogPosition;

#[derive(Default)]
pub struct ActivityQuery;

/// Something that happened in a workgroup.
#[derive(SimpleObject)]
pub struct ActivityEntry {
    /// When it happened.
    pub at: Option<DateTime<Utc>>,
    /// The group it happened in.
    pub workgroup_id: ID,
    /// Whether that group lets external users in: shown marked as extranet activity.
    pub extranet: bool,
    /// Who did it; null for the system.
    pub actor_id: Option<ID>,
    /// `group_created`, `member_added`, `member_removed`, `task_created`,
    /// `task_changed` or `comment_added`.
    pub kind: String,
    /// The task or person it is about, if any.
    pub subject_id: Option<ID>,
    /// A task's title or a comment's text.
    pub detail: String,
}

impl From<Entry> for ActivityEntry {
    fn from(e: Entry) -> Self {
        Self {
            at: time(e.at.0),
            workgroup_id: id_of(e.workgroup),
            extranet: e.extranet,
            actor_id: e.actor.map(id_of),
            subject_id: subject_id(&e.kind, e.subject.as_deref()),
            kind: e.kind,
            detail: e.detail,
        }
    }
}

/// The API's id of what an entry is about: the entry's kind says whether it is a
/// person or a task. None for a kind that names nothing.
fn subject_id(kind: &str, subject: Option<&str>) -> Option<ID> {
    let subject = subject?;
    match kind {
        "member_added" | "member_removed" => subject.parse::<PersonId>().ok().map(id_of),
        "task_created" | "task_changed" | "comment_added" => {
            subject.parse::<TaskId>().ok().map(id_of)
        }
        _ => None,
    }
}

#[Object]
impl ActivityQuery {
    /// What happened in the groups the viewer may see, newest first. Employees see
    /// the company's groups and their extranet groups (marked `extranet`); extranet
    /// users see their own groups; guests have no stream.
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many, from 1 to 100; 20 if not given.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Connection<String, ActivityEntry>, ApiError> {
        let viewer = viewer(ctx)?;
        follower_caught_up(ctx, "activity").await?;
        let first = page::size(first)?;
        let before = page::after::<i64>(after.as_deref())?
            .map(|(tx, position)| LogPosition { tx, position });
        let rows = activity::stream_for(&state(ctx).db, viewer, before, first as i64 + 1).await?;
        Ok(page::connection(
            rows,
            first,
            after.is_some(),
            |e| page::cursor(e.position.tx, e.position.position),
            ActivityEntry::from,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_is_named_by_the_id_of_its_kind() {
        let task = TaskId::new_random();
        let person = PersonId::new_random();
        for kind in ["task_created", "task_changed", "comment_added"] {
            assert_eq!(subject_id(kind, Some(&task.to_string())), Some(id_of(task)));
        }
        for kind in ["member_added", "member_removed"] {
            assert_eq!(
                subject_id(kind, Some(&person.to_string())),
                Some(id_of(person))
            );
        }
        assert_eq!(subject_id("group_created", None), None);
    }
}
