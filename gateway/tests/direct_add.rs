//! Adding a person directly, on a real store: in at once with a password only its hash
//! keeps, or invited to choose one; and every refusal.

mod world;

use domain::account::{Account, AccountCommand, InvitationSettings, Plan};
use domain::invitation::{InvitationState, SecretKey};
use domain::person::PersonKind;
use domain::{AggregateKey, DomainPattern, Email, PersonId, PersonName, Position, WorkgroupId};
use gateway::password;
use gateway::usecase::add_person::{add_directly, AddDirectly, AddError, Added};
use gateway::usecase::invite_people::Destination;
use projections::{directory, invitations, Database};
use world::World;

fn nora(confirm: bool) -> AddDirectly {
    AddDirectly {
        email: Email::parse("nora@acme.test").expect("an address"),
        name: PersonName::parse("Nora", "Newman").expect("a name"),
        position: Position::parse("Buyer").expect("a position"),
        confirm,
        destination: Destination::Company { department: None },
    }
}

async fn in_at_once_with_a_password_only_its_hash_keeps(db: Database) {
    let w = World::new(db).await;
    let added = add_directly(&w.state, &w.admin, nora(false))
        .await
        .expect("added");
    let Added::Joined { invitation, person } = added else {
        panic!("in at once: {added:?}");
    };
    let record = directory::by_id(&w.state.db, w.account, person)
        .await
        .expect("read")
        .expect("a person");
    assert!(record.active, "{record:?}");
    assert_eq!(record.kind, PersonKind::Employee);
    assert_eq!(record.email, "nora@acme.test");
    assert_eq!(record.sponsor, Some(w.admin.person));
    // The world's key and nonce: the password the notifier will make and email.
    let initial = SecretKey::from_bytes([6; 32]).initial_password(invitation, "n");
    assert!(record.password_hash.starts_with("$argon2id$"));
    assert!(!record.password_hash.contains(&initial));
    assert!(password::verify(initial, Some(record.password_hash)).await);
    let invited = invitations::get(&w.state.db.any, w.account, invitation)
        .await
        .expect("read")
        .expect("the invitation");
    assert_eq!(invited.state, InvitationState::Accepted);
    let account = projections::accounts::get(&w.state.db, w.account)
        .await
        .expect("read")
        .expect("the account");
    assert_eq!(account.seats_in_use, 1, "they hold a place under the limit");

    // Now theirs: adding the address again is refused before anything is issued.
    let again = add_directly(&w.state, &w.admin, nora(true)).await;
    assert!(
        matches!(
            again,
            Err(AddError::Refused {
                code: "EMAIL_TAKEN",
                ..
            })
        ),
        "{again:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_in_at_once_with_a_password_only_its_hash_keeps() {
    in_at_once_with_a_password_only_its_hash_keeps(projections::testing::fresh_sqlite().await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_in_at_once_with_a_password_only_its_hash_keeps() {
    in_at_once_with_a_password_only_its_hash_keeps(projections::testing::fresh_postgres().await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_confirmation_they_wait_in_the_invited_list() {
    let w = World::new(projections::testing::fresh_sqlite().await).await;
    let added = add_directly(&w.state, &w.admin, nora(true))
        .await
        .expect("added");
    let Added::Invited { invitation, person } = added else {
        panic!("invited: {added:?}");
    };
    let waiting = invitations::waiting(&w.state.db, w.account, None, 10)
        .await
        .expect("the invited list");
    assert_eq!(
        waiting.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![invitation]
    );
    assert!(directory::by_id(&w.state.db, w.account, person)
        .await
        .expect("read")
        .is_none());
}

/// The address was free in the directory but someone holds it (here: claimed for
/// another person, as a suspended person or a racing request would): refused, and the
/// invitation issued for it is taken back, not left waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_someone_holds_is_refused_and_nothing_lingers() {
    let w = World::new(projections::testing::fresh_sqlite().await).await;
    let email = Email::parse("nora@acme.test").expect("an address");
    w.state
        .claim_email(w.account, &email, PersonId::new_random(), None)
        .await
        .expect("claimed");
    let refused = add_directly(&w.state, &w.admin, nora(false)).await;
    assert!(
        matches!(
            refused,
            Err(AddError::Refused {
                code: "EMAIL_TAKEN",
                ..
            })
        ),
        "{refused:?}"
    );
    let waiting = invitations::waiting(&w.state.db, w.account, None, 10)
        .await
        .expect("the invited list");
    assert!(waiting.is_empty(), "{waiting:?}");
    assert!(directory::by_email(&w.state.db, w.account, &email)
        .await
        .expect("read")
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_administrators_add_people_and_the_accounts_rules_hold() {
    let w = World::new(projections::testing::fresh_sqlite().await).await;
    let employee = w.join(PersonKind::Employee, false).await;
    let refused = add_directly(&w.state, &employee, nora(false)).await;
    assert!(matches!(refused, Err(AddError::Forbidden)), "{refused:?}");

    let settings = InvitationSettings {
        blocked_domains: vec![DomainPattern::parse("acme.test").expect("pattern")],
        ..Default::default()
    };
    w.state
        .execute::<Account>(
            AggregateKey::account(w.account),
            AccountCommand::ChangeInvitationSettings { settings },
            None,
        )
        .await
        .expect("settings");
    let refused = add_directly(&w.state, &w.admin, nora(false)).await;
    assert!(
        matches!(
            refused,
            Err(AddError::Refused {
                code: "DOMAIN_NOT_ALLOWED",
                ..
            })
        ),
        "{refused:?}"
    );

    let nowhere = AddDirectly {
        email: Email::parse("nora@other.test").expect("an address"),
        destination: Destination::Workgroup(WorkgroupId::new_random()),
        ..nora(false)
    };
    let refused = add_directly(&w.state, &w.admin, nowhere).await;
    assert!(
        matches!(refused, Err(AddError::GroupNotFound)),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_plan_takes_nobody_more() {
    let w = World::new(projections::testing::fresh_sqlite().await).await;
    w.state
        .execute::<Account>(
            AggregateKey::account(w.account),
            AccountCommand::ChangePlan { plan: Plan::Free },
            None,
        )
        .await
        .expect("the free plan");
    for n in 0..5 {
        let someone = AddDirectly {
            email: Email::parse(&format!("p{n}@acme.test")).expect("an address"),
            ..nora(true)
        };
        add_directly(&w.state, &w.admin, someone)
            .await
            .expect("a place is free");
    }
    let refused = add_directly(&w.state, &w.admin, nora(false)).await;
    assert!(
        matches!(
            refused,
            Err(AddError::Refused {
                code: "PLAN_LIMIT_REACHED",
                ..
            })
        ),
        "{refused:?}"
    );
}
