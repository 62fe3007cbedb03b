//! The command side on a real store: racing commands, long histories, account walls.

mod support;

use support::{services, system_change as meta};

use domain::account::{Account, AccountCommand, Plan};
use domain::task::{Task, TaskCommand, TaskError, TaskRole};
use domain::{AccountId, AggregateKey, PersonId, TaskId};
use projections::commands::{CommandBus, CommandError, SNAPSHOT_EVERY};
use projections::Database;
use std::collections::HashSet;
use std::sync::Arc;

async fn new_task(bus: &CommandBus) -> (AccountId, TaskId, AggregateKey) {
    let account = AccountId::new_random();
    bus.execute::<Account>(
        AggregateKey::account(account),
        AccountCommand::Create {
            account,
            name: domain::AccountName::parse("Acme").unwrap(),
            plan: Plan::Standard,
        },
        &meta(),
    )
    .await
    .expect("create account");
    let task = TaskId::new_random();
    let key = AggregateKey::new(account, task.0);
    bus.execute::<Task>(
        key,
        TaskCommand::Create {
            task,
            title: domain::TaskTitle::parse("Race").unwrap(),
            description: domain::TaskDescription::parse("").unwrap(),
            creator: PersonId::new_random(),
            workgroup: None,
            deadline: None,
        },
        &meta(),
    )
    .await
    .expect("create task");
    (account, task, key)
}

/// The (sequence, event type, payload) of every event of one aggregate, in order.
async fn events_of(db: &Database, key: AggregateKey) -> Vec<(i64, String, String)> {
    let payload = match db.backend {
        projections::Backend::Postgres => "payload::text",
        projections::Backend::Sqlite => "payload",
    };
    sqlx::query_as(&format!(
        "SELECT sequence, event_type, {payload} AS payload FROM events
          WHERE aggregate_type = 'task' AND aggregate_id = $1 ORDER BY sequence"
    ))
    .bind(key.to_string())
    .fetch_all(&db.any)
    .await
    .expect("read events")
}

