//! Given/when/then for every person command and refusal.

use super::*;
use crate::testing::services_at;
use crate::{Email, PersonId, PersonName, Timestamp};
use cqrs_es::test::TestFramework;

const NOW: Timestamp = Timestamp(1_700_000_000_000);

fn test() -> TestFramework<Person> {
    TestFramework::with(services_at(NOW))
}

fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

fn joined(person: PersonId, kind: PersonKind, administrator: bool) -> PersonEvent {
    PersonEvent::PersonJoined {
        person,
        kind,
        email: email("ann@example.com"),
        name: PersonName::parse("Ann", "Lee").unwrap(),
        administrator,
        password_hash: "$argon2id$v=19$stub".into(),
        invitation: None,
        sponsor: None,
        previous: None,
    }
}

fn join(person: PersonId, kind: PersonKind, administrator: bool) -> PersonCommand {
    PersonCommand::Join {
        person,
        kind,
        email: email("ann@example.com"),
        name: PersonName::parse("Ann", "Lee").unwrap(),
        administrator,
        password_hash: "$argon2id$v=19$stub".into(),
        invitation: None,
        sponsor: None,
        previous: None,
    }
}

fn employee() -> (PersonId, PersonEvent) {
    let p = PersonId::new_random();
    (p, joined(p, PersonKind::Employee, false))
}

fn external(kind: PersonKind) -> (PersonId, PersonEvent) {
    let p = PersonId::new_random();
    (p, joined(p, kind, false))
}

#[test]
fn the_founder_joins_as_an_administrator() {
    let person = PersonId::new_random();
    test()
        .given_no_previous_events()
        .when(join(person, PersonKind::Employee, true))
        .then_expect_events(vec![joined(person, PersonKind::Employee, true)]);
}

#[test]
fn a_person_joins_once_and_only_employees_administer() {
    let (person, was) = employee();
    test()
        .given(vec![was])
        .when(join(person, PersonKind::Employee, false))
        .then_expect_error(PersonError::AlreadyJoined);
    test()
        .given_no_previous_events()
        .when(join(PersonId::new_random(), PersonKind::Guest, true))
        .then_expect_error(PersonError::AdministratorMustBeEmployee);
}

#[test]
fn a_version_1_join_reads_without_a_previous_person() {
    let v1 = serde_json::json!({"PersonJoined": {
        "person": uuid::Uuid::new_v4(), "kind": "guest", "email": "a@b.com",
        "name": {"first": "A", "last": "B"}, "administrator": false,
        "password_hash": "x", "invitation": null, "sponsor": null}});
    let event: PersonEvent = serde_json::from_value(v1).unwrap();
    assert!(matches!(
        event,
        PersonEvent::PersonJoined { previous: None, .. }
    ));
}

#[test]
fn nothing_happens_to_someone_who_has_not_joined() {
    for command in [
        PersonCommand::Dismiss,
        PersonCommand::Reinstate,
        PersonCommand::ErasePersonalData,
        PersonCommand::TransferToEmployee,
    ] {
        test()
            .given_no_previous_events()
            .when(command)
            .then_expect_error(PersonError::NotFound);
    }
}

#[test]
fn profile_email_and_password_change() {
    let (_, was) = employee();
    let name = PersonName::parse("Ann", "Lee-Park").unwrap();
    test()
        .given(vec![was.clone()])
        .when(PersonCommand::ChangeProfile { name: name.clone() })
        .then_expect_events(vec![PersonEvent::ProfileChanged { name }]);
    test()
        .given(vec![was.clone()])
        .when(PersonCommand::ChangeEmail {
            email: email("ann@new.example"),
        })
        .then_expect_events(vec![PersonEvent::EmailChanged {
            from: email("ann@example.com"),
            to: email("ann@new.example"),
        }]);
    test()
        .given(vec![was.clone()])
        .when(PersonCommand::ChangeEmail {
            email: email("ANN@example.com"),
        })
        .then_expect_error(PersonError::SameEmail);
    test()
        .given(vec![was])
        .when(PersonCommand::ChangePassword {
            password_hash: "$argon2id$new".into(),
        })
        .then_expect_events(vec![PersonEvent::PasswordChanged {
            password_hash: "$argon2id$new".into(),
        }]);
}

