use super::context::{auth, state, viewer};
use super::error::ApiError;
use super::global_id::parse_id;
use super::page;
use super::types::{Person, Task, Workgroup};
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Object, ID};
use domain::{PersonId, TaskId, WorkgroupId};
use projections::tasks::{self, TaskCursor};
use projections::{directory, workgroups};

#[derive(Default)]
pub struct TaskQuery;

// `task`, `workgroup`, `person` and `node` all answer through these three, so one
// thing is shown under one rule whichever way it is asked for.

/// The task, if the viewer may see it; "not found" if not, exactly as if it did not
/// exist.
pub(super) async fn visible_task(ctx: &Context<'_>, task: TaskId) -> Result<Task, ApiError> {
    let viewer = viewer(ctx)?;
    let state = state(ctx);
    if !state.permissions.may_see_task(viewer, task).await? {
        return Err(ApiError::NotFound);
    }
    let record = tasks::by_id(&state.db, viewer.account, task).await?;
    record.map(Task::from).ok_or(ApiError::NotFound)
}

/// The workgroup, under the rule of [`visible_task`].
pub(super) async fn visible_workgroup(
    ctx: &Context<'_>,
    group: WorkgroupId,
) -> Result<Workgroup, ApiError> {
    let viewer = viewer(ctx)?;
    let state = state(ctx);
    if !state.permissions.may_see_group(viewer, group).await? {
        return Err(ApiError::NotFound);
    }
    let record = workgroups::get(&state.db, viewer.account, group).await?;
    record.map(Workgroup::from).ok_or(ApiError::NotFound)
}

/// The person, under the rule of [`visible_task`].
pub(super) async fn visible_person(
    ctx: &Context<'_>,
    person: PersonId,
) -> Result<Person, ApiError> {
    let viewer = viewer(ctx)?;
    let state = state(ctx);
    if !state.permissions.may_see_person(viewer, person).await? {
        return Err(ApiError::NotFound);
    }
    let record = directory::by_id(&state.db, viewer.account, person).await?;
    record.map(Person::from).ok_or(ApiError::NotFound)
}

const DEFAULT_PAGE: i32 = 20;
const MAX_PAGE: i32 = 100;

#[Object]
impl TaskQuery {
    /// The person logged in, or null without a session.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Option<Person>, ApiError> {
        let Some(viewer) = auth(ctx).viewer.as_ref() else {
            return Ok(None);
        };
        let record = directory::by_id(&state(ctx).db, viewer.account, viewer.person).await?;
        Ok(record.map(Person::from))
    }

    /// One task. A task the viewer may not see is "not found", exactly like one that
    /// does not exist, and so is an id of anything but a task.
    async fn task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A task's id.")] id: ID,
    ) -> Result<Task, ApiError> {
        visible_task(ctx, parse_id(&id)?).await
    }

    /// One workgroup, under the same "not found" rule as `task`.
    async fn workgroup(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A workgroup's id.")] id: ID,
    ) -> Result<Workgroup, ApiError> {
        visible_workgroup(ctx, parse_id(&id)?).await
    }

    /// One person, under the same "not found" rule as `task`.
    async fn person(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A person's id.")] id: ID,
    ) -> Result<Person, ApiError> {
        visible_person(ctx, parse_id(&id)?).await
    }

    /// The tasks the viewer created or holds a role in, oldest first.
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn my_tasks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many, from 1 to 100; 20 if not given.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Connection<String, Task>, ApiError> {
        let viewer = viewer(ctx)?;
        let first = first.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&first) {
            return Err(ApiError::BadInput(format!(
                "first must be between 1 and {MAX_PAGE}"
            )));
        }
        let after = match after {
            Some(c) => Some(TaskCursor::decode(&c).ok_or_else(|| {
                ApiError::BadInput("after is not a cursor this API gave out".into())
            })?),
            None => None,
        };
        let mut page = tasks::of_person(
            &state(ctx).db,
            viewer.account,
            viewer.person,
            after.as_ref(),
            i64::from(first) + 1,
        )
        .await?;
        let has_next = page.len() > first as usize;
        page.truncate(first as usize);
        let mut connection = Connection::new(after.is_some(), has_next);
        connection.edges.extend(
            page.into_iter()
                .map(|t| Edge::new(t.cursor().encode(), Task::from(t))),
        );
        Ok(connection)
    }
}
