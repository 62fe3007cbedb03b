//! Given/when/then for every invitation command and refusal.

use super::*;
use crate::person::PersonKind;
use crate::task::TaskRole;
use crate::testing::{services_at, NONCE};
use crate::{
    Address, Email, InvitationId, PersonId, PersonName, Phone, TaskId, Timestamp, WorkgroupId,
};
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

fn email(s: &str) -> Address {
    Address::Email(Email::parse(s).unwrap())
}

fn name() -> Option<PersonName> {
    Some(PersonName::parse("Gus", "Guest").unwrap())
}

fn guest_target(g: &Given) -> InvitationTarget {
    InvitationTarget::Task {
        task: g.task,
        role: TaskRole::Observer,
    }
}

fn issue(
    g: &Given,
    address: Address,
    target: InvitationTarget,
    delivery: Delivery,
) -> InvitationCommand {
    InvitationCommand::Issue {
        invitation: g.invitation,
        person: g.person,
        address,
        name: name(),
        target,
        sponsor: g.sponsor,
        delivery,
    }
}

fn issued(g: &Given) -> InvitationEvent {
    InvitationEvent::InvitationIssued {
        invitation: g.invitation,
        person: g.person,
        address: email("guest@client.com"),
        name: name(),
        target: guest_target(g),
        sponsor: g.sponsor,
        nonce: NONCE.into(),
        expires_at: NOW.plus_days(VALID_DAYS),
        delivery: Delivery::Link,
    }
}

fn company() -> InvitationTarget {
    InvitationTarget::Company { department: None }
}

fn direct(confirm: bool) -> Delivery {
    Delivery::Direct {
        position: crate::Position::parse("Buyer").unwrap(),
        confirm,
    }
}

fn issued_directly(g: &Given, target: InvitationTarget, confirm: bool) -> InvitationEvent {
    InvitationEvent::InvitationIssued {
        invitation: g.invitation,
        person: g.person,
        address: email("nora@acme.test"),
        name: name(),
        target,
        sponsor: g.sponsor,
        nonce: NONCE.into(),
        expires_at: NOW.plus_days(VALID_DAYS),
        delivery: direct(confirm),
    }
}

fn secret(g: &Given, nonce: &str) -> String {
    services_at(NOW).secrets.secret_for(g.invitation, nonce)
}

fn accepted(g: &Given) -> InvitationEvent {
    InvitationEvent::InvitationAccepted {
        person: g.person,
        accepted_at: NOW,
    }
}

#[test]
fn issuing_draws_a_nonce_and_an_expiry() {
    let g = given();
    at(NOW)
        .given_no_previous_events()
        .when(issue(
            &g,
            email("Guest@Client.com"),
            guest_target(&g),
            Delivery::Link,
        ))
        .then_expect_events(vec![issued(&g)]);
}

#[test]
fn employees_and_extranet_users_may_be_invited_by_phone() {
    let g = given();
    let phone = Address::Phone(Phone::parse("+44 20 7946 0958").unwrap());
    let target = InvitationTarget::Workgroup {
        group: WorkgroupId::new_random(),
        kind: PersonKind::Extranet,
    };
    let events = at(NOW)
        .given_no_previous_events()
        .when(InvitationCommand::Issue {
            invitation: g.invitation,
            person: g.person,
            address: phone.clone(),
            name: None,
            target,
            sponsor: g.sponsor,
            delivery: Delivery::Link,
        })
        .inspect_result()
        .unwrap();
    assert!(
        matches!(&events[..], [InvitationEvent::InvitationIssued { address, .. }] if *address == phone)
    );
}

#[test]
fn issuing_refusals() {
    let g = given();
    let phone = Address::Phone(Phone::parse("+44 20 7946 0958").unwrap());
    at(NOW)
        .given(vec![issued(&g)])
        .when(issue(
            &g,
            email("a@b.com"),
            guest_target(&g),
            Delivery::Link,
        ))
        .then_expect_error(InvitationError::AlreadyIssued);
    at(NOW)
        .given_no_previous_events()
        .when(issue(&g, phone.clone(), guest_target(&g), Delivery::Link))
        .then_expect_error(InvitationError::GuestNeedsEmail);
    at(NOW)
        .given_no_previous_events()
        .when(issue(
            &g,
            email("a@b.com"),
            InvitationTarget::Workgroup {
                group: WorkgroupId::new_random(),
                kind: PersonKind::Guest,
            },
            Delivery::Link,
        ))
        .then_expect_error(InvitationError::GuestsOnlyInTasks);
    at(NOW)
        .given_no_previous_events()
        .when(issue(&g, phone, company(), direct(false)))
        .then_expect_error(InvitationError::DirectNeedsEmail);
    at(NOW)
        .given_no_previous_events()
        .when(InvitationCommand::Issue {
            invitation: g.invitation,
            person: g.person,
            address: email("nora@acme.test"),
            name: None,
            target: company(),
            sponsor: g.sponsor,
            delivery: direct(false),
        })
        .then_expect_error(InvitationError::NameRequired);
    let extranet_group = InvitationTarget::Workgroup {
        group: WorkgroupId::new_random(),
        kind: PersonKind::Extranet,
    };
    at(NOW)
        .given_no_previous_events()
        .when(issue(
            &g,
            email("nora@acme.test"),
            extranet_group,
            direct(true),
        ))
        .then_expect_error(InvitationError::DirectOnlyForEmployees);
    at(NOW)
        .given_no_previous_events()
        .when(issue(
            &g,
            email("gus@client.com"),
            guest_target(&g),
            direct(true),
        ))
        .then_expect_error(InvitationError::DirectOnlyForEmployees);
    at(NOW)
        .given_no_previous_events()
        .when(InvitationCommand::Issue {
            invitation: g.invitation,
            person: g.person,
            address: email("gus@client.com"),
            name: None,
            target: guest_target(&g),
            sponsor: g.sponsor,
            delivery: Delivery::Link,
        })
        .then_expect_error(InvitationError::NameRequired);
}

