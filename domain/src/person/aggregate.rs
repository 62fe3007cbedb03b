use super::{PersonCommand, PersonError, PersonEvent, PersonKind};
use crate::services::DomainServices;
use crate::{Email, PersonId};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Person {
    id: Option<PersonId>,
    kind: Option<PersonKind>,
    email: Option<Email>,
}

impl Aggregate for Person {
    const TYPE: &'static str = "person";
    type Command = PersonCommand;
    type Event = PersonEvent;
    type Error = PersonError;
    type Services = DomainServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            PersonCommand::Join {
                person,
                kind,
                email,
                name,
                administrator,
                password_hash,
                invitation,
                sponsor,
            } => {
                if self.id.is_some() {
                    return Err(PersonError::AlreadyJoined);
                }
                if administrator && kind != PersonKind::Employee {
                    return Err(PersonError::AdministratorMustBeEmployee);
                }
                let event = PersonEvent::PersonJoined {
                    person,
                    kind,
                    email,
                    name,
                    administrator,
                    password_hash,
                    invitation,
                    sponsor,
                };
                sink.write(event, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            PersonEvent::PersonJoined {
                person,
                kind,
                email,
                ..
            } => {
                self.id = Some(person);
                self.kind = Some(kind);
                self.email = Some(email);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::services_at;
    use crate::{PersonName, Timestamp};
    use cqrs_es::test::TestFramework;

    fn join(person: PersonId, kind: PersonKind, administrator: bool) -> PersonCommand {
        PersonCommand::Join {
            person,
            kind,
            email: Email::parse("ann@example.com").unwrap(),
            name: PersonName::parse("Ann", "Lee").unwrap(),
            administrator,
            password_hash: "$argon2id$v=19$stub".into(),
            invitation: None,
            sponsor: None,
        }
    }

    fn joined(person: PersonId) -> PersonEvent {
        PersonEvent::PersonJoined {
            person,
            kind: PersonKind::Employee,
            email: Email::parse("ann@example.com").unwrap(),
            name: PersonName::parse("Ann", "Lee").unwrap(),
            administrator: true,
            password_hash: "$argon2id$v=19$stub".into(),
            invitation: None,
            sponsor: None,
        }
    }

    #[test]
    fn the_founder_joins_as_an_administrator() {
        let person = PersonId::new_random();
        TestFramework::<Person>::with(services_at(Timestamp(0)))
            .given_no_previous_events()
            .when(join(person, PersonKind::Employee, true))
            .then_expect_events(vec![joined(person)]);
    }

    #[test]
    fn a_person_joins_once() {
        let person = PersonId::new_random();
        TestFramework::<Person>::with(services_at(Timestamp(0)))
            .given(vec![joined(person)])
            .when(join(person, PersonKind::Employee, false))
            .then_expect_error(PersonError::AlreadyJoined);
    }

    #[test]
    fn a_guest_cannot_be_an_administrator() {
        TestFramework::<Person>::with(services_at(Timestamp(0)))
            .given_no_previous_events()
            .when(join(PersonId::new_random(), PersonKind::Guest, true))
            .then_expect_error(PersonError::AdministratorMustBeEmployee);
    }
}
