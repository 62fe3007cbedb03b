use super::{Delivery, InvitationCommand, InvitationError, InvitationEvent, InvitationTarget};
use crate::person::PersonKind;
use crate::services::DomainServices;
use crate::{Address, InvitationId, PersonId, Timestamp};
use serde::{Deserialize, Serialize};

/// How long a link stays valid after it is sent.
pub const VALID_DAYS: i64 = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationState {
    /// Nothing issued yet.
    #[default]
    None,
    Pending,
    AwaitingApproval,
    Accepted,
    Declined,
    Revoked,
    Expired,
    Rejected,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Invitation {
    id: Option<InvitationId>,
    person: Option<PersonId>,
    #[serde(default)]
    state: InvitationState,
    nonce: String,
    expires_at: Option<Timestamp>,
}

impl Invitation {
    pub fn state(&self) -> InvitationState {
        self.state
    }

    /// Why the invitation cannot be used now, if it cannot.
    fn closed(&self) -> Option<InvitationError> {
        match self.state {
            InvitationState::None => Some(InvitationError::InvalidLink),
            InvitationState::Pending => None,
            InvitationState::Accepted => Some(InvitationError::AlreadyAccepted),
            InvitationState::Declined => Some(InvitationError::Declined),
            InvitationState::Revoked => Some(InvitationError::Revoked),
            InvitationState::Expired => Some(InvitationError::Expired),
            InvitationState::Rejected => Some(InvitationError::Rejected),
            InvitationState::AwaitingApproval => Some(InvitationError::InvalidLink),
        }
    }

    /// The presented secret is checked before anything else: without it, nothing
    /// about the invitation's state is revealed.
    fn check_link(&self, services: &DomainServices, secret: &str) -> Result<(), InvitationError> {
        let Some(id) = self.id else {
            return Err(InvitationError::InvalidLink);
        };
        if self.state == InvitationState::AwaitingApproval
            || !services.secrets.verify(id, &self.nonce, secret)
        {
            return Err(InvitationError::InvalidLink);
        }
        if let Some(closed) = self.closed() {
            return Err(closed);
        }
        if self.expires_at.is_some_and(|at| services.clock.now() >= at) {
            return Err(InvitationError::Expired);
        }
        Ok(())
    }

    fn decide(
        &self,
        command: InvitationCommand,
        services: &DomainServices,
    ) -> Result<Vec<InvitationEvent>, InvitationError> {
        let now = services.clock.now();
        let event = match command {
            InvitationCommand::Issue {
                invitation,
                person,
                address,
                name,
                target,
                sponsor,
                delivery,
            } => {
                if self.state != InvitationState::None {
                    return Err(InvitationError::AlreadyIssued);
                }
                let guest = target.person_kind() == PersonKind::Guest;
                if guest && !matches!(target, InvitationTarget::Task { .. }) {
                    return Err(InvitationError::GuestsOnlyInTasks);
                }
                if guest && !matches!(address, Address::Email(_)) {
                    return Err(InvitationError::GuestNeedsEmail);
                }
                let direct = matches!(delivery, Delivery::Direct { .. });
                if direct && target.person_kind() != PersonKind::Employee {
                    return Err(InvitationError::DirectOnlyForEmployees);
                }
                if direct && !matches!(address, Address::Email(_)) {
                    return Err(InvitationError::DirectNeedsEmail);
                }
                if (guest || direct) && name.is_none() {
                    return Err(InvitationError::NameRequired);
                }
                InvitationEvent::InvitationIssued {
                    invitation,
                    person,
                    address,
                    name,
                    target,
                    sponsor,
                    nonce: services.nonces.nonce(),
                    expires_at: now.plus_days(VALID_DAYS),
                    delivery,
                }
            }
            InvitationCommand::Resend => {
                if let Some(closed) = self.closed() {
                    // An expired invitation may be sent again; that is what the
                    // "expired" page asks the person to request.
                    if closed != InvitationError::Expired {
                        return Err(closed);
                    }
                }
                InvitationEvent::InvitationResent {
                    nonce: services.nonces.nonce(),
                    expires_at: now.plus_days(VALID_DAYS),
                }
            }
            InvitationCommand::Accept { secret } => {
                self.check_link(services, &secret)?;
                InvitationEvent::InvitationAccepted {
                    person: self.person.ok_or(InvitationError::InvalidLink)?,
                    accepted_at: now,
                }
            }
            InvitationCommand::Decline { secret } => {
                self.check_link(services, &secret)?;
                InvitationEvent::InvitationDeclined
            }
            InvitationCommand::Revoke => {
                if self.state != InvitationState::AwaitingApproval {
                    if let Some(closed) = self.closed() {
                        return Err(closed);
                    }
                }
                InvitationEvent::InvitationRevoked
            }
            InvitationCommand::Expire => {
                if let Some(closed) = self.closed() {
                    return Err(closed);
                }
                if self.expires_at.is_some_and(|at| now < at) {
                    return Err(InvitationError::NotYetExpired);
                }
                InvitationEvent::InvitationExpired
            }
            InvitationCommand::Register {
                invitation,
                person,
                email,
                name,
                password_hash,
                approval,
            } => {
                if self.state != InvitationState::None {
                    return Err(InvitationError::AlreadyIssued);
                }
                let needs_approval = approval == super::Approval::Required;
                let requested = InvitationEvent::RegistrationRequested {
                    invitation,
                    person,
                    email,
                    name,
                    password_hash,
                    approval,
                };
                if needs_approval {
                    requested
                } else {
                    return Ok(vec![
                        requested,
                        InvitationEvent::RegistrationApproved { by: None },
                    ]);
                }
            }
            InvitationCommand::Approve { by } => {
                if self.state != InvitationState::AwaitingApproval {
                    return Err(InvitationError::NotAwaitingApproval);
                }
                InvitationEvent::RegistrationApproved { by: Some(by) }
            }
            InvitationCommand::Reject { by } => {
                if self.state != InvitationState::AwaitingApproval {
                    return Err(InvitationError::NotAwaitingApproval);
                }
                InvitationEvent::RegistrationRejected { by }
            }
        };
        Ok(vec![event])
    }
}

crate::aggregate!(
    Invitation,
    "invitation",
    InvitationCommand,
    InvitationEvent,
    InvitationError
);

impl Invitation {
    fn evolve(&mut self, event: InvitationEvent) {
        match event {
            InvitationEvent::InvitationIssued {
                invitation,
                person,
                nonce,
                expires_at,
                ..
            } => {
                self.id = Some(invitation);
                self.person = Some(person);
                self.nonce = nonce;
                self.expires_at = Some(expires_at);
                self.state = InvitationState::Pending;
            }
            InvitationEvent::InvitationResent { nonce, expires_at } => {
                self.nonce = nonce;
                self.expires_at = Some(expires_at);
                self.state = InvitationState::Pending;
            }
            InvitationEvent::InvitationAccepted { .. } => self.state = InvitationState::Accepted,
            InvitationEvent::InvitationDeclined => self.state = InvitationState::Declined,
            InvitationEvent::InvitationRevoked => self.state = InvitationState::Revoked,
            InvitationEvent::InvitationExpired => self.state = InvitationState::Expired,
            InvitationEvent::RegistrationRequested {
                invitation, person, ..
            } => {
                self.id = Some(invitation);
                self.person = Some(person);
                self.state = InvitationState::AwaitingApproval;
            }
            InvitationEvent::RegistrationApproved { .. } => self.state = InvitationState::Accepted,
            InvitationEvent::RegistrationRejected { .. } => self.state = InvitationState::Rejected,
        }
    }
}
