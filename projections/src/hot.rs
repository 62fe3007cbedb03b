//! Hot aggregates: the state a command left an aggregate in, kept in memory, so the
//! next command on it decides without loading its snapshot and events again (two
//! round trips and their decoding, on every command; issue 14).
//!
//! A kept state may be stale: another process, or a command here whose commit lost
//! a race, may have changed the aggregate since. Every way a stale state could show
//! is caught by `CommandBus::execute`, so an answer never rests on it alone:
//! - a command that appends events appends them at the sequence after the kept one,
//!   and the store's primary key refuses that if anything was appended since
//!   (`AppendError::Conflict`): the state is dropped and the command decided again;
//! - a command that appends nothing (a no-op) is answered from a kept state only
//!   after deciding again on a fresh one;
//! - a refusal from a kept state is decided again on a fresh one.
//!
//! Only aggregates without personal data are kept (erasure must leave no copy of a
//! name in memory); see `commands.rs`.

use quick_cache::sync::Cache;
use std::sync::Arc;

/// Aggregates kept per aggregate type; the least recently used go first.
pub const KEPT: usize = 10_000;

/// The kept states of one aggregate type, shared by everything that runs commands on
/// it; or nothing kept, for a type that holds personal data.
pub struct Memory<A>(Option<Arc<Cache<String, Kept<A>>>>);

impl<A> Clone for Memory<A> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// An aggregate's state after its newest event, with that event's sequence and the
/// number of its newest snapshot: what a command needs to append after it.
#[derive(Clone)]
pub struct Kept<A> {
    pub aggregate: A,
    pub sequence: usize,
    pub snapshot: Option<usize>,
}

impl<A: Clone> Memory<A> {
    /// Keeps states when `keep`; otherwise keeps nothing.
    pub fn new(keep: bool) -> Self {
        Self(keep.then(|| Arc::new(Cache::new(KEPT))))
    }

    /// Whether this type's states are kept at all.
    pub fn keeps(&self) -> bool {
        self.0.is_some()
    }

    /// The state kept for `aggregate_id`, if any.
    pub fn get(&self, aggregate_id: &str) -> Option<Kept<A>> {
        self.0.as_ref().and_then(|kept| kept.get(aggregate_id))
    }

    /// Keeps the state a commit just left `aggregate_id` in.
    pub fn keep(&self, aggregate_id: &str, state: Kept<A>) {
        if let Some(kept) = &self.0 {
            kept.insert(aggregate_id.to_owned(), state);
        }
    }

    /// Drops the kept state of `aggregate_id`; true if there was one, so a refusal
    /// decided on it is worth deciding again.
    pub fn forget(&self, aggregate_id: &str) -> bool {
        self.0
            .as_ref()
            .is_some_and(|kept| kept.remove(aggregate_id).is_some())
    }
}
