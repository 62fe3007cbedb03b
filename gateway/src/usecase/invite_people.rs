//! Inviting people into the company or a workgroup, one or many at once: the
//! application service behind the invite mutations, and the first step of adding
//! someone directly (`direct_add`).
//!
//! It checks what spans aggregates and read models (may the viewer invite here, is the
//! group an extranet group), then for each address on its own takes a place under the
//! plan's limit (the account decides whether its domain lists admit the address) and
//! issues the invitation. One bad address never loses the good ones: every address
//! gets its own outcome. A place taken for an invitation that was then not issued is
//! given back by the scheduler's sweeper (`projections::holds`).

use crate::state::AppState;
use domain::account::{Account, AccountCommand, AccountError};
use domain::address::parse_list;
use domain::invitation::{Delivery, Invitation, InvitationCommand, InvitationTarget};
use domain::person::PersonKind;
use domain::workgroup::{Workgroup, WorkgroupCommand, WorkgroupError};
use domain::{
    Address, AggregateKey, DepartmentId, InvitationId, PersonId, PersonName, WorkgroupId,
    WorkgroupName,
};
use projections::accounts::{self, AccountRecord};
use projections::commands::CommandError;
use projections::permission::Viewer;
use projections::{LogPosition, StoreError};

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

    let mut outcomes = Vec::with_capacity(entries.len());
    let mut newest = LogPosition::START;
    for (raw, parsed) in entries {
        let address = match parsed {
            Ok(address) => address,
            Err(e) => {
                outcomes.push(Outcome::Refused {
                    address: raw,
                    code: "INVALID_ADDRESS",
                    message: e.to_string(),
                });
                continue;
            }
        };
        let invitee = Invitee {
            raw,
            address,
            name: None,
            target,
            delivery: Delivery::Link,
        };
        let (outcome, at) = record_one(state, viewer, invitee).await?;
        newest = newest.max(at);
        outcomes.push(outcome);
    }
    // One wait for the whole list rather than two per address: each address was
    // decided on its aggregates, so nothing above read what the previous one wrote.
    shown(state, newest).await?;
    let invited = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Invited { .. }))
        .count();
    tracing::info!(account = %viewer.account, invited, refused = outcomes.len() - invited, "invitations sent");
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
/// not admit the address), and the invitation is issued. Should the flow stop between
/// the two, the sweeper gives the place back. A refusal is an outcome; only a failing
/// store is an error.
pub async fn invite_one(
    state: &AppState,
    viewer: &Viewer,
    invitee: Invitee,
) -> Result<Outcome, InviteError> {
    let (outcome, at) = record_one(state, viewer, invitee).await?;
    shown(state, at).await?;
    Ok(outcome)
}

/// Waits until the read models include `position`; a change recorded but not shown
/// fails the request, as it would have failed the command.
async fn shown(state: &AppState, position: LogPosition) -> Result<(), InviteError> {
    state
        .shown::<AccountError>(position)
        .await
        .map_err(|e| InviteError::EventStore(e.to_string()))
}

/// [`invite_one`] without waiting for the read models: the outcome, and the log
/// position to wait for before it may be shown.
async fn record_one(
    state: &AppState,
    viewer: &Viewer,
    invitee: Invitee,
) -> Result<(Outcome, LogPosition), InviteError> {
    let refused = |code: &'static str, message: String| Outcome::Refused {
        address: invitee.raw.clone(),
        code,
        message,
    };
    if let Address::Email(email) = &invitee.address {
        if state.holder_of(viewer.account, email).await?.is_some() {
            return Ok((
                refused(
                    "EMAIL_TAKEN",
                    format!("{email} already belongs to a person of this account"),
                ),
                LogPosition::START,
            ));
        }
    }
    let person = PersonId::new_random();
    let account_key = AggregateKey::account(viewer.account);
    let seat = AccountCommand::TakeSeat {
        person,
        external: invitee.target.person_kind().is_external(),
        email: match &invitee.address {
            Address::Email(email) => Some(email.clone()),
            Address::Phone(_) => None,
        },
    };
    let seated = match state
        .record::<Account>(account_key, seat, Some(viewer.person))
        .await
    {
        Ok(at) => at,
        Err(CommandError::Refused(e)) => {
            return Ok((refused(seat_refusal(&e), e.to_string()), LogPosition::START))
        }
        Err(e) => return Err(InviteError::EventStore(e.to_string())),
    };
    if let Err(stopped) = super::flow_step::between_steps("invite.after_seat").await {
        // What was recorded is shown before the failure is answered, as for any
        // command: the caller may read the seats next.
        shown(state, seated).await?;
        return Err(InviteError::EventStore(stopped.to_string()));
    }
    let invitation = InvitationId::new_random();
    let issue = InvitationCommand::Issue {
        invitation,
        person,
        address: invitee.address.clone(),
        name: invitee.name,
        target: invitee.target,
        sponsor: viewer.person,
        delivery: invitee.delivery,
    };
    let key = AggregateKey::new(viewer.account, invitation.0);
    match state
        .record::<Invitation>(key, issue, Some(viewer.person))
        .await
    {
        Ok(at) => Ok((
            Outcome::Invited {
                address: invitee.address.to_string(),
                invitation,
                person,
            },
            at.max(seated),
        )),
        // The place comes back through the sweeper.
        Err(e) => Ok((refused("NOT_INVITED", e.to_string()), seated)),
    }
}
