//! Adding a person directly: an administrator gives an employee's email address, name
//! and position, and the person is in, without an invitation to accept first.
//!
//! It is an invitation all the same (`Delivery::Direct`), issued like any other
//! (`invite_people`): the address must be admitted and free, and a place under the plan's
//! limit is taken. Without confirmation it is then accepted at once, on the
//! administrator's behalf, through the same acceptance and join as a followed link
//! (`joining`), with a password made from the invitation's nonce and the server key
//! (`SecretKey::initial_password`): only its argon2id hash is stored, with the join,
//! and the notifier makes it again for the person's email. With confirmation the person
//! gets a link and chooses their password on the acceptance page, and is listed as
//! invited until then.

use super::invite_people::{invite_one, target_of, Destination, InviteError, Invitee, Outcome};
use super::joining::{self, AcceptError, JoinError, Newcomer};
use super::Failure;
use crate::password;
use crate::state::AppState;
use domain::invitation::{Delivery, Invitation, InvitationCommand};
use domain::person::PersonKind;
use domain::{Address, AggregateKey, Email, InvitationId, PersonId, PersonName, Position};
use projections::permission::Viewer;
use projections::{accounts, invitations, StoreError};

/// Whom to add, and how.
#[derive(Debug, Clone)]
pub struct AddDirectly {
    /// Their login, and where they are emailed.
    pub email: Email,
    pub name: PersonName,
    pub position: Position,
    /// Whether they confirm by choosing their own password through a link, rather than
    /// being in at once with a generated one.
    pub confirm: bool,
    /// The company (optionally a department) or a workgroup they become a member of.
    pub destination: Destination,
}

/// How it went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// In at once: an active employee, emailed their password.
    Joined {
        invitation: InvitationId,
        person: PersonId,
    },
    /// Emailed a link; listed as invited until they choose their password.
    Invited {
        invitation: InvitationId,
        person: PersonId,
    },
}

/// Why nobody was added.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error("only administrators add people directly")]
    Forbidden,
    #[error("workgroup not found")]
    GroupNotFound,
    /// Refused as an invitation would be: `code` is `DOMAIN_NOT_ALLOWED`,
    /// `EMAIL_TAKEN`, `PLAN_LIMIT_REACHED`, `TRIAL_OVER`, ...
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    #[error("someone changed this person or invitation at the same moment; try again")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("adding a person failed: {0}")]
    Internal(String),
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl From<InviteError> for AddError {
    fn from(error: InviteError) -> Self {
        match error {
            InviteError::Forbidden => AddError::Forbidden,
            InviteError::GroupNotFound => AddError::GroupNotFound,
            InviteError::Store(e) => AddError::Store(e),
            other => AddError::Internal(other.to_string()),
        }
    }
}

pub async fn add_directly(
    state: &AppState,
    viewer: &Viewer,
    request: AddDirectly,
) -> Result<Added, AddError> {
    if !state.permissions.may_administer(viewer) {
        return Err(AddError::Forbidden);
    }
    let account = accounts::get(&state.db, viewer.account)
        .await?
        .ok_or(AddError::Forbidden)?;
    let target = target_of(
        state,
        viewer,
        &account,
        PersonKind::Employee,
        &request.destination,
    )
    .await?;
    let invitee = Invitee {
        raw: request.email.to_string(),
        address: Address::Email(request.email.clone()),
        name: Some(request.name.clone()),
        target,
        delivery: Delivery::Direct {
            position: request.position,
            confirm: request.confirm,
        },
    };
    let (invitation, person) = match invite_one(state, viewer, invitee).await? {
        Outcome::Invited {
            invitation, person, ..
        } => (invitation, person),
        Outcome::Refused { code, message, .. } => return Err(AddError::Refused { code, message }),
    };
    if request.confirm {
        tracing::info!(account = %viewer.account, %invitation, "person added directly; waiting for their confirmation");
        return Ok(Added::Invited { invitation, person });
    }

    match join_now(state, viewer, invitation, request.email, request.name).await {
        Ok(()) => {
            tracing::info!(account = %viewer.account, %invitation, %person, "person added directly");
            Ok(Added::Joined { invitation, person })
        }
        Err(error) => {
            // Not in: the invitation must not linger, waiting for a link nobody was
            // sent. Taking it back also gives its place under the plan's limit back.
            let key = AggregateKey::new(viewer.account, invitation.0);
            if let Err(e) = state
                .execute::<Invitation>(key, InvitationCommand::Revoke, Some(viewer.person))
                .await
            {
                tracing::warn!(error = %e, %invitation, "an invitation of a direct addition that failed was not taken back");
            }
            Err(error)
        }
    }
}

/// Accepts the new invitation on the administrator's behalf and lets the person in
/// with their initial password.
async fn join_now(
    state: &AppState,
    viewer: &Viewer,
    invitation: InvitationId,
    email: Email,
    name: PersonName,
) -> Result<(), AddError> {
    // The nonce the invitation was issued with; accepting spends it, so the password
    // made from it is the person's for good.
    let record = invitations::get(&state.db.any, viewer.account, invitation)
        .await?
        .ok_or_else(|| AddError::Internal(format!("invitation {invitation} was not recorded")))?;
    let secret = state.secrets.secret_for(invitation, &record.nonce);
    let initial = state.secrets.initial_password(invitation, &record.nonce);
    let hash = password::hash(initial)
        .await
        .map_err(|e| AddError::Internal(e.to_string()))?;
    let newcomer = Newcomer::invited(viewer.account, &record, email, name, hash);
    match joining::accept(state, newcomer, secret, Some(viewer.person)).await {
        Ok(()) => Ok(()),
        // Someone took the address since it was found free: a race lost to them.
        Err(AcceptError::EmailTaken) => Err(AddError::Refused {
            code: "EMAIL_TAKEN",
            message: format!(
                "{} already belongs to a person of this account",
                record.address
            ),
        }),
        // Resent or taken back by another administrator in the meantime.
        Err(AcceptError::Closed(_) | AcceptError::Join(JoinError::Failed(Failure::Busy))) => {
            Err(AddError::Busy)
        }
        Err(AcceptError::Join(e @ JoinError::AlreadyJoined)) => {
            Err(AddError::Internal(e.to_string()))
        }
        Err(AcceptError::Join(JoinError::Failed(failure))) => Err(AddError::Failed(failure)),
    }
}
