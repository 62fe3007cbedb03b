use super::context::{state, viewer};
use super::error::ApiError;
use super::global_id::{id_of, parse_id};
use super::refusal::{forbidden, refusal, Refusal};
use super::types::{
    Invitation, InvitationStatus, PersonKind, Task, TaskRole, TaskStatus, UserError,
};
use async_graphql::{Context, InputObject, MaybeUndefined, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use domain::account::{Account, AccountCommand};
use domain::invitation::{
    Delivery, Invitation as InvitationAggregate, InvitationCommand, InvitationTarget,
};
use domain::task::{Task as TaskAggregate, TaskCommand};
use domain::{
    Address, AggregateKey, CommentId, CommentText, Email, InvitationId, PersonId, PersonName,
    TaskDescription, TaskId, TaskTitle, Timestamp, WorkgroupId,
};
use projections::{accounts, directory, tasks};

#[derive(Default)]
pub struct TaskMutation;

/// A new task.
#[derive(InputObject)]
pub struct CreateTaskInput {
    /// One line of 1 to 250 characters, without control or invisible formatting
    /// characters (see docs/domain.md, "Text").
    pub title: String,
    /// What is to be done: up to 20,000 characters. Line breaks and tabs are kept;
    /// other control characters are refused.
    pub description: Option<String>,
    /// The workgroup the task belongs to; everyone who may see the group sees it.
    pub workgroup_id: Option<ID>,
    /// When it is due.
    pub deadline: Option<DateTime<Utc>>,
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
    /// One line of 1 to 100 characters, without control or invisible formatting
    /// characters (see docs/domain.md, "Text").
    pub first_name: String,
    /// The guest's last name, under the same rules as the first.
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
    /// A new title. One line of 1 to 250 characters, without control or invisible formatting
    /// characters (see docs/domain.md, "Text").
    pub title: Option<String>,
    /// A new status.
    pub status: Option<TaskStatus>,
    /// A new description: up to 20,000 characters. Line breaks and tabs are kept;
    /// other control characters are refused.
    pub description: Option<String>,
    /// A new deadline; null removes it, leaving it out keeps it.
    pub deadline: MaybeUndefined<DateTime<Utc>>,
}

/// Gives a person of the account a role in a task.
#[derive(InputObject)]
pub struct AssignToTaskInput {
    /// The task.
    pub task_id: ID,
    /// The person; they must be someone the viewer may see.
    pub person_id: ID,
    /// Their role from now on.
    pub role: TaskRole,
}

/// Takes a person's role in a task away.
#[derive(InputObject)]
pub struct UnassignFromTaskInput {
    /// The task.
    pub task_id: ID,
    /// The person.
    pub person_id: ID,
}

/// A comment on a task.
#[derive(InputObject)]
pub struct CommentOnTaskInput {
    /// The task.
    pub task_id: ID,
    /// 1 to 10,000 characters. Line breaks and tabs are kept; other control
    /// characters are refused.
    pub text: String,
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
        let title = match TaskTitle::parse(&input.title) {
            Ok(title) => title,
            Err(e) => return Ok(fail(e.user_error())),
        };
        let description =
            match TaskDescription::parse(input.description.as_deref().unwrap_or_default()) {
                Ok(description) => description,
                Err(e) => return Ok(fail(e.user_error())),
            };
        let workgroup = match &input.workgroup_id {
            Some(id) => {
                let group: WorkgroupId = parse_id(id)?;
                if !state.permissions.may_see_group(viewer, group).await? {
                    return Err(ApiError::NotFound);
                }
                Some(group)
            }
            None => None,
        };
        let task = TaskId::new_random();
        let command = TaskCommand::Create {
            task,
            title,
            description,
            creator: viewer.person,
            workgroup,
            deadline: input.deadline.map(|t| Timestamp(t.timestamp_millis())),
        };
        let key = AggregateKey::new(viewer.account, task.0);
        if let Err(e) = state
            .execute::<TaskAggregate>(key, command, Some(viewer.person))
            .await
        {
            return Ok(fail(refusal(e)?));
        }
        let record = tasks::by_id(&state.db, viewer.account, task).await?;
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
        if accounts::get(&state.db, viewer.account).await?.is_none() {
            return Err(ApiError::NotFound);
        }
        let invitation = InvitationId::new_random();
        let person = PersonId::new_random();
        // The invited person takes a place under the plan's limit from now on (the
        // account's domain lists must admit the address); should the invitation not
        // be issued, the sweeper gives the place back.
        let seat = AccountCommand::TakeSeat {
            person,
            external: true,
            email: Some(email.clone()),
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
                id: id_of(invitation),
                person_id: id_of(person),
                email: email.to_string(),
                status: InvitationStatus::Pending,
                kind: Some(PersonKind::Guest),
                issued_at: None,
                expires_at: None,
                position: None,
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
        // Every text is parsed before any change is made, so a refused description
        // does not leave the title changed.
        let title = match input.title.as_deref().map(TaskTitle::parse).transpose() {
            Ok(title) => title,
            Err(e) => return Ok(fail(e.user_error())),
        };
        let description = match input
            .description
            .as_deref()
            .map(TaskDescription::parse)
            .transpose()
        {
            Ok(description) => description,
            Err(e) => return Ok(fail(e.user_error())),
        };
        let key = AggregateKey::new(viewer.account, task.0);
        let mut commands = Vec::new();
        if let Some(title) = title {
            commands.push(TaskCommand::Rename { title });
        }
        if let Some(status) = input.status {
            commands.push(TaskCommand::ChangeStatus {
                status: status.into(),
            });
        }
        if let Some(description) = description {
            commands.push(TaskCommand::ChangeDescription { description });
        }
        match input.deadline {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => commands.push(TaskCommand::SetDeadline { deadline: None }),
            MaybeUndefined::Value(at) => commands.push(TaskCommand::SetDeadline {
                deadline: Some(Timestamp(at.timestamp_millis())),
            }),
        }
        for command in commands {
            if let Err(e) = state
                .execute::<TaskAggregate>(key, command, Some(viewer.person))
                .await
            {
                return Ok(fail(refusal(e)?));
            }
        }
        let record = tasks::by_id(&state.db, viewer.account, task).await?;
        Ok(UpdateTaskPayload {
            task: record.map(Task::from),
            user_errors: Vec::new(),
        })
    }

    /// Gives a person a role in a task (an existing guest too: they then see it).
    /// Those who may change the task.
    async fn assign_to_task(
        &self,
        ctx: &Context<'_>,
        input: AssignToTaskInput,
    ) -> Result<UpdateTaskPayload, ApiError> {
        let role = input.role.into();
        change_roles(ctx, &input.task_id, &input.person_id, |person| {
            TaskCommand::Assign { person, role }
        })
        .await
    }

    /// Takes a person's role in a task away: from their next request on, they no
    /// longer see it unless another rule lets them.
    async fn unassign_from_task(
        &self,
        ctx: &Context<'_>,
        input: UnassignFromTaskInput,
    ) -> Result<UpdateTaskPayload, ApiError> {
        change_roles(ctx, &input.task_id, &input.person_id, |person| {
            TaskCommand::Unassign { person }
        })
        .await
    }

    /// Comments on a task. Everyone who may see the task, guests included; everyone
    /// else on the task is emailed.
    async fn comment_on_task(
        &self,
        ctx: &Context<'_>,
        input: CommentOnTaskInput,
    ) -> Result<UpdateTaskPayload, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let task: TaskId = parse_id(&input.task_id)?;
        if !state.permissions.may_comment_task(viewer, task).await? {
            return Err(ApiError::NotFound);
        }
        let text = match CommentText::parse(&input.text) {
            Ok(text) => text,
            Err(e) => {
                return Ok(UpdateTaskPayload {
                    task: None,
                    user_errors: vec![e.user_error()],
                })
            }
        };
        let command = TaskCommand::Comment {
            comment: CommentId::new_random(),
            author: viewer.person,
            text,
        };
        run_on_task(ctx, task, command).await
    }
}

