//! Many commands, on aggregates of any type, decided one after another in memory and
//! appended in one transaction: all of their events are stored, or none (issue 14).
//!
//! A command decided in a batch sees the state its aggregate has after the batch's
//! earlier commands, as if they had been committed one by one. The optimistic lock
//! still holds for each aggregate: every event goes in at the sequence after the one
//! the batch loaded, so when another writer appended to any of them meanwhile, the
//! store's primary key refuses the whole batch ([`AppendError::Conflict`]) and the
//! caller decides it again on fresh states.
//!
//! The events are stored grouped by aggregate type, in the order the batch first
//! touched each type; each aggregate's own events keep their order. All of them become
//! readable at once, at the commit, so the order across aggregates tells nothing a
//! reader could act on halfway, except to a follower applying the log in order: a
//! batch must therefore touch a type only after every type its commands depend on
//! (inviting: the account's seat, then the invitation that takes it up).
//!
//! cqrs-es appends one aggregate per transaction (its repositories open their own), so
//! the batch writes the rows itself, in the columns postgres-es and sqlite-es read, and
//! keeps their snapshot protocol: a snapshot row per aggregate, its number moved by one
//! under the same lock.

use crate::bulk::{placeholders, rows_per_statement};
use crate::commands::{CommandBus, Handles, SNAPSHOT_EVERY};
use crate::hot::Kept;
use crate::log::Metadata;
use crate::{Backend, LogPosition, StoreError};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::SerializedEvent;
use cqrs_es::{Aggregate, DomainEvent};
use domain::services::DomainServices;
use domain::AggregateKey;
use serde_json::Value;
use sqlx::Row;
use std::any::Any;
use std::collections::HashMap;

/// Why a batch was not appended.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Another writer changed one of the batch's aggregates since it was loaded;
    /// deciding the batch again on fresh states is safe.
    #[error("someone else changed this at the same moment; try again")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Only with the fail point `batch.before_commit` on (tests).
    #[error("stopped at fail point batch.before_commit")]
    StoppedForATest,
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

/// Why one command of a batch was not decided.
#[derive(Debug, thiserror::Error)]
pub enum DecideError<E: std::error::Error> {
    /// The domain refused: the batch goes on without this command.
    #[error(transparent)]
    Refused(E),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One aggregate as the batch has it: its state after the batch's commands so far.
struct Staged {
    aggregate: Box<dyn Any + Send + Sync>,
    /// The sequence and snapshot number it was loaded at.
    loaded: usize,
    snapshot: Option<usize>,
    /// The sequence of its newest event in the batch.
    sequence: usize,
    /// Serializes the state for a snapshot row, knowing its type.
    serialize: fn(&(dyn Any + Send + Sync)) -> Result<Value, StoreError>,
}

impl Staged {
    /// Whether the batch carries the aggregate past a multiple of [`SNAPSHOT_EVERY`],
    /// where its snapshot is written.
    fn writes_snapshot(&self) -> bool {
        self.loaded / SNAPSHOT_EVERY != self.sequence / SNAPSHOT_EVERY
    }

    /// The number of its newest snapshot once the batch is stored.
    fn snapshot_after(&self) -> Option<usize> {
        if self.writes_snapshot() {
            Some(self.snapshot.map_or(1, |number| number + 1))
        } else {
            self.snapshot
        }
    }
}

/// Commands decided so far and the events they gave, not yet stored.
pub struct Batch<'bus> {
    bus: &'bus CommandBus,
    metadata: Value,
    staged: HashMap<(&'static str, String), Staged>,
    events: Vec<SerializedEvent>,
}

fn serialize<A: Aggregate + 'static>(state: &(dyn Any + Send + Sync)) -> Result<Value, StoreError> {
    let aggregate = state.downcast_ref::<A>().ok_or_else(|| mixed_up(A::TYPE))?;
    serde_json::to_value(aggregate).map_err(|source| StoreError::Corrupt {
        what: "aggregate snapshot",
        source,
    })
}

/// Two aggregate types sharing a name: a programming error, reported rather than
/// panicked on.
fn mixed_up(aggregate: &'static str) -> StoreError {
    StoreError::Load {
        aggregate,
        key: String::new(),
        message: "a batch holds another type under this aggregate's name".into(),
    }
}

impl<'bus> Batch<'bus> {
    pub(crate) fn new(bus: &'bus CommandBus, metadata: &Metadata) -> Self {
        Self {
            bus,
            metadata: serde_json::to_value(metadata.to_map()).unwrap_or(Value::Null),
            staged: HashMap::new(),
            events: Vec::new(),
        }
    }

