//! Letting a person in, once an invitation is accepted or a registration through the
//! account's link is approved: the one way a newcomer becomes a person of the account,
//! whichever door they came through. Accepting an invitation ([`accept`]) is the same
//! whether the person followed its link or an administrator added them directly.
//!
//! The steps are commands on several aggregates, run one after another. Joining is the
//! step that counts: until the person has joined, the whole is safe to run again (the
//! acceptance page does when the same link is used again, the approval mutation when
//! it is sent again); once they have, it does nothing more.

use super::{failure, refusal_of, Failure};
use crate::state::{AppState, Claim};
use domain::invitation::{
    Approval, Invitation, InvitationCommand, InvitationError, InvitationTarget,
};
use domain::person::{Person, PersonCommand, PersonError, PersonKind};
use domain::task::{Task, TaskCommand, TaskRole};
use domain::workgroup::{MemberRole, Workgroup, WorkgroupCommand};
use domain::{
    AccountId, AggregateKey, Email, InvitationId, PersonId, PersonName, TaskId, WorkgroupId,
};
use projections::invitations::{InvitationRecord, Registration};

/// Everything a join needs to know about the newcomer.
#[derive(Debug, Clone)]
pub struct Newcomer {
    pub account: AccountId,
    pub person: PersonId,
    pub kind: PersonKind,
    pub email: Email,
    pub name: PersonName,
    /// argon2id, never a password.
    pub password_hash: String,
    /// The invitation or registration they came in through.
    pub invitation: InvitationId,
    /// Who let them in: the inviter, the approving administrator, or nobody for a
    /// registration that needed no approval.
    pub sponsor: Option<PersonId>,
    /// The group a workgroup invitation makes them a member of.
    pub workgroup: Option<WorkgroupId>,
    /// The task and role of a guest's invitation.
    pub task: Option<(TaskId, TaskRole)>,
}

impl Newcomer {
    /// Someone accepting `invitation` with the name and password they chose.
    pub fn invited(
        account: AccountId,
        invitation: &InvitationRecord,
        email: Email,
        name: PersonName,
        password_hash: String,
    ) -> Self {
        Self {
            account,
            person: invitation.person,
            kind: invitation.kind,
            email,
            name,
            password_hash,
            invitation: invitation.id,
            sponsor: invitation.sponsor,
            workgroup: invitation.workgroup,
            task: invitation.task,
        }
    }

    /// Someone whose registration through the account's link was let in, by
    /// `approved_by` or at once. Registration makes employees, as in the company's own
    /// directory: extranet users and guests come in through an invitation naming where.
    pub fn registered(
        account: AccountId,
        invitation: InvitationId,
        registration: Registration,
        approved_by: Option<PersonId>,
    ) -> Self {
        let target = InvitationTarget::Company { department: None };
        Self {
            account,
            person: registration.person,
            kind: target.person_kind(),
            email: registration.email,
            name: registration.name,
            password_hash: registration.password_hash,
            invitation,
            sponsor: match registration.approval {
                Approval::Required => approved_by,
                Approval::BypassedByDomain { .. } | Approval::NotRequired => None,
            },
            workgroup: None,
            task: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// They are in already: the link or approval was used before.
    #[error("this person has already joined")]
    AlreadyJoined,
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// Why an invitation was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// Someone current in the account has the invitation's address.
    #[error("someone in this account already has this address")]
    EmailTaken,
    /// The invitation cannot be used: its link is wrong, or it was withdrawn or ran out.
    #[error(transparent)]
    Closed(InvitationError),
    #[error(transparent)]
    Join(#[from] JoinError),
}

/// Accepts the invitation the newcomer came through with `secret`, its link's secret,
/// and lets them in. Their address becomes theirs before anything else happens: if
/// someone current already has it, the invitation stays unused.
///
/// Safe to run again with the same secret until the person has joined: an invitation
/// accepted before, whose join was cut short, is joined now.
pub async fn accept(
    state: &AppState,
    newcomer: Newcomer,
    secret: String,
    actor: Option<PersonId>,
) -> Result<(), AcceptError> {
    let (account, person) = (newcomer.account, newcomer.person);
    match state
        .claim_email(account, &newcomer.email, person, actor)
        .await
    {
        Ok(Claim::Theirs) => {}
        Ok(Claim::TakenByOther) => return Err(AcceptError::EmailTaken),
        Err(e) => return Err(JoinError::Failed(failure(e)).into()),
    }
    // Should the flow stop here, the sweeper gives the address back.
    if let Err(stopped) = super::flow_step::between_steps("joining.after_claim").await {
        return Err(JoinError::Failed(Failure::Internal(stopped.to_string())).into());
    }
    let key = AggregateKey::new(account, newcomer.invitation.0);
    let accept = InvitationCommand::Accept { secret };
    if let Err(e) = state.execute::<Invitation>(key, accept, actor).await {
        match refusal_of(e).map_err(JoinError::Failed)? {
            // Already accepted with the right secret: a join cut short by a crash may
            // still be owed, and Join tells which.
            InvitationError::AlreadyAccepted => {}
            closed => return Err(AcceptError::Closed(closed)),
        }
    }
    Ok(join(state, newcomer, actor).await?)
}

/// Makes the newcomer a person of the account, then a member of their group and the
/// holder of their role in a task, if the invitation named one. `actor` is who is
/// recorded as doing it: the newcomer on an acceptance, the administrator on an
/// approval.
pub async fn join(
    state: &AppState,
    newcomer: Newcomer,
    actor: Option<PersonId>,
) -> Result<(), JoinError> {
    let account = newcomer.account;
    let person = newcomer.person;
    let join = PersonCommand::Join {
        person,
        kind: newcomer.kind,
        email: newcomer.email,
        name: newcomer.name,
        administrator: false,
        password_hash: newcomer.password_hash,
        invitation: Some(newcomer.invitation),
        sponsor: newcomer.sponsor,
        previous: None,
    };
    let joined = state
        .execute::<Person>(AggregateKey::new(account, person.0), join, actor)
        .await;
    if let Err(e) = joined {
        return Err(match refusal_of(e)? {
            // Nothing more: repeating the steps below now could undo what was done
            // since (a removal from the group, a role taken away).
            PersonError::AlreadyJoined => JoinError::AlreadyJoined,
            other => JoinError::Failed(Failure::Internal(other.to_string())),
        });
    }

    // A workgroup invitation makes them a member. Refused if the group stopped taking
    // external users since: they are in the account, and an owner can add them later.
    if let Some(group) = newcomer.workgroup {
        let add = WorkgroupCommand::AddMember {
            person,
            role: MemberRole::Member,
            kind: newcomer.kind,
            expires_at: None,
        };
        if let Err(e) = state
            .execute::<Workgroup>(AggregateKey::new(account, group.0), add, actor)
            .await
        {
            tracing::warn!(error = %e, %group, "a new member could not join the group they were invited into");
        }
    }

    // Idempotent: repairs an invitation whose role assignment was cut short.
    if let Some((task, role)) = newcomer.task {
        let assign = TaskCommand::Assign { person, role };
        if let Err(e) = state
            .execute::<Task>(AggregateKey::new(account, task.0), assign, actor)
            .await
        {
            tracing::warn!(error = %e, %task, "role of a new guest could not be assigned");
        }
    }
    tracing::info!(%account, %person, invitation = %newcomer.invitation, "joined");
    Ok(())
}
