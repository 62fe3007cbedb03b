//! Group commit (issue 14, aim 1): the batches that are ready while another commit is
//! in flight wait for it, and are then stored together, in one transaction, with one
//! wait for the disk, instead of one transaction each.
//!
//! Whoever finds no commit in flight commits what is waiting: alone, its own batch,
//! on its own task, so a lone command pays no hand-over; a group of several, on a task
//! of its own, so that one caller giving up (a client hanging up drops its request)
//! cannot leave the others' outcome unknown. Everyone else waits for their answer or
//! their turn, whichever comes first.
//!
//! Each batch keeps its own verdict. A group holds batches on distinct aggregates only
//! (one touching an aggregate already in the group waits for the next), so that two
//! commands on one aggregate are still ordered by the optimistic lock. When a group
//! fails (one stale batch refuses the whole transaction), its batches are stored again
//! one by one, and only the stale one is refused.
//!
//! While a commit is in flight this process starts no other: a transaction that hangs
//! (a lock held elsewhere) holds every command here, where before it held its own.

use crate::batch::AppendError;
use crate::bulk::{placeholders, rows_per_statement};
use crate::{Backend, Database, LogPosition, StoreError};
use cqrs_es::persist::SerializedEvent;
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{oneshot, OwnedMutexGuard};

/// The most events one group stores; a batch larger than this is stored alone.
const GROUP_EVENTS: usize = 5_000;

/// A batch ready to be stored: its events sealed and in the order they go in, and the
/// snapshots it writes.
pub(crate) struct Prepared {
    pub events: Vec<SerializedEvent>,
    pub snapshots: Vec<SnapshotWrite>,
}

/// An aggregate's snapshot, written when a batch carries it past a multiple of
/// `SNAPSHOT_EVERY`, as postgres-es and sqlite-es do: the first is inserted as number
/// 1, a later one replaces the previous only if its number is still the one loaded
/// (another writer's snapshot makes this a conflict).
pub(crate) struct SnapshotWrite {
    pub aggregate_type: &'static str,
    pub id: String,
    pub sequence: usize,
    pub payload: String,
    /// The number of the snapshot found when the aggregate was loaded.
    pub previous: Option<usize>,
}

impl Prepared {
    fn aggregates(&self) -> HashSet<(&str, &str)> {
        self.events
            .iter()
            .map(|e| (e.aggregate_type.as_str(), e.aggregate_id.as_str()))
            .collect()
    }
}

/// What the group commit of a process has done and is doing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Commits {
    /// Transactions that stored batches, since the process started.
    pub transactions: u64,
    /// Batches stored (every command is one): per transaction, how many commands a
    /// commit carries.
    pub batches: u64,
    /// Batches being stored now.
    pub in_flight: u64,
    /// Batches waiting for the commit in flight.
    pub waiting: u64,
}

/// The batches of one process waiting to be stored, and the one commit in flight.
pub struct GroupCommit {
    db: Database,
    waiting: Mutex<Vec<Waiting>>,
    /// Held by whoever is committing.
    slot: Arc<tokio::sync::Mutex<()>>,
    next_id: AtomicU64,
    counts: Arc<Counts>,
}

struct Waiting {
    id: u64,
    prepared: Prepared,
    answer: oneshot::Sender<Result<LogPosition, AppendError>>,
}

#[derive(Default)]
struct Counts {
    transactions: AtomicU64,
    batches: AtomicU64,
    in_flight: AtomicU64,
}

/// Takes a caller's batch out of the waiting list if the caller stops waiting before
/// it was taken: a request given up is not stored later by someone else.
struct Withdraw<'a> {
    group: &'a GroupCommit,
    id: u64,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        self.group.lock_waiting().retain(|w| w.id != self.id);
    }
}

impl GroupCommit {
    pub(crate) fn new(db: Database) -> Self {
        Self {
            db,
            waiting: Mutex::new(Vec::new()),
            slot: Arc::new(tokio::sync::Mutex::new(())),
            next_id: AtomicU64::new(0),
            counts: Arc::default(),
        }
    }

