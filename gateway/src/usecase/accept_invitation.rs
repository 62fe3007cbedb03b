//! Accepting an invitation through its emailed link: the newcomer chooses their name
//! and password, is let in (`joining`) and gets a session.

use super::joining::{self, AcceptError, JoinError, Newcomer};
use super::Failure;
use crate::password;
use crate::state::AppState;
use domain::invitation::InvitationError;
use domain::{AccountId, Email, PersonName};
use projections::directory;
use projections::invitations::InvitationRecord;

/// An acceptance, once the door has checked the link and the form.
#[derive(Debug, Clone)]
pub struct AcceptInvitation {
    pub account: AccountId,
    /// The pending invitation the link names.
    pub invitation: InvitationRecord,
    /// The link's secret.
    pub secret: String,
    pub name: PersonName,
    pub password: String,
}

/// They are in, with a session.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub session_token: String,
    pub first_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AcceptInvitationError {
    /// The link is wrong, or the invitation is one this page cannot accept (by phone).
    #[error(transparent)]
    Invalid(InvitationError),
    #[error("this invitation has expired")]
    Expired,
    #[error("this invitation was already accepted")]
    Used,
    /// Declined, revoked or rejected.
    #[error("this invitation is no longer valid")]
    Withdrawn,
    /// Someone current in the account already has the invitation's address.
    #[error("someone in this account already has this address")]
    EmailTaken,
    #[error(transparent)]
    Failed(#[from] Failure),
}

pub async fn accept_invitation(
    state: &AppState,
    request: AcceptInvitation,
) -> Result<Accepted, AcceptInvitationError> {
    let AcceptInvitation {
        account,
        invitation,
        secret,
        name,
        password,
    } = request;
    // Invitations by phone are not accepted through the link yet: it would have to ask
    // for an email address to log in with.
    let email = Email::parse(&invitation.address)
        .map_err(|_| AcceptInvitationError::Invalid(InvitationError::InvalidLink))?;
    let hash = password::hash(password)
        .await
        .map_err(|e| Failure::Internal(e.to_string()))?;
    let person = invitation.person;
    let newcomer = Newcomer::invited(account, &invitation, email, name, hash);
    match joining::accept(state, newcomer, secret, Some(person)).await {
        Ok(()) => {}
        Err(AcceptError::EmailTaken) => return Err(AcceptInvitationError::EmailTaken),
        Err(AcceptError::Closed(InvitationError::Expired)) => {
            return Err(AcceptInvitationError::Expired)
        }
        Err(AcceptError::Closed(
            InvitationError::Declined | InvitationError::Revoked | InvitationError::Rejected,
        )) => return Err(AcceptInvitationError::Withdrawn),
        Err(AcceptError::Closed(other)) => return Err(AcceptInvitationError::Invalid(other)),
        Err(AcceptError::Join(JoinError::AlreadyJoined)) => {
            return Err(AcceptInvitationError::Used)
        }
        Err(AcceptError::Join(JoinError::Failed(failure))) => return Err(failure.into()),
    }
    let session_token = state
        .sessions
        .open(account, person, state.clock.now())
        .await
        .map_err(Failure::from)?;
    let first_name = directory::by_id(&state.db, account, person)
        .await
        .map_err(Failure::from)?
        .map(|p| p.first_name)
        .unwrap_or_default();
    tracing::info!(%account, %person, invitation = %invitation.id, "invitation accepted");
    Ok(Accepted {
        session_token,
        first_name,
    })
}
