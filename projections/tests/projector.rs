//! A projection applies each event exactly once: a batch that fails rolls back whole,
//! checkpoint included, and the next run repeats it from the old checkpoint.

mod support;

use support::services;

use domain::account::{Account, AccountCommand, Plan};
use domain::task::{Task, TaskCommand};
use domain::{AccountId, AggregateKey, PersonId, TaskId, Timestamp};
use projections::checkpoint;
use projections::commands::CommandBus;
use projections::health::Health;
use projections::log::Metadata;
use projections::projector::{Projection, Projector};
use projections::read_model::ReadModels;
use projections::{tasks, Database, EventLog, LogPosition, StoreError, StoredEvent};
use sqlx::{Any, Transaction};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// The read models, failing after `fail_after` events: a crash in the middle of a batch.
struct CrashesMidway {
    applied: AtomicUsize,
    fail_after: usize,
}

#[async_trait::async_trait]
impl Projection for CrashesMidway {
    fn name(&self) -> &'static str {
        ReadModels.name()
    }

    async fn apply(
        &self,
        tx: &mut Transaction<'static, Any>,
        event: &StoredEvent,
    ) -> Result<(), StoreError> {
        if self.applied.fetch_add(1, Ordering::SeqCst) == self.fail_after {
            return Err(StoreError::UnknownValue {
                what: "test",
                value: "simulated crash".into(),
            });
        }
        ReadModels.apply(tx, event).await
    }
}

async fn write_history(db: &Database) -> (AccountId, TaskId, usize) {
    let bus = CommandBus::new(db, services());
    let meta = Metadata {
        actor: None,
        at: Timestamp(1_700_000_000_000),
        request_id: None,
    };
    let account = AccountId::new_random();
    let task = TaskId::new_random();
    bus.execute::<Account>(
        AggregateKey::account(account),
        AccountCommand::Create {
            account,
            name: domain::AccountName::parse("Acme").unwrap(),
            plan: Plan::Standard,
        },
        &meta,
    )
    .await
    .expect("create account");
    let key = AggregateKey::new(account, task.0);
    bus.execute::<Task>(
        key,
        TaskCommand::Create {
            task,
            title: domain::TaskTitle::parse("v0").unwrap(),
            description: domain::TaskDescription::parse("").unwrap(),
            creator: PersonId::new_random(),
            workgroup: None,
            deadline: None,
        },
        &meta,
    )
    .await
    .expect("create task");
    for n in 1..=5 {
        bus.execute::<Task>(
            key,
            TaskCommand::Rename {
                title: domain::TaskTitle::parse(&format!("v{n}")).unwrap(),
            },
            &meta,
        )
        .await
        .expect("rename");
    }
    let (events,): (i64,) = sqlx::query_as("SELECT count(*) AS n FROM events")
        .fetch_one(&db.any)
        .await
        .expect("count events");
    assert_eq!(
        events, 8,
        "the account (created, link), the task, five renames"
    );
    (account, task, events as usize)
}

