//! One email address, one current person per account.
//!
//! Uniqueness spans many person aggregates, so it gets an aggregate of its own: one
//! per (account, address), keyed by a UUID derived from the normalised address and the
//! server's secret. Two
//! people claiming the same address race on the same aggregate, and the event store's
//! optimistic lock lets exactly one win. Dismissal and erasure release the claim, so
//! the address can be invited again.

use crate::invitation::SecretKey;
use crate::services::DomainServices;
use crate::{AccountId, AggregateKey, Email, PersonId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailClaimCommand {
    Claim { email: Email, person: PersonId },
    Release { person: PersonId },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EmailClaimEvent {
    EmailClaimed { email: Email, person: PersonId },
    EmailReleased { person: PersonId },
}

crate::domain_event!(EmailClaimEvent {
    EmailClaimed: "1",
    EmailReleased: "1",
});

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailClaimError {
    #[error("{email} already belongs to a person of this account")]
    Taken { email: String, holder: PersonId },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EmailClaim {
    holder: Option<PersonId>,
}

impl EmailClaim {
    /// The claim aggregate of `email` in `account`. Its id is keyed with the server's
    /// secret, so the log does not hold a guessable hash of the address (see
    /// `SecretKey::pseudonym`); changing the key orphans every claim.
    pub fn key(account: AccountId, email: &Email, secrets: &SecretKey) -> AggregateKey {
        AggregateKey::new(account, secrets.pseudonym("email-claim", email.as_str()))
    }

    pub fn holder(&self) -> Option<PersonId> {
        self.holder
    }
}

crate::aggregate!(
    EmailClaim,
    "email_claim",
    EmailClaimCommand,
    EmailClaimEvent,
    EmailClaimError
);

impl EmailClaim {
    fn decide(
        &self,
        command: EmailClaimCommand,
        _services: &DomainServices,
    ) -> Result<Option<EmailClaimEvent>, EmailClaimError> {
        Ok(match command {
            EmailClaimCommand::Claim { email, person } => match self.holder {
                // Claiming again for the same person changes nothing: safe to repeat.
                Some(holder) if holder == person => None,
                Some(holder) => {
                    return Err(EmailClaimError::Taken {
                        email: email.to_string(),
                        holder,
                    })
                }
                None => Some(EmailClaimEvent::EmailClaimed { email, person }),
            },
            // Releasing a claim the person does not hold changes nothing: a repeated
            // or late release never frees someone else's address.
            EmailClaimCommand::Release { person } => {
                (self.holder == Some(person)).then_some(EmailClaimEvent::EmailReleased { person })
            }
        })
    }

    fn evolve(&mut self, event: EmailClaimEvent) {
        match event {
            EmailClaimEvent::EmailClaimed { person, .. } => self.holder = Some(person),
            EmailClaimEvent::EmailReleased { .. } => self.holder = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::services_at;
    use crate::Timestamp;
    use cqrs_es::test::TestFramework;

    fn test() -> TestFramework<EmailClaim> {
        TestFramework::with(services_at(Timestamp(0)))
    }

    fn ann() -> Email {
        Email::parse("ann@example.com").unwrap()
    }

    #[test]
    fn the_first_claim_wins_and_a_repeat_is_harmless() {
        let (a, b) = (PersonId::new_random(), PersonId::new_random());
        let claimed = EmailClaimEvent::EmailClaimed {
            email: ann(),
            person: a,
        };
        test()
            .given_no_previous_events()
            .when(EmailClaimCommand::Claim {
                email: ann(),
                person: a,
            })
            .then_expect_events(vec![claimed.clone()]);
        test()
            .given(vec![claimed.clone()])
            .when(EmailClaimCommand::Claim {
                email: ann(),
                person: a,
            })
            .then_expect_events(vec![]);
        test()
            .given(vec![claimed])
            .when(EmailClaimCommand::Claim {
                email: ann(),
                person: b,
            })
            .then_expect_error(EmailClaimError::Taken {
                email: "ann@example.com".into(),
                holder: a,
            });
    }

    #[test]
    fn a_released_address_can_be_claimed_by_someone_else() {
        let (a, b) = (PersonId::new_random(), PersonId::new_random());
        let history = vec![
            EmailClaimEvent::EmailClaimed {
                email: ann(),
                person: a,
            },
            EmailClaimEvent::EmailReleased { person: a },
        ];
        test()
            .given(history)
            .when(EmailClaimCommand::Claim {
                email: ann(),
                person: b,
            })
            .then_expect_events(vec![EmailClaimEvent::EmailClaimed {
                email: ann(),
                person: b,
            }]);
        // Someone else's release frees nothing.
        test()
            .given(vec![EmailClaimEvent::EmailClaimed {
                email: ann(),
                person: a,
            }])
            .when(EmailClaimCommand::Release { person: b })
            .then_expect_events(vec![]);
    }

    #[test]
    fn the_key_depends_on_the_normalised_address_the_account_and_the_server_key() {
        let account = AccountId::new_random();
        let secrets = SecretKey::from_bytes([1; 32]);
        let upper = Email::parse("ANN@Example.com").unwrap();
        let key =
            |account, email: &Email, secrets: &SecretKey| EmailClaim::key(account, email, secrets);
        assert_eq!(
            key(account, &ann(), &secrets),
            key(account, &upper, &secrets)
        );
        assert_ne!(
            key(account, &ann(), &secrets),
            key(AccountId::new_random(), &ann(), &secrets)
        );
        let bob = Email::parse("bob@example.com").unwrap();
        assert_ne!(key(account, &ann(), &secrets), key(account, &bob, &secrets));
        assert_ne!(
            key(account, &ann(), &secrets),
            key(account, &ann(), &SecretKey::from_bytes([2; 32])),
            "without the server's key the id cannot be recomputed"
        );
    }
}
