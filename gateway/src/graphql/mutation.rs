use super::context::{parse_id, state, viewer};
use super::error::ApiError;
use super::refusal::{forbidden, refusal, Refusal};
use super::types::{Invitation, InvitationStatus, Task, TaskRole, TaskStatus, UserError};
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use domain::account::{Account, AccountCommand};
use domain::invitation::{
    Delivery, Invitation as InvitationAggregate, InvitationCommand, InvitationTarget,
};
use domain::task::{Task as TaskAggregate, TaskCommand};
use domain::{Address, AggregateKey, Email, InvitationId, PersonId, PersonName, TaskId};
use projections::{accounts, directory, tasks};

#[derive(Default)]
pub struct TaskMutation;

/// A new task.
#[derive(InputObject)]
pub struct CreateTaskInput {
    /// 1 to 250 characters.
    pub title: String,
    /// What is to be done; up to 20,000 characters.
    pub description: Option<String>,
}

/// The outcome of creating a task.
#[derive(SimpleObject)]
pub struct CreateTaskPayload {
    /// The new task; null when refused.
    pub task: Option<Task>,
    /// Why the task was not created; empty on success.
    pub user_errors: Vec<UserError>,
}

/// Invite someone from outside the company into one task, by email.
#[derive(InputObject)]
pub struct InviteGuestToTaskInput {
    /// The task to invite into.
    pub task_id: ID,
    /// Where the invitation is sent; it becomes the guest's login.
    pub email: String,
    /// The guest's first name, as the inviter knows it; the guest can correct it.
    pub first_name: String,
    /// The guest's last name.
    pub last_name: String,
    /// The role the guest will hold in the task.
    pub role: TaskRole,
}

/// The outcome of inviting a guest.
#[derive(SimpleObject)]
pub struct InviteGuestToTaskPayload {
    /// The invitation sent; null when refused.
    pub invitation: Option<Invitation>,
    /// Why no invitation was sent; empty on success.
    pub user_errors: Vec<UserError>,
}

/// Change a task. Fields left out stay as they are.
#[derive(InputObject)]
pub struct UpdateTaskInput {
    /// The task to change.
    pub task_id: ID,
    /// A new title, 1 to 250 characters.
    pub title: Option<String>,
    /// A new status.
    pub status: Option<TaskStatus>,
}

/// The outcome of changing a task.
#[derive(SimpleObject)]
pub struct UpdateTaskPayload {
    /// The task as it is now; null when refused.
    pub task: Option<Task>,
    /// Why the change was refused; empty on success.
    pub user_errors: Vec<UserError>,
}