    /// Stores `prepared` in one transaction, alone or with the batches waiting beside
    /// it; the position of its last event.
    pub(crate) async fn commit(&self, prepared: Prepared) -> Result<LogPosition, AppendError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (answer, mut answered) = oneshot::channel();
        self.lock_waiting().push(Waiting {
            id,
            prepared,
            answer,
        });
        let _withdraw = Withdraw { group: self, id };
        loop {
            tokio::select! {
                // A commit in flight answers before it lets the next one start.
                biased;
                result = &mut answered => return result.unwrap_or_else(|_| Err(lost())),
                slot = self.slot.clone().lock_owned() => {
                    let group = self.take_group();
                    let ours = group.iter().any(|w| w.id == id);
                    if ours && group.len() == 1 {
                        store(&self.db, group, slot, &self.counts).await;
                    } else if !group.is_empty() {
                        let (db, counts) = (self.db.clone(), self.counts.clone());
                        tokio::spawn(async move { store(&db, group, slot, &counts).await });
                    }
                }
            }
        }
    }

    pub fn commits(&self) -> Commits {
        Commits {
            transactions: self.counts.transactions.load(Ordering::Relaxed),
            batches: self.counts.batches.load(Ordering::Relaxed),
            in_flight: self.counts.in_flight.load(Ordering::Relaxed),
            waiting: self.lock_waiting().len() as u64,
        }
    }

    /// The waiting batches that go into the next transaction, oldest first: on
    /// aggregates distinct from each other's, up to [`GROUP_EVENTS`] events (at least
    /// one batch, however large).
    fn take_group(&self) -> Vec<Waiting> {
        let mut waiting = self.lock_waiting();
        let mut taken = Vec::new();
        let mut left = Vec::new();
        let mut events = 0;
        let mut touched: HashSet<(String, String)> = HashSet::new();
        for w in waiting.drain(..) {
            let aggregates = w.prepared.aggregates();
            let fits = taken.is_empty() || events + w.prepared.events.len() <= GROUP_EVENTS;
            let apart = aggregates
                .iter()
                .all(|&(t, id)| !touched.contains(&(t.to_owned(), id.to_owned())));
            if fits && apart {
                events += w.prepared.events.len();
                touched.extend(
                    aggregates
                        .iter()
                        .map(|&(t, i)| (t.to_owned(), i.to_owned())),
                );
                taken.push(w);
            } else {
                left.push(w);
            }
        }
        *waiting = left;
        self.counts
            .in_flight
            .fetch_add(taken.len() as u64, Ordering::Relaxed);
        taken
    }

    fn lock_waiting(&self) -> MutexGuard<'_, Vec<Waiting>> {
        // The list is consistent whenever its lock is released (nothing in it
        // panics halfway), so a lock poisoned by a panic elsewhere is safe to take.
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The answer of a commit that ended without answering (its task panicked): whether
/// the batch was stored is unknown, so it is not reported as stored.
fn lost() -> AppendError {
    AppendError::Store(StoreError::CommitLost("its task ended".into()))
}

/// How a transaction failed: before its `COMMIT` was sent, so that nothing of it is
/// stored and its batches may be tried again one by one; or at the commit, so that it
/// may be stored all the same.
enum Failed {
    Before(AppendError),
    AtCommit(String),
}

impl From<AppendError> for Failed {
    fn from(error: AppendError) -> Self {
        Failed::Before(error)
    }
}

impl From<StoreError> for Failed {
    fn from(error: StoreError) -> Self {
        Failed::Before(AppendError::Store(error))
    }
}

impl Failed {
    fn error(self) -> AppendError {
        match self {
            Failed::Before(error) => error,
            Failed::AtCommit(message) => AppendError::Store(StoreError::CommitLost(message)),
        }
    }
}