/// Many people are added to one task at the same moment. Each command either lands
/// once or reports the conflict it lost; the stream has no gap and no double.
async fn racing_commands_lose_and_double_nothing(db: Database) {
    let bus = Arc::new(CommandBus::new(&db, services()));
    let (_, _, key) = new_task(&bus).await;
    let people: Vec<PersonId> = (0..16).map(|_| PersonId::new_random()).collect();
    let mut racers = Vec::new();
    for person in people.clone() {
        let bus = bus.clone();
        racers.push(tokio::spawn(async move {
            let result = bus
                .execute::<Task>(
                    key,
                    TaskCommand::Assign {
                        person,
                        role: TaskRole::Participant,
                    },
                    &meta(),
                )
                .await;
            (person, result)
        }));
    }
    let mut landed = HashSet::new();
    for racer in racers {
        let (person, result) = racer.await.expect("racer");
        match result {
            Ok(_) => {
                landed.insert(person.to_string());
            }
            Err(CommandError::Conflict) => {}
            Err(other) => panic!("unexpected failure: {other}"),
        }
    }
    assert!(!landed.is_empty());
    let events = events_of(&db, key).await;
    let sequences: Vec<i64> = events.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(
        sequences,
        (1..=events.len() as i64).collect::<Vec<_>>(),
        "no gap, no double"
    );
    let assigned: Vec<&String> = events
        .iter()
        .filter(|(_, t, _)| t == "PersonAssigned")
        .map(|(_, _, p)| p)
        .collect();
    assert_eq!(
        assigned.len(),
        landed.len(),
        "one event per command that landed"
    );
    for person in &landed {
        assert_eq!(
            assigned
                .iter()
                .filter(|p| p.contains(person.as_str()))
                .count(),
            1
        );
    }

    // Two people rename the task to the same title at once: the loser decides again on
    // the fresh state, finds nothing to change, and no second event is written.
    let m = meta();
    let (a, b) = tokio::join!(
        bus.execute::<Task>(
            key,
            TaskCommand::Rename {
                title: domain::TaskTitle::parse("Same").unwrap()
            },
            &m
        ),
        bus.execute::<Task>(
            key,
            TaskCommand::Rename {
                title: domain::TaskTitle::parse("Same").unwrap()
            },
            &m
        ),
    );
    assert!(a.is_ok() && b.is_ok());
    let renames = events_of(&db, key)
        .await
        .into_iter()
        .filter(|(_, t, _)| t == "TaskRenamed")
        .count();
    assert_eq!(renames, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_racing_commands_lose_and_double_nothing() {
    racing_commands_lose_and_double_nothing(support::fresh_postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_racing_commands_lose_and_double_nothing() {
    racing_commands_lose_and_double_nothing(support::fresh_sqlite().await).await;
}

/// A task with a long history loads from its snapshot: with every event before the
/// snapshot gone from the table, the next command still sees the task as it is.
async fn a_long_history_loads_from_its_snapshot(db: Database) {
    let bus = CommandBus::new(&db, services());
    let (_, _, key) = new_task(&bus).await;
    let renames = SNAPSHOT_EVERY * 2 + 50;
    for n in 1..=renames {
        bus.execute::<Task>(
            key,
            TaskCommand::Rename {
                title: domain::TaskTitle::parse(&format!("v{n}")).unwrap(),
            },
            &meta(),
        )
        .await
        .expect("rename");
    }
    let (snapshot_at,): (i64,) = sqlx::query_as(
        "SELECT max(last_sequence) AS s FROM snapshots WHERE aggregate_type = 'task' AND aggregate_id = $1",
    )
    .bind(key.to_string())
    .fetch_one(&db.any)
    .await
    .expect("snapshot");
    assert!(
        snapshot_at >= (SNAPSHOT_EVERY * 2) as i64,
        "snapshot at {snapshot_at}"
    );
    sqlx::query(
        "DELETE FROM events WHERE aggregate_type = 'task' AND aggregate_id = $1 AND sequence <= $2",
    )
    .bind(key.to_string())
    .bind(snapshot_at)
    .execute(&db.any)
    .await
    .expect("delete history");
    // Renaming to the current title is a no-op only if the state is right.
    bus.execute::<Task>(
        key,
        TaskCommand::Rename {
            title: domain::TaskTitle::parse(&format!("v{renames}")).unwrap(),
        },
        &meta(),
    )
    .await
    .expect("no-op rename");
    let after = events_of(&db, key).await;
    assert_eq!(
        after.last().map(|(s, _, _)| *s),
        Some(renames as i64 + 1),
        "nothing written"
    );
}

#[tokio::test]
async fn postgres_long_history_loads_from_its_snapshot() {
    a_long_history_loads_from_its_snapshot(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_long_history_loads_from_its_snapshot() {
    a_long_history_loads_from_its_snapshot(support::fresh_sqlite().await).await;
}

/// A command addressed through another account reaches nothing.
#[tokio::test]
async fn a_command_never_crosses_accounts() {
    let db = support::fresh_sqlite().await;
    let bus = CommandBus::new(&db, services());
    let (_, task, _) = new_task(&bus).await;
    let elsewhere = AggregateKey::new(AccountId::new_random(), task.0);
    let result = bus
        .execute::<Task>(
            elsewhere,
            TaskCommand::Rename {
                title: domain::TaskTitle::parse("Hijack").unwrap(),
            },
            &meta(),
        )
        .await;
    assert!(matches!(
        result,
        Err(CommandError::Refused(TaskError::NotFound))
    ));
}

/// Tasks are kept in memory between commands (`hot.rs`), and another process sharing
/// the store (here a second bus) changes one behind this one's back. Whatever the kept
/// state says, every answer is the one a fresh load gives: a refusal, a no-op and a
/// change decided on the stale state are each decided again.
async fn a_state_kept_in_memory_never_decides_alone(db: Database) {
    let here = CommandBus::new(&db, services());
    let elsewhere = CommandBus::new(&db, services());
    let (_, _, key) = new_task(&here).await;
    let gus = PersonId::new_random();
    let assign = TaskCommand::Assign {
        person: gus,
        role: TaskRole::Participant,
    };
    let unassign = TaskCommand::Unassign { person: gus };
    let count = |events: &[(i64, String, String)], kind: &str| {
        events.iter().filter(|(_, t, _)| t == kind).count()
    };

    // `there` runs on the other bus, behind this one's back; then `mine` runs here.
    let behind_its_back = |there: TaskCommand, mine: TaskCommand| {
        let (here, elsewhere) = (&here, &elsewhere);
        async move {
            elsewhere
                .execute::<Task>(key, there, &meta())
                .await
                .expect("the change elsewhere");
            here.execute::<Task>(key, mine, &meta())
                .await
                .expect("a command decided on a stale state is decided again");
        }
    };

    // Kept: Gus holds no role. Elsewhere he is assigned; unassigning him here is not
    // refused as NotOnTask.
    behind_its_back(assign.clone(), unassign.clone()).await;
    assert_eq!(count(&events_of(&db, key).await, "PersonUnassigned"), 1);

    // Kept: no role. Elsewhere he is assigned again; assigning him here appends
    // nothing more (the stale append loses the race, and afresh it is a no-op).
    behind_its_back(assign.clone(), assign.clone()).await;
    assert_eq!(count(&events_of(&db, key).await, "PersonAssigned"), 2);

    // Kept: a participant. Elsewhere he is unassigned; assigning him here is not
    // answered as a no-op: it is appended.
    behind_its_back(unassign, assign).await;
    let events = events_of(&db, key).await;
    assert_eq!(count(&events, "PersonAssigned"), 3);
    let sequences: Vec<i64> = events.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(sequences, (1..=sequences.len() as i64).collect::<Vec<_>>());
}

#[tokio::test]
async fn postgres_a_state_kept_in_memory_never_decides_alone() {
    a_state_kept_in_memory_never_decides_alone(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_a_state_kept_in_memory_never_decides_alone() {
    a_state_kept_in_memory_never_decides_alone(support::fresh_sqlite().await).await;
}
