//! An administrator's decision on a registration through the link that waits for
//! approval: approving lets the person in (`joining`) as an employee with the password
//! they chose; rejecting turns them down, and the reactor gives their address and
//! place under the plan's limit back. Approving again an approved registration
//! finishes a join that was cut short.

use super::joining::{self, JoinError, Newcomer};
use super::{refusal_of, Failure};
use crate::state::AppState;
use domain::invitation::{Invitation, InvitationCommand, InvitationError, InvitationState};
use domain::{AggregateKey, InvitationId, PersonId};
use projections::permission::Viewer;
use projections::{invitations, EventLog};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

#[derive(Debug, Clone, Copy)]
pub struct DecideRegistration {
    pub invitation: InvitationId,
    pub decision: Decision,
}

/// Decided; on an approval, the person who joined.
#[derive(Debug, Clone, Copy)]
pub struct Decided {
    pub joined: Option<PersonId>,
}

#[derive(Debug, thiserror::Error)]
pub enum DecideRegistrationError {
    #[error("only administrators approve or reject registrations")]
    Forbidden,
    /// No registration by this id in the viewer's account (an invitation by email is
    /// accepted, not approved).
    #[error("registration not found")]
    NotFound,
    #[error(transparent)]
    Refused(InvitationError),
    #[error(transparent)]
    Failed(#[from] Failure),
}

pub async fn decide_registration(
    state: &AppState,
    viewer: &Viewer,
    request: DecideRegistration,
) -> Result<Decided, DecideRegistrationError> {
    if !viewer.administrator {
        return Err(DecideRegistrationError::Forbidden);
    }
    let DecideRegistration {
        invitation: id,
        decision,
    } = request;
    let account = viewer.account;
    let actor = Some(viewer.person);
    let log = EventLog::new(state.db.clone());
    let Some(registration) = invitations::registration(&log, account, id)
        .await
        .map_err(Failure::from)?
    else {
        return Err(DecideRegistrationError::NotFound);
    };
    let key = AggregateKey::new(account, id.0);
    let command = match decision {
        Decision::Approve => InvitationCommand::Approve { by: viewer.person },
        Decision::Reject => InvitationCommand::Reject { by: viewer.person },
    };
    if let Err(e) = state.execute::<Invitation>(key, command, actor).await {
        match refusal_of(e)? {
            // Approved before: the join below tells whether it was finished.
            InvitationError::NotAwaitingApproval if decision == Decision::Approve => {
                let approved = state
                    .bus
                    .load::<Invitation>(key)
                    .await
                    .map_err(Failure::from)?
                    .state()
                    == InvitationState::Accepted;
                if !approved {
                    return Err(DecideRegistrationError::Refused(
                        InvitationError::NotAwaitingApproval,
                    ));
                }
            }
            refused => return Err(DecideRegistrationError::Refused(refused)),
        }
    }
    let mut joined = None;
    if decision == Decision::Approve {
        let person = registration.person;
        let newcomer = Newcomer::registered(account, id, registration, actor);
        match joining::join(state, newcomer, actor).await {
            Ok(()) | Err(JoinError::AlreadyJoined) => {}
            Err(JoinError::Failed(failure)) => {
                tracing::error!(error = %failure, invitation = %id, "an approved registration did not join");
                return Err(failure.into());
            }
        }
        joined = Some(person);
    }
    tracing::info!(%account, invitation = %id, ?decision, "registration decided");
    Ok(Decided { joined })
}
