//! The global log never skips an event, even when transactions commit out of the order
//! in which they drew their positions.

mod support;

use projections::{Backend, Database, EventLog, LogPosition, StoredEvent};
use std::collections::HashSet;
use std::time::Duration;

/// Inserts one event in `tx`: it has its position but is not visible until `tx`
/// commits.
async fn insert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    aggregate_id: &str,
    sequence: i64,
) {
    let (payload_cast, metadata_cast) = match backend {
        Backend::Postgres => ("$6::json", "$7::json"),
        Backend::Sqlite => ("$6", "$7"),
    };
    let sql = format!(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ($1, $2, $3, $4, $5, {payload_cast}, {metadata_cast})"
    );
    sqlx::query(&sql)
        .bind("probe")
        .bind(aggregate_id)
        .bind(sequence)
        .bind("Probed")
        .bind("1")
        .bind("{\"Probed\":{}}")
        .bind("{\"at\":\"0\"}")
        .execute(&mut **tx)
        .await
        .expect("insert event");
}

/// Appends one event in its own transaction, holding the transaction open for `hold`
/// after the insert: the event has its position but is not visible yet.
async fn append(db: &Database, aggregate_id: &str, sequence: i64, hold: Duration) {
    let mut tx = db.begin_write().await.expect("begin");
    insert(&mut tx, db.backend, aggregate_id, sequence).await;
    tokio::time::sleep(hold).await;
    tx.commit().await.expect("commit");
}

fn key(e: &StoredEvent) -> (String, i64) {
    (e.aggregate_id.clone(), e.sequence)
}

/// Reads everything after `at` that is readable now, advancing `at`.
async fn drain(log: &EventLog, at: &mut LogPosition, seen: &mut Vec<(String, i64)>) {
    loop {
        let batch = log.read(*at, LogPosition::END, 7).await.expect("read log");
        let Some(last) = batch.last() else { return };
        *at = last.position;
        seen.extend(batch.iter().map(key));
    }
}

/// Many writers, each holding some transactions open for a random while, and a reader
/// polling all along: the reader sees every event exactly once.
async fn concurrent_writers_with_late_commits(db: Database) {
    let log = EventLog::new(db.clone());
    let writers = 8;
    let per_writer = 25;
    let account = uuid::Uuid::new_v4();

    let reader = {
        let log = log.clone();
        tokio::spawn(async move {
            let mut at = LogPosition::START;
            let mut seen = Vec::new();
            while seen.len() < writers * per_writer {
                drain(&log, &mut at, &mut seen).await;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            // Anything more would be a duplicate.
            tokio::time::sleep(Duration::from_millis(100)).await;
            drain(&log, &mut at, &mut seen).await;
            seen
        })
    };

    let mut handles = Vec::new();
    for w in 0..writers {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            let aggregate_id = format!("{account}:{}", uuid::Uuid::new_v4());
            for seq in 1..=per_writer as i64 {
                // Every third event of every other writer commits late.
                let hold = if w % 2 == 0 && seq % 3 == 0 {
                    Duration::from_millis(20 + (seq as u64 * 7) % 40)
                } else {
                    Duration::ZERO
                };
                append(&db, &aggregate_id, seq, hold).await;
            }
        }));
    }
    for h in handles {
        h.await.expect("writer");
    }
    let seen = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("reader finished in time")
        .expect("reader");
    let distinct: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(
        seen.len(),
        writers * per_writer,
        "every event once, none twice"
    );
    assert_eq!(distinct.len(), seen.len(), "no duplicates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_reader_sees_every_event_exactly_once() {
    concurrent_writers_with_late_commits(support::fresh_postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_reader_sees_every_event_exactly_once() {
    concurrent_writers_with_late_commits(support::fresh_sqlite().await).await;
}

/// The case that makes a plain sequence unsafe on PostgreSQL: A draws the lower
/// position, B the higher, B commits first. A reader that trusts positions alone would
/// read B, move past A's position, and never see A. Ours waits for A.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_reader_waits_for_a_lower_position_that_commits_late() {
    let db = support::fresh_postgres().await;
    let log = EventLog::new(db.clone());
    let account = uuid::Uuid::new_v4();
    let a = format!("{account}:a");
    let b = format!("{account}:b");

    let slow = {
        let (db, a) = (db.clone(), a.clone());
        tokio::spawn(async move { append(&db, &a, 1, Duration::from_millis(500)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    append(&db, &b, 1, Duration::ZERO).await;

    // B is committed, A is not: the naive cursor sees B alone and would move past A.
    let naive: Vec<(String, i64)> =
        sqlx::query_as("SELECT aggregate_id, sequence FROM events ORDER BY global_position")
            .fetch_all(&db.any)
            .await
            .expect("naive read");
    assert_eq!(naive, vec![(b.clone(), 1)]);
    let mut at = LogPosition::START;
    let mut seen = Vec::new();
    drain(&log, &mut at, &mut seen).await;
    assert!(
        seen.is_empty(),
        "nothing is readable while A is open: {seen:?}"
    );

    slow.await.expect("slow writer");
    drain(&log, &mut at, &mut seen).await;
    assert_eq!(seen, vec![(a, 1), (b, 1)], "both, in commit-safe order");
}

async fn a_lag_is_counted_up_to_its_bound(db: Database) {
    for sequence in 1..=5 {
        append(&db, "acct:lagging", sequence, Duration::ZERO).await;
    }
    let log = EventLog::new(db.clone());
    let mut at = LogPosition::START;
    let mut seen = Vec::new();
    while seen.len() < 5 {
        drain(&log, &mut at, &mut seen).await;
    }
    assert_eq!(log.count_after(LogPosition::START).await.expect("count"), 5);
    assert_eq!(
        log.lag_after(LogPosition::START, 100).await.expect("lag"),
        5
    );
    assert_eq!(
        log.lag_after(LogPosition::START, 3).await.expect("lag"),
        3,
        "counting stops at the bound"
    );
    assert_eq!(log.lag_after(at, 3).await.expect("lag"), 0);
}

#[tokio::test]
async fn postgres_a_lag_is_counted_up_to_its_bound() {
    a_lag_is_counted_up_to_its_bound(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_a_lag_is_counted_up_to_its_bound() {
    a_lag_is_counted_up_to_its_bound(support::fresh_sqlite().await).await;
}

/// A committed event behind a transaction still open is held: the freshness monitor
/// tells a forgotten session holding every follower back from a moment's overlap.
#[tokio::test]
async fn postgres_an_event_behind_an_open_transaction_is_held() {
    let db = support::fresh_postgres().await;
    let log = EventLog::new(db.clone());
    // Open, with its row in (so with its transaction id drawn), while a later event
    // commits.
    let mut open = db.begin_write().await.expect("begin");
    insert(&mut open, db.backend, "acct:open", 1).await;
    append(&db, "acct:after", 1, Duration::ZERO).await;
    assert!(log.held().await.expect("held"), "the later commit is held");
    open.commit().await.expect("commit");
}