/// Counts a group's batches out of flight when its store ends, answered or dropped.
struct InFlight<'a> {
    counts: &'a Counts,
    batches: u64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.counts
            .in_flight
            .fetch_sub(self.batches, Ordering::Relaxed);
    }
}

/// Stores a group and answers each of its batches, holding `slot` until done.
async fn store(db: &Database, group: Vec<Waiting>, slot: OwnedMutexGuard<()>, counts: &Counts) {
    let _in_flight = InFlight {
        counts,
        batches: group.len() as u64,
    };
    let together: Vec<&Prepared> = group.iter().map(|w| &w.prepared).collect();
    let results = match append(db, &together).await {
        Ok(positions) => {
            counts.transactions.fetch_add(1, Ordering::Relaxed);
            positions.into_iter().map(Ok).collect()
        }
        // One stale batch refuses a whole group: nothing of it is stored, so each of
        // its batches is tried again alone, for its own verdict.
        Err(Failed::Before(error)) if group.len() > 1 => {
            tracing::debug!(%error, batches = group.len(), "a group commit failed; storing its batches one by one");
            let mut results = Vec::with_capacity(group.len());
            for prepared in &together {
                let result = append(db, std::slice::from_ref(prepared)).await;
                if result.is_ok() {
                    counts.transactions.fetch_add(1, Ordering::Relaxed);
                }
                results.push(result.map(|positions| positions[0]).map_err(Failed::error));
            }
            results
        }
        Err(Failed::Before(error)) => vec![Err(error)],
        // Failed at its commit, the group may be stored: none of it is tried again.
        Err(Failed::AtCommit(message)) => group
            .iter()
            .map(|_| Err(Failed::AtCommit(message.clone()).error()))
            .collect(),
    };
    for (waiting, result) in group.into_iter().zip(results) {
        if result.is_ok() {
            counts.batches.fetch_add(1, Ordering::Relaxed);
        }
        // A caller that stopped waiting does not want the answer.
        let _ = waiting.answer.send(result);
    }
    drop(slot);
}

/// Stores every event and snapshot of `batches` in one transaction; the position of
/// each batch's last event.
async fn append(db: &Database, batches: &[&Prepared]) -> Result<Vec<LogPosition>, Failed> {
    let events: Vec<&SerializedEvent> = batches.iter().flat_map(|b| &b.events).collect();
    let mut tx = db.begin_write().await?;
    let mut at: HashMap<(String, String), LogPosition> = HashMap::new();
    match db.backend {
        Backend::Postgres => {
            for chunk in events.chunks(rows_per_statement(7)) {
                for (aggregate, position) in insert(&mut tx, db.backend, chunk).await? {
                    let last = at.entry(aggregate).or_insert(position);
                    *last = (*last).max(position);
                }
            }
        }
        Backend::Sqlite => {
            // The trigger numbers rows after they are inserted, in this transaction
            // that holds the only write lock: every row past the head found now is
            // one of these.
            let before: i64 =
                sqlx::query("SELECT coalesce(max(global_position), 0) AS head FROM events")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::from)?
                    .try_get("head")
                    .map_err(StoreError::from)?;
            for chunk in events.chunks(rows_per_statement(7)) {
                insert(&mut tx, db.backend, chunk).await?;
            }
            let rows = sqlx::query(
                "SELECT aggregate_type, aggregate_id, max(global_position) AS last FROM events
                  WHERE global_position > $1 GROUP BY aggregate_type, aggregate_id",
            )
            .bind(before)
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::from)?;
            for row in rows {
                let aggregate = (
                    row.try_get("aggregate_type").map_err(StoreError::from)?,
                    row.try_get("aggregate_id").map_err(StoreError::from)?,
                );
                let position = row.try_get("last").map_err(StoreError::from)?;
                at.insert(aggregate, LogPosition { tx: 0, position });
            }
        }
    }
    for batch in batches {
        for write in &batch.snapshots {
            snapshot(&mut tx, db.backend, write).await?;
        }
    }
    stop_for_a_test().await?;
    tx.commit()
        .await
        .map_err(|error| Failed::AtCommit(error.to_string()))?;
    Ok(batches
        .iter()
        .map(|batch| {
            batch
                .events
                .iter()
                .filter_map(|e| at.get(&(e.aggregate_type.clone(), e.aggregate_id.clone())))
                .copied()
                .max()
                .unwrap_or(LogPosition::START)
        })
        .collect())
}

