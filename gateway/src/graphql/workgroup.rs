//! Workgroups and their members: creating a group, renaming it, turning external
//! access on or off, who may invite, and adding, changing and removing members.

use super::context::{state, viewer};
use super::error::ApiError;
use super::global_id::parse_id;
use super::page;
use super::refusal::{forbidden, refusal, Refusal};
use super::types::{time, Person, Task, UserError, Workgroup};
use crate::usecase::command;
use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use domain::workgroup::{
    InvitePolicy as DomainInvitePolicy, MemberRole as DomainMemberRole,
    Workgroup as WorkgroupAggregate, WorkgroupCommand,
};
use domain::{AggregateKey, PersonId, TaskId, Timestamp, WorkgroupId, WorkgroupName};
use projections::tasks::{self, TaskCursor};
use projections::{directory, workgroups};

#[derive(Default)]
pub struct WorkgroupMutation;

/// A member's role in a group.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum MemberRole {
    /// Runs the group; a group always has one. Employees only.
    Owner,
    /// Helps run the group: may manage its members.
    Moderator,
    /// Works in the group.
    Member,
}

impl From<MemberRole> for DomainMemberRole {
    fn from(role: MemberRole) -> Self {
        match role {
            MemberRole::Owner => DomainMemberRole::Owner,
            MemberRole::Moderator => DomainMemberRole::Moderator,
            MemberRole::Member => DomainMemberRole::Member,
        }
    }
}

/// Who among the members may invite others into the group.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum InvitePolicy {
    /// Only the owner.
    Owner,
    /// The owner and the moderators.
    Moderators,
    /// Every member.
    Members,
}

impl From<InvitePolicy> for DomainInvitePolicy {
    fn from(policy: InvitePolicy) -> Self {
        match policy {
            InvitePolicy::Owner => DomainInvitePolicy::Owner,
            InvitePolicy::Moderators => DomainInvitePolicy::Moderators,
            InvitePolicy::Members => DomainInvitePolicy::Members,
        }
    }
}

/// A new workgroup; its creator becomes its owner.
#[derive(InputObject)]
pub struct CreateWorkgroupInput {
    /// One line of 1 to 200 characters, without control or invisible formatting
    /// characters (see docs/domain.md, "Text").
    pub name: String,
    /// Whether external users (extranet users) may be members: an extranet group.
    pub extranet: bool,
}

/// A new name for a group.
#[derive(InputObject)]
pub struct RenameWorkgroupInput {
    /// The group.
    pub workgroup_id: ID,
    /// One line of 1 to 200 characters, without control or invisible formatting
    /// characters (see docs/domain.md, "Text").
    pub name: String,
}

/// Turns "allow access for external users" on or off.
#[derive(InputObject)]
pub struct SetExternalAccessInput {
    /// The group.
    pub workgroup_id: ID,
    /// Off is refused while external members are inside: remove them first.
    pub extranet: bool,
}

/// Who may invite into the group.
#[derive(InputObject)]
pub struct SetInvitePolicyInput {
    /// The group.
    pub workgroup_id: ID,
    /// Who may invite.
    pub policy: InvitePolicy,
}

