use super::context::{auth, parse_id, state, viewer};
use super::error::ApiError;
use super::page;
use super::types::{Person, Task, Workgroup};
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Object, ID};
use projections::tasks::{self, TaskCursor};
use projections::{directory, workgroups};

#[derive(Default)]
pub struct TaskQuery;

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
    /// does not exist.
    async fn task(&self, ctx: &Context<'_>, id: ID) -> Result<Task, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let task = parse_id(&id)?;
        if !state.permissions.may_see_task(viewer, task).await? {
            return Err(ApiError::NotFound);
        }
        let record = tasks::by_id(&state.db, viewer.account, task).await?;
        record.map(Task::from).ok_or(ApiError::NotFound)
    }

    /// One workgroup, under the same "not found" rule as `task`.
    async fn workgroup(&self, ctx: &Context<'_>, id: ID) -> Result<Workgroup, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let group = parse_id(&id)?;
        if !state.permissions.may_see_group(viewer, group).await? {
            return Err(ApiError::NotFound);
        }
        let record = workgroups::get(&state.db, viewer.account, group).await?;
        record.map(Workgroup::from).ok_or(ApiError::NotFound)
    }

    /// One person, under the same "not found" rule as `task`.
    async fn person(&self, ctx: &Context<'_>, id: ID) -> Result<Person, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let person = parse_id(&id)?;
        if !state.permissions.may_see_person(viewer, person).await? {
            return Err(ApiError::NotFound);
        }
        let record = directory::by_id(&state.db, viewer.account, person).await?;
        record.map(Person::from).ok_or(ApiError::NotFound)
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
