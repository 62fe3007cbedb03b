use super::{InvitationCommand, InvitationError, InvitationEvent};
use crate::services::DomainServices;
use crate::{InvitationId, PersonId, Timestamp};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

/// How long a link stays valid after it is sent.
pub const VALID_DAYS: i64 = 7;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Invitation {
    id: Option<InvitationId>,
    person: Option<PersonId>,
    nonce: String,
    expires_at: Option<Timestamp>,
    accepted: bool,
}

impl Aggregate for Invitation {
    const TYPE: &'static str = "invitation";
    type Command = InvitationCommand;
    type Event = InvitationEvent;
    type Error = InvitationError;
    type Services = DomainServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let now = services.clock.now();
        let event = match command {
            InvitationCommand::Issue {
                invitation,
                person,
                email,
                name,
                target,
                sponsor,
            } => {
                if self.id.is_some() {
                    return Err(InvitationError::AlreadyIssued);
                }
                InvitationEvent::InvitationIssued {
                    invitation,
                    person,
                    email,
                    name,
                    target,
                    sponsor,
                    nonce: services.nonces.nonce(),
                    expires_at: now.plus_days(VALID_DAYS),
                }
            }
            InvitationCommand::Resend => {
                if self.id.is_none() {
                    return Err(InvitationError::InvalidLink);
                }
                if self.accepted {
                    return Err(InvitationError::AlreadyAccepted);
                }
                InvitationEvent::InvitationResent {
                    nonce: services.nonces.nonce(),
                    expires_at: now.plus_days(VALID_DAYS),
                }
            }
            InvitationCommand::Accept { secret } => {
                let (Some(id), Some(person), Some(expires_at)) =
                    (self.id, self.person, self.expires_at)
                else {
                    return Err(InvitationError::InvalidLink);
                };
                // The secret is checked first: without it, nothing about the
                // invitation's state is revealed.
                if !services.secrets.verify(id, &self.nonce, &secret) {
                    return Err(InvitationError::InvalidLink);
                }
                if self.accepted {
                    return Err(InvitationError::AlreadyAccepted);
                }
                if now >= expires_at {
                    return Err(InvitationError::Expired);
                }
                InvitationEvent::InvitationAccepted {
                    person,
                    accepted_at: now,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
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
            }
            InvitationEvent::InvitationResent { nonce, expires_at } => {
                self.nonce = nonce;
                self.expires_at = Some(expires_at);
            }
            InvitationEvent::InvitationAccepted { .. } => self.accepted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invitation::InvitationTarget;
    use crate::task::TaskRole;
    use crate::testing::{services_at, NONCE};
    use crate::{Email, PersonName, TaskId};
    use cqrs_es::test::TestFramework;

    const NOW: Timestamp = Timestamp(1_700_000_000_000);

    struct Given {
        invitation: InvitationId,
        person: PersonId,
        task: TaskId,
        sponsor: PersonId,
    }

    fn given() -> Given {
        Given {
            invitation: InvitationId::new_random(),
            person: PersonId::new_random(),
            task: TaskId::new_random(),
            sponsor: PersonId::new_random(),
        }
    }

    fn at(now: Timestamp) -> TestFramework<Invitation> {
        TestFramework::with(services_at(now))
    }

    fn issued(g: &Given) -> InvitationEvent {
        InvitationEvent::InvitationIssued {
            invitation: g.invitation,
            person: g.person,
            email: Email::parse("guest@client.com").unwrap(),
            name: PersonName::parse("Gus", "Guest").unwrap(),
            target: InvitationTarget::Task {
                task: g.task,
                role: TaskRole::Observer,
            },
            sponsor: g.sponsor,
            nonce: NONCE.into(),
            expires_at: NOW.plus_days(VALID_DAYS),
        }
    }

    fn secret(g: &Given, nonce: &str) -> String {
        services_at(NOW).secrets.secret_for(g.invitation, nonce)
    }

    #[test]
    fn issuing_draws_a_nonce_and_an_expiry() {
        let g = given();
        at(NOW)
            .given_no_previous_events()
            .when(InvitationCommand::Issue {
                invitation: g.invitation,
                person: g.person,
                email: Email::parse("Guest@Client.com").unwrap(),
                name: PersonName::parse("Gus", "Guest").unwrap(),
                target: InvitationTarget::Task {
                    task: g.task,
                    role: TaskRole::Observer,
                },
                sponsor: g.sponsor,
            })
            .then_expect_events(vec![issued(&g)]);
    }

    #[test]
    fn issuing_twice_is_refused() {
        let g = given();
        let InvitationEvent::InvitationIssued {
            email,
            name,
            target,
            ..
        } = issued(&g)
        else {
            unreachable!()
        };
        at(NOW)
            .given(vec![issued(&g)])
            .when(InvitationCommand::Issue {
                invitation: g.invitation,
                person: g.person,
                email,
                name,
                target,
                sponsor: g.sponsor,
            })
            .then_expect_error(InvitationError::AlreadyIssued);
    }

    #[test]
    fn the_right_secret_accepts() {
        let g = given();
        at(NOW)
            .given(vec![issued(&g)])
            .when(InvitationCommand::Accept {
                secret: secret(&g, NONCE),
            })
            .then_expect_events(vec![InvitationEvent::InvitationAccepted {
                person: g.person,
                accepted_at: NOW,
            }]);
    }

    #[test]
    fn a_wrong_secret_or_unknown_invitation_is_an_invalid_link() {
        let g = given();
        at(NOW)
            .given(vec![issued(&g)])
            .when(InvitationCommand::Accept {
                secret: secret(&g, "another nonce"),
            })
            .then_expect_error(InvitationError::InvalidLink);
        at(NOW)
            .given_no_previous_events()
            .when(InvitationCommand::Accept {
                secret: secret(&g, NONCE),
            })
            .then_expect_error(InvitationError::InvalidLink);
    }

    #[test]
    fn a_link_is_single_use() {
        let g = given();
        at(NOW)
            .given(vec![
                issued(&g),
                InvitationEvent::InvitationAccepted {
                    person: g.person,
                    accepted_at: NOW,
                },
            ])
            .when(InvitationCommand::Accept {
                secret: secret(&g, NONCE),
            })
            .then_expect_error(InvitationError::AlreadyAccepted);
    }

    #[test]
    fn a_link_expires() {
        let g = given();
        at(NOW.plus_days(VALID_DAYS))
            .given(vec![issued(&g)])
            .when(InvitationCommand::Accept {
                secret: secret(&g, NONCE),
            })
            .then_expect_error(InvitationError::Expired);
    }

    #[test]
    fn resending_invalidates_the_old_link() {
        let g = given();
        let resent = InvitationEvent::InvitationResent {
            nonce: "fresh".into(),
            expires_at: NOW.plus_days(1 + VALID_DAYS),
        };
        at(NOW.plus_days(1))
            .given(vec![issued(&g)])
            .when(InvitationCommand::Resend)
            .then_expect_events(vec![InvitationEvent::InvitationResent {
                nonce: NONCE.into(),
                expires_at: NOW.plus_days(1 + VALID_DAYS),
            }]);
        at(NOW)
            .given(vec![issued(&g), resent.clone()])
            .when(InvitationCommand::Accept {
                secret: secret(&g, NONCE),
            })
            .then_expect_error(InvitationError::InvalidLink);
        at(NOW)
            .given(vec![issued(&g), resent])
            .when(InvitationCommand::Accept {
                secret: secret(&g, "fresh"),
            })
            .then_expect_events(vec![InvitationEvent::InvitationAccepted {
                person: g.person,
                accepted_at: NOW,
            }]);
    }

    #[test]
    fn an_accepted_or_unknown_invitation_cannot_be_resent() {
        let g = given();
        at(NOW)
            .given_no_previous_events()
            .when(InvitationCommand::Resend)
            .then_expect_error(InvitationError::InvalidLink);
        at(NOW)
            .given(vec![
                issued(&g),
                InvitationEvent::InvitationAccepted {
                    person: g.person,
                    accepted_at: NOW,
                },
            ])
            .when(InvitationCommand::Resend)
            .then_expect_error(InvitationError::AlreadyAccepted);
    }
}
