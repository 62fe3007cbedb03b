//! Inviting people into the company or a workgroup, one or many at once: the
//! application service behind the invite mutations, and the first step of adding
//! someone directly (`direct_add`).
//!
//! It checks what spans aggregates and read models (may the viewer invite here, is the
//! group an extranet group), then decides every address in one batch: each takes a
//! place under the plan's limit (the account decides whether its domain lists admit the
//! address) and gets its invitation, and the whole list is stored in one transaction
//! (`projections::batch`), so ten thousand addresses cost a few statements, not ten
//! thousand round trips (issue 14). One bad address never loses the good ones: every
//! address gets its own outcome. A place taken for an invitation the domain then
//! refused is given back by the scheduler's sweeper (`projections::holds`).

use crate::state::AppState;
use domain::account::{Account, AccountCommand, AccountError};
use domain::address::parse_list;
use domain::invitation::{Delivery, Invitation, InvitationCommand, InvitationTarget};
use domain::person::PersonKind;
use domain::workgroup::{Workgroup, WorkgroupCommand, WorkgroupError};
use domain::{
    Address, AggregateKey, DepartmentId, Email, InvitationId, PersonId, PersonName, WorkgroupId,
    WorkgroupName,
};
use projections::accounts::{self, AccountRecord};
use projections::batch::{AppendError, Batch, DecideError};
use projections::commands::CommandError;
use projections::commands::Retry;
use projections::permission::Viewer;
use projections::StoreError;
use std::collections::HashMap;

/// Where the invited people go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The company (employees only), optionally a department.
    Company { department: Option<DepartmentId> },
    /// An existing workgroup.
    Workgroup(WorkgroupId),
    /// A workgroup made for them; it takes external users, since that is why it
    /// exists.
    NewExtranetGroup { name: WorkgroupName },
}

#[derive(Debug, Clone)]
pub struct InviteMany {
    /// Addresses as pasted: separated by commas, semicolons, new lines or spaces.
    pub addresses: String,
    /// Employees or extranet users; guests are invited into tasks.
    pub kind: PersonKind,
    pub destination: Destination,
}

/// What happened to one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Invited {
        address: String,
        invitation: InvitationId,
        person: PersonId,
    },
    Refused {
        address: String,
        code: &'static str,
        message: String,
    },
}

/// Refusals of the request as a whole.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error("you may not invite people here")]
    Forbidden,
    #[error("workgroup not found")]
    GroupNotFound,
    #[error("guests are invited into a task, not into the company or a group")]
    GuestsOnlyInTasks,
    #[error(
        "extranet users are invited into an extranet workgroup: name one, or a new group to create"
    )]
    ExtranetNeedsGroup,
    #[error("this workgroup does not allow access for external users: turn that on, or invite into another group")]
    GroupNotExtranet,
    #[error("give at least one email address or phone number")]
    NoAddresses,
    #[error("the new workgroup could not be created: {0}")]
    NewGroup(WorkgroupError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the event store failed: {0}")]
    EventStore(String),
}

fn seat_refusal(error: &AccountError) -> &'static str {
    match error {
        AccountError::NoExtranetOnPlan => "NO_EXTRANET_ON_PLAN",
        AccountError::TrialOver => "TRIAL_OVER",
        AccountError::DomainNotAllowed(_) => "DOMAIN_NOT_ALLOWED",
        _ => "PLAN_LIMIT_REACHED",
    }
}

pub async fn invite_many(
    state: &AppState,
    viewer: &Viewer,
    request: InviteMany,
) -> Result<(Option<WorkgroupId>, Vec<Outcome>), InviteError> {
    let account = accounts::get(&state.db, viewer.account)
        .await?
        .ok_or(InviteError::Forbidden)?;
    if request.kind == PersonKind::Guest {
        return Err(InviteError::GuestsOnlyInTasks);
    }
    let entries = parse_list(&request.addresses);
    if entries.is_empty() {
        return Err(InviteError::NoAddresses);
    }

    let target = target_of(state, viewer, &account, request.kind, &request.destination).await?;
    let created_group = match (&request.destination, target) {
        (Destination::NewExtranetGroup { .. }, InvitationTarget::Workgroup { group, .. }) => {
            Some(group)
        }
        _ => None,
    };

    let invitees = entries
        .into_iter()
        .map(|(raw, parsed)| match parsed {
            Ok(address) => Ok(Invitee {
                raw,
                address,
                name: None,
                target,
                delivery: Delivery::Link,
            }),
            Err(e) => Err(Outcome::Refused {
                address: raw,
                code: "INVALID_ADDRESS",
                message: e.to_string(),
            }),
        })
        .collect();
    let outcomes = invite_all(state, viewer, invitees).await?;
    Ok((created_group, outcomes))
}

