//! Relay's object identification: anything with an id can be fetched again by that id
//! alone, through `node(id:)`.

use super::error::ApiError;
use super::global_id::{GlobalId, Kind};
use super::query::{visible_person, visible_task, visible_workgroup};
use super::types::{Person, Task, Workgroup};
use async_graphql::{Context, Interface, Object, ID};
use domain::{PersonId, TaskId, WorkgroupId};

/// Something with an id that `node(id:)` fetches again.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "&ID", desc = "Stable and opaque."))]
pub enum Node {
    Task(Task),
    Person(Person),
    Workgroup(Workgroup),
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// The task, person or workgroup an id names, under the rule `task`, `person` and
    /// `workgroup` apply: "not found" for what the viewer may not see, exactly as for
    /// an id of nothing or a malformed one. Invitations, registrations and accounts are
    /// not fetched this way.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Any id the API gave out.")] id: ID,
    ) -> Result<Option<Node>, ApiError> {
        let Some(GlobalId { kind, uuid }) = GlobalId::decode(&id) else {
            return Err(ApiError::NotFound);
        };
        let node = match kind {
            Kind::Task => Node::Task(visible_task(ctx, TaskId(uuid)).await?),
            Kind::Person => Node::Person(visible_person(ctx, PersonId(uuid)).await?),
            Kind::Workgroup => Node::Workgroup(visible_workgroup(ctx, WorkgroupId(uuid)).await?),
            Kind::Account | Kind::Invitation | Kind::EmailClaim => return Err(ApiError::NotFound),
        };
        // Nullable, as Relay has it, so a refusal leaves the rest of the response whole.
        Ok(Some(node))
    }
}