/// Assigning and unassigning: the task must be one the viewer may change, the person
/// one they may see.
async fn change_roles(
    ctx: &Context<'_>,
    task_id: &ID,
    person_id: &ID,
    command: impl FnOnce(PersonId) -> TaskCommand,
) -> Result<UpdateTaskPayload, ApiError> {
    let viewer = viewer(ctx)?;
    let state = state(ctx);
    let task: TaskId = parse_id(task_id)?;
    let person: PersonId = parse_id(person_id)?;
    if !state.permissions.may_see_task(viewer, task).await?
        || !state.permissions.may_see_person(viewer, person).await?
    {
        return Err(ApiError::NotFound);
    }
    if !state.permissions.may_change_task(viewer, task).await? {
        return Ok(UpdateTaskPayload {
            task: None,
            user_errors: vec![forbidden(
                "only an administrator, the task's creator or its responsible person can change who works on it",
            )],
        });
    }
    run_on_task(ctx, task, command(person)).await
}

async fn run_on_task(
    ctx: &Context<'_>,
    task: TaskId,
    command: TaskCommand,
) -> Result<UpdateTaskPayload, ApiError> {
    let viewer = viewer(ctx)?;
    let state = state(ctx);
    let key = AggregateKey::new(viewer.account, task.0);
    if let Err(e) = state
        .execute::<TaskAggregate>(key, command, Some(viewer.person))
        .await
    {
        return Ok(UpdateTaskPayload {
            task: None,
            user_errors: vec![refusal(e)?],
        });
    }
    let record = tasks::by_id(&state.db, viewer.account, task).await?;
    Ok(UpdateTaskPayload {
        task: record.map(Task::from),
        user_errors: Vec::new(),
    })
}