#[test]
fn external_people_transfer_to_employee() {
    for kind in [PersonKind::Extranet, PersonKind::Guest] {
        let (_, was) = external(kind);
        test()
            .given(vec![was])
            .when(PersonCommand::TransferToEmployee)
            .then_expect_events(vec![PersonEvent::TransferredToEmployee { from: kind }]);
    }
    let (_, was) = employee();
    test()
        .given(vec![was])
        .when(PersonCommand::TransferToEmployee)
        .then_expect_error(PersonError::AlreadyEmployee);
}

#[test]
fn an_employee_converts_to_extranet_keeping_their_id() {
    let (_, was) = employee();
    test()
        .given(vec![was])
        .when(PersonCommand::ConvertToExtranet)
        .then_expect_events(vec![PersonEvent::ConvertedToExtranet]);
    let (_, guest) = external(PersonKind::Guest);
    test()
        .given(vec![guest])
        .when(PersonCommand::ConvertToExtranet)
        .then_expect_error(PersonError::NotAnEmployee);
    let admin = PersonId::new_random();
    test()
        .given(vec![joined(admin, PersonKind::Employee, true)])
        .when(PersonCommand::ConvertToExtranet)
        .then_expect_error(PersonError::AdministratorCannotBeExternal);
}

#[test]
fn dismissal_and_reinstatement() {
    let (_, was) = employee();
    test()
        .given(vec![was.clone()])
        .when(PersonCommand::Dismiss)
        .then_expect_events(vec![PersonEvent::PersonDismissed]);
    test()
        .given(vec![was.clone(), PersonEvent::PersonDismissed])
        .when(PersonCommand::Dismiss)
        .then_expect_error(PersonError::Dismissed);
    test()
        .given(vec![was.clone(), PersonEvent::PersonDismissed])
        .when(PersonCommand::Reinstate)
        .then_expect_events(vec![PersonEvent::PersonReinstated]);
    test()
        .given(vec![was.clone()])
        .when(PersonCommand::Reinstate)
        .then_expect_error(PersonError::NotDismissed);
    // A dismissed person cannot be changed until reinstated.
    test()
        .given(vec![was, PersonEvent::PersonDismissed])
        .when(PersonCommand::ChangeProfile {
            name: PersonName::parse("A", "B").unwrap(),
        })
        .then_expect_error(PersonError::Dismissed);
}

#[test]
fn trial_suspension_touches_external_people_only_and_lifts_for_its_own_reason() {
    let (_, ext) = external(PersonKind::Extranet);
    let trial = SuspensionReason::TrialExpired;
    test()
        .given(vec![ext.clone()])
        .when(PersonCommand::Suspend { reason: trial })
        .then_expect_events(vec![PersonEvent::PersonSuspended { reason: trial }]);
    let (_, emp) = employee();
    test()
        .given(vec![emp.clone()])
        .when(PersonCommand::Suspend { reason: trial })
        .then_expect_error(PersonError::NotExternal);
    test()
        .given(vec![emp])
        .when(PersonCommand::Suspend {
            reason: SuspensionReason::Administrative,
        })
        .then_expect_events(vec![PersonEvent::PersonSuspended {
            reason: SuspensionReason::Administrative,
        }]);
    let suspended = vec![ext.clone(), PersonEvent::PersonSuspended { reason: trial }];
    test()
        .given(suspended.clone())
        .when(PersonCommand::Suspend { reason: trial })
        .then_expect_error(PersonError::AlreadySuspended);
    test()
        .given(suspended.clone())
        .when(PersonCommand::LiftSuspension { reason: trial })
        .then_expect_events(vec![PersonEvent::SuspensionLifted { reason: trial }]);
    // An upgrade does not let in someone locked out for another reason.
    test()
        .given(vec![
            ext,
            PersonEvent::PersonSuspended {
                reason: SuspensionReason::Administrative,
            },
        ])
        .when(PersonCommand::LiftSuspension { reason: trial })
        .then_expect_error(PersonError::NotSuspendedFor(trial));
}

