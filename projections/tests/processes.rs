//! Processes that follow the log (the reactor) and the clock (the scheduler), on a
//! real store.

mod support;

use domain::account::{Account, AccountCommand, Plan};
use domain::email_claim::{EmailClaim, EmailClaimCommand};
use domain::invitation::{Delivery, Invitation, InvitationCommand, InvitationTarget, SecretKey};
use domain::person::{Person, PersonCommand, PersonKind, PersonStatus, SuspensionReason};
use domain::services::{Clock, DomainServices, FixedNonce};
use domain::workgroup::{MemberRole, Workgroup, WorkgroupCommand};
use domain::{
    AccountId, Address, AggregateKey, Email, InvitationId, PersonId, PersonName, Timestamp,
    WorkgroupId,
};
use projections::commands::CommandBus;
use projections::log::Metadata;
use projections::projector::{Projector, ProjectorHandle};
use projections::reactor::Reactor;
use projections::read_model::ReadModels;
use projections::scheduler::Scheduler;
use projections::{directory, Database};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

const T0: i64 = 1_700_000_000_000;

#[derive(Clone)]
struct TestClock(Arc<AtomicI64>);
impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}
impl TestClock {
    fn advance_days(&self, days: i64) {
        self.0
            .fetch_add(days * Timestamp::MILLIS_PER_DAY, Ordering::SeqCst);
    }
}

struct Setup {
    db: Database,
    bus: Arc<CommandBus>,
    clock: TestClock,
    projector: Projector<ReadModels>,
    handle: ProjectorHandle,
    account: AccountId,
}

impl Setup {
    async fn new(db: Database, plan: Plan) -> Self {
        let clock = TestClock(Arc::new(AtomicI64::new(T0)));
        let services = DomainServices {
            clock: Arc::new(clock.clone()),
            nonces: Arc::new(FixedNonce("n".into())),
            secrets: SecretKey::from_bytes([4; 32]),
        };
        let bus = Arc::new(CommandBus::new(&db, services));
        let (projector, handle) = Projector::new(ReadModels, db.clone())
            .await
            .expect("projector");
        let account = AccountId::new_random();
        let s = Self {
            db,
            bus,
            clock,
            projector,
            handle,
            account,
        };
        s.bus
            .execute::<Account>(
                AggregateKey::account(account),
                AccountCommand::Create {
                    account,
                    name: domain::AccountName::parse("Acme").unwrap(),
                    plan,
                },
                &s.meta(),
            )
            .await
            .expect("create account");
        s
    }

    fn meta(&self) -> Metadata {
        Metadata {
            actor: None,
            at: self.clock.now(),
            request_id: None,
        }
    }

    async fn join(&self, kind: PersonKind, email: &str) -> PersonId {
        let person = PersonId::new_random();
        let email = Email::parse(email).expect("email");
        self.bus
            .execute::<EmailClaim>(
                EmailClaim::key(self.account, &email, self.bus.secrets()),
                EmailClaimCommand::Claim {
                    email: email.clone(),
                    person,
                },
                &self.meta(),
            )
            .await
            .expect("claim");
        self.person(
            person,
            PersonCommand::Join {
                person,
                kind,
                email,
                name: PersonName::parse("Some", "One").expect("name"),
                administrator: false,
                password_hash: "$argon2id$stub".into(),
                invitation: None,
                sponsor: None,
                previous: None,
            },
        )
        .await;
        person
    }

    async fn person(&self, person: PersonId, command: PersonCommand) {
        self.bus
            .execute::<Person>(
                AggregateKey::new(self.account, person.0),
                command,
                &self.meta(),
            )
            .await
            .expect("person command");
    }

    /// Read models, then the reactor, then the read models again: everything settled.
    /// Up to the head, not just what is readable now: on PostgreSQL another test's
    /// open transaction can hold the readable part of the log back for a moment.
    /// Follow-ups can call for more (a place given back by its hold, then counted by
    /// the account), so until the reactor finds nothing new.
    async fn settle(&self, reactor: &Reactor) {
        loop {
            self.projector.catch_up_to_head().await.expect("project");
            if reactor.catch_up().await.expect("react") == 0 {
                break;
            }
        }
    }

    async fn status(&self, person: PersonId) -> PersonStatus {
        directory::standing_of_all(&self.db, self.account)
            .await
            .expect("people")
            .into_iter()
            .find(|(p, _, _)| *p == person)
            .map(|(_, _, s)| s)
            .expect("person listed")
    }

