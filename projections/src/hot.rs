//! Hot aggregates: the state a command left an aggregate in, kept in memory, so the
//! next command on it decides without loading its snapshot and events again (two
//! round trips and their decoding, on every command; issue 14).
//!
//! A kept state may be stale: another process, or a command here whose commit lost
//! a race, may have changed the aggregate since. Every way a stale state could show
//! is caught, so an answer never rests on it alone:
//! - a command that appends events appends them at the sequence after the kept one,
//!   and the store's optimistic lock refuses that if anything was appended since
//!   (`AggregateConflict`): the state is dropped and the command decided again;
//! - a command that appends nothing (a no-op) is answered from a kept state only
//!   after deciding again on a fresh one: [`Hot::commit`] reports a conflict;
//! - a refusal from a kept state is decided again on a fresh one
//!   ([`Memory::forget`], by `CommandBus::execute`).
//!
//! Only aggregates without personal data are kept (erasure must leave no copy of a
//! name in memory); see `commands.rs`.

use cqrs_es::persist::EventStoreAggregateContext;
use cqrs_es::{Aggregate, AggregateContext, AggregateError, EventEnvelope, EventStore};
use quick_cache::sync::Cache;
use std::collections::HashMap;
use std::sync::Arc;

/// Aggregates kept per aggregate type; the least recently used go first.
pub const KEPT: usize = 10_000;

/// An event store that keeps the states its commits produced.
pub struct Hot<ES, A: Aggregate> {
    inner: ES,
    memory: Memory<A>,
}

/// The kept states, shared with whoever must be able to drop one.
pub struct Memory<A>(Option<Arc<Cache<String, Kept<A>>>>);

impl<A> Clone for Memory<A> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<A: Clone> Memory<A> {
    /// Drops the kept state of `aggregate_id`; true if there was one, so a refusal
    /// decided on it is worth deciding again.
    pub fn forget(&self, aggregate_id: &str) -> bool {
        self.0
            .as_ref()
            .is_some_and(|kept| kept.remove(aggregate_id).is_some())
    }
}

#[derive(Clone)]
pub struct Kept<A> {
    aggregate: A,
    sequence: usize,
    snapshot: Option<usize>,
}

impl<A: Aggregate + Clone> Kept<A> {
    fn of(context: &EventStoreAggregateContext<A>) -> Self {
        Self {
            aggregate: context.aggregate.clone(),
            sequence: context.current_sequence,
            snapshot: context.current_snapshot,
        }
    }
}

/// What a command is decided on: the aggregate, and whether it came from memory.
pub struct HotContext<A: Aggregate> {
    context: EventStoreAggregateContext<A>,
    kept: bool,
}

impl<A: Aggregate> AggregateContext<A> for HotContext<A> {
    fn aggregate(&mut self) -> &mut A {
        &mut self.context.aggregate
    }
}

impl<ES, A: Aggregate + Clone> Hot<ES, A> {
    /// Keeps states when `keep`; otherwise passes everything through.
    pub fn new(inner: ES, keep: bool) -> Self {
        Self {
            inner,
            memory: Memory(keep.then(|| Arc::new(Cache::new(KEPT)))),
        }
    }

    pub fn memory(&self) -> Memory<A> {
        self.memory.clone()
    }
}

impl<ES, A> EventStore<A> for Hot<ES, A>
where
    ES: EventStore<A, AC = EventStoreAggregateContext<A>>,
    A: Aggregate + Clone,
{
    type AC = HotContext<A>;

    async fn load_events(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        self.inner.load_events(aggregate_id).await
    }

    async fn load_aggregate(
        &self,
        aggregate_id: &str,
    ) -> Result<HotContext<A>, AggregateError<A::Error>> {
        if let Some(kept) = self.memory.0.as_ref().and_then(|k| k.get(aggregate_id)) {
            return Ok(HotContext {
                context: EventStoreAggregateContext {
                    aggregate_id: aggregate_id.to_owned(),
                    aggregate: kept.aggregate,
                    current_sequence: kept.sequence,
                    current_snapshot: kept.snapshot,
                },
                kept: true,
            });
        }
        let context = self.inner.load_aggregate(aggregate_id).await?;
        if let Some(kept) = &self.memory.0 {
            kept.insert(aggregate_id.to_owned(), Kept::of(&context));
        }
        Ok(HotContext {
            context,
            kept: false,
        })
    }

    async fn commit(
        &self,
        events: Vec<A::Event>,
        context: HotContext<A>,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let Some(kept) = &self.memory.0 else {
            return self.inner.commit(events, context.context, metadata).await;
        };
        let id = context.context.aggregate_id.clone();
        if events.is_empty() && context.kept {
            // Nothing to append, so no lock to tell whether the kept state was
            // current: decide again on a fresh one.
            kept.remove(&id);
            return Err(AggregateError::AggregateConflict);
        }
        let mut next = Kept::of(&context.context);
        match self.inner.commit(events, context.context, metadata).await {
            Ok(committed) => {
                let snapshot_every = crate::commands::SNAPSHOT_EVERY;
                for envelope in &committed {
                    next.aggregate.apply(envelope.payload.clone());
                    next.sequence = envelope.sequence;
                }
                // A commit that wrote a snapshot moved its number; rather than repeat
                // the store's arithmetic, load afresh next time (once in so many).
                let wrote_snapshot = committed.first().is_some_and(|first| {
                    (first.sequence - 1) / snapshot_every != next.sequence / snapshot_every
                });
                if wrote_snapshot {
                    kept.remove(&id);
                } else {
                    kept.insert(id, next);
                }
                Ok(committed)
            }
            Err(error) => {
                kept.remove(&id);
                Err(error)
            }
        }
    }
}