/// Where `destination` puts people of `kind`, if the viewer may invite them there;
/// creates the new extranet group a destination asks for.
pub async fn target_of(
    state: &AppState,
    viewer: &Viewer,
    account: &AccountRecord,
    kind: PersonKind,
    destination: &Destination,
) -> Result<InvitationTarget, InviteError> {
    let external = match kind {
        PersonKind::Guest => return Err(InviteError::GuestsOnlyInTasks),
        PersonKind::Extranet => true,
        PersonKind::Employee => false,
    };
    let target = match destination {
        Destination::Company { department } => {
            if external {
                return Err(InviteError::ExtranetNeedsGroup);
            }
            if !state
                .permissions
                .may_invite_into_account(viewer, &account.settings)
            {
                return Err(InviteError::Forbidden);
            }
            InvitationTarget::Company {
                department: *department,
            }
        }
        Destination::Workgroup(group) => {
            // The group's own aggregate says whether it takes external users: a read
            // model could still show external access that was just turned off.
            let key = AggregateKey::new(viewer.account, group.0);
            let workgroup = state.bus.load::<Workgroup>(key).await?;
            if !workgroup.exists() {
                return Err(InviteError::GroupNotFound);
            }
            if !state
                .permissions
                .may_invite_into_group(viewer, *group)
                .await?
            {
                return Err(InviteError::Forbidden);
            }
            if workgroup.admits(kind).is_err() {
                return Err(InviteError::GroupNotExtranet);
            }
            InvitationTarget::Workgroup {
                group: *group,
                kind,
            }
        }
        Destination::NewExtranetGroup { name } => {
            if !viewer.is_employee()
                || !state
                    .permissions
                    .may_invite_into_account(viewer, &account.settings)
            {
                return Err(InviteError::Forbidden);
            }
            let group = WorkgroupId::new_random();
            let create = WorkgroupCommand::Create {
                group,
                name: name.clone(),
                extranet: true,
                owner: viewer.person,
            };
            match state
                .execute::<Workgroup>(
                    AggregateKey::new(viewer.account, group.0),
                    create,
                    Some(viewer.person),
                )
                .await
            {
                Ok(()) => {}
                Err(CommandError::Refused(e)) => return Err(InviteError::NewGroup(e)),
                Err(e) => return Err(InviteError::EventStore(e.to_string())),
            }
            InvitationTarget::Workgroup { group, kind }
        }
    };
    Ok(target)
}

/// One person to invite, once the request as a whole has been judged.
#[derive(Debug, Clone)]
pub struct Invitee {
    /// The address as given, for the outcome.
    pub raw: String,
    pub address: Address,
    pub name: Option<PersonName>,
    pub target: InvitationTarget,
    pub delivery: Delivery,
}

/// Invites one person: nobody current in the account may have their address; then
/// they take a place under the plan's limit (refused if the account's domain lists do
/// not admit the address), and the invitation is issued, both in one append. A refusal
/// is an outcome; only a failing store is an error.
pub async fn invite_one(
    state: &AppState,
    viewer: &Viewer,
    invitee: Invitee,
) -> Result<Outcome, InviteError> {
    let mut outcomes = invite_all(state, viewer, vec![Ok(invitee)]).await?;
    outcomes
        .pop()
        .ok_or_else(|| InviteError::EventStore("no outcome for the one invitation".into()))
}