/// Waits until the whole history is readable. On PostgreSQL the log is read only below
/// the oldest transaction still open on the cluster (another test's, say), so the
/// first batch could otherwise hold a part of it and succeed before the crash.
async fn wait_until_readable(db: &Database, events: usize) {
    let log = EventLog::new(db.clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while log
        .read(LogPosition::START, LogPosition::END, 100)
        .await
        .expect("read the log")
        .len()
        < events
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the history became readable"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn a_failed_batch_leaves_no_trace_and_is_repeated(db: Database) {
    let (account, task, events) = write_history(&db).await;
    wait_until_readable(&db, events).await;

    let crashing = CrashesMidway {
        applied: AtomicUsize::new(0),
        fail_after: 4,
    };
    let (projector, _) = Projector::new(crashing, db.clone())
        .await
        .expect("projector");
    assert!(
        projector.catch_up_to_head().await.is_err(),
        "the simulated crash surfaces"
    );
    assert_eq!(
        checkpoint::load(&db.any, "read_models")
            .await
            .expect("checkpoint"),
        LogPosition::START,
        "the checkpoint did not move"
    );
    assert!(
        tasks::get(&db.any, account, task)
            .await
            .expect("read")
            .is_none(),
        "the events applied before the crash were rolled back with it"
    );

    let (projector, handle) = Projector::new(ReadModels, db.clone())
        .await
        .expect("projector");
    assert_eq!(
        projector.catch_up_to_head().await.expect("catch up"),
        events as u64
    );
    let projected = tasks::get(&db.any, account, task)
        .await
        .expect("read")
        .expect("task");
    assert_eq!(projected.title, "v5");
    assert_eq!(
        handle.position(),
        checkpoint::load(&db.any, "read_models")
            .await
            .expect("checkpoint")
    );

    // A restart finds nothing left to do: nothing is applied twice.
    let (projector, _) = Projector::new(ReadModels, db.clone())
        .await
        .expect("projector");
    assert_eq!(projector.catch_up().await.expect("catch up"), 0);
}

#[tokio::test]
async fn postgres_failed_batch_is_rolled_back_and_repeated() {
    a_failed_batch_leaves_no_trace_and_is_repeated(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_failed_batch_is_rolled_back_and_repeated() {
    a_failed_batch_leaves_no_trace_and_is_repeated(support::fresh_sqlite().await).await;
}

/// Every stored event row carries its account in a column of its own.
#[tokio::test]
async fn every_event_row_names_its_account() {
    for db in [
        support::fresh_postgres().await,
        support::fresh_sqlite().await,
    ] {
        let (account, _, events) = write_history(&db).await;
        let rows: Vec<(String,)> = sqlx::query_as("SELECT account_id FROM events")
            .fetch_all(&db.any)
            .await
            .expect("read events");
        assert_eq!(rows.len(), events);
        assert!(rows.iter().all(|(a,)| *a == account.to_string()));
    }
}

/// On PostgreSQL the log is readable only below the oldest transaction open anywhere in
/// the cluster. A start-up catch-up must wait for such a transaction instead of
/// reporting "caught up" with nothing read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_start_up_catch_up_waits_for_open_transactions_elsewhere() {
    use sqlx::Connection;
    let db = support::fresh_postgres().await;
    let mut elsewhere = sqlx::PgConnection::connect(support::POSTGRES_ADMIN_URL)
        .await
        .expect("connect to another database");
    let mut blocker = elsewhere.begin().await.expect("begin");
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *blocker)
        .await
        .expect("take a transaction id");

    let (_, _, events) = write_history(&db).await;
    let (projector, _) = Projector::new(ReadModels, db.clone())
        .await
        .expect("projector");
    assert_eq!(
        projector.catch_up().await.expect("catch up"),
        0,
        "nothing readable yet"
    );

    let waiting = tokio::spawn(async move { projector.catch_up_to_head().await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "the catch-up waits for the open transaction"
    );
    blocker.commit().await.expect("commit");
    let applied = tokio::time::timeout(std::time::Duration::from_secs(10), waiting)
        .await
        .expect("finishes once the transaction ends")
        .expect("task")
        .expect("catch up");
    assert_eq!(applied, events as u64);
}

/// Two processes sharing one database both run the read-model projector: every event
/// is applied once, and both end where the log ends.
async fn two_projectors_on_one_database_apply_each_event_once(db: Database) {
    let (_, _, events) = write_history(&db).await;
    let (first, first_at) = Projector::new(ReadModels, db.clone())
        .await
        .expect("projector");
    let (second, second_at) = Projector::new(ReadModels, db.clone())
        .await
        .expect("projector");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let a = tokio::spawn(first.run(stopped.clone()));
    let b = tokio::spawn(second.run(stopped));
    let head = projections::EventLog::new(db.clone())
        .head()
        .await
        .expect("head");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while first_at.position() < head || second_at.position() < head {
        assert!(
            tokio::time::Instant::now() < deadline,
            "both followers reach the head"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    let _ = tokio::join!(a, b);
    assert_eq!(
        checkpoint::load(&db.any, "read_models")
            .await
            .expect("checkpoint"),
        head
    );
    let (tasks,): (i64,) = sqlx::query_as("SELECT count(*) AS n FROM tasks")
        .fetch_one(&db.any)
        .await
        .expect("count");
    assert_eq!(tasks, 1, "one task, applied once, out of {events} events");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_projectors_apply_each_event_once() {
    two_projectors_on_one_database_apply_each_event_once(support::fresh_postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_projectors_apply_each_event_once() {
    two_projectors_on_one_database_apply_each_event_once(support::fresh_sqlite().await).await;
}

/// The read models, unable to apply the fourth event of the task (a rename) until
/// `cured`: an event that cannot be applied, then the fix.
struct RefusesOneEvent {
    cured: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl Projection for RefusesOneEvent {
    fn name(&self) -> &'static str {
        ReadModels.name()
    }

    async fn apply(
        &self,
        tx: &mut Transaction<'static, Any>,
        event: &StoredEvent,
    ) -> Result<(), StoreError> {
        if event.aggregate_type == "task"
            && event.sequence == 4
            && !self.cured.load(Ordering::SeqCst)
        {
            return Err(StoreError::UnknownValue {
                what: "test",
                value: "an event that cannot be applied".into(),
            });
        }
        ReadModels.apply(tx, event).await
    }
}

/// The handle tells of a stall at once, naming the event, ends a wait for a position
/// past it, and is running again once a batch goes through.
async fn a_stall_names_the_event_and_ends_when_it_applies(db: Database) {
    let (_, _, events) = write_history(&db).await;
    let head = projections::EventLog::new(db.clone())
        .head()
        .await
        .expect("head");
    let cured = Arc::new(AtomicBool::new(false));
    let (projector, handle) = Projector::new(
        RefusesOneEvent {
            cured: cured.clone(),
        },
        db.clone(),
    )
    .await
    .expect("projector");
    assert_eq!(handle.health(), Health::Running);

    let error = projector
        .catch_up_to_head()
        .await
        .expect_err("the event cannot be applied");
    let event = error.event.as_ref().expect("the failing event is named");
    assert_eq!((event.aggregate_type.as_str(), event.sequence), ("task", 4));
    assert_eq!(event.event_type, "TaskRenamed");
    assert!(error.is_in_the_log());
    let stall = handle.health().stall().cloned().expect("stalled");
    assert_eq!(stall.event.as_ref(), Some(event));
    assert_eq!(
        stall.after,
        LogPosition::START,
        "the whole batch rolled back"
    );
    assert_eq!(
        handle.caught_up_or_stalled(head).await,
        Err(stall),
        "a wait for the head ends at once"
    );
    assert_eq!(handle.health_watch().failures(), 1);

    cured.store(true, Ordering::SeqCst);
    assert_eq!(
        projector.catch_up().await.expect("applies now"),
        events as u64
    );
    assert_eq!(handle.health(), Health::Running);
    assert_eq!(handle.caught_up_or_stalled(head).await, Ok(()));
}

#[tokio::test]
async fn postgres_a_stall_names_the_event_and_ends_when_it_applies() {
    a_stall_names_the_event_and_ends_when_it_applies(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_a_stall_names_the_event_and_ends_when_it_applies() {
    a_stall_names_the_event_and_ends_when_it_applies(support::fresh_sqlite().await).await;
}

/// Notes the `synchronous_commit` in force in each batch it applies, with or without
/// tables of its own.
struct NotesCommitMode {
    owns_tables: bool,
    seen: Arc<std::sync::Mutex<Vec<String>>>,
}

#[async_trait::async_trait]
impl Projection for NotesCommitMode {
    fn name(&self) -> &'static str {
        if self.owns_tables {
            "notes_commit_mode_tables"
        } else {
            "notes_commit_mode_mail"
        }
    }

    fn tables(&self) -> &'static [&'static str] {
        if self.owns_tables {
            &["tasks"]
        } else {
            &[]
        }
    }

    async fn apply(
        &self,
        tx: &mut Transaction<'static, Any>,
        _event: &StoredEvent,
    ) -> Result<(), StoreError> {
        use sqlx::Row;
        let mode: String = sqlx::query("SELECT current_setting('synchronous_commit') AS mode")
            .fetch_one(&mut **tx)
            .await?
            .try_get("mode")?;
        self.seen.lock().unwrap().push(mode);
        Ok(())
    }
}

/// A projection the log can make again commits without waiting for the disk; one
/// whose effects leave the database (mail) waits, as every command does.
#[tokio::test]
async fn postgres_only_rebuildable_projections_commit_without_waiting_for_the_disk() {
    let db = support::fresh_postgres().await;
    let (_, _, events) = write_history(&db).await;
    wait_until_readable(&db, events).await;
    for (owns_tables, expected) in [(true, "off"), (false, "on")] {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (projector, _) = Projector::new(
            NotesCommitMode {
                owns_tables,
                seen: seen.clone(),
            },
            db.clone(),
        )
        .await
        .expect("projector");
        assert_eq!(
            projector.catch_up_to_head().await.expect("catch up"),
            events as u64
        );
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), events);
        assert!(
            seen.iter().all(|mode| mode == expected),
            "owns tables: {owns_tables}; seen {seen:?}"
        );
    }
    // The setting was the batch's own: the pool's connections are as they were.
    let mode: String = sqlx::query_scalar("SELECT current_setting('synchronous_commit')")
        .fetch_one(&db.any)
        .await
        .expect("read the setting");
    assert_eq!(mode, "on");
}

/// Notes the positions of the events it is given, and writes nothing.
#[derive(Clone, Default)]
struct NotesEvents(Arc<std::sync::Mutex<Vec<LogPosition>>>);

#[async_trait::async_trait]
impl Projection for NotesEvents {
    fn name(&self) -> &'static str {
        "notes_events"
    }

    async fn apply(
        &self,
        _tx: &mut Transaction<'static, Any>,
        event: &StoredEvent,
    ) -> Result<(), StoreError> {
        self.0.lock().expect("notes").push(event.position);
        Ok(())
    }
}

/// A follower in the same process as its leader applies the leader's batches as the
/// leader read them, without reading the log again: here it applies every event after
/// they have been removed from the log (as nothing but a test may do).
async fn a_follower_takes_its_leaders_batches(db: Database) {
    let (_, _, events) = write_history(&db).await;
    wait_until_readable(&db, events).await;
    let (leader, leader_at) = Projector::new(ReadModels, db.clone())
        .await
        .expect("leader");
    let notes = NotesEvents::default();
    let (follower, _) = Projector::new(notes.clone(), db.clone())
        .await
        .expect("follower");
    let follower = follower.behind(&leader_at);
    assert_eq!(
        leader.catch_up().await.expect("leader applies"),
        events as u64
    );
    sqlx::query("DELETE FROM events")
        .execute(&db.any)
        .await
        .expect("empty the log");
    assert_eq!(
        follower.catch_up().await.expect("follower applies"),
        events as u64,
        "every event from the leader's batch"
    );
    assert_eq!(follower.position(), leader_at.position());
    let seen = notes.0.lock().expect("notes").clone();
    assert_eq!(seen.len(), events);
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "in log order: {seen:?}"
    );
}

#[tokio::test]
async fn postgres_a_follower_takes_its_leaders_batches() {
    a_follower_takes_its_leaders_batches(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_a_follower_takes_its_leaders_batches() {
    a_follower_takes_its_leaders_batches(support::fresh_sqlite().await).await;
}
