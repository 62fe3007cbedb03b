//! Group commit on a real store: commands that are ready while a commit is in flight
//! are stored together in the next transaction, each keeping its own verdict.
//!
//! A commit is held in flight by a lock the test takes on the log (PostgreSQL: a lock
//! on the events table that blocks inserts; SQLite: the write lock), so what waits
//! behind it is known, not left to timing; every wait is on the bus's own counts.

mod support;

use support::{services, system_change as meta};

use domain::account::{Account, AccountCommand, Plan};
use domain::task::{Task, TaskCommand};
use domain::{AccountId, AggregateKey, TaskId, TaskTitle};
use projections::batch::AppendError;
use projections::commands::CommandBus;
use projections::group_commit::Commits;
use projections::{Backend, Database};
use std::sync::Arc;
use std::time::Duration;

async fn new_account(bus: &CommandBus) -> AccountId {
    let account = AccountId::new_random();
    bus.execute::<Account>(
        AggregateKey::account(account),
        AccountCommand::Create {
            account,
            name: domain::AccountName::parse("Acme").unwrap(),
            plan: Plan::Professional,
        },
        &meta(),
    )
    .await
    .expect("create account");
    account
}

async fn new_task(bus: &CommandBus, account: AccountId) -> AggregateKey {
    let task = TaskId::new_random();
    let key = AggregateKey::new(account, task.0);
    bus.execute::<Task>(
        key,
        TaskCommand::Create {
            task,
            title: TaskTitle::parse("Grouped").unwrap(),
            description: domain::TaskDescription::parse("").unwrap(),
            creator: domain::PersonId::new_random(),
            workgroup: None,
            deadline: None,
        },
        &meta(),
    )
    .await
    .expect("create task");
    key
}

fn rename(title: &str) -> TaskCommand {
    TaskCommand::Rename {
        title: TaskTitle::parse(title).unwrap(),
    }
}

/// A transaction of the test's that keeps every commit of the bus from finishing
/// until it ends.
async fn hold_the_log(db: &Database) -> sqlx::Transaction<'static, sqlx::Any> {
    match db.backend {
        Backend::Postgres => {
            let mut tx = db.any.begin().await.expect("begin");
            sqlx::query("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await
                .expect("lock the events table");
            tx
        }
        Backend::Sqlite => db.begin_write().await.expect("take the write lock"),
    }
}