/// Invites everyone in `invitees` (an entry already refused keeps its outcome) as
/// one batch: every seat and every invitation is stored in one transaction, or none
/// is, so a crash midway leaves no seat without its invitation. Each address is
/// decided on the account's seats as the addresses before it left them, as if they
/// had been sent one by one; a batch that meets another writer's change is decided
/// again on fresh states. Returns once the read models show the result.
async fn invite_all(
    state: &AppState,
    viewer: &Viewer,
    invitees: Vec<Result<Invitee, Outcome>>,
) -> Result<Vec<Outcome>, InviteError> {
    let emails: Vec<Email> = invitees
        .iter()
        .filter_map(|invitee| match &invitee.as_ref().ok()?.address {
            Address::Email(email) => Some(email.clone()),
            Address::Phone(_) => None,
        })
        .collect();
    let started = std::time::Instant::now();
    let mut retry = Retry::new();
    loop {
        // Read again on every attempt: a conflict means something changed.
        let holders = state.holders_of(viewer.account, &emails).await?;
        let mut batch = state.batch(Some(viewer.person));
        let mut outcomes = Vec::with_capacity(invitees.len());
        for invitee in &invitees {
            let outcome = match invitee {
                Ok(invitee) => decide_one(&mut batch, viewer, invitee, &holders).await?,
                Err(refused) => refused.clone(),
            };
            outcomes.push(outcome);
        }
        let events = batch.len();
        match batch.commit().await {
            Ok(at) => {
                let stored = started.elapsed();
                state
                    .shown::<AccountError>(at)
                    .await
                    .map_err(|e| InviteError::EventStore(e.to_string()))?;
                let invited = outcomes
                    .iter()
                    .filter(|o| matches!(o, Outcome::Invited { .. }))
                    .count();
                tracing::info!(
                    account = %viewer.account,
                    invited,
                    refused = outcomes.len() - invited,
                    events,
                    stored_ms = stored.as_millis() as u64,
                    shown_ms = (started.elapsed() - stored).as_millis() as u64,
                    "invitations sent"
                );
                return Ok(outcomes);
            }
            Err(AppendError::Conflict) if retry.again().await => {
                tracing::info!(account = %viewer.account, events, "a list of invitations met another change of the account; deciding it again");
            }
            Err(e) => return Err(InviteError::EventStore(e.to_string())),
        }
    }
}

/// Decides one invitation into `batch`: its seat on the account, then the invitation.
async fn decide_one(
    batch: &mut Batch<'_>,
    viewer: &Viewer,
    invitee: &Invitee,
    holders: &HashMap<Email, PersonId>,
) -> Result<Outcome, InviteError> {
    let refused = |code: &'static str, message: String| Outcome::Refused {
        address: invitee.raw.clone(),
        code,
        message,
    };
    if let Address::Email(email) = &invitee.address {
        if holders.contains_key(email) {
            return Ok(refused(
                "EMAIL_TAKEN",
                format!("{email} already belongs to a person of this account"),
            ));
        }
    }
    let person = PersonId::new_random();
    let seat = AccountCommand::TakeSeat {
        person,
        external: invitee.target.person_kind().is_external(),
        email: match &invitee.address {
            Address::Email(email) => Some(email.clone()),
            Address::Phone(_) => None,
        },
    };
    match batch
        .decide::<Account>(AggregateKey::account(viewer.account), seat)
        .await
    {
        Ok(()) => {}
        Err(DecideError::Refused(e)) => return Ok(refused(seat_refusal(&e), e.to_string())),
        Err(DecideError::Store(e)) => return Err(e.into()),
    }
    let invitation = InvitationId::new_random();
    let issue = InvitationCommand::Issue {
        invitation,
        person,
        address: invitee.address.clone(),
        name: invitee.name.clone(),
        target: invitee.target,
        sponsor: viewer.person,
        delivery: invitee.delivery.clone(),
    };
    let key = AggregateKey::new(viewer.account, invitation.0);
    match batch.decide_new::<Invitation>(key, issue).await {
        Ok(()) => Ok(Outcome::Invited {
            address: invitee.address.to_string(),
            invitation,
            person,
        }),
        // The seat taken above is given back by the sweeper.
        Err(DecideError::Refused(e)) => Ok(refused("NOT_INVITED", e.to_string())),
        Err(DecideError::Store(e)) => Err(e.into()),
    }
}
