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
//! the batch's rows are written by `group_commit.rs`, in the columns postgres-es and
//! sqlite-es read, keeping their snapshot protocol: a snapshot row per aggregate, its
//! number moved by one under the same lock. There, batches that are ready at the same
//! moment share one transaction, each keeping its own verdict.

use crate::commands::{CommandBus, Handles, SNAPSHOT_EVERY};
use crate::group_commit::{Prepared, SnapshotWrite};
use crate::hot::Kept;
use crate::log::Metadata;
use crate::{LogPosition, StoreError};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::SerializedEvent;
use cqrs_es::{Aggregate, DomainEvent};
use domain::services::DomainServices;
use domain::AggregateKey;
use serde_json::Value;
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
        let snapshots = self
            .staged
            .iter()
            .filter(|(_, staged)| staged.writes_snapshot())
            .map(|((aggregate_type, id), staged)| {
                Ok(SnapshotWrite {
                    aggregate_type,
                    id: id.clone(),
                    sequence: staged.sequence,
                    payload: (staged.serialize)(staged.aggregate.as_ref())?.to_string(),
                    previous: staged.snapshot,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        let events = std::mem::take(&mut self.events);
        let appended = self
            .bus
            .group_commit()
            .commit(Prepared { events, snapshots })
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
