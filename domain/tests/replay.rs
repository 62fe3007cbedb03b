//! A generated history of 100,000 events, made by running random commands through the
//! aggregates, is stored as JSON and replayed through fresh aggregates: every event
//! reads back, and every aggregate ends in the same state as the one that made it.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use domain::account::{Account, AccountCommand, Plan};
use domain::email_claim::{EmailClaim, EmailClaimCommand};
use domain::invitation::{Delivery, Invitation, InvitationCommand, InvitationTarget, SecretKey};
use domain::person::{Person, PersonCommand, PersonKind, SuspensionReason};
use domain::services::{Clock, DomainServices, NonceSource};
use domain::task::{Task, TaskCommand, TaskRole, TaskStatus};
use domain::workgroup::{MemberRole, Workgroup, WorkgroupCommand};
use domain::{
    AccountId, AccountName, Address, CommentId, CommentText, Email, InvitationId, PersonId,
    PersonName, TaskDescription, TaskId, TaskTitle, Timestamp, WorkgroupId, WorkgroupName,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use uuid::Uuid;

const EVENTS: usize = 100_000;

/// xorshift64*: deterministic, so a failure replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
    fn uuid(&mut self) -> Uuid {
        Uuid::from_u64_pair(self.next(), self.next())
    }
}

/// Time moves forward a little with every command, so expiries come due.
struct SteppingClock(AtomicI64);
impl Clock for SteppingClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.fetch_add(60_000, Ordering::Relaxed))
    }
}

struct CountingNonces(AtomicU64);
impl NonceSource for CountingNonces {
    fn nonce(&self) -> String {
        format!("{:032x}", self.0.fetch_add(1, Ordering::Relaxed))
    }
}

/// One aggregate as it was made, and its events as the store keeps them.
struct Stored<A: Aggregate> {
    live: A,
    events: Vec<(String, String, Value)>,
}

struct World<A: Aggregate> {
    aggregates: HashMap<Uuid, Stored<A>>,
}

impl<A: Aggregate<Services = DomainServices>> World<A> {
    fn new() -> Self {
        Self {
            aggregates: HashMap::new(),
        }
    }

    /// Runs a command; returns how many events it wrote (0 when refused).
    async fn run(&mut self, id: Uuid, command: A::Command, services: &DomainServices) -> usize {
        let stored = self.aggregates.entry(id).or_insert_with(|| Stored {
            live: A::default(),
            events: Vec::new(),
        });
        let sink = EventSink::default();
        if stored.live.handle(command, services, &sink).await.is_err() {
            return 0;
        }
        let events = sink.collect().await;
        for e in &events {
            let payload = serde_json::to_value(e).expect("serialise event");
            stored
                .events
                .push((e.event_type(), e.event_version(), payload));
        }
        events.len()
    }

    /// Replays every stored event through a fresh aggregate and compares states.
    fn replay_and_compare(&self) -> usize {
        let mut replayed_events = 0;
        for (id, stored) in &self.aggregates {
            let mut fresh = A::default();
            for (event_type, version, payload) in &stored.events {
                let (_, payload) = domain::upcast::upcast(event_type, version, payload.clone());
                let event: A::Event = serde_json::from_value(payload).unwrap_or_else(|e| {
                    panic!("{} {id}: {event_type} does not read back: {e}", A::TYPE)
                });
                fresh.apply(event);
                replayed_events += 1;
            }
            assert_eq!(
                serde_json::to_value(&fresh).expect("state"),
                serde_json::to_value(&stored.live).expect("state"),
                "{} {id} replays to a different state",
                A::TYPE
            );
        }
        replayed_events
    }
}