#[test]
fn access_expires_on_its_date_and_can_be_extended() {
    let (_, guest) = external(PersonKind::Guest);
    let until = Some(NOW);
    test()
        .given(vec![guest.clone()])
        .when(PersonCommand::SetAccessExpiry { expires_at: until })
        .then_expect_events(vec![PersonEvent::AccessExpirySet { expires_at: until }]);
    let with_expiry = vec![
        guest.clone(),
        PersonEvent::AccessExpirySet { expires_at: until },
    ];
    test()
        .given(with_expiry.clone())
        .when(PersonCommand::ExpireAccess)
        .then_expect_events(vec![PersonEvent::PersonSuspended {
            reason: SuspensionReason::AccessExpired,
        }]);
    let later = Some(NOW.plus_days(30));
    test()
        .given(vec![
            guest.clone(),
            PersonEvent::AccessExpirySet { expires_at: later },
        ])
        .when(PersonCommand::ExpireAccess)
        .then_expect_error(PersonError::AccessNotExpired);
    test()
        .given(vec![guest])
        .when(PersonCommand::ExpireAccess)
        .then_expect_error(PersonError::AccessNotExpired);
    let (_, emp) = employee();
    test()
        .given(vec![emp])
        .when(PersonCommand::SetAccessExpiry { expires_at: until })
        .then_expect_error(PersonError::NotExternal);
    // Extending after expiry, then lifting, lets them back.
    let mut expired = with_expiry;
    expired.push(PersonEvent::PersonSuspended {
        reason: SuspensionReason::AccessExpired,
    });
    test()
        .given(expired)
        .when(PersonCommand::LiftSuspension {
            reason: SuspensionReason::AccessExpired,
        })
        .then_expect_events(vec![PersonEvent::SuspensionLifted {
            reason: SuspensionReason::AccessExpired,
        }]);
}

#[test]
fn erasure_follows_dismissal_and_is_final() {
    let (_, was) = employee();
    test()
        .given(vec![was.clone()])
        .when(PersonCommand::ErasePersonalData)
        .then_expect_error(PersonError::EraseNeedsDismissal);
    test()
        .given(vec![was.clone(), PersonEvent::PersonDismissed])
        .when(PersonCommand::ErasePersonalData)
        .then_expect_events(vec![PersonEvent::PersonalDataErased]);
    let erased = vec![
        was,
        PersonEvent::PersonDismissed,
        PersonEvent::PersonalDataErased,
    ];
    test()
        .given(erased.clone())
        .when(PersonCommand::ErasePersonalData)
        .then_expect_events(vec![]);
    test()
        .given(erased.clone())
        .when(PersonCommand::Reinstate)
        .then_expect_error(PersonError::Erased);
    test()
        .given(erased)
        .when(PersonCommand::ChangeEmail {
            email: email("x@y.com"),
        })
        .then_expect_error(PersonError::Erased);
}

fn reset_requested(at: Timestamp) -> PersonEvent {
    PersonEvent::PasswordResetRequested {
        nonce: crate::testing::NONCE.into(),
        expires_at: at.plus_minutes(RESET_VALID_MINUTES),
    }
}

fn reset_secret(person: PersonId, nonce: &str) -> String {
    services_at(NOW)
        .secrets
        .link_secret(crate::invitation::Link::PasswordReset(person), nonce)
}

fn reset_with(secret: String) -> PersonCommand {
    PersonCommand::ResetPassword {
        secret,
        password_hash: "$argon2id$reset".into(),
    }
}

fn reset_done() -> PersonEvent {
    PersonEvent::PasswordResetCompleted {
        password_hash: "$argon2id$reset".into(),
    }
}

#[test]
fn an_active_person_gets_a_reset_link_that_expires_within_the_hour() {
    let (_, was) = employee();
    test()
        .given(vec![was])
        .when(PersonCommand::RequestPasswordReset)
        .then_expect_events(vec![reset_requested(NOW)]);
}

#[test]
fn nobody_who_cannot_log_in_gets_a_reset_link() {
    let (_, was) = external(PersonKind::Guest);
    test()
        .given(vec![
            was.clone(),
            PersonEvent::PersonSuspended {
                reason: SuspensionReason::Administrative,
            },
        ])
        .when(PersonCommand::RequestPasswordReset)
        .then_expect_error(PersonError::Suspended);
    test()
        .given(vec![was, PersonEvent::PersonDismissed])
        .when(PersonCommand::RequestPasswordReset)
        .then_expect_error(PersonError::Dismissed);
    test()
        .given_no_previous_events()
        .when(PersonCommand::RequestPasswordReset)
        .then_expect_error(PersonError::NotFound);
}

#[test]
fn the_right_secret_resets_the_password_once() {
    let (p, was) = employee();
    test()
        .given(vec![was.clone(), reset_requested(NOW)])
        .when(reset_with(reset_secret(p, crate::testing::NONCE)))
        .then_expect_events(vec![reset_done()]);
    test()
        .given(vec![was, reset_requested(NOW), reset_done()])
        .when(reset_with(reset_secret(p, crate::testing::NONCE)))
        .then_expect_error(PersonError::ResetLinkUsed);
}

