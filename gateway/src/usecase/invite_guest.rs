//! Inviting someone from outside the company into one task: they take a place under
//! the plan's limit, are sent an invitation naming the task, and hold their role in
//! it from now on (so the task's people see who is coming).

use super::{refusal_of, Failure};
use crate::state::AppState;
use domain::account::{Account, AccountCommand, AccountError};
use domain::invitation::{
    Delivery, Invitation, InvitationCommand, InvitationError, InvitationTarget,
};
use domain::task::{Task, TaskCommand, TaskError, TaskRole};
use domain::{Address, AggregateKey, Email, InvitationId, PersonId, PersonName, TaskId};
use projections::permission::Viewer;

#[derive(Debug, Clone)]
pub struct InviteGuest {
    pub task: TaskId,
    pub email: Email,
    pub name: PersonName,
    pub role: TaskRole,
}

/// The invitation sent, and the person it will make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestInvited {
    pub invitation: InvitationId,
    pub person: PersonId,
}

#[derive(Debug, thiserror::Error)]
pub enum InviteGuestError {
    /// The task does not exist, or the viewer may not see it: the same answer.
    #[error("task not found")]
    NotFound,
    #[error("only an administrator, the task's creator or its responsible person can invite guests to it")]
    Forbidden,
    #[error("{0} already belongs to a person of this account")]
    EmailTaken(Email),
    #[error("{0}")]
    DomainNotAllowed(String),
    /// No place under the plan's limit.
    #[error(transparent)]
    Seat(AccountError),
    #[error(transparent)]
    Invitation(InvitationError),
    #[error(transparent)]
    Task(TaskError),
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl From<projections::StoreError> for InviteGuestError {
    fn from(error: projections::StoreError) -> Self {
        InviteGuestError::Failed(error.into())
    }
}

pub async fn invite_guest(
    state: &AppState,
    viewer: &Viewer,
    request: InviteGuest,
) -> Result<GuestInvited, InviteGuestError> {
    let InviteGuest {
        task,
        email,
        name,
        role,
    } = request;
    if !state.permissions.may_see_task(viewer, task).await? {
        return Err(InviteGuestError::NotFound);
    }
    if !state
        .permissions
        .may_invite_guest_to_task(viewer, task)
        .await?
    {
        return Err(InviteGuestError::Forbidden);
    }
    if state.holder_of(viewer.account, &email).await?.is_some() {
        return Err(InviteGuestError::EmailTaken(email));
    }
    let actor = Some(viewer.person);
    let invitation = InvitationId::new_random();
    let person = PersonId::new_random();
    // The invited person takes a place under the plan's limit from now on, if the
    // account's domain lists admit the address; should the invitation not be issued,
    // the sweeper gives the place back (`projections/src/holds.rs`).
    let seat = AccountCommand::TakeSeat {
        person,
        external: true,
        email: Some(email.clone()),
    };
    let account_key = AggregateKey::account(viewer.account);
    if let Err(e) = state.execute::<Account>(account_key, seat, actor).await {
        return Err(match refusal_of(e)? {
            AccountError::DomainNotAllowed(refusal) => {
                InviteGuestError::DomainNotAllowed(refusal.to_string())
            }
            other => InviteGuestError::Seat(other),
        });
    }
    if let Err(stopped) = super::flow_step::between_steps("invite_guest.after_seat").await {
        return Err(Failure::Internal(stopped.to_string()).into());
    }
    let issue = InvitationCommand::Issue {
        invitation,
        person,
        address: Address::Email(email),
        name: Some(name),
        target: InvitationTarget::Task { task, role },
        sponsor: viewer.person,
        delivery: Delivery::Link,
    };
    let key = AggregateKey::new(viewer.account, invitation.0);
    if let Err(e) = state.execute::<Invitation>(key, issue, actor).await {
        return Err(InviteGuestError::Invitation(refusal_of(e)?));
    }
    // Should this fail, or the process stop here, accepting the invitation assigns
    // the role again (the command is idempotent).
    let assign = TaskCommand::Assign { person, role };
    let key = AggregateKey::new(viewer.account, task.0);
    if let Err(e) = state.execute::<Task>(key, assign, actor).await {
        return Err(InviteGuestError::Task(refusal_of(e)?));
    }
    tracing::info!(account = %viewer.account, %task, %invitation, "guest invited to task");
    Ok(GuestInvited { invitation, person })
}
