use super::{PersonCommand, PersonError, PersonEvent, PersonKind, SuspensionReason};
use crate::invitation::{Link, SecretKey};
use crate::services::DomainServices;
use crate::{Email, PersonId, Timestamp};
use serde::{Deserialize, Serialize};

/// How long a password reset link stays valid. Short: the link stands in for the
/// password, and whoever asked for it is at their mailbox now.
pub const RESET_VALID_MINUTES: i64 = 60;

/// The password reset asked for last. Kept once used, so that the spent link is told
/// apart from one that never was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PendingReset {
    nonce: String,
    expires_at: Timestamp,
    used: bool,
}

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

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
    #[serde(default)]
    reset: Option<PendingReset>,
}

impl Person {
    pub fn status(&self) -> PersonStatus {
        self.status
    }

    pub fn kind(&self) -> PersonKind {
        self.kind.unwrap_or(PersonKind::Guest)
    }

    /// The address they log in with, once they have joined.
    pub fn email(&self) -> Option<&Email> {
        self.email.as_ref()
    }

    /// Whether their address is still theirs: they joined and were neither dismissed
    /// (which frees the address, `docs/domain.md` People 5) nor erased.
    /// Suspension keeps it: a suspended person comes back as who they were.
    pub fn holds_an_address(&self) -> bool {
        matches!(
            self.status,
            PersonStatus::Active | PersonStatus::Suspended(_)
        )
    }

    /// Whether `secret` opens this person's password reset link at `now`. The secret is
    /// checked first: without it, nothing about the person or the link is revealed.
    /// The gateway asks this before showing the form; `ResetPassword` asks it again.
    pub fn check_reset_link(
        &self,
        secrets: &SecretKey,
        now: Timestamp,
        secret: &str,
    ) -> Result<(), PersonError> {
        let (Some(id), Some(reset)) = (self.id, &self.reset) else {
            return Err(PersonError::ResetLinkInvalid);
        };
        if !secrets.verify_link(Link::PasswordReset(id), &reset.nonce, secret) {
            return Err(PersonError::ResetLinkInvalid);
        }
        if reset.used {
            return Err(PersonError::ResetLinkUsed);
        }
        self.may_log_in()?;
        if now >= reset.expires_at {
            return Err(PersonError::ResetLinkExpired);
        }
        Ok(())
    }

    /// Refuses anyone who cannot log in now.
    fn may_log_in(&self) -> Result<(), PersonError> {
        self.present()?;
        match self.status {
            PersonStatus::Suspended(_) => Err(PersonError::Suspended),
            _ => Ok(()),
        }
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
        // Before the general check below, so a wrong secret learns nothing of the
        // person's standing.
        if let PersonCommand::ResetPassword {
            secret,
            password_hash,
        } = command
        {
            self.check_reset_link(&services.secrets, services.clock.now(), &secret)?;
            return Ok(Some(PersonEvent::PasswordResetCompleted { password_hash }));
        }
        self.present()?;
        Ok(match command {
            PersonCommand::Join { .. }
            | PersonCommand::Reinstate
            | PersonCommand::ErasePersonalData
            | PersonCommand::ResetPassword { .. } => None,
            PersonCommand::RequestPasswordReset => {
                self.may_log_in()?;
                Some(PersonEvent::PasswordResetRequested {
                    nonce: services.nonces.nonce(),
                    expires_at: services.clock.now().plus_minutes(RESET_VALID_MINUTES),
                })
            }
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
            PersonEvent::ProfileChanged { .. } => {}
            // A password set another way voids an outstanding reset link.
            PersonEvent::PasswordChanged { .. } => self.reset = None,
            PersonEvent::PasswordResetRequested { nonce, expires_at } => {
                self.reset = Some(PendingReset {
                    nonce,
                    expires_at,
                    used: false,
                })
            }
            PersonEvent::PasswordResetCompleted { .. } => {
                if let Some(reset) = &mut self.reset {
                    reset.used = true;
                }
            }
            PersonEvent::EmailChanged { to, .. } => self.email = Some(to),
            PersonEvent::TransferredToEmployee { .. } => {
                self.kind = Some(PersonKind::Employee);
                self.access_expires_at = None;
            }
            PersonEvent::ConvertedToExtranet => self.kind = Some(PersonKind::Extranet),
            PersonEvent::PersonDismissed => {
                self.status = PersonStatus::Dismissed;
                self.reset = None;
            }
            PersonEvent::PersonReinstated | PersonEvent::SuspensionLifted { .. } => {
                self.status = PersonStatus::Active
            }
            PersonEvent::PersonSuspended { reason } => {
                self.status = PersonStatus::Suspended(reason);
                self.reset = None;
            }
            PersonEvent::AccessExpirySet { expires_at } => self.access_expires_at = expires_at,
            PersonEvent::PersonalDataErased => {
                self.status = PersonStatus::Erased;
                self.email = None;
            }
        }
    }
}
