//! A person's history for audit: every event that concerned them, in order, with who
//! did it and when, across a dismissal and a re-invitation; and their standing at any
//! past moment.

mod support;

use domain::invitation::{Delivery, Invitation, InvitationCommand, InvitationTarget, SecretKey};
use domain::person::{Person, PersonCommand, PersonKind, PersonStatus};
use domain::services::{DomainServices, FixedClock, FixedNonce};
use domain::task::{Task, TaskCommand, TaskRole};
use domain::{
    AccountId, Address, AggregateKey, Email, InvitationId, PersonId, PersonName, TaskId, Timestamp,
};
use projections::commands::CommandBus;
use projections::history::{history_of, status_at, History};
use projections::log::Metadata;
use projections::projector::Projector;
use projections::read_model::ReadModels;
use projections::Database;
use std::sync::Arc;

const DAY: i64 = Timestamp::MILLIS_PER_DAY;
const T0: i64 = 1_700_000_000_000;

fn at(day: i64, actor: Option<PersonId>) -> Metadata {
    Metadata {
        actor,
        at: Timestamp(T0 + day * DAY),
        request_id: None,
    }
}

fn join(person: PersonId, previous: Option<PersonId>, administrator: bool) -> PersonCommand {
    PersonCommand::Join {
        person,
        kind: if administrator {
            PersonKind::Employee
        } else {
            PersonKind::Guest
        },
        email: Email::parse(if administrator {
            "ada@acme.test"
        } else {
            "gus@client.test"
        })
        .expect("email"),
        name: PersonName::parse("Some", "One").expect("name"),
        administrator,
        password_hash: "$argon2id$stub".into(),
        invitation: None,
        sponsor: None,
        previous,
    }
}

async fn a_history_spans_both_periods(db: Database) {
    let services = DomainServices {
        clock: Arc::new(FixedClock(Timestamp(T0))),
        nonces: Arc::new(FixedNonce("n".into())),
        secrets: SecretKey::from_bytes([7; 32]),
    };
    let bus = CommandBus::new(&db, services);
    let account = AccountId::new_random();
    let (admin, gus, gus_again) = (
        PersonId::new_random(),
        PersonId::new_random(),
        PersonId::new_random(),
    );
    let person = |p: PersonId| AggregateKey::new(account, p.0);

    bus.execute::<Person>(person(admin), join(admin, None, true), &at(0, None))
        .await
        .expect("admin");
    let task = TaskId::new_random();
    let create = TaskCommand::Create {
        task,
        title: domain::TaskTitle::parse("Proofs").unwrap(),
        description: domain::TaskDescription::parse("").unwrap(),
        creator: admin,
        workgroup: None,
        deadline: None,
    };
    bus.execute::<Task>(
        AggregateKey::new(account, task.0),
        create,
        &at(1, Some(admin)),
    )
    .await
    .expect("task");
    let invitation = InvitationId::new_random();
    let issue = InvitationCommand::Issue {
        invitation,
        person: gus,
        address: Address::Email(Email::parse("gus@client.test").expect("email")),
        name: Some(PersonName::parse("Gus", "Guest").expect("name")),
        target: InvitationTarget::Task {
            task,
            role: TaskRole::Observer,
        },
        sponsor: admin,
        delivery: Delivery::Link,
    };
    bus.execute::<Invitation>(
        AggregateKey::new(account, invitation.0),
        issue,
        &at(2, Some(admin)),
    )
    .await
    .expect("invite");
    bus.execute::<Person>(person(gus), join(gus, None, false), &at(3, Some(gus)))
        .await
        .expect("gus joins");
    let assign = TaskCommand::Assign {
        person: gus,
        role: TaskRole::Observer,
    };
    bus.execute::<Task>(
        AggregateKey::new(account, task.0),
        assign,
        &at(3, Some(gus)),
    )
    .await
    .expect("assign");
    bus.execute::<Person>(person(gus), PersonCommand::Dismiss, &at(10, Some(admin)))
        .await
        .expect("dismiss");
    bus.execute::<Person>(
        person(gus_again),
        join(gus_again, Some(gus), false),
        &at(20, Some(admin)),
    )
    .await
    .expect("re-invited");

    let (read_models, leader) = Projector::new(ReadModels, db.clone())
        .await
        .expect("projector");
    read_models.catch_up_to_head().await.expect("project");
    let (history, _) = Projector::new(History, db.clone()).await.expect("history");
    let history = history.behind(&leader);
    history.catch_up_to_head().await.expect("history");

    let entries = history_of(&db, account, gus_again).await.expect("history");
    let story: Vec<(String, &str)> = entries
        .iter()
        .map(|e| {
            let who = if e.as_person == gus_again {
                "now"
            } else {
                "before"
            };
            (e.event.event_type.clone(), who)
        })
        .collect();
    assert_eq!(
        story,
        vec![
            ("InvitationIssued".to_string(), "before"),
            ("PersonJoined".to_string(), "before"),
            ("PersonAssigned".to_string(), "before"),
            ("PersonDismissed".to_string(), "before"),
            ("PersonJoined".to_string(), "now"),
        ],
        "both periods, in order"
    );
    let dismissal = &entries[3];
    assert_eq!(dismissal.event.metadata.actor, Some(admin), "who did it");
    assert_eq!(
        dismissal.event.metadata.at,
        Timestamp(T0 + 10 * DAY),
        "and when"
    );
    assert!(entries.iter().all(|e| e.subject));
    assert!(
        entries[0]
            .event
            .payload
            .to_string()
            .contains("gus@client.test"),
        "personal data reads back while not erased"
    );

    // The administrator's history holds what they did, as the one who acted.
    let acts = history_of(&db, account, admin).await.expect("history");
    assert!(acts
        .iter()
        .any(|e| e.event.event_type == "PersonDismissed" && !e.subject));

    assert_eq!(
        status_at(&db, account, gus, Timestamp(T0 + 5 * DAY))
            .await
            .expect("then"),
        PersonStatus::Active
    );
    assert_eq!(
        status_at(&db, account, gus, Timestamp(T0 + 15 * DAY))
            .await
            .expect("then"),
        PersonStatus::Dismissed
    );
    assert_eq!(
        status_at(&db, account, gus, Timestamp(T0 + 2 * DAY))
            .await
            .expect("then"),
        PersonStatus::None
    );
}

#[tokio::test]
async fn postgres_a_history_spans_both_periods() {
    a_history_spans_both_periods(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_a_history_spans_both_periods() {
    a_history_spans_both_periods(support::fresh_sqlite().await).await;
}
