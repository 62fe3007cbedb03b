//! Given/when/then for every workgroup command and refusal.

use super::*;
use crate::person::PersonKind;
use crate::testing::services_at;
use crate::{PersonId, Timestamp, WorkgroupId, WorkgroupName};
use cqrs_es::test::TestFramework;

const NOW: Timestamp = Timestamp(1_700_000_000_000);

struct Given {
    group: WorkgroupId,
    owner: PersonId,
    guest: PersonId,
}

fn given() -> Given {
    Given {
        group: WorkgroupId::new_random(),
        owner: PersonId::new_random(),
        guest: PersonId::new_random(),
    }
}

fn test() -> TestFramework<Workgroup> {
    TestFramework::with(services_at(NOW))
}

fn created(g: &Given, extranet: bool) -> WorkgroupEvent {
    WorkgroupEvent::WorkgroupCreated {
        group: g.group,
        name: "Catalogue 2027".into(),
        extranet,
        owner: g.owner,
    }
}

fn external_joined(g: &Given, expires_at: Option<Timestamp>) -> WorkgroupEvent {
    WorkgroupEvent::MemberAdded {
        person: g.guest,
        role: MemberRole::Member,
        external: true,
        expires_at,
    }
}

#[test]
fn a_group_is_created_with_its_owner() {
    let g = given();
    test()
        .given_no_previous_events()
        .when(WorkgroupCommand::Create {
            group: g.group,
            name: WorkgroupName::parse(" Catalogue 2027 ").unwrap(),
            extranet: true,
            owner: g.owner,
        })
        .then_expect_events(vec![created(&g, true)]);
}

#[test]
fn creation_refusals() {
    let g = given();
    let create = |name: &str| WorkgroupCommand::Create {
        group: g.group,
        name: WorkgroupName::parse(name).unwrap(),
        extranet: false,
        owner: g.owner,
    };
    test()
        .given(vec![created(&g, false)])
        .when(create("Again"))
        .then_expect_error(WorkgroupError::AlreadyExists);
    test()
        .given_no_previous_events()
        .when(WorkgroupCommand::Rename {
            name: WorkgroupName::parse("x").unwrap(),
        })
        .then_expect_error(WorkgroupError::NotFound);
}

#[test]
fn renaming_records_real_changes_only() {
    let g = given();
    test()
        .given(vec![created(&g, false)])
        .when(WorkgroupCommand::Rename {
            name: WorkgroupName::parse("Catalogue 2028").unwrap(),
        })
        .then_expect_events(vec![WorkgroupEvent::WorkgroupRenamed {
            name: "Catalogue 2028".into(),
        }]);
    test()
        .given(vec![created(&g, false)])
        .when(WorkgroupCommand::Rename {
            name: WorkgroupName::parse("Catalogue 2027").unwrap(),
        })
        .then_expect_events(vec![]);
}

#[test]
fn external_users_join_extranet_groups_only() {
    let g = given();
    let add = WorkgroupCommand::AddMember {
        person: g.guest,
        role: MemberRole::Member,
        kind: PersonKind::Extranet,
        expires_at: None,
    };
    test()
        .given(vec![created(&g, true)])
        .when(add.clone())
        .then_expect_events(vec![external_joined(&g, None)]);
    test()
        .given(vec![created(&g, false)])
        .when(add)
        .then_expect_error(WorkgroupError::NotAnExtranetGroup);
    test()
        .given(vec![created(&g, true)])
        .when(WorkgroupCommand::AddMember {
            person: g.guest,
            role: MemberRole::Owner,
            kind: PersonKind::Extranet,
            expires_at: None,
        })
        .then_expect_error(WorkgroupError::ExternalCannotOwn);
    test()
        .given(vec![created(&g, true), external_joined(&g, None)])
        .when(WorkgroupCommand::AddMember {
            person: g.guest,
            role: MemberRole::Member,
            kind: PersonKind::Extranet,
            expires_at: None,
        })
        .then_expect_error(WorkgroupError::AlreadyMember);
}

