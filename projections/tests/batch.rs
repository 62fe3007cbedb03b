//! Batches on a real store: many commands on many aggregates stored in one
//! transaction, the optimistic lock still refusing a stale writer, snapshots as a
//! command one at a time would leave them.

mod support;

use support::{services, system_change as meta};

use domain::account::{Account, AccountCommand, AccountError, Plan};
use domain::invitation::{Delivery, Invitation, InvitationCommand, InvitationTarget};
use domain::task::{Task, TaskCommand, TaskRole};
use domain::{AccountId, Address, AggregateKey, InvitationId, PersonId, TaskId};
use projections::batch::{AppendError, DecideError};
use projections::commands::{CommandBus, SNAPSHOT_EVERY};
use projections::projector::Projector;
use projections::read_model::ReadModels;
use projections::{Database, EventLog, LogPosition};

async fn new_account(bus: &CommandBus, plan: Plan) -> AccountId {
    let account = AccountId::new_random();
    bus.execute::<Account>(
        AggregateKey::account(account),
        AccountCommand::Create {
            account,
            name: domain::AccountName::parse("Acme").unwrap(),
            plan,
        },
        &meta(),
    )
    .await
    .expect("create account");
    account
}

fn seat() -> AccountCommand {
    AccountCommand::TakeSeat {
        person: PersonId::new_random(),
        external: false,
        email: None,
    }
}

fn create_task(task: TaskId) -> TaskCommand {
    TaskCommand::Create {
        task,
        title: domain::TaskTitle::parse("Batch").unwrap(),
        description: domain::TaskDescription::parse("").unwrap(),
        creator: PersonId::new_random(),
        workgroup: None,
        deadline: None,
    }
}

/// Every committed event after `after`, as (type, id, sequence, tx), read straight
/// from the table: the log reader waits for transactions open anywhere on the
/// cluster (other tests' too) and could show less than is committed.
async fn stored_after(db: &Database, after: LogPosition) -> Vec<(String, String, i64, i64)> {
    let tx = match db.backend {
        projections::Backend::Postgres => "tx_id::text::bigint",
        projections::Backend::Sqlite => "0",
    };
    sqlx::query_as(&format!(
        "SELECT aggregate_type, aggregate_id, sequence, {tx} AS tx FROM events
          WHERE global_position > $1 ORDER BY global_position"
    ))
    .bind(after.position)
    .fetch_all(&db.any)
    .await
    .expect("read the events")
}

/// Seats on one account and tasks of their own, decided in one batch: every event is
/// stored, in one transaction, each aggregate's sequence going on from where it was;
/// the account's long run of seats leaves a snapshot that a fresh load agrees with.
async fn a_batch_stores_everything_in_one_transaction(db: Database) {
    let bus = CommandBus::new(&db, services());
    let account = new_account(&bus, Plan::Professional).await;
    let before = EventLog::new(db.clone()).head().await.expect("head");
    let seats = SNAPSHOT_EVERY + 20;
    let tasks: Vec<TaskId> = (0..3).map(|_| TaskId::new_random()).collect();
    let mut batch = bus.batch(&meta());
    for _ in 0..seats {
        batch
            .decide::<Account>(AggregateKey::account(account), seat())
            .await
            .expect("seat");
    }
    for task in &tasks {
        let key = AggregateKey::new(account, task.0);
        batch
            .decide_new::<Task>(key, create_task(*task))
            .await
            .expect("create");
        batch
            .decide::<Task>(
                key,
                TaskCommand::Assign {
                    person: PersonId::new_random(),
                    role: TaskRole::Participant,
                },
            )
            .await
            .expect("assign");
    }
    assert_eq!(batch.len(), seats + 2 * tasks.len());
    let last = batch.commit().await.expect("commit");

    let stored = stored_after(&db, before).await;
    assert_eq!(stored.len(), seats + 2 * tasks.len());
    assert_eq!(stored.last().map(|e| e.3), Some(last.tx));
    assert!(
        stored.iter().all(|e| e.3 == last.tx),
        "one transaction: {stored:?}"
    );
    let account_sequences: Vec<i64> = stored
        .iter()
        .filter(|e| e.0 == "account")
        .map(|e| e.2)
        .collect();
    // Going on from the account's creation, without a gap.
    let first = account_sequences.first().copied().unwrap_or_default();
    assert!(first > 1, "after the creation's events");
    assert_eq!(
        account_sequences,
        (first..first + seats as i64).collect::<Vec<_>>()
    );
    for task in &tasks {
        let id = AggregateKey::new(account, task.0).to_string();
        let sequences: Vec<i64> = stored.iter().filter(|e| e.1 == id).map(|e| e.2).collect();
        assert_eq!(sequences, vec![1, 2]);
    }

    let (snapshots,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM snapshots WHERE aggregate_type = 'account' AND aggregate_id = $1",
    )
    .bind(AggregateKey::account(account).to_string())
    .fetch_one(&db.any)
    .await
    .expect("snapshots");
    assert_eq!(snapshots, 1, "the batch crossed a snapshot boundary");
    // A bus that never saw the batch loads the snapshot and what follows it.
    let elsewhere = CommandBus::new(&db, services());
    let loaded = elsewhere
        .load::<Account>(AggregateKey::account(account))
        .await
        .expect("load");
    assert_eq!(loaded.seats_in_use() as usize, seats);
    // And the next command through it goes on at the right sequence.
    elsewhere
        .execute::<Account>(AggregateKey::account(account), seat(), &meta())
        .await
        .expect("one more seat");
}

