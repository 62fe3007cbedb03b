use super::{PersonCommand, PersonError, PersonEvent, PersonKind, SuspensionReason};
use crate::services::DomainServices;
use crate::{Email, PersonId, Timestamp};
use serde::{Deserialize, Serialize};

/// Where a person stands. Only `Active` people can do anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonStatus {
    /// Not joined yet.
    #[default]
    None,
    Active,
    Suspended(SuspensionReason),
    Dismissed,
    Erased,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Person {
    id: Option<PersonId>,
    kind: Option<PersonKind>,
    email: Option<Email>,
    #[serde(default)]
    administrator: bool,
    #[serde(default)]
    status: PersonStatus,
    #[serde(default)]
    access_expires_at: Option<Timestamp>,
}

impl Person {
    pub fn status(&self) -> PersonStatus {
        self.status
    }

    fn kind(&self) -> PersonKind {
        self.kind.unwrap_or(PersonKind::Guest)
    }

    /// Refuses changes to someone who has left or whose data is gone.
    fn present(&self) -> Result<(), PersonError> {
        match self.status {
            PersonStatus::None => Err(PersonError::NotFound),
            PersonStatus::Dismissed => Err(PersonError::Dismissed),
            PersonStatus::Erased => Err(PersonError::Erased),
            PersonStatus::Active | PersonStatus::Suspended(_) => Ok(()),
        }
    }

    fn decide(
        &self,
        command: PersonCommand,
        services: &DomainServices,
    ) -> Result<Option<PersonEvent>, PersonError> {
        if let PersonCommand::Join {
            person,
            kind,
            email,
            name,
            administrator,
            password_hash,
            invitation,
            sponsor,
            previous,
        } = command
        {
            if self.status != PersonStatus::None {
                return Err(PersonError::AlreadyJoined);
            }
            if administrator && kind != PersonKind::Employee {
                return Err(PersonError::AdministratorMustBeEmployee);
            }
            return Ok(Some(PersonEvent::PersonJoined {
                person,
                kind,
                email,
                name,
                administrator,
                password_hash,
                invitation,
                sponsor,
                previous,
            }));
        }
        if command == PersonCommand::Reinstate {
            return match self.status {
                PersonStatus::Dismissed => Ok(Some(PersonEvent::PersonReinstated)),
                PersonStatus::None => Err(PersonError::NotFound),
                PersonStatus::Erased => Err(PersonError::Erased),
                _ => Err(PersonError::NotDismissed),
            };
        }
        if command == PersonCommand::ErasePersonalData {
            // Erasure comes after dismissal: dismissal is what ends their access and
            // frees their address, so erasing never strands a claim or a session.
            return match self.status {
                PersonStatus::None => Err(PersonError::NotFound),
                PersonStatus::Erased => Ok(None),
                PersonStatus::Dismissed => Ok(Some(PersonEvent::PersonalDataErased)),
                PersonStatus::Active | PersonStatus::Suspended(_) => {
                    Err(PersonError::EraseNeedsDismissal)
                }
            };
        }
        self.present()?;
        Ok(match command {
            PersonCommand::Join { .. }
            | PersonCommand::Reinstate
            | PersonCommand::ErasePersonalData => None,
            PersonCommand::ChangeProfile { name } => Some(PersonEvent::ProfileChanged { name }),
            PersonCommand::ChangeEmail { email } => {
                let from = self.email.clone().ok_or(PersonError::NotFound)?;
                if from == email {
                    return Err(PersonError::SameEmail);
                }
                Some(PersonEvent::EmailChanged { from, to: email })
            }
            PersonCommand::ChangePassword { password_hash } => {
                Some(PersonEvent::PasswordChanged { password_hash })
            }
            PersonCommand::TransferToEmployee => {
                let from = self.kind();
                if from == PersonKind::Employee {
                    return Err(PersonError::AlreadyEmployee);
                }
                Some(PersonEvent::TransferredToEmployee { from })
            }
            PersonCommand::ConvertToExtranet => {
                if self.kind() != PersonKind::Employee {
                    return Err(PersonError::NotAnEmployee);
                }
                if self.administrator {
                    return Err(PersonError::AdministratorCannotBeExternal);
                }
                Some(PersonEvent::ConvertedToExtranet)
            }
            PersonCommand::Dismiss => Some(PersonEvent::PersonDismissed),
            PersonCommand::Suspend { reason } => {
                if matches!(self.status, PersonStatus::Suspended(_)) {
                    return Err(PersonError::AlreadySuspended);
                }
                if reason != SuspensionReason::Administrative && !self.kind().is_external() {
                    return Err(PersonError::NotExternal);
                }
                Some(PersonEvent::PersonSuspended { reason })
            }
            PersonCommand::LiftSuspension { reason } => {
                if self.status != PersonStatus::Suspended(reason) {
                    return Err(PersonError::NotSuspendedFor(reason));
                }
                Some(PersonEvent::SuspensionLifted { reason })
            }
            PersonCommand::SetAccessExpiry { expires_at } => {
                if !self.kind().is_external() {
                    return Err(PersonError::NotExternal);
                }
                (expires_at != self.access_expires_at)
                    .then_some(PersonEvent::AccessExpirySet { expires_at })
            }
            PersonCommand::ExpireAccess => {
                let due = self
                    .access_expires_at
                    .is_some_and(|at| services.clock.now() >= at);
                if !due {
                    return Err(PersonError::AccessNotExpired);
                }
                if matches!(self.status, PersonStatus::Suspended(_)) {
                    return Err(PersonError::AlreadySuspended);
                }
                Some(PersonEvent::PersonSuspended {
                    reason: SuspensionReason::AccessExpired,
                })
            }
        })
    }
}

crate::aggregate!(Person, "person", PersonCommand, PersonEvent, PersonError);

impl Person {
    fn evolve(&mut self, event: PersonEvent) {
        match event {
            PersonEvent::PersonJoined {
                person,
                kind,
                email,
                administrator,
                ..
            } => {
                self.id = Some(person);
                self.kind = Some(kind);
                self.email = Some(email);
                self.administrator = administrator;
                self.status = PersonStatus::Active;
            }
            PersonEvent::ProfileChanged { .. } | PersonEvent::PasswordChanged { .. } => {}
            PersonEvent::EmailChanged { to, .. } => self.email = Some(to),
            PersonEvent::TransferredToEmployee { .. } => {
                self.kind = Some(PersonKind::Employee);
                self.access_expires_at = None;
            }
            PersonEvent::ConvertedToExtranet => self.kind = Some(PersonKind::Extranet),
            PersonEvent::PersonDismissed => self.status = PersonStatus::Dismissed,
            PersonEvent::PersonReinstated | PersonEvent::SuspensionLifted { .. } => {
                self.status = PersonStatus::Active
            }
            PersonEvent::PersonSuspended { reason } => {
                self.status = PersonStatus::Suspended(reason)
            }
            PersonEvent::AccessExpirySet { expires_at } => self.access_expires_at = expires_at,
            PersonEvent::PersonalDataErased => {
                self.status = PersonStatus::Erased;
                self.email = None;
            }
        }
    }
}