#[tokio::test]
async fn a_generated_history_of_100k_events_replays() {
    let secrets = SecretKey::from_bytes([9; 32]);
    let services = DomainServices {
        clock: Arc::new(SteppingClock(AtomicI64::new(1_700_000_000_000))),
        nonces: Arc::new(CountingNonces(AtomicU64::new(0))),
        secrets: secrets.clone(),
    };
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let account_id = AccountId(rng.uuid());
    let mut accounts = World::<Account>::new();
    let mut people = World::<Person>::new();
    let mut tasks = World::<Task>::new();
    let mut groups = World::<Workgroup>::new();
    let mut invitations = World::<Invitation>::new();
    let mut claims = World::<EmailClaim>::new();

    let mut written = accounts
        .run(
            account_id.0,
            AccountCommand::Create {
                account: account_id,
                name: AccountName::parse("Generated").unwrap(),
                plan: Plan::Trial,
            },
            &services,
        )
        .await;
    let mut person_ids: Vec<PersonId> = Vec::new();
    let mut task_ids: Vec<TaskId> = Vec::new();
    let mut group_ids: Vec<WorkgroupId> = Vec::new();
    let mut invitation_ids: Vec<(InvitationId, String)> = Vec::new();
    let mut refused = 0usize;
    let kinds = [
        PersonKind::Employee,
        PersonKind::Extranet,
        PersonKind::Guest,
    ];
    let roles = [
        TaskRole::Responsible,
        TaskRole::Participant,
        TaskRole::Observer,
    ];
    let statuses = [
        TaskStatus::New,
        TaskStatus::InProgress,
        TaskStatus::AwaitingReview,
        TaskStatus::Completed,
        TaskStatus::Deferred,
    ];
    let member_roles = [MemberRole::Owner, MemberRole::Moderator, MemberRole::Member];
    let reasons = [
        SuspensionReason::TrialExpired,
        SuspensionReason::AccessExpired,
        SuspensionReason::Administrative,
    ];

    let mut step = 0u64;
    while written < EVENTS {
        step += 1;
        let n = match rng.below(100) {
            // People come and go.
            0..=7 => {
                let person = PersonId(rng.uuid());
                let email = Email::parse(&format!("p{step}@example.com")).expect("email");
                let kind = *rng.pick(&kinds).expect("kinds");
                let claimed = claims
                    .run(
                        Uuid::new_v5(&Uuid::NAMESPACE_OID, email.as_str().as_bytes()),
                        EmailClaimCommand::Claim {
                            email: email.clone(),
                            person,
                        },
                        &services,
                    )
                    .await;
                let joined = people
                    .run(
                        person.0,
                        PersonCommand::Join {
                            person,
                            kind,
                            email,
                            name: PersonName::parse("Gen", &format!("Person{step}")).expect("name"),
                            administrator: kind == PersonKind::Employee && rng.below(10) == 0,
                            password_hash: "$argon2id$generated".into(),
                            invitation: None,
                            sponsor: person_ids.first().copied(),
                            previous: None,
                        },
                        &services,
                    )
                    .await;
                person_ids.push(person);
                claimed + joined
            }
            8..=15 => {
                let Some(&person) = rng.pick(&person_ids) else {
                    continue;
                };
                let command = match rng.below(10) {
                    0 => PersonCommand::Dismiss,
                    1 => PersonCommand::Reinstate,
                    2 => PersonCommand::Suspend {
                        reason: *rng.pick(&reasons).expect("reasons"),
                    },
                    3 => PersonCommand::LiftSuspension {
                        reason: *rng.pick(&reasons).expect("reasons"),
                    },
                    4 => PersonCommand::SetAccessExpiry {
                        expires_at: Some(Timestamp(1_700_000_000_000 + step as i64 * 60_000)),
                    },
                    5 => PersonCommand::ExpireAccess,
                    6 => PersonCommand::TransferToEmployee,
                    7 => PersonCommand::ConvertToExtranet,
                    8 => PersonCommand::ChangeProfile {
                        name: PersonName::parse("New", &format!("Name{step}")).expect("name"),
                    },
                    _ => PersonCommand::ErasePersonalData,
                };
                people.run(person.0, command, &services).await
            }
            // Workgroups.
            16..=19 => {
                let group = WorkgroupId(rng.uuid());
                let Some(&owner) = rng.pick(&person_ids) else {
                    continue;
                };
                group_ids.push(group);
                groups
                    .run(
                        group.0,
                        WorkgroupCommand::Create {
                            group,
                            name: WorkgroupName::parse(&format!("Group {step}")).unwrap(),
                            extranet: rng.below(2) == 0,
                            owner,
                        },
                        &services,
                    )
                    .await
            }
            20..=29 => {
                let (Some(&group), Some(&person)) = (rng.pick(&group_ids), rng.pick(&person_ids))
                else {
                    continue;
                };
                let command = match rng.below(7) {
                    0 | 1 => WorkgroupCommand::AddMember {
                        person,
                        role: *rng.pick(&member_roles).expect("roles"),
                        kind: *rng.pick(&kinds).expect("kinds"),
                        expires_at: (rng.below(3) == 0)
                            .then(|| Timestamp(1_700_000_000_000 + step as i64 * 60_000)),
                    },
                    2 => WorkgroupCommand::ChangeRole {
                        person,
                        role: *rng.pick(&member_roles).expect("roles"),
                    },
                    3 => WorkgroupCommand::RemoveMember { person },
                    4 => WorkgroupCommand::SetExternalAccess {
                        extranet: rng.below(2) == 0,
                    },
                    5 => WorkgroupCommand::ExpireMembership { person },
                    _ => WorkgroupCommand::Rename {
                        name: WorkgroupName::parse(&format!("Group renamed {step}")).unwrap(),
                    },
                };
                groups.run(group.0, command, &services).await
            }
            // Invitations.
            30..=35 => {
                let (Some(&sponsor), Some(&task)) = (rng.pick(&person_ids), rng.pick(&task_ids))
                else {
                    continue;
                };
                let invitation = InvitationId(rng.uuid());
                let n = invitations
                    .run(
                        invitation.0,
                        InvitationCommand::Issue {
                            invitation,
                            person: PersonId(rng.uuid()),
                            address: Address::Email(
                                Email::parse(&format!("g{step}@client.com")).expect("email"),
                            ),
                            name: Some(
                                PersonName::parse("Guest", &format!("G{step}")).expect("name"),
                            ),
                            target: InvitationTarget::Task {
                                task,
                                role: *rng.pick(&roles).expect("roles"),
                            },
                            sponsor,
                            delivery: Delivery::Link,
                        },
                        &services,
                    )
                    .await;
                invitation_ids.push((invitation, String::new()));
                n
            }
            36..=41 => {
                let Some(&(invitation, _)) = rng.pick(&invitation_ids) else {
                    continue;
                };
                // The nonce in force is the last one the aggregate recorded.
                let nonce = invitations.aggregates[&invitation.0]
                    .events
                    .iter()
                    .rev()
                    .find_map(|(_, _, p)| {
                        p.as_object()?
                            .values()
                            .next()?
                            .get("nonce")?
                            .as_str()
                            .map(str::to_string)
                    })
                    .unwrap_or_default();
                let secret = secrets.secret_for(invitation, &nonce);
                let command = match rng.below(6) {
                    0 | 1 => InvitationCommand::Accept { secret },
                    2 => InvitationCommand::Resend,
                    3 => InvitationCommand::Revoke,
                    4 => InvitationCommand::Expire,
                    _ => InvitationCommand::Decline { secret },
                };
                invitations.run(invitation.0, command, &services).await
            }
            // The account.
            42..=44 => {
                let command = match rng.below(4) {
                    0 => AccountCommand::TakeSeat {
                        person: PersonId(rng.uuid()),
                        external: rng.below(2) == 0,
                        email: None,
                    },
                    1 => AccountCommand::ReleaseSeat {
                        person: PersonId(rng.uuid()),
                        cause: domain::LogMark {
                            tx: 0,
                            position: i64::try_from(step).unwrap_or(i64::MAX),
                        },
                    },
                    2 => AccountCommand::CheckTrial,
                    _ => AccountCommand::RotateRegistrationLink,
                };
                accounts.run(account_id.0, command, &services).await
            }
            // Tasks: most of the traffic.
            45..=52 => {
                let Some(&creator) = rng.pick(&person_ids) else {
                    continue;
                };
                let task = TaskId(rng.uuid());
                task_ids.push(task);
                tasks
                    .run(
                        task.0,
                        TaskCommand::Create {
                            task,
                            title: TaskTitle::parse(&format!("Task {step}")).unwrap(),
                            description: TaskDescription::parse("Generated").unwrap(),
                            creator,
                            workgroup: rng.pick(&group_ids).copied(),
                            deadline: None,
                        },
                        &services,
                    )
                    .await
            }
            _ => {
                let Some(&task) = rng.pick(&task_ids) else {
                    continue;
                };
                let person = rng
                    .pick(&person_ids)
                    .copied()
                    .unwrap_or(PersonId(Uuid::nil()));
                let command = match rng.below(8) {
                    0 => TaskCommand::Rename {
                        title: TaskTitle::parse(&format!("Task renamed {step}")).unwrap(),
                    },
                    1 => TaskCommand::ChangeStatus {
                        status: *rng.pick(&statuses).expect("statuses"),
                    },
                    2 => TaskCommand::ChangeDescription {
                        description: TaskDescription::parse(&format!("Description {step}"))
                            .unwrap(),
                    },
                    3 => TaskCommand::SetDeadline {
                        deadline: (rng.below(2) == 0).then_some(Timestamp(step as i64)),
                    },
                    4 => TaskCommand::Assign {
                        person,
                        role: *rng.pick(&roles).expect("roles"),
                    },
                    5 => TaskCommand::Unassign { person },
                    _ => TaskCommand::Comment {
                        comment: CommentId(rng.uuid()),
                        author: person,
                        text: CommentText::parse(&format!("Comment {step}")).unwrap(),
                    },
                };
                tasks.run(task.0, command, &services).await
            }
        };
        if n == 0 {
            refused += 1;
        }
        written += n;
    }

    let replayed = accounts.replay_and_compare()
        + people.replay_and_compare()
        + tasks.replay_and_compare()
        + groups.replay_and_compare()
        + invitations.replay_and_compare()
        + claims.replay_and_compare();
    assert_eq!(replayed, written);
    assert!(written >= EVENTS);
    // The generator exercised refusals and no-ops too, not only the happy path.
    assert!(
        refused > 1_000,
        "only {refused} commands were refused or changed nothing"
    );
    for world_events in [
        tasks
            .aggregates
            .values()
            .map(|s| s.events.len())
            .sum::<usize>(),
        people.aggregates.values().map(|s| s.events.len()).sum(),
        groups.aggregates.values().map(|s| s.events.len()).sum(),
        invitations
            .aggregates
            .values()
            .map(|s| s.events.len())
            .sum(),
    ] {
        assert!(world_events > 1_000, "each aggregate type took part");
    }
}