#[Object]
impl TaskMutation {
    /// Creates a task; its creator is the viewer.
    async fn create_task(
        &self,
        ctx: &Context<'_>,
        input: CreateTaskInput,
    ) -> Result<CreateTaskPayload, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let fail = |e: UserError| CreateTaskPayload {
            task: None,
            user_errors: vec![e],
        };
        if !state.permissions.may_create_task(viewer) {
            return Ok(fail(forbidden("only employees can create tasks here")));
        }
        let task = TaskId::new_random();
        let command = TaskCommand::Create {
            task,
            title: input.title,
            description: input.description.unwrap_or_default(),
            creator: viewer.person,
            workgroup: None,
            deadline: None,
        };
        let key = AggregateKey::new(viewer.account, task.0);
        if let Err(e) = state
            .execute::<TaskAggregate>(key, command, Some(viewer.person))
            .await
        {
            return Ok(fail(refusal(e)?));
        }
        let record = tasks::get(&state.db.any, viewer.account, task).await?;
        Ok(CreateTaskPayload {
            task: record.map(Task::from),
            user_errors: Vec::new(),
        })
    }

    /// Invites a guest into a task: they are emailed the task and a link to join.
    async fn invite_guest_to_task(
        &self,
        ctx: &Context<'_>,
        input: InviteGuestToTaskInput,
    ) -> Result<InviteGuestToTaskPayload, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let fail = |e: UserError| InviteGuestToTaskPayload {
            invitation: None,
            user_errors: vec![e],
        };
        let task: TaskId = parse_id(&input.task_id)?;
        if !state.permissions.may_see_task(viewer, task).await? {
            return Err(ApiError::NotFound);
        }
        if !state
            .permissions
            .may_invite_guest_to_task(viewer, task)
            .await?
        {
            return Ok(fail(forbidden(
                "only an administrator, the task's creator or its responsible person can invite guests to it",
            )));
        }
        let email = match Email::parse(&input.email) {
            Ok(email) => email,
            Err(e) => return Ok(fail(e.user_error())),
        };
        let name = match PersonName::parse(&input.first_name, &input.last_name) {
            Ok(name) => name,
            Err(e) => return Ok(fail(e.user_error())),
        };
        if directory::by_email(&state.db, viewer.account, &email)
            .await?
            .is_some()
        {
            return Ok(fail(UserError::new(
                &["input", "email"],
                format!("{email} already belongs to a person of this account"),
                "EMAIL_TAKEN",
            )));
        }
        let Some(account) = accounts::get(&state.db, viewer.account).await? else {
            return Err(ApiError::NotFound);
        };
        if let Err(refusal) = account.settings.admits(&email) {
            return Ok(fail(UserError::new(
                &["input", "email"],
                refusal,
                "DOMAIN_NOT_ALLOWED",
            )));
        }
        let invitation = InvitationId::new_random();
        let person = PersonId::new_random();
        // The invited person takes a place under the plan's limit from now on; the
        // place is given back if the invitation cannot be issued.
        let seat = AccountCommand::TakeSeat {
            person,
            external: true,
        };
        let account_key = AggregateKey::account(viewer.account);
        if let Err(e) = state
            .execute::<Account>(account_key, seat, Some(viewer.person))
            .await
        {
            return Ok(fail(refusal(e)?));
        }
        let role = input.role.into();
        let issue = InvitationCommand::Issue {
            invitation,
            person,
            address: Address::Email(email.clone()),
            name: Some(name),
            target: InvitationTarget::Task { task, role },
            sponsor: viewer.person,
            delivery: Delivery::Link,
        };
        let key = AggregateKey::new(viewer.account, invitation.0);
        if let Err(e) = state
            .execute::<InvitationAggregate>(key, issue, Some(viewer.person))
            .await
        {
            let release = AccountCommand::ReleaseSeat { person };
            if let Err(error) = state
                .execute::<Account>(account_key, release, Some(viewer.person))
                .await
            {
                tracing::warn!(%error, %person, "a seat taken for an invitation that failed was not given back");
            }
            return Ok(fail(refusal(e)?));
        }
        // Should this fail, or the process stop here, accepting the invitation
        // assigns the role again (the command is idempotent).
        let assign = TaskCommand::Assign { person, role };
        let key = AggregateKey::new(viewer.account, task.0);
        if let Err(e) = state
            .execute::<TaskAggregate>(key, assign, Some(viewer.person))
            .await
        {
            return Ok(fail(refusal(e)?));
        }
        tracing::info!(account = %viewer.account, %task, %invitation, "guest invited to task");
        Ok(InviteGuestToTaskPayload {
            invitation: Some(Invitation {
                id: ID(invitation.to_string()),
                person_id: ID(person.to_string()),
                email: email.to_string(),
                status: InvitationStatus::Pending,
            }),
            user_errors: Vec::new(),
        })
    }

    /// Renames a task or changes its status. Everyone on the task but the viewer is
    /// emailed about the change.
    async fn update_task(
        &self,
        ctx: &Context<'_>,
        input: UpdateTaskInput,
    ) -> Result<UpdateTaskPayload, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let fail = |e: UserError| UpdateTaskPayload {
            task: None,
            user_errors: vec![e],
        };
        let task: TaskId = parse_id(&input.task_id)?;
        if !state.permissions.may_see_task(viewer, task).await? {
            return Err(ApiError::NotFound);
        }
        if !state.permissions.may_change_task(viewer, task).await? {
            return Ok(fail(forbidden(
                "only an administrator, the task's creator or its responsible person can change it",
            )));
        }
        let key = AggregateKey::new(viewer.account, task.0);
        let mut commands = Vec::new();
        if let Some(title) = input.title {
            commands.push(TaskCommand::Rename { title });
        }
        if let Some(status) = input.status {
            commands.push(TaskCommand::ChangeStatus {
                status: status.into(),
            });
        }
        for command in commands {
            if let Err(e) = state
                .execute::<TaskAggregate>(key, command, Some(viewer.person))
                .await
            {
                return Ok(fail(refusal(e)?));
            }
        }
        let record = tasks::get(&state.db.any, viewer.account, task).await?;
        Ok(UpdateTaskPayload {
            task: record.map(Task::from),
            user_errors: Vec::new(),
        })
    }
}