/// What an invitation into the group asks before it is issued: the same rule as
/// `AddMember`, read off the group's own state.
#[test]
fn a_group_admits_external_people_only_with_external_access() {
    use cqrs_es::Aggregate;
    let g = given();
    let group = |events: Vec<WorkgroupEvent>| {
        let mut group = Workgroup::default();
        events.into_iter().for_each(|e| group.apply(e));
        group
    };
    let unknown = group(vec![]);
    assert!(!unknown.exists());
    assert_eq!(
        unknown.admits(PersonKind::Employee),
        Err(WorkgroupError::NotFound)
    );
    let closed = group(vec![created(&g, false)]);
    assert!(closed.exists());
    assert_eq!(closed.admits(PersonKind::Employee), Ok(()));
    assert_eq!(
        closed.admits(PersonKind::Extranet),
        Err(WorkgroupError::NotAnExtranetGroup)
    );
    let opened = group(vec![
        created(&g, false),
        WorkgroupEvent::ExternalAccessChanged { extranet: true },
    ]);
    assert_eq!(opened.admits(PersonKind::Extranet), Ok(()));
    assert_eq!(
        opened.admits(PersonKind::Guest),
        Err(WorkgroupError::GuestsOnlyInTasks)
    );
}

#[test]
fn external_access_cannot_be_turned_off_over_external_members() {
    let g = given();
    test()
        .given(vec![created(&g, true), external_joined(&g, None)])
        .when(WorkgroupCommand::SetExternalAccess { extranet: false })
        .then_expect_error(WorkgroupError::ExternalMembersInside { count: 1 });
    test()
        .given(vec![
            created(&g, true),
            external_joined(&g, None),
            WorkgroupEvent::MemberRemoved {
                person: g.guest,
                reason: RemovalReason::Removed,
            },
        ])
        .when(WorkgroupCommand::SetExternalAccess { extranet: false })
        .then_expect_events(vec![WorkgroupEvent::ExternalAccessChanged {
            extranet: false,
        }]);
    test()
        .given(vec![created(&g, false)])
        .when(WorkgroupCommand::SetExternalAccess { extranet: true })
        .then_expect_events(vec![WorkgroupEvent::ExternalAccessChanged {
            extranet: true,
        }]);
    test()
        .given(vec![created(&g, true)])
        .when(WorkgroupCommand::SetExternalAccess { extranet: true })
        .then_expect_events(vec![]);
}

#[test]
fn the_invite_policy_decides_who_may_invite() {
    assert!(InvitePolicy::Owner.allows(MemberRole::Owner));
    assert!(!InvitePolicy::Owner.allows(MemberRole::Moderator));
    assert!(InvitePolicy::Moderators.allows(MemberRole::Moderator));
    assert!(!InvitePolicy::Moderators.allows(MemberRole::Member));
    assert!(InvitePolicy::Members.allows(MemberRole::Member));
    let g = given();
    test()
        .given(vec![created(&g, true)])
        .when(WorkgroupCommand::SetInvitePolicy {
            policy: InvitePolicy::Members,
        })
        .then_expect_events(vec![WorkgroupEvent::InvitePolicyChanged {
            policy: InvitePolicy::Members,
        }]);
    let mut group = Workgroup::default();
    cqrs_es::Aggregate::apply(&mut group, created(&g, true));
    cqrs_es::Aggregate::apply(&mut group, external_joined(&g, None));
    assert!(group.may_invite(g.owner));
    assert!(!group.may_invite(g.guest));
    cqrs_es::Aggregate::apply(
        &mut group,
        WorkgroupEvent::InvitePolicyChanged {
            policy: InvitePolicy::Members,
        },
    );
    assert!(group.may_invite(g.guest));
    assert!(!group.may_invite(PersonId::new_random()));
}

