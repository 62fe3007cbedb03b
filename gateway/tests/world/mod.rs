//! A store with an account and its administrator, for the tests of the gateway's
//! application services.

// Each test file that includes this module uses a part of it.
#![allow(dead_code)]

use domain::account::{Account, AccountCommand, Plan};
use domain::invitation::SecretKey;
use domain::person::{Person, PersonCommand, PersonKind};
use domain::services::{Clock, DomainServices, FixedNonce};
use domain::workgroup::{Workgroup, WorkgroupCommand};
use domain::{AccountId, AggregateKey, Email, PersonId, PersonName, Timestamp, WorkgroupId};
use gateway::state::AppState;
use projections::permission::Viewer;
use projections::Database;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

/// A clock the test moves on: every command and the scheduler read it.
#[derive(Clone)]
pub struct TestClock(Arc<AtomicI64>);

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

impl TestClock {
    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs * 1000, Ordering::SeqCst);
    }
}

pub struct World {
    pub state: AppState,
    pub clock: TestClock,
    pub account: AccountId,
    pub admin: Viewer,
    _stop: watch::Sender<bool>,
}

impl World {
    pub async fn new(db: Database) -> Self {
        let clock = TestClock(Arc::new(AtomicI64::new(1_700_000_000_000)));
        let services = DomainServices {
            clock: Arc::new(clock.clone()),
            nonces: Arc::new(FixedNonce("n".into())),
            secrets: SecretKey::from_bytes([6; 32]),
        };
        let (state, projector) = AppState::open(db, services).await.expect("state");
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(projector.run(stopped));
        let account = AccountId::new_random();
        state
            .execute::<Account>(
                AggregateKey::account(account),
                AccountCommand::Create {
                    account,
                    name: domain::AccountName::parse("Acme").unwrap(),
                    plan: Plan::Standard,
                },
                None,
            )
            .await
            .expect("account");
        let mut world = Self {
            state,
            clock,
            account,
            admin: Viewer {
                account,
                person: PersonId::new_random(),
                kind: PersonKind::Employee,
                administrator: true,
            },
            _stop: stop,
        };
        world.admin = world.join(PersonKind::Employee, true).await;
        world
    }

    pub async fn join(&self, kind: PersonKind, administrator: bool) -> Viewer {
        let person = PersonId::new_random();
        self.state
            .execute::<Person>(
                AggregateKey::new(self.account, person.0),
                PersonCommand::Join {
                    person,
                    kind,
                    email: Email::parse(&format!("{person}@acme.test")).expect("email"),
                    name: PersonName::parse("A", "B").expect("name"),
                    administrator,
                    password_hash: "$argon2id$stub".into(),
                    invitation: None,
                    sponsor: None,
                    previous: None,
                },
                None,
            )
            .await
            .expect("join");
        Viewer {
            account: self.account,
            person,
            kind,
            administrator,
        }
    }

    pub async fn group(&self, extranet: bool, owner: &Viewer) -> WorkgroupId {
        let group = WorkgroupId::new_random();
        self.state
            .execute::<Workgroup>(
                AggregateKey::new(self.account, group.0),
                WorkgroupCommand::Create {
                    group,
                    name: domain::WorkgroupName::parse("Group").unwrap(),
                    extranet,
                    owner: owner.person,
                },
                None,
            )
            .await
            .expect("group");
        group
    }

    pub async fn group_command(&self, group: WorkgroupId, command: WorkgroupCommand) {
        self.state
            .execute::<Workgroup>(AggregateKey::new(self.account, group.0), command, None)
            .await
            .expect("group command");
    }
}