/// Waits until the bus's counts show `done`; fails after 30 s.
async fn until(bus: &CommandBus, what: &str, done: impl Fn(Commits) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done(bus.commits()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never {what}: {:?}",
            bus.commits()
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The task's title as a command on it would find it.
async fn title(bus: &CommandBus, key: AggregateKey) -> String {
    let task: Task = bus.load(key).await.expect("load the task");
    let state = serde_json::to_value(&task).expect("a task serializes");
    state["title"].as_str().unwrap_or_default().to_owned()
}

/// The transactions that hold the latest event of each of `keys`, on PostgreSQL; on
/// SQLite, which has no transaction ids, none.
async fn transactions_of(db: &Database, keys: &[AggregateKey]) -> Vec<i64> {
    if db.backend == Backend::Sqlite {
        return Vec::new();
    }
    let mut transactions = Vec::new();
    for key in keys {
        let (tx,): (i64,) = sqlx::query_as(
            "SELECT tx_id::text::bigint FROM events WHERE aggregate_id = $1
              ORDER BY sequence DESC LIMIT 1",
        )
        .bind(key.to_string())
        .fetch_one(&db.any)
        .await
        .expect("read the task's last event");
        transactions.push(tx);
    }
    transactions.sort_unstable();
    transactions.dedup();
    transactions
}

/// Twenty commands arrive while one commit is held: all twenty are stored in one
/// transaction once it ends, and each caller gets its own event's position.
async fn commands_ready_together_share_one_transaction(db: Database) {
    let bus = Arc::new(CommandBus::new(&db, services()));
    let account = new_account(&bus).await;
    let first = new_task(&bus, account).await;
    let mut keys = Vec::new();
    for _ in 0..20 {
        keys.push(new_task(&bus, account).await);
    }
    let before = bus.commits();

    let hold = hold_the_log(&db).await;
    let leader = tokio::spawn({
        let bus = bus.clone();
        async move { bus.execute::<Task>(first, rename("First"), &meta()).await }
    });
    until(&bus, "had a commit in flight", |c| c.in_flight == 1).await;
    let followers: Vec<_> = keys
        .iter()
        .map(|&key| {
            let bus = bus.clone();
            tokio::spawn(async move { bus.execute::<Task>(key, rename("Later"), &meta()).await })
        })
        .collect();
    until(&bus, "had twenty commands waiting", |c| c.waiting == 20).await;
    hold.commit().await.expect("let the held commit go");

    let led = leader.await.expect("leader").expect("the held command");
    let mut positions = Vec::new();
    for follower in followers {
        positions.push(
            follower
                .await
                .expect("follower")
                .expect("a waiting command"),
        );
    }
    let after = bus.commits();
    assert_eq!(after.transactions - before.transactions, 2, "{after:?}");
    assert_eq!(after.batches - before.batches, 21, "{after:?}");
    assert_eq!((after.in_flight, after.waiting), (0, 0));
    positions.sort();
    positions.dedup();
    assert_eq!(positions.len(), 20, "each command its own event's position");
    assert!(positions.iter().all(|p| *p > led));
    if db.backend == Backend::Postgres {
        assert_eq!(transactions_of(&db, &keys).await.len(), 1);
        assert!(positions.iter().all(|p| p.tx == positions[0].tx));
    }
    for key in keys {
        assert_eq!(title(&bus, key).await, "Later");
    }
}

/// A stale batch waiting beside a current one: their shared transaction is refused,
/// then each is stored alone, so only the stale one is refused and the other lands.
async fn a_stale_batch_in_a_group_is_refused_alone(db: Database) {
    let bus = CommandBus::new(&db, services());
    let account = new_account(&bus).await;
    let (first, stale_key, fresh_key) = (
        new_task(&bus, account).await,
        new_task(&bus, account).await,
        new_task(&bus, account).await,
    );
    let mut stale = bus.batch(&meta());
    stale
        .decide::<Task>(stale_key, rename("Stale"))
        .await
        .expect("decide");
    // Another process changes the task after the batch loaded it.
    CommandBus::new(&db, services())
        .execute::<Task>(stale_key, rename("Meanwhile"), &meta())
        .await
        .expect("rename elsewhere");
    let mut fresh = bus.batch(&meta());
    fresh
        .decide::<Task>(fresh_key, rename("Fresh"))
        .await
        .expect("decide");
    let before = bus.commits();

    let hold = hold_the_log(&db).await;
    let release = async {
        until(&bus, "had two batches waiting behind one", |c| {
            c.in_flight == 1 && c.waiting == 2
        })
        .await;
        hold.commit().await.expect("let the held commit go");
    };
    let metadata = meta();
    let (led, stale, fresh, ()) = tokio::join!(
        bus.execute::<Task>(first, rename("First"), &metadata),
        stale.commit(),
        fresh.commit(),
        release,
    );
    led.expect("the held command");
    assert!(matches!(stale, Err(AppendError::Conflict)), "{stale:?}");
    fresh.expect("the current batch lands");
    let after = bus.commits();
    assert_eq!(after.transactions - before.transactions, 2, "{after:?}");
    assert_eq!(after.batches - before.batches, 2, "{after:?}");
    assert_eq!(title(&bus, stale_key).await, "Meanwhile");
    assert_eq!(title(&bus, fresh_key).await, "Fresh");
}

/// Two commands on one task waiting together: both land, the second decided again on
/// the first's result rather than refused.
async fn two_commands_on_one_aggregate_waiting_together_both_land(db: Database) {
    let bus = Arc::new(CommandBus::new(&db, services()));
    let account = new_account(&bus).await;
    let first = new_task(&bus, account).await;
    let shared = new_task(&bus, account).await;
    let before = bus.commits();

    let hold = hold_the_log(&db).await;
    let leader = tokio::spawn({
        let bus = bus.clone();
        async move { bus.execute::<Task>(first, rename("First"), &meta()).await }
    });
    until(&bus, "had a commit in flight", |c| c.in_flight == 1).await;
    let both: Vec<_> = ["One", "Two"]
        .into_iter()
        .map(|title| {
            let bus = bus.clone();
            tokio::spawn(async move { bus.execute::<Task>(shared, rename(title), &meta()).await })
        })
        .collect();
    until(&bus, "had both waiting", |c| c.waiting == 2).await;
    hold.commit().await.expect("let the held commit go");
    leader.await.expect("leader").expect("the held command");
    for command in both {
        command.await.expect("task").expect("each lands");
    }
    let after = bus.commits();
    assert_eq!(after.batches - before.batches, 3, "{after:?}");
    let sequence: (i64,) =
        sqlx::query_as("SELECT max(sequence) FROM events WHERE aggregate_id = $1")
            .bind(shared.to_string())
            .fetch_one(&db.any)
            .await
            .expect("read the task's sequence");
    assert_eq!(sequence.0, 3, "created, then both renames");
    assert!(["One", "Two"].contains(&title(&bus, shared).await.as_str()));
}

#[tokio::test]
async fn postgres_commands_ready_together_share_one_transaction() {
    commands_ready_together_share_one_transaction(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_commands_ready_together_share_one_transaction() {
    commands_ready_together_share_one_transaction(support::fresh_sqlite().await).await;
}

#[tokio::test]
async fn postgres_a_stale_batch_in_a_group_is_refused_alone() {
    a_stale_batch_in_a_group_is_refused_alone(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_a_stale_batch_in_a_group_is_refused_alone() {
    a_stale_batch_in_a_group_is_refused_alone(support::fresh_sqlite().await).await;
}

#[tokio::test]
async fn postgres_two_commands_on_one_aggregate_waiting_together_both_land() {
    two_commands_on_one_aggregate_waiting_together_both_land(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_two_commands_on_one_aggregate_waiting_together_both_land() {
    two_commands_on_one_aggregate_waiting_together_both_land(support::fresh_sqlite().await).await;
}