    fn scheduler(&self) -> Scheduler {
        Scheduler {
            db: self.db.clone(),
            bus: self.bus.clone(),
            clock: Arc::new(self.clock.clone()),
            hold_deadline: projections::scheduler::HOLD_DEADLINE,
        }
    }

    /// The account's places in use, as the read models count them.
    async fn seats(&self) -> i64 {
        projections::accounts::get(&self.db, self.account)
            .await
            .expect("account")
            .expect("exists")
            .seats_in_use
    }

    async fn event_count(&self) -> i64 {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) AS n FROM events")
            .fetch_one(&self.db.any)
            .await
            .expect("count");
        n
    }
}

/// The trial ends unpaid: guests and extranet users are suspended, employees are not.
/// A paid plan lets exactly those back; someone an administrator locked out stays out.
async fn trial_expiry_suspends_and_an_upgrade_reinstates(db: Database) {
    let s = Setup::new(db, Plan::Trial).await;
    let employee = s.join(PersonKind::Employee, "emma@acme.test").await;
    let guest = s.join(PersonKind::Guest, "gus@client.test").await;
    let extranet = s.join(PersonKind::Extranet, "ed@partner.test").await;
    let locked = s.join(PersonKind::Extranet, "lou@partner.test").await;
    s.person(
        locked,
        PersonCommand::Suspend {
            reason: SuspensionReason::Administrative,
        },
    )
    .await;
    let reactor = Reactor::new(s.db.clone(), s.bus.clone(), &s.handle)
        .await
        .expect("reactor");
    s.settle(&reactor).await;

    s.clock.advance_days(23);
    assert_eq!(
        s.scheduler().run_once().await.expect("run").trial_checks,
        1,
        "the 7-day warning"
    );
    s.clock.advance_days(7);
    s.scheduler().run_once().await.expect("run");
    s.settle(&reactor).await;
    let trial = SuspensionReason::TrialExpired;
    assert_eq!(s.status(employee).await, PersonStatus::Active);
    assert_eq!(s.status(guest).await, PersonStatus::Suspended(trial));
    assert_eq!(s.status(extranet).await, PersonStatus::Suspended(trial));
    assert_eq!(
        s.status(locked).await,
        PersonStatus::Suspended(SuspensionReason::Administrative)
    );

    s.bus
        .execute::<Account>(
            AggregateKey::account(s.account),
            AccountCommand::ChangePlan {
                plan: Plan::Standard,
            },
            &s.meta(),
        )
        .await
        .expect("upgrade");
    s.settle(&reactor).await;
    assert_eq!(s.status(guest).await, PersonStatus::Active);
    assert_eq!(s.status(extranet).await, PersonStatus::Active);
    assert_eq!(
        s.status(locked).await,
        PersonStatus::Suspended(SuspensionReason::Administrative)
    );

    // Reacting again, from scratch, writes nothing new: every follow-up is idempotent.
    let before = s.event_count().await;
    sqlx::query("DELETE FROM checkpoints WHERE name = 'reactor'")
        .execute(&s.db.any)
        .await
        .expect("forget the reactor's checkpoint");
    let again = Reactor::new(s.db.clone(), s.bus.clone(), &s.handle)
        .await
        .expect("reactor");
    again.catch_up().await.expect("react again");
    assert_eq!(s.event_count().await, before);
}