/// A person to add to a group.
#[derive(InputObject)]
pub struct AddMemberInput {
    /// The group.
    pub workgroup_id: ID,
    /// An employee, or an extranet user for an extranet group. Guests work in tasks
    /// only.
    pub person_id: ID,
    /// The role they hold from now on.
    pub role: MemberRole,
    /// When the membership ends by itself; null for never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A member whose role changes.
#[derive(InputObject)]
pub struct ChangeMemberRoleInput {
    /// The group.
    pub workgroup_id: ID,
    /// The person.
    pub person_id: ID,
    /// The role they hold from now on.
    pub role: MemberRole,
}

/// When a membership ends.
#[derive(InputObject)]
pub struct SetMembershipExpiryInput {
    /// The group.
    pub workgroup_id: ID,
    /// The person.
    pub person_id: ID,
    /// Null: the membership does not end by itself.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A member to take out of a group.
#[derive(InputObject)]
pub struct RemoveMemberInput {
    /// The group.
    pub workgroup_id: ID,
    /// The person.
    pub person_id: ID,
}

/// The outcome of a change to a group.
#[derive(SimpleObject)]
pub struct WorkgroupPayload {
    /// The group as it is now; null when refused.
    pub workgroup: Option<Workgroup>,
    /// Why the change was refused; empty on success.
    pub user_errors: Vec<UserError>,
}

impl WorkgroupPayload {
    fn refused(error: UserError) -> Self {
        Self {
            workgroup: None,
            user_errors: vec![error],
        }
    }
}

fn millis(at: Option<DateTime<Utc>>) -> Option<Timestamp> {
    at.map(|t| Timestamp(t.timestamp_millis()))
}

#[Object]
impl WorkgroupMutation {
    /// Creates a workgroup owned by the viewer. Employees only.
    async fn create_workgroup(
        &self,
        ctx: &Context<'_>,
        input: CreateWorkgroupInput,
    ) -> Result<WorkgroupPayload, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        if !state.permissions.may_create_group(viewer) {
            return Ok(WorkgroupPayload::refused(forbidden(
                "only employees can create workgroups",
            )));
        }
        let name = match WorkgroupName::parse(&input.name) {
            Ok(name) => name,
            Err(e) => return Ok(WorkgroupPayload::refused(e.user_error())),
        };
        let group = WorkgroupId::new_random();
        let create = WorkgroupCommand::Create {
            group,
            name,
            extranet: input.extranet,
            owner: viewer.person,
        };
        let key = AggregateKey::new(viewer.account, group.0);
        if let Err(e) =
            command::run::<WorkgroupAggregate>(state, key, create, Some(viewer.person)).await
        {
            return Ok(WorkgroupPayload::refused(refusal(e)?));
        }
        tracing::info!(account = %viewer.account, %group, "workgroup created");
        answer(ctx, group).await
    }

    /// Renames a group.
    async fn rename_workgroup(
        &self,
        ctx: &Context<'_>,
        input: RenameWorkgroupInput,
    ) -> Result<WorkgroupPayload, ApiError> {
        let name = match WorkgroupName::parse(&input.name) {
            Ok(name) => name,
            Err(e) => return Ok(WorkgroupPayload::refused(e.user_error())),
        };
        let command = WorkgroupCommand::Rename { name };
        manage(ctx, &input.workgroup_id, command).await
    }

    /// Turns "allow access for external users" on or off.
    async fn set_external_access(
        &self,
        ctx: &Context<'_>,
        input: SetExternalAccessInput,
    ) -> Result<WorkgroupPayload, ApiError> {
        let command = WorkgroupCommand::SetExternalAccess {
            extranet: input.extranet,
        };
        manage(ctx, &input.workgroup_id, command).await
    }

    /// Sets who may invite into the group.
    async fn set_invite_policy(
        &self,
        ctx: &Context<'_>,
        input: SetInvitePolicyInput,
    ) -> Result<WorkgroupPayload, ApiError> {
        let command = WorkgroupCommand::SetInvitePolicy {
            policy: input.policy.into(),
        };
        manage(ctx, &input.workgroup_id, command).await
    }

    /// Adds a person of the account to the group.
    async fn add_workgroup_member(
        &self,
        ctx: &Context<'_>,
        input: AddMemberInput,
    ) -> Result<WorkgroupPayload, ApiError> {
        let (role, expires_at) = (input.role.into(), millis(input.expires_at));
        manage_member(ctx, &input.workgroup_id, &input.person_id, |p| {
            WorkgroupCommand::AddMember {
                person: p.id,
                role,
                kind: p.kind,
                expires_at,
            }
        })
        .await
    }