    /// Decides `command` on the aggregate at `key`, loading it on its first use.
    pub async fn decide<A>(
        &mut self,
        key: AggregateKey,
        command: A::Command,
    ) -> Result<(), DecideError<A::Error>>
    where
        A: Aggregate<Services = DomainServices> + Clone + 'static,
        CommandBus: Handles<A>,
    {
        let id = key.to_string();
        let slot = (A::TYPE, id.clone());
        if !self.staged.contains_key(&slot) {
            let loaded = self.bus.handler().load_context(&id).await?;
            self.stage::<A>(
                slot.clone(),
                loaded.aggregate,
                loaded.current_sequence,
                loaded.current_snapshot,
            );
        }
        self.decide_staged::<A>(slot, command).await
    }

    /// Decides `command` on an aggregate whose id was just made at random, so nothing
    /// can be stored under it: it starts from its empty state without a read. Were
    /// something there after all, the append would meet it and refuse the batch.
    pub async fn decide_new<A>(
        &mut self,
        key: AggregateKey,
        command: A::Command,
    ) -> Result<(), DecideError<A::Error>>
    where
        A: Aggregate<Services = DomainServices> + Clone + 'static,
        CommandBus: Handles<A>,
    {
        let slot = (A::TYPE, key.to_string());
        if !self.staged.contains_key(&slot) {
            self.stage::<A>(slot.clone(), A::default(), 0, None);
        }
        self.decide_staged::<A>(slot, command).await
    }

    /// Stages the aggregate at `key` from the state kept in memory for it, if its type
    /// keeps states and one is kept; true if so. A command decided on it must be
    /// treated as `hot.rs` says: a refusal or a no-op is decided again on a fresh load.
    pub(crate) fn stage_kept<A>(&mut self, key: AggregateKey) -> bool
    where
        A: Aggregate<Services = DomainServices> + Clone + 'static,
        CommandBus: Handles<A>,
    {
        let slot = (A::TYPE, key.to_string());
        if self.staged.contains_key(&slot) {
            return false;
        }
        let Some(kept) = self.bus.handler().memory().get(&slot.1) else {
            return false;
        };
        self.stage::<A>(slot, kept.aggregate, kept.sequence, kept.snapshot);
        true
    }

    /// The state the aggregate at `key` will be in once the batch is committed, for
    /// the memory of a type that keeps states.
    pub(crate) fn kept_after<A>(&self, key: AggregateKey) -> Option<Kept<A>>
    where
        A: Aggregate<Services = DomainServices> + Clone + 'static,
        CommandBus: Handles<A>,
    {
        if !self.bus.handler().memory().keeps() {
            return None;
        }
        let staged = self.staged.get(&(A::TYPE, key.to_string()))?;
        Some(Kept {
            aggregate: staged.aggregate.downcast_ref::<A>()?.clone(),
            sequence: staged.sequence,
            snapshot: staged.snapshot_after(),
        })
    }

    fn stage<A: Aggregate + 'static>(
        &mut self,
        slot: (&'static str, String),
        aggregate: A,
        sequence: usize,
        snapshot: Option<usize>,
    ) {
        let staged = Staged {
            aggregate: Box::new(aggregate),
            loaded: sequence,
            snapshot,
            sequence,
            serialize: serialize::<A>,
        };
        self.staged.insert(slot, staged);
    }