#[test]
fn an_administrator_adds_an_employee_directly_into_the_company_or_a_group() {
    let g = given();
    let group = InvitationTarget::Workgroup {
        group: WorkgroupId::new_random(),
        kind: PersonKind::Employee,
    };
    for target in [company(), group] {
        for confirm in [false, true] {
            at(NOW)
                .given_no_previous_events()
                .when(issue(&g, email("Nora@Acme.test"), target, direct(confirm)))
                .then_expect_events(vec![issued_directly(&g, target, confirm)]);
        }
    }
}

/// Without confirmation the gateway accepts at once with the link's secret, which only
/// the holder of the server key can make; the log alone accepts nothing.
#[test]
fn added_without_confirmation_is_accepted_with_the_secret_of_its_nonce() {
    let g = given();
    at(NOW)
        .given(vec![issued_directly(&g, company(), false)])
        .when(InvitationCommand::Accept {
            secret: secret(&g, NONCE),
        })
        .then_expect_events(vec![accepted(&g)]);
    let initial_password = services_at(NOW)
        .secrets
        .initial_password(g.invitation, NONCE);
    at(NOW)
        .given(vec![issued_directly(&g, company(), false)])
        .when(InvitationCommand::Accept {
            secret: initial_password,
        })
        .then_expect_error(InvitationError::InvalidLink);
    // Once in, the invitation is spent: no new nonce, so no other password.
    at(NOW)
        .given(vec![issued_directly(&g, company(), false), accepted(&g)])
        .when(InvitationCommand::Resend)
        .then_expect_error(InvitationError::AlreadyAccepted);
}

#[test]
fn the_right_secret_accepts() {
    let g = given();
    at(NOW)
        .given(vec![issued(&g)])
        .when(InvitationCommand::Accept {
            secret: secret(&g, NONCE),
        })
        .then_expect_events(vec![accepted(&g)]);
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
    // A wrong secret learns nothing, not even that the invitation was used.
    at(NOW)
        .given(vec![issued(&g), accepted(&g)])
        .when(InvitationCommand::Accept {
            secret: "00".repeat(32),
        })
        .then_expect_error(InvitationError::InvalidLink);
}

#[test]
fn a_link_is_single_use() {
    let g = given();
    at(NOW)
        .given(vec![issued(&g), accepted(&g)])
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
        .then_expect_events(vec![accepted(&g)]);
}

#[test]
fn an_expired_invitation_can_be_sent_again() {
    let g = given();
    at(NOW.plus_days(10))
        .given(vec![issued(&g), InvitationEvent::InvitationExpired])
        .when(InvitationCommand::Resend)
        .then_expect_events(vec![InvitationEvent::InvitationResent {
            nonce: NONCE.into(),
            expires_at: NOW.plus_days(10 + VALID_DAYS),
        }]);
}

#[test]
fn what_cannot_be_resent() {
    let g = given();
    at(NOW)
        .given_no_previous_events()
        .when(InvitationCommand::Resend)
        .then_expect_error(InvitationError::InvalidLink);
    for (closing, error) in [
        (accepted(&g), InvitationError::AlreadyAccepted),
        (
            InvitationEvent::InvitationDeclined,
            InvitationError::Declined,
        ),
        (InvitationEvent::InvitationRevoked, InvitationError::Revoked),
    ] {
        at(NOW)
            .given(vec![issued(&g), closing])
            .when(InvitationCommand::Resend)
            .then_expect_error(error);
    }
}

#[test]
fn the_invited_person_may_decline_with_the_link() {
    let g = given();
    at(NOW)
        .given(vec![issued(&g)])
        .when(InvitationCommand::Decline {
            secret: secret(&g, NONCE),
        })
        .then_expect_events(vec![InvitationEvent::InvitationDeclined]);
    at(NOW)
        .given(vec![issued(&g)])
        .when(InvitationCommand::Decline {
            secret: "bad".into(),
        })
        .then_expect_error(InvitationError::InvalidLink);
    at(NOW)
        .given(vec![issued(&g), InvitationEvent::InvitationDeclined])
        .when(InvitationCommand::Accept {
            secret: secret(&g, NONCE),
        })
        .then_expect_error(InvitationError::Declined);
}