/// A refused command leaves the batch as it was: the plan's limit refuses the sixth
/// seat of a free account, and the five before it are stored.
async fn a_refusal_leaves_the_rest_of_the_batch(db: Database) {
    let bus = CommandBus::new(&db, services());
    let account = new_account(&bus, Plan::Free).await;
    let mut batch = bus.batch(&meta());
    let mut refused = 0;
    for _ in 0..7 {
        match batch
            .decide::<Account>(AggregateKey::account(account), seat())
            .await
        {
            Ok(()) => {}
            Err(DecideError::Refused(AccountError::PlanLimitReached { .. })) => refused += 1,
            Err(other) => panic!("unexpected: {other}"),
        }
    }
    assert_eq!(refused, 2);
    batch.commit().await.expect("commit");
    let loaded = bus
        .load::<Account>(AggregateKey::account(account))
        .await
        .expect("load");
    assert_eq!(loaded.seats_in_use(), 5);
}

/// Another writer appends to one of the batch's aggregates after the batch loaded
/// it: the whole batch is refused as a conflict and nothing of it is stored, not even
/// the events of aggregates nobody else touched.
async fn a_stale_batch_stores_nothing(db: Database) {
    let bus = CommandBus::new(&db, services());
    let account = new_account(&bus, Plan::Professional).await;
    let task = TaskId::new_random();
    let key = AggregateKey::new(account, task.0);
    bus.execute::<Task>(key, create_task(task), &meta())
        .await
        .expect("create");
    let before = EventLog::new(db.clone()).head().await.expect("head");

    let mut batch = bus.batch(&meta());
    batch
        .decide::<Account>(AggregateKey::account(account), seat())
        .await
        .expect("seat");
    batch
        .decide::<Task>(
            key,
            TaskCommand::Assign {
                person: PersonId::new_random(),
                role: TaskRole::Observer,
            },
        )
        .await
        .expect("assign");
    // Meanwhile, another process changes the task.
    CommandBus::new(&db, services())
        .execute::<Task>(
            key,
            TaskCommand::Rename {
                title: domain::TaskTitle::parse("Meanwhile").unwrap(),
            },
            &meta(),
        )
        .await
        .expect("rename");
    assert!(matches!(batch.commit().await, Err(AppendError::Conflict)));
    let stored = stored_after(&db, before).await;
    assert_eq!(stored.len(), 1, "only the rename: {stored:?}");

    // An id that was not new after all meets the stored aggregate the same way.
    let mut batch = bus.batch(&meta());
    batch
        .decide_new::<Task>(key, create_task(task))
        .await
        .expect("decided on an empty state");
    assert!(matches!(batch.commit().await, Err(AppendError::Conflict)));
}

/// A pasted list of 1,200 addresses as the use case decides it (a seat, then an
/// invitation, per address), projected: more rows than one statement takes, in the
/// append and in the read models' runs. Every seat is counted, every invitation
/// listed, and no hold is left for the sweeper.
async fn a_long_list_is_projected_whole(db: Database) {
    let bus = CommandBus::new(&db, services());
    let account = new_account(&bus, Plan::Professional).await;
    let sponsor = PersonId::new_random();
    let many = 1_200;
    let mut batch = bus.batch(&meta());
    for n in 0..many {
        let person = PersonId::new_random();
        let address = Address::parse(&format!("p{n}@acme.test")).unwrap();
        batch
            .decide::<Account>(
                AggregateKey::account(account),
                AccountCommand::TakeSeat {
                    person,
                    external: false,
                    email: address.email().cloned(),
                },
            )
            .await
            .expect("seat");
        let invitation = InvitationId::new_random();
        batch
            .decide_new::<Invitation>(
                AggregateKey::new(account, invitation.0),
                InvitationCommand::Issue {
                    invitation,
                    person,
                    address,
                    name: None,
                    target: InvitationTarget::Company { department: None },
                    sponsor,
                    delivery: Delivery::Link,
                },
            )
            .await
            .expect("invitation");
    }
    batch.commit().await.expect("commit");
    let (projector, _) = Projector::new(ReadModels, db.clone())
        .await
        .expect("projector");
    projector.catch_up_to_head().await.expect("project");

    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            let (n,): (i64,) = sqlx::query_as(sql)
                .bind(account.to_string())
                .fetch_one(&db.any)
                .await
                .expect(sql);
            n
        }
    };
    assert_eq!(
        count("SELECT seats_in_use FROM accounts WHERE account_id = $1").await,
        many
    );
    assert_eq!(
        count("SELECT count(*) FROM invitations WHERE account_id = $1 AND status = 'pending'")
            .await,
        many
    );
    assert_eq!(
        count("SELECT count(DISTINCT address) FROM invitations WHERE account_id = $1").await,
        many
    );
    assert_eq!(
        count("SELECT count(*) FROM seat_holds WHERE account_id = $1").await,
        0,
        "every place was taken up by its invitation"
    );
}

#[tokio::test]
async fn postgres_long_list_is_projected_whole() {
    a_long_list_is_projected_whole(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_long_list_is_projected_whole() {
    a_long_list_is_projected_whole(support::fresh_sqlite().await).await;
}

#[tokio::test]
async fn postgres_batch_stores_everything_in_one_transaction() {
    a_batch_stores_everything_in_one_transaction(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_batch_stores_everything_in_one_transaction() {
    a_batch_stores_everything_in_one_transaction(support::fresh_sqlite().await).await;
}

#[tokio::test]
async fn postgres_refusal_leaves_the_rest_of_the_batch() {
    a_refusal_leaves_the_rest_of_the_batch(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_refusal_leaves_the_rest_of_the_batch() {
    a_refusal_leaves_the_rest_of_the_batch(support::fresh_sqlite().await).await;
}

#[tokio::test]
async fn postgres_stale_batch_stores_nothing() {
    a_stale_batch_stores_nothing(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_stale_batch_stores_nothing() {
    a_stale_batch_stores_nothing(support::fresh_sqlite().await).await;
}