#[test]
fn a_wrong_secret_or_no_request_is_an_invalid_link() {
    let (p, was) = employee();
    test()
        .given(vec![was.clone(), reset_requested(NOW)])
        .when(reset_with(reset_secret(p, "another nonce")))
        .then_expect_error(PersonError::ResetLinkInvalid);
    test()
        .given(vec![was.clone()])
        .when(reset_with(reset_secret(p, crate::testing::NONCE)))
        .then_expect_error(PersonError::ResetLinkInvalid);
    // Another person's link does not open this one's.
    test()
        .given(vec![was.clone(), reset_requested(NOW)])
        .when(reset_with(reset_secret(
            PersonId::new_random(),
            crate::testing::NONCE,
        )))
        .then_expect_error(PersonError::ResetLinkInvalid);
    // A wrong secret learns nothing, not even that the link was used or the person left.
    test()
        .given(vec![
            was,
            reset_requested(NOW),
            PersonEvent::PersonDismissed,
        ])
        .when(reset_with("00".repeat(32)))
        .then_expect_error(PersonError::ResetLinkInvalid);
}

#[test]
fn a_reset_link_expires_and_a_newer_one_or_a_new_password_voids_it() {
    let (p, was) = employee();
    let secret = reset_secret(p, crate::testing::NONCE);
    TestFramework::<Person>::with(services_at(NOW.plus_minutes(RESET_VALID_MINUTES)))
        .given(vec![was.clone(), reset_requested(NOW)])
        .when(reset_with(secret.clone()))
        .then_expect_error(PersonError::ResetLinkExpired);
    let newer = PersonEvent::PasswordResetRequested {
        nonce: "newer".into(),
        expires_at: NOW.plus_minutes(RESET_VALID_MINUTES),
    };
    test()
        .given(vec![was.clone(), reset_requested(NOW), newer])
        .when(reset_with(secret.clone()))
        .then_expect_error(PersonError::ResetLinkInvalid);
    let changed = PersonEvent::PasswordChanged {
        password_hash: "$argon2id$other".into(),
    };
    test()
        .given(vec![was, reset_requested(NOW), changed])
        .when(reset_with(secret))
        .then_expect_error(PersonError::ResetLinkInvalid);
}

#[test]
fn a_link_asked_for_before_a_suspension_does_not_work_after_it() {
    let (p, was) = external(PersonKind::Extranet);
    let suspended = PersonEvent::PersonSuspended {
        reason: SuspensionReason::Administrative,
    };
    let lifted = PersonEvent::SuspensionLifted {
        reason: SuspensionReason::Administrative,
    };
    test()
        .given(vec![was, reset_requested(NOW), suspended, lifted])
        .when(reset_with(reset_secret(p, crate::testing::NONCE)))
        .then_expect_error(PersonError::ResetLinkInvalid);
}

/// What an invitation asks of the person holding the address's claim: suspension
/// keeps the address theirs, dismissal and erasure free it (docs/domain.md People 5).
#[test]
fn an_address_is_held_from_joining_until_dismissal() {
    use cqrs_es::Aggregate;
    let person = |events: Vec<PersonEvent>| {
        let mut person = Person::default();
        events.into_iter().for_each(|e| person.apply(e));
        person
    };
    let (_, was) = employee();
    assert!(!person(vec![]).holds_an_address());
    let active = person(vec![was.clone()]);
    assert!(active.holds_an_address());
    assert_eq!(active.email(), Some(&email("ann@example.com")));
    assert_eq!(active.kind(), PersonKind::Employee);
    let suspended = PersonEvent::PersonSuspended {
        reason: SuspensionReason::Administrative,
    };
    assert!(person(vec![was.clone(), suspended]).holds_an_address());
    assert!(!person(vec![was.clone(), PersonEvent::PersonDismissed]).holds_an_address());
    assert!(!person(vec![
        was.clone(),
        PersonEvent::PersonDismissed,
        PersonEvent::PersonalDataErased
    ])
    .holds_an_address());
    assert!(person(vec![
        was,
        PersonEvent::PersonDismissed,
        PersonEvent::PersonReinstated
    ])
    .holds_an_address());
}