#[test]
fn roles_change_but_a_group_keeps_an_owner() {
    let g = given();
    let colleague = PersonId::new_random();
    let colleague_joined = WorkgroupEvent::MemberAdded {
        person: colleague,
        role: MemberRole::Member,
        external: false,
        expires_at: None,
    };
    test()
        .given(vec![created(&g, true), colleague_joined.clone()])
        .when(WorkgroupCommand::ChangeRole {
            person: colleague,
            role: MemberRole::Moderator,
        })
        .then_expect_events(vec![WorkgroupEvent::MemberRoleChanged {
            person: colleague,
            role: MemberRole::Moderator,
        }]);
    test()
        .given(vec![created(&g, true)])
        .when(WorkgroupCommand::ChangeRole {
            person: g.owner,
            role: MemberRole::Member,
        })
        .then_expect_error(WorkgroupError::LastOwner);
    test()
        .given(vec![created(&g, true)])
        .when(WorkgroupCommand::RemoveMember { person: g.owner })
        .then_expect_error(WorkgroupError::LastOwner);
    test()
        .given(vec![created(&g, true), external_joined(&g, None)])
        .when(WorkgroupCommand::ChangeRole {
            person: g.guest,
            role: MemberRole::Owner,
        })
        .then_expect_error(WorkgroupError::ExternalCannotOwn);
    test()
        .given(vec![created(&g, true)])
        .when(WorkgroupCommand::ChangeRole {
            person: g.guest,
            role: MemberRole::Member,
        })
        .then_expect_error(WorkgroupError::NotMember);
    // With a second owner, the first may step down.
    test()
        .given(vec![
            created(&g, true),
            colleague_joined,
            WorkgroupEvent::MemberRoleChanged {
                person: colleague,
                role: MemberRole::Owner,
            },
        ])
        .when(WorkgroupCommand::RemoveMember { person: g.owner })
        .then_expect_events(vec![WorkgroupEvent::MemberRemoved {
            person: g.owner,
            reason: RemovalReason::Removed,
        }]);
}

#[test]
fn memberships_end_on_their_date_and_can_be_extended() {
    let g = given();
    let soon = Some(NOW);
    test()
        .given(vec![created(&g, true), external_joined(&g, soon)])
        .when(WorkgroupCommand::ExpireMembership { person: g.guest })
        .then_expect_events(vec![WorkgroupEvent::MemberRemoved {
            person: g.guest,
            reason: RemovalReason::Expired,
        }]);
    let later = Some(NOW.plus_days(30));
    test()
        .given(vec![created(&g, true), external_joined(&g, soon)])
        .when(WorkgroupCommand::SetMembershipExpiry {
            person: g.guest,
            expires_at: later,
        })
        .then_expect_events(vec![WorkgroupEvent::MembershipExpiryChanged {
            person: g.guest,
            expires_at: later,
        }]);
    test()
        .given(vec![created(&g, true), external_joined(&g, later)])
        .when(WorkgroupCommand::ExpireMembership { person: g.guest })
        .then_expect_error(WorkgroupError::NotYetExpired);
    test()
        .given(vec![created(&g, true), external_joined(&g, None)])
        .when(WorkgroupCommand::ExpireMembership { person: g.guest })
        .then_expect_error(WorkgroupError::NotYetExpired);
    test()
        .given(vec![created(&g, true)])
        .when(WorkgroupCommand::SetMembershipExpiry {
            person: g.guest,
            expires_at: later,
        })
        .then_expect_error(WorkgroupError::NotMember);
}

#[test]
fn a_person_who_may_no_longer_be_here_is_evicted() {
    let g = given();
    test()
        .given(vec![created(&g, true), external_joined(&g, None)])
        .when(WorkgroupCommand::Evict { person: g.guest })
        .then_expect_events(vec![WorkgroupEvent::MemberRemoved {
            person: g.guest,
            reason: RemovalReason::NoLongerAllowed,
        }]);
    test()
        .given(vec![created(&g, true)])
        .when(WorkgroupCommand::Evict { person: g.guest })
        .then_expect_error(WorkgroupError::NotMember);
}

#[test]
fn guests_join_tasks_not_groups() {
    let g = given();
    test()
        .given(vec![created(&g, true)])
        .when(WorkgroupCommand::AddMember {
            person: g.guest,
            role: MemberRole::Member,
            kind: PersonKind::Guest,
            expires_at: None,
        })
        .then_expect_error(WorkgroupError::GuestsOnlyInTasks);
}