#[test]
fn a_revoked_invitation_is_dead() {
    let g = given();
    at(NOW)
        .given(vec![issued(&g)])
        .when(InvitationCommand::Revoke)
        .then_expect_events(vec![InvitationEvent::InvitationRevoked]);
    at(NOW)
        .given(vec![issued(&g), InvitationEvent::InvitationRevoked])
        .when(InvitationCommand::Accept {
            secret: secret(&g, NONCE),
        })
        .then_expect_error(InvitationError::Revoked);
    at(NOW)
        .given(vec![issued(&g), accepted(&g)])
        .when(InvitationCommand::Revoke)
        .then_expect_error(InvitationError::AlreadyAccepted);
    at(NOW)
        .given_no_previous_events()
        .when(InvitationCommand::Revoke)
        .then_expect_error(InvitationError::InvalidLink);
}

#[test]
fn expiry_is_recorded_only_when_due() {
    let g = given();
    at(NOW.plus_days(VALID_DAYS))
        .given(vec![issued(&g)])
        .when(InvitationCommand::Expire)
        .then_expect_events(vec![InvitationEvent::InvitationExpired]);
    at(NOW.plus_days(1))
        .given(vec![issued(&g)])
        .when(InvitationCommand::Expire)
        .then_expect_error(InvitationError::NotYetExpired);
    at(NOW.plus_days(VALID_DAYS))
        .given(vec![issued(&g), accepted(&g)])
        .when(InvitationCommand::Expire)
        .then_expect_error(InvitationError::AlreadyAccepted);
}

fn register(g: &Given, approval: Approval) -> InvitationCommand {
    InvitationCommand::Register {
        invitation: g.invitation,
        person: g.person,
        email: Email::parse("new@partner.com").unwrap(),
        name: PersonName::parse("Nia", "New").unwrap(),
        password_hash: "$argon2id$stub".into(),
        approval,
    }
}

fn requested(g: &Given, approval: Approval) -> InvitationEvent {
    InvitationEvent::RegistrationRequested {
        invitation: g.invitation,
        person: g.person,
        email: Email::parse("new@partner.com").unwrap(),
        name: PersonName::parse("Nia", "New").unwrap(),
        password_hash: "$argon2id$stub".into(),
        approval,
    }
}

#[test]
fn a_registration_waits_for_approval_when_the_account_asks_for_it() {
    let g = given();
    at(NOW)
        .given_no_previous_events()
        .when(register(&g, Approval::Required))
        .then_expect_events(vec![requested(&g, Approval::Required)]);
    let admin = PersonId::new_random();
    at(NOW)
        .given(vec![requested(&g, Approval::Required)])
        .when(InvitationCommand::Approve { by: admin })
        .then_expect_events(vec![InvitationEvent::RegistrationApproved {
            by: Some(admin),
        }]);
    at(NOW)
        .given(vec![requested(&g, Approval::Required)])
        .when(InvitationCommand::Reject { by: admin })
        .then_expect_events(vec![InvitationEvent::RegistrationRejected { by: admin }]);
}

#[test]
fn a_registration_from_a_trusted_domain_or_without_approval_is_let_in_at_once() {
    let g = given();
    for approval in [
        Approval::NotRequired,
        Approval::BypassedByDomain {
            domain: "partner.com".into(),
        },
    ] {
        at(NOW)
            .given_no_previous_events()
            .when(register(&g, approval.clone()))
            .then_expect_events(vec![
                requested(&g, approval),
                InvitationEvent::RegistrationApproved { by: None },
            ]);
    }
}

#[test]
fn approval_refusals() {
    let g = given();
    let admin = PersonId::new_random();
    at(NOW)
        .given(vec![
            requested(&g, Approval::NotRequired),
            InvitationEvent::RegistrationApproved { by: None },
        ])
        .when(InvitationCommand::Approve { by: admin })
        .then_expect_error(InvitationError::NotAwaitingApproval);
    at(NOW)
        .given(vec![issued(&g)])
        .when(InvitationCommand::Reject { by: admin })
        .then_expect_error(InvitationError::NotAwaitingApproval);
    at(NOW)
        .given(vec![requested(&g, Approval::Required)])
        .when(register(&g, Approval::Required))
        .then_expect_error(InvitationError::AlreadyIssued);
    // A registration has no link to accept.
    at(NOW)
        .given(vec![requested(&g, Approval::Required)])
        .when(InvitationCommand::Accept {
            secret: secret(&g, ""),
        })
        .then_expect_error(InvitationError::InvalidLink);
    // A rejected registration cannot be let in later by accident.
    at(NOW)
        .given(vec![
            requested(&g, Approval::Required),
            InvitationEvent::RegistrationRejected { by: admin },
        ])
        .when(InvitationCommand::Approve { by: admin })
        .then_expect_error(InvitationError::NotAwaitingApproval);
}

#[test]
fn a_rejected_registration_stays_rejected() {
    let g = given();
    let admin = PersonId::new_random();
    at(NOW)
        .given(vec![
            requested(&g, Approval::Required),
            InvitationEvent::RegistrationRejected { by: admin },
        ])
        .when(InvitationCommand::Resend)
        .then_expect_error(InvitationError::Rejected);
}