    /// Changes a member's role.
    async fn change_member_role(
        &self,
        ctx: &Context<'_>,
        input: ChangeMemberRoleInput,
    ) -> Result<WorkgroupPayload, ApiError> {
        let role = input.role.into();
        manage_member(ctx, &input.workgroup_id, &input.person_id, |p| {
            WorkgroupCommand::ChangeRole { person: p.id, role }
        })
        .await
    }

    /// Sets, moves or removes when a membership ends.
    async fn set_membership_expiry(
        &self,
        ctx: &Context<'_>,
        input: SetMembershipExpiryInput,
    ) -> Result<WorkgroupPayload, ApiError> {
        let expires_at = millis(input.expires_at);
        manage_member(ctx, &input.workgroup_id, &input.person_id, |p| {
            WorkgroupCommand::SetMembershipExpiry {
                person: p.id,
                expires_at,
            }
        })
        .await
    }

    /// Takes a member out of the group: from their next request on, they no longer
    /// see it, its tasks, or its members through it.
    async fn remove_workgroup_member(
        &self,
        ctx: &Context<'_>,
        input: RemoveMemberInput,
    ) -> Result<WorkgroupPayload, ApiError> {
        manage_member(ctx, &input.workgroup_id, &input.person_id, |p| {
            WorkgroupCommand::RemoveMember { person: p.id }
        })
        .await
    }
}

/// Runs a command on a group the viewer may manage.
async fn manage(
    ctx: &Context<'_>,
    group_id: &ID,
    command: WorkgroupCommand,
) -> Result<WorkgroupPayload, ApiError> {
    let group: WorkgroupId = parse_id(group_id)?;
    if let Some(refused) = refuse_unless_manager(ctx, group).await? {
        return Ok(refused);
    }
    run(ctx, group, command).await
}

/// Runs a command about one person on a group the viewer may manage; the person must
/// be one of the account the viewer may see.
async fn manage_member(
    ctx: &Context<'_>,
    group_id: &ID,
    person_id: &ID,
    command: impl FnOnce(&directory::PersonRecord) -> WorkgroupCommand,
) -> Result<WorkgroupPayload, ApiError> {
    let viewer = viewer(ctx)?;
    let state = state(ctx);
    let group: WorkgroupId = parse_id(group_id)?;
    let person: PersonId = parse_id(person_id)?;
    if !state.permissions.may_see_person(viewer, person).await? {
        return Err(ApiError::NotFound);
    }
    let Some(record) = directory::by_id(&state.db, viewer.account, person).await? else {
        return Err(ApiError::NotFound);
    };
    if let Some(refused) = refuse_unless_manager(ctx, group).await? {
        return Ok(refused);
    }
    run(ctx, group, command(&record)).await
}

/// "Not found" for a group the viewer may not see; a refusal for one they may see
/// but not manage.
async fn refuse_unless_manager(
    ctx: &Context<'_>,
    group: WorkgroupId,
) -> Result<Option<WorkgroupPayload>, ApiError> {
    let viewer = viewer(ctx)?;
    let permissions = &state(ctx).permissions;
    if !permissions.may_see_group(viewer, group).await? {
        return Err(ApiError::NotFound);
    }
    if !permissions.may_manage_group(viewer, group).await? {
        return Ok(Some(WorkgroupPayload::refused(forbidden(
            "only an administrator or the group's owner or moderators can change it",
        ))));
    }
    Ok(None)
}

async fn run(
    ctx: &Context<'_>,
    group: WorkgroupId,
    change: WorkgroupCommand,
) -> Result<WorkgroupPayload, ApiError> {
    let viewer = viewer(ctx)?;
    let key = AggregateKey::new(viewer.account, group.0);
    if let Err(e) =
        command::run::<WorkgroupAggregate>(state(ctx), key, change, Some(viewer.person)).await
    {
        return Ok(WorkgroupPayload::refused(refusal(e)?));
    }
    answer(ctx, group).await
}

/// The group as it is after a successful change.
async fn answer(ctx: &Context<'_>, group: WorkgroupId) -> Result<WorkgroupPayload, ApiError> {
    let viewer = viewer(ctx)?;
    let record = workgroups::get(&state(ctx).db, viewer.account, group).await?;
    Ok(WorkgroupPayload {
        workgroup: record.map(Workgroup::from),
        user_errors: Vec::new(),
    })
}

#[derive(Default)]
pub struct WorkgroupQuery;

#[Object]
impl WorkgroupQuery {
    /// The workgroups the viewer may see, oldest first: for employees the company's
    /// groups and the extranet groups they belong to; for extranet users their own
    /// groups; none for guests.
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn workgroups(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many, from 1 to 100; 20 if not given.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Connection<String, Workgroup>, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let first = page::size(first)?;
        let from = page::after::<WorkgroupId>(after.as_deref())?;
        // Guests see no group and extranet users only theirs: read just those.
        let candidates = state.permissions.group_candidates(viewer).await?;
        let candidates = &candidates;
        let rows = page::visible(
            first,
            from,
            |after, n| {
                Box::pin(async move {
                    Ok(
                        workgroups::page_of(&state.db, viewer.account, candidates, after, n)
                            .await?,
                    )
                })
            },
            |g: &workgroups::WorkgroupRecord| {
                let group = g.id;
                Box::pin(async move { Ok(state.permissions.may_see_group(viewer, group).await?) })
            },
            |g| (g.created_at, g.id),
        )
        .await?;
        Ok(page::connection(
            rows,
            first,
            after.is_some(),
            |g| page::cursor(g.created_at, g.id),
            Workgroup::from,
        ))
    }
}

/// A member of a group.
#[derive(SimpleObject)]
pub struct Membership {
    /// Who.
    pub person: Person,
    /// Their role in the group.
    pub role: MemberRole,
    /// When the membership ends by itself; null when it does not.
    pub expires_at: Option<DateTime<Utc>>,
}

#[ComplexObject]
impl Workgroup {
    /// The group's members, by id. Shown to whoever may see the group.
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many, from 1 to 100; 20 if not given.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Connection<String, Membership>, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let group = self.group;
        let first = page::size(first)?;
        let from = page::after::<PersonId>(after.as_deref())?.map(|(_, id)| id);
        let rows =
            workgroups::members(&state.db, viewer.account, group, from, first as i64 + 1).await?;
        let mut members = Vec::with_capacity(rows.len());
        for m in rows {
            if let Some(record) = directory::by_id(&state.db, viewer.account, m.person).await? {
                members.push((
                    m.person,
                    Membership {
                        person: Person::from(record),
                        role: m.role.into(),
                        expires_at: m.expires_at.and_then(time),
                    },
                ));
            }
        }
        Ok(page::connection(
            members,
            first,
            after.is_some(),
            // The store's id, not the API's: cursors are read back by `page::after`.
            |(person, _)| page::cursor(0, person),
            |(_, membership)| membership,
        ))
    }

    /// The group's tasks, oldest first.
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many, from 1 to 100; 20 if not given.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Connection<String, Task>, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let group = self.group;
        let first = page::size(first)?;
        let from = page::after::<TaskId>(after.as_deref())?
            .map(|(at, id)| TaskCursor { created_at: at, id });
        let rows = tasks::of_group(
            &state.db,
            viewer.account,
            group,
            from.as_ref(),
            first as i64 + 1,
        )
        .await?;
        Ok(page::connection(
            rows,
            first,
            after.is_some(),
            |t| t.cursor().encode(),
            Task::from,
        ))
    }
}

impl From<DomainMemberRole> for MemberRole {
    fn from(role: DomainMemberRole) -> Self {
        match role {
            DomainMemberRole::Owner => MemberRole::Owner,
            DomainMemberRole::Moderator => MemberRole::Moderator,
            DomainMemberRole::Member => MemberRole::Member,
        }
    }
}