/// The fail point `batch.before_commit`, inside the transaction after every row is
/// written: `return` fails the batch there, `return(hang)` holds it there until the
/// process dies. Either way nothing of the batch may be stored.
async fn stop_for_a_test() -> Result<(), AppendError> {
    match fail::eval("batch.before_commit", |arg| arg) {
        None => Ok(()),
        Some(Some(arg)) if arg == "hang" => {
            tracing::warn!("a batch held before its commit at a fail point");
            std::future::pending().await
        }
        Some(_) => Err(AppendError::StoppedForATest),
    }
}

/// A failure of the store's optimistic lock (a row at that sequence exists) is a
/// conflict; anything else is the store failing.
fn append_error(error: sqlx::Error) -> AppendError {
    match &error {
        sqlx::Error::Database(e) if e.is_unique_violation() => AppendError::Conflict,
        _ => AppendError::Store(error.into()),
    }
}

/// Inserts `events`; on PostgreSQL, the position each row got, by its aggregate
/// (SQLite numbers rows later, by trigger).
async fn insert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    events: &[&SerializedEvent],
) -> Result<Vec<((String, String), LogPosition)>, AppendError> {
    let cast = json_cast(backend);
    let rows = placeholders(events.len(), &["", "", "", "", "", cast, cast]);
    let returning = match backend {
        Backend::Postgres => {
            " RETURNING aggregate_type, aggregate_id, tx_id::text::bigint AS tx, global_position"
        }
        Backend::Sqlite => "",
    };
    let sql = format!(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES {rows}{returning}"
    );
    let mut query = sqlx::query(&sql);
    for e in events {
        query = query
            .bind(e.aggregate_type.as_str())
            .bind(e.aggregate_id.as_str())
            .bind(e.sequence as i64)
            .bind(e.event_type.as_str())
            .bind(e.event_version.as_str())
            .bind(e.payload.to_string())
            .bind(e.metadata.to_string());
    }
    let rows = query.fetch_all(&mut **tx).await.map_err(append_error)?;
    rows.iter()
        .map(|row| {
            let aggregate = (row.try_get("aggregate_type")?, row.try_get("aggregate_id")?);
            let position = LogPosition {
                tx: row.try_get("tx")?,
                position: row.try_get("global_position")?,
            };
            Ok((aggregate, position))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| AppendError::Store(e.into()))
}

async fn snapshot(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    write: &SnapshotWrite,
) -> Result<(), AppendError> {
    let cast = json_cast(backend);
    let (sql, number) = match write.previous {
        None => (
            format!(
                "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, payload, current_snapshot)
                 VALUES ($1, $2, $3, $4{cast}, $5)"
            ),
            1,
        ),
        Some(number) => (
            format!(
                "UPDATE snapshots SET last_sequence = $3, payload = $4{cast}, current_snapshot = $5
                  WHERE aggregate_type = $1 AND aggregate_id = $2 AND current_snapshot = $6"
            ),
            number + 1,
        ),
    };
    let mut query = sqlx::query(&sql)
        .bind(write.aggregate_type)
        .bind(write.id.as_str())
        .bind(write.sequence as i64)
        .bind(write.payload.as_str())
        .bind(number as i64);
    if let Some(previous) = write.previous {
        query = query.bind(previous as i64);
    }
    let result = query.execute(&mut **tx).await.map_err(append_error)?;
    if result.rows_affected() != 1 {
        return Err(AppendError::Conflict);
    }
    Ok(())
}

/// PostgreSQL stores payloads as `json`; text bound to such a column needs a cast.
fn json_cast(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "::json",
        Backend::Sqlite => "",
    }
}