    async fn decide_staged<A>(
        &mut self,
        slot: (&'static str, String),
        command: A::Command,
    ) -> Result<(), DecideError<A::Error>>
    where
        A: Aggregate<Services = DomainServices> + Clone + 'static,
        CommandBus: Handles<A>,
    {
        let services = self.bus.handler().services();
        let staged = self
            .staged
            .get_mut(&slot)
            .ok_or_else(|| mixed_up(A::TYPE))?;
        let aggregate = staged
            .aggregate
            .downcast_mut::<A>()
            .ok_or_else(|| mixed_up(A::TYPE))?;
        // `handle` applies what it decides to the state only when it succeeds (the
        // domain decides first, then writes: `domain::aggregate!`).
        let sink = EventSink::default();
        aggregate
            .handle(command, services, &sink)
            .await
            .map_err(DecideError::Refused)?;
        for event in sink.collect().await {
            staged.sequence += 1;
            let payload = serde_json::to_value(&event).map_err(|source| StoreError::Corrupt {
                what: "event payload",
                source,
            })?;
            self.events.push(SerializedEvent::new(
                slot.1.clone(),
                staged.sequence,
                A::TYPE.to_string(),
                event.event_type(),
                event.event_version(),
                payload,
                self.metadata.clone(),
            ));
        }
        Ok(())
    }

    /// How many events the batch would append.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Stores every event of the batch in one transaction, and returns the position of
    /// the last: wait for the read models to pass it to read the batch's effects.
    pub async fn commit(mut self) -> Result<LogPosition, AppendError> {
        if self.events.is_empty() {
            return Ok(LogPosition::START);
        }
        group_by_type(&mut self.events);
        let db = self.bus.database();
        self.bus
            .personal()
            .seal_all(
                self.events
                    .iter_mut()
                    .map(|e| {
                        (
                            e.aggregate_id.as_str(),
                            e.event_type.as_str(),
                            &mut e.payload,
                        )
                    })
                    .collect(),
            )
            .await?;
        let appended = async {
            let mut tx = db.begin_write().await?;
            let mut last = LogPosition::START;
            for chunk in self.events.chunks(rows_per_statement(7)) {
                last = last.max(insert(&mut tx, db.backend, chunk).await?);
            }
            if db.backend == Backend::Sqlite {
                // The trigger numbers rows after they are inserted, in this
                // transaction that holds the only write lock.
                let row = sqlx::query("SELECT max(global_position) AS last FROM events")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
                last = LogPosition {
                    tx: 0,
                    position: row.try_get("last").map_err(StoreError::from)?,
                };
            }
            for ((aggregate_type, id), staged) in &self.staged {
                snapshot(&mut tx, db.backend, aggregate_type, id, staged).await?;
            }
            stop_for_a_test().await?;
            tx.commit().await.map_err(StoreError::from)?;
            Ok(last)
        }
        .await;
        // Whatever happened, the states kept in memory for these aggregates may be
        // behind the store now; the next command loads them afresh.
        for (aggregate_type, id) in self.staged.keys() {
            self.bus.forget_kept(aggregate_type, id);
        }
        appended
    }
}

/// Orders the events by aggregate type, the types in the order the batch first
/// touched them, keeping each aggregate's own events in order (a stable sort). The
/// followers of the log then meet long runs of one kind (a list's seats, then its
/// invitations) that they apply a statement per thousand (`read_model.rs`).
fn group_by_type(events: &mut [SerializedEvent]) {
    let mut types: Vec<String> = Vec::new();
    for e in events.iter() {
        if !types.contains(&e.aggregate_type) {
            types.push(e.aggregate_type.clone());
        }
    }
    events.sort_by_key(|e| types.iter().position(|t| *t == e.aggregate_type));
}

/// A failure of the store's optimistic lock (a row at that sequence exists) is a
/// conflict; anything else is the store failing.
fn append_error(error: sqlx::Error) -> AppendError {
    match &error {
        sqlx::Error::Database(e) if e.is_unique_violation() => AppendError::Conflict,
        _ => AppendError::Store(error.into()),
    }
}

async fn insert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    events: &[SerializedEvent],
) -> Result<LogPosition, AppendError> {
    let cast = json_cast(backend);
    let rows = placeholders(events.len(), &["", "", "", "", "", cast, cast]);
    let returning = match backend {
        Backend::Postgres => " RETURNING tx_id::text::bigint AS tx, global_position",
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
    let mut last = LogPosition::START;
    for row in rows {
        let at = LogPosition {
            tx: row.try_get("tx").map_err(StoreError::from)?,
            position: row.try_get("global_position").map_err(StoreError::from)?,
        };
        last = last.max(at);
    }
    Ok(last)
}

/// Writes the aggregate's snapshot when the batch carried it past a multiple of
/// [`SNAPSHOT_EVERY`], as postgres-es and sqlite-es do: the first is inserted as
/// number 1, a later one replaces the previous only if its number is still the one
/// loaded (another writer's snapshot makes this a conflict).
async fn snapshot(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    aggregate_type: &str,
    id: &str,
    staged: &Staged,
) -> Result<(), AppendError> {
    if !staged.writes_snapshot() {
        return Ok(());
    }
    let cast = json_cast(backend);
    let payload = (staged.serialize)(staged.aggregate.as_ref())?.to_string();
    let (sql, number, previous) = match staged.snapshot {
        None => (
            format!(
                "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, payload, current_snapshot)
                 VALUES ($1, $2, $3, $4{cast}, $5)"
            ),
            1,
            None,
        ),
        Some(number) => (
            format!(
                "UPDATE snapshots SET last_sequence = $3, payload = $4{cast}, current_snapshot = $5
                  WHERE aggregate_type = $1 AND aggregate_id = $2 AND current_snapshot = $6"
            ),
            number + 1,
            Some(number),
        ),
    };
    let mut query = sqlx::query(&sql)
        .bind(aggregate_type)
        .bind(id)
        .bind(staged.sequence as i64)
        .bind(payload)
        .bind(number as i64);
    if let Some(previous) = previous {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(loaded: usize, sequence: usize, snapshot: Option<usize>) -> Staged {
        Staged {
            aggregate: Box::new(()),
            loaded,
            snapshot,
            sequence,
            serialize: |_| Ok(Value::Null),
        }
    }

    /// The number a kept state carries on must be the one the store has after the
    /// commit, or the next snapshot's update would miss and cost a retry.
    #[test]
    fn the_snapshot_number_moves_only_where_a_snapshot_is_written() {
        let every = SNAPSHOT_EVERY;
        assert_eq!(staged(every - 1, every, None).snapshot_after(), Some(1));
        assert_eq!(staged(every, every + 1, Some(1)).snapshot_after(), Some(1));
        assert_eq!(
            staged(2 * every - 1, 2 * every + 1, Some(1)).snapshot_after(),
            Some(2)
        );
        assert_eq!(staged(3, 4, None).snapshot_after(), None);
    }
}
