//! Inviting many at once into the company or a workgroup, on a real store.

mod world;

use domain::account::{Account, AccountCommand, InvitationSettings};
use domain::person::PersonKind;
use domain::workgroup::{InvitePolicy, MemberRole, WorkgroupCommand};
use domain::{AggregateKey, DomainPattern, WorkgroupId};
use gateway::usecase::invite_people::{invite_many, Destination, InviteError, InviteMany, Outcome};
use projections::{workgroups, Database};
use world::World;

fn codes(outcomes: &[Outcome]) -> Vec<(String, &'static str)> {
    outcomes
        .iter()
        .map(|o| match o {
            Outcome::Invited { address, .. } => (address.clone(), "INVITED"),
            Outcome::Refused { address, code, .. } => (address.clone(), *code),
        })
        .collect()
}

async fn one_bad_address_loses_none_of_the_good_ones(db: Database) {
    let w = World::new(db).await;
    let (group, outcomes) = invite_many(
        &w.state,
        &w.admin,
        InviteMany {
            addresses: "ann@partner.com, bob@@partner.com; +44 20 7946 0958\nANN@partner.com"
                .into(),
            kind: PersonKind::Extranet,
            destination: Destination::NewExtranetGroup {
                name: domain::WorkgroupName::parse("Partners").unwrap(),
            },
        },
    )
    .await
    .expect("invite");
    assert_eq!(
        codes(&outcomes),
        vec![
            ("ann@partner.com".into(), "INVITED"),
            ("bob@@partner.com".into(), "INVALID_ADDRESS"),
            ("+442079460958".into(), "INVITED"),
            ("ANN@partner.com".into(), "INVALID_ADDRESS"),
        ]
    );
    let group = group.expect("a group was created");
    let record = workgroups::get(&w.state.db, w.account, group)
        .await
        .expect("read")
        .expect("group");
    assert!(
        record.extranet,
        "a group created through an extranet invitation is an extranet group"
    );
    let account = projections::accounts::get(&w.state.db, w.account)
        .await
        .expect("read")
        .expect("account");
    assert_eq!(
        account.seats_in_use, 2,
        "the founder is not counted here; each invitation holds a place"
    );
    // Both wait in the invited list until they accept.
    let waiting = projections::invitations::waiting(&w.state.db, w.account, None, 10)
        .await
        .expect("invited list");
    let mut addresses: Vec<&str> = waiting.iter().map(|i| i.address.as_str()).collect();
    addresses.sort();
    assert_eq!(addresses, vec!["+442079460958", "ann@partner.com"]);
    let first = &waiting[0];
    let rest = projections::invitations::waiting(
        &w.state.db,
        w.account,
        Some((first.issued_at, first.id)),
        10,
    )
    .await
    .expect("next page");
    assert_eq!(rest.len(), 1, "a page continues after the last one shown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_one_bad_address_loses_none_of_the_good_ones() {
    one_bad_address_loses_none_of_the_good_ones(projections::testing::fresh_postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_one_bad_address_loses_none_of_the_good_ones() {
    one_bad_address_loses_none_of_the_good_ones(projections::testing::fresh_sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extranet_users_go_into_extranet_groups_only() {
    let w = World::new(projections::testing::fresh_sqlite().await).await;
    let internal = w.group(false, &w.admin).await;
    let invite = |destination| InviteMany {
        addresses: "ed@partner.com".into(),
        kind: PersonKind::Extranet,
        destination,
    };
    let into_internal =
        invite_many(&w.state, &w.admin, invite(Destination::Workgroup(internal))).await;
    assert!(matches!(into_internal, Err(InviteError::GroupNotExtranet)));
    let into_company = invite_many(
        &w.state,
        &w.admin,
        invite(Destination::Company { department: None }),
    )
    .await;
    assert!(matches!(into_company, Err(InviteError::ExtranetNeedsGroup)));
    let nowhere = invite_many(
        &w.state,
        &w.admin,
        invite(Destination::Workgroup(WorkgroupId::new_random())),
    )
    .await;
    assert!(matches!(nowhere, Err(InviteError::GroupNotFound)));
    let guests = invite_many(
        &w.state,
        &w.admin,
        InviteMany {
            addresses: "g@client.com".into(),
            kind: PersonKind::Guest,
            destination: Destination::Company { department: None },
        },
    )
    .await;
    assert!(matches!(guests, Err(InviteError::GuestsOnlyInTasks)));
    let empty = invite_many(
        &w.state,
        &w.admin,
        InviteMany {
            addresses: " , ".into(),
            kind: PersonKind::Employee,
            destination: Destination::Company { department: None },
        },
    )
    .await;
    assert!(matches!(empty, Err(InviteError::NoAddresses)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_invite_follows_the_account_and_the_group() {
    let w = World::new(projections::testing::fresh_sqlite().await).await;
    let employee = w.join(PersonKind::Employee, false).await;
    let to_company = |addresses: &str| InviteMany {
        addresses: addresses.into(),
        kind: PersonKind::Employee,
        destination: Destination::Company { department: None },
    };
    // By default only administrators invite into the company.
    let refused = invite_many(&w.state, &employee, to_company("x@acme.test")).await;
    assert!(matches!(refused, Err(InviteError::Forbidden)));
    let settings = InvitationSettings {
        everyone_may_invite: true,
        blocked_domains: vec![DomainPattern::parse("*.blocked.com").expect("pattern")],
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
    let (_, outcomes) = invite_many(
        &w.state,
        &employee,
        to_company("x@acme.test, y@eu.blocked.com"),
    )
    .await
    .expect("allowed now");
    assert_eq!(
        codes(&outcomes),
        vec![
            ("x@acme.test".into(), "INVITED"),
            ("y@eu.blocked.com".into(), "DOMAIN_NOT_ALLOWED")
        ]
    );

    // In a group, the group's policy decides: an extranet member may invite once the
    // group lets every member invite.
    let group = w.group(true, &w.admin).await;
    let member = w.join(PersonKind::Extranet, false).await;
    w.group_command(
        group,
        WorkgroupCommand::AddMember {
            person: member.person,
            role: MemberRole::Member,
            kind: PersonKind::Extranet,
            expires_at: None,
        },
    )
    .await;
    let to_group = InviteMany {
        addresses: "friend@partner.com".into(),
        kind: PersonKind::Extranet,
        destination: Destination::Workgroup(group),
    };
    let refused = invite_many(&w.state, &member, to_group.clone()).await;
    assert!(
        matches!(refused, Err(InviteError::Forbidden)),
        "{refused:?}"
    );
    w.group_command(
        group,
        WorkgroupCommand::SetInvitePolicy {
            policy: InvitePolicy::Members,
        },
    )
    .await;
    let (_, outcomes) = invite_many(&w.state, &member, to_group)
        .await
        .expect("members may invite");
    assert_eq!(
        codes(&outcomes),
        vec![("friend@partner.com".into(), "INVITED")]
    );
}