#[tokio::test]
async fn postgres_trial_expiry_suspends_and_an_upgrade_reinstates() {
    trial_expiry_suspends_and_an_upgrade_reinstates(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_trial_expiry_suspends_and_an_upgrade_reinstates() {
    trial_expiry_suspends_and_an_upgrade_reinstates(support::fresh_sqlite().await).await;
}

/// Dismissal frees the address: the same human can be invited again as a new person,
/// linked to the old one.
#[tokio::test]
async fn dismissal_frees_the_email_for_a_later_invitation() {
    let s = Setup::new(support::fresh_sqlite().await, Plan::Standard).await;
    let ann = s.join(PersonKind::Employee, "ann@acme.test").await;
    let reactor = Reactor::new(s.db.clone(), s.bus.clone(), &s.handle)
        .await
        .expect("reactor");
    let email = Email::parse("ann@acme.test").expect("email");
    let again = PersonId::new_random();
    let claim = || EmailClaimCommand::Claim {
        email: email.clone(),
        person: again,
    };
    let key = EmailClaim::key(s.account, &email, s.bus.secrets());
    assert!(
        s.bus
            .execute::<EmailClaim>(key, claim(), &s.meta())
            .await
            .is_err(),
        "taken while Ann is here"
    );

    s.person(ann, PersonCommand::Dismiss).await;
    s.settle(&reactor).await;
    s.bus
        .execute::<EmailClaim>(key, claim(), &s.meta())
        .await
        .expect("free after dismissal");
    s.person(
        again,
        PersonCommand::Join {
            person: again,
            kind: PersonKind::Extranet,
            email: email.clone(),
            name: PersonName::parse("Ann", "Lee").expect("name"),
            administrator: false,
            password_hash: "$argon2id$stub".into(),
            invitation: None,
            sponsor: None,
            previous: Some(ann),
        },
    )
    .await;
    s.projector.catch_up_to_head().await.expect("project");
    let (previous,): (Option<String>,) =
        sqlx::query_as("SELECT previous_id FROM people WHERE account_id = $1 AND person_id = $2")
            .bind(s.account.to_string())
            .bind(again.to_string())
            .fetch_one(&s.db.any)
            .await
            .expect("row");
    assert_eq!(previous, Some(ann.to_string()));
}

/// An employee converted to an extranet user keeps the memberships that still apply.
#[tokio::test]
async fn conversion_keeps_only_the_memberships_that_still_apply() {
    let s = Setup::new(support::fresh_postgres().await, Plan::Standard).await;
    let owner = s.join(PersonKind::Employee, "owner@acme.test").await;
    let emma = s.join(PersonKind::Employee, "emma@acme.test").await;
    let (internal, external) = (WorkgroupId::new_random(), WorkgroupId::new_random());
    for (group, extranet) in [(internal, false), (external, true)] {
        let key = AggregateKey::new(s.account, group.0);
        let create = WorkgroupCommand::Create {
            group,
            name: domain::WorkgroupName::parse("G").unwrap(),
            extranet,
            owner,
        };
        s.bus
            .execute::<Workgroup>(key, create, &s.meta())
            .await
            .expect("group");
        let add = WorkgroupCommand::AddMember {
            person: emma,
            role: MemberRole::Member,
            kind: PersonKind::Employee,
            expires_at: None,
        };
        s.bus
            .execute::<Workgroup>(key, add, &s.meta())
            .await
            .expect("member");
    }
    let reactor = Reactor::new(s.db.clone(), s.bus.clone(), &s.handle)
        .await
        .expect("reactor");
    s.person(emma, PersonCommand::ConvertToExtranet).await;
    s.settle(&reactor).await;
    let groups: Vec<(String,)> = sqlx::query_as(
        "SELECT workgroup_id FROM workgroup_members WHERE account_id = $1 AND person_id = $2",
    )
    .bind(s.account.to_string())
    .bind(emma.to_string())
    .fetch_all(&s.db.any)
    .await
    .expect("memberships");
    assert_eq!(groups, vec![(external.to_string(),)]);
}

/// Links, access and memberships end on their dates, once.
#[tokio::test]
async fn the_scheduler_records_what_is_due_once() {
    let s = Setup::new(support::fresh_sqlite().await, Plan::Standard).await;
    let owner = s.join(PersonKind::Employee, "owner@acme.test").await;
    let guest = s.join(PersonKind::Extranet, "ed@partner.test").await;
    let invitation = InvitationId::new_random();
    let issue = InvitationCommand::Issue {
        invitation,
        person: PersonId::new_random(),
        address: Address::Email(Email::parse("new@client.test").expect("email")),
        name: None,
        target: InvitationTarget::Company { department: None },
        sponsor: owner,
        delivery: Delivery::Link,
    };
    s.bus
        .execute::<Invitation>(AggregateKey::new(s.account, invitation.0), issue, &s.meta())
        .await
        .expect("invite");
    let until = Some(Timestamp(T0 + 2 * Timestamp::MILLIS_PER_DAY));
    s.person(guest, PersonCommand::SetAccessExpiry { expires_at: until })
        .await;
    let group = WorkgroupId::new_random();
    let key = AggregateKey::new(s.account, group.0);
    s.bus
        .execute::<Workgroup>(
            key,
            WorkgroupCommand::Create {
                group,
                name: domain::WorkgroupName::parse("G").unwrap(),
                extranet: true,
                owner,
            },
            &s.meta(),
        )
        .await
        .expect("group");
    let add = WorkgroupCommand::AddMember {
        person: guest,
        role: MemberRole::Member,
        kind: PersonKind::Extranet,
        expires_at: until,
    };
    s.bus
        .execute::<Workgroup>(key, add, &s.meta())
        .await
        .expect("member");
    s.projector.catch_up_to_head().await.expect("project");

    let nothing_yet = s.scheduler().run_once().await.expect("run");
    assert_eq!(nothing_yet, Default::default());
    s.clock.advance_days(8);
    let first = s.scheduler().run_once().await.expect("run");
    assert_eq!(
        (
            first.invitations_expired,
            first.access_expired,
            first.memberships_expired
        ),
        (1, 1, 1)
    );
    s.projector.catch_up_to_head().await.expect("project");
    assert_eq!(
        s.scheduler().run_once().await.expect("run"),
        Default::default(),
        "nothing twice"
    );
    assert_eq!(
        s.status(guest).await,
        PersonStatus::Suspended(SuspensionReason::AccessExpired)
    );
}

/// Places under the plan's limit come back when an invitation ends unused or a person
/// is dismissed, once, however often the reactor goes over the same events.
#[tokio::test]
async fn places_under_the_limit_are_given_back_once() {
    let s = Setup::new(support::fresh_postgres().await, Plan::Standard).await;
    let owner = s.join(PersonKind::Employee, "owner@acme.test").await;
    let leaver = s.join(PersonKind::Extranet, "ed@partner.test").await;
    let invited = PersonId::new_random();
    let account_key = AggregateKey::account(s.account);
    for person in [owner, leaver, invited] {
        s.bus
            .execute::<Account>(
                account_key,
                AccountCommand::TakeSeat {
                    person,
                    external: true,
                    email: None,
                },
                &s.meta(),
            )
            .await
            .expect("seat");
    }
    let invitation = InvitationId::new_random();
    let issue = InvitationCommand::Issue {
        invitation,
        person: invited,
        address: Address::Email(Email::parse("new@client.test").expect("email")),
        name: None,
        target: InvitationTarget::Company { department: None },
        sponsor: owner,
        delivery: Delivery::Link,
    };
    let invitation_key = AggregateKey::new(s.account, invitation.0);
    s.bus
        .execute::<Invitation>(invitation_key, issue, &s.meta())
        .await
        .expect("invite");
    let reactor = Reactor::new(s.db.clone(), s.bus.clone(), &s.handle)
        .await
        .expect("reactor");
    s.settle(&reactor).await;
    assert_eq!(s.seats().await, 3);

    s.bus
        .execute::<Invitation>(invitation_key, InvitationCommand::Revoke, &s.meta())
        .await
        .expect("revoke");
    s.person(leaver, PersonCommand::Dismiss).await;
    s.settle(&reactor).await;
    assert_eq!(
        s.seats().await,
        1,
        "the revoked invitation's and the leaver's places are back"
    );

    sqlx::query("DELETE FROM checkpoints WHERE name = 'reactor'")
        .execute(&s.db.any)
        .await
        .expect("forget the reactor's checkpoint");
    let again = Reactor::new(s.db.clone(), s.bus.clone(), &s.handle)
        .await
        .expect("reactor");
    again.catch_up().await.expect("react again");
    s.projector.catch_up_to_head().await.expect("project");
    assert_eq!(s.seats().await, 1, "nothing given back twice");
}

/// A place and an address taken for a flow that stopped before its last step are
/// given back by the sweeper once the deadline has passed, and only then; what a flow
/// took up is never swept.
#[tokio::test]
async fn holds_nobody_took_up_are_given_back_after_the_deadline() {
    for db in [
        support::fresh_postgres().await,
        support::fresh_sqlite().await,
    ] {
        let s = Setup::new(db, Plan::Standard).await;
        let account_key = AggregateKey::account(s.account);
        let take = |person| AccountCommand::TakeSeat {
            person,
            external: false,
            email: None,
        };
        // Left midway: a place and an address, then nothing.
        let stranded = PersonId::new_random();
        let email = Email::parse("lost@client.test").expect("email");
        let claim_key = EmailClaim::key(s.account, &email, s.bus.secrets());
        s.bus
            .execute::<EmailClaim>(
                claim_key,
                EmailClaimCommand::Claim {
                    email: email.clone(),
                    person: stranded,
                },
                &s.meta(),
            )
            .await
            .expect("claim");
        s.bus
            .execute::<Account>(account_key, take(stranded), &s.meta())
            .await
            .expect("seat");
        // Finished: a place taken up by its invitation.
        let invited = PersonId::new_random();
        s.bus
            .execute::<Account>(account_key, take(invited), &s.meta())
            .await
            .expect("seat");
        let invitation = InvitationId::new_random();
        s.bus
            .execute::<Invitation>(
                AggregateKey::new(s.account, invitation.0),
                InvitationCommand::Issue {
                    invitation,
                    person: invited,
                    address: Address::Email(Email::parse("new@client.test").expect("email")),
                    name: None,
                    target: InvitationTarget::Company { department: None },
                    sponsor: invited,
                    delivery: Delivery::Link,
                },
                &s.meta(),
            )
            .await
            .expect("invite");
        // Taken again for someone who holds a place (a reinstatement sent twice): one
        // too many, given back by their hold, and not swept again later.
        s.bus
            .execute::<Account>(account_key, take(invited), &s.meta())
            .await
            .expect("seat");
        let reactor = Reactor::new(s.db.clone(), s.bus.clone(), &s.handle)
            .await
            .expect("reactor");
        s.settle(&reactor).await;
        let claim_by_someone_else = || async {
            s.bus
                .execute::<EmailClaim>(
                    claim_key,
                    EmailClaimCommand::Claim {
                        email: email.clone(),
                        person: PersonId::new_random(),
                    },
                    &s.meta(),
                )
                .await
        };
        assert_eq!(s.seats().await, 2);
        assert!(
            claim_by_someone_else().await.is_err(),
            "the address is held"
        );

        let early = s.scheduler().run_once().await.expect("run");
        assert_eq!((early.seats_given_back, early.claims_given_back), (0, 0));
        s.clock.advance_days(1);
        let swept = s.scheduler().run_once().await.expect("run");
        assert_eq!((swept.seats_given_back, swept.claims_given_back), (1, 1));
        s.settle(&reactor).await;
        assert_eq!(
            s.seats().await,
            1,
            "the stranded place is back, the invited one kept"
        );
        assert!(
            claim_by_someone_else().await.is_ok(),
            "the address is free again"
        );
        s.projector.catch_up_to_head().await.expect("project");
        let again = s.scheduler().run_once().await.expect("run");
        assert_eq!((again.seats_given_back, again.claims_given_back), (0, 0));
        s.settle(&reactor).await;
        assert_eq!(s.seats().await, 1, "nothing given back twice");
    }
}

/// Places taken before holds were recorded have holds the reactor never opened, so
/// the sweeper cannot give them back: they must not fill its batches for ever and
/// keep a newer place nobody took up from being given back.
#[tokio::test]
async fn holds_that_cannot_be_given_back_do_not_block_newer_ones() {
    for db in [
        support::fresh_postgres().await,
        support::fresh_sqlite().await,
    ] {
        let s = Setup::new(db, Plan::Professional).await;
        let account_key = AggregateKey::account(s.account);
        let take = |person| AccountCommand::TakeSeat {
            person,
            external: false,
            email: None,
        };
        // More old places than one sweep takes (500), none ever taken up, and a
        // reactor that starts past them, as after an upgrade from before holds.
        for _ in 0..501 {
            s.bus
                .execute::<Account>(account_key, take(PersonId::new_random()), &s.meta())
                .await
                .expect("old seat");
        }
        s.projector.catch_up_to_head().await.expect("project");
        let head = projections::EventLog::new(s.db.clone())
            .head()
            .await
            .expect("head");
        let mut tx = s.db.any.begin().await.expect("begin");
        projections::checkpoint::save(&mut tx, "reactor", head)
            .await
            .expect("reactor checkpoint");
        tx.commit().await.expect("commit");
        s.clock.advance_days(1);
        s.bus
            .execute::<Account>(account_key, take(PersonId::new_random()), &s.meta())
            .await
            .expect("new seat");
        let reactor = Reactor::new(s.db.clone(), s.bus.clone(), &s.handle)
            .await
            .expect("reactor");
        s.settle(&reactor).await;
        assert_eq!(s.seats().await, 502);

        s.clock.advance_days(1);
        let first = s.scheduler().run_once().await.expect("run");
        assert_eq!(
            first.seats_given_back, 0,
            "the oldest 500 cannot be given back"
        );
        s.projector.catch_up_to_head().await.expect("project");
        let second = s.scheduler().run_once().await.expect("run");
        assert_eq!(second.seats_given_back, 1, "the new place comes first now");
        s.settle(&reactor).await;
        assert_eq!(s.seats().await, 501);
    }
}
