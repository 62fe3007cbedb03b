//! The last batches a projector applied, kept in memory for a follower in the same
//! process that needs exactly those events next: the permission index follows the read
//! models, and without this it read every batch from the log a second time, one more
//! round trip on the first request after every change (issue 14). A follower that does
//! not find the batch it needs here (it is further behind, or another process applied
//! it) reads the log as before.

use crate::{LogPosition, StoredEvent};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

/// Batches kept. A follower level with the projector needs only the newest one or two;
/// one further behind reads the log. Few, since a catch-up's batches are large (a
/// batch of 500 invitation events held here costs megabytes).
const KEPT: usize = 4;

/// The kept batches, shared by the projector and its handles.
#[derive(Clone, Default)]
pub struct Applied(Arc<Mutex<VecDeque<AppliedBatch>>>);

struct AppliedBatch {
    /// The position the batch started after.
    after: LogPosition,
    events: Arc<[StoredEvent]>,
}

impl Applied {
    /// Keeps a batch the projector has committed: every event of the log after
    /// `after` up to the last of `events`.
    pub(crate) fn record(&self, after: LogPosition, events: Vec<StoredEvent>) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() == KEPT {
            kept.pop_front();
        }
        kept.push_back(AppliedBatch {
            after,
            events: events.into(),
        });
    }

    /// The events of the log right after `at`, if the projector applied a batch that
    /// started exactly there lately.
    pub fn after(&self, at: LogPosition) -> Option<Arc<[StoredEvent]>> {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        kept.iter()
            .find(|batch| batch.after == at)
            .map(|batch| batch.events.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Metadata;

    fn event(position: i64) -> StoredEvent {
        StoredEvent {
            position: LogPosition { tx: 0, position },
            aggregate_type: "Task".into(),
            aggregate_id: "a:t".into(),
            account_id: "a".into(),
            sequence: position,
            event_type: "TaskRenamed".into(),
            event_version: "1".into(),
            payload: serde_json::Value::Null,
            metadata: Metadata {
                actor: None,
                at: domain::Timestamp(0),
                request_id: None,
            },
        }
    }

    fn at(position: i64) -> LogPosition {
        LogPosition { tx: 0, position }
    }

    #[test]
    fn a_batch_is_found_only_from_where_it_started() {
        let applied = Applied::default();
        applied.record(at(0), vec![event(1), event(2)]);
        applied.record(at(2), vec![event(3)]);
        let next = applied.after(at(2)).expect("the second batch");
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].position, at(3));
        assert_eq!(applied.after(at(0)).expect("the first batch").len(), 2);
        // From the middle of a batch the follower must read the log.
        assert!(applied.after(at(1)).is_none());
        assert!(applied.after(at(3)).is_none());
    }

    #[test]
    fn only_the_last_batches_are_kept() {
        let applied = Applied::default();
        for n in 0..(KEPT as i64 + 4) {
            applied.record(at(n), vec![event(n + 1)]);
        }
        assert!(applied.after(at(3)).is_none(), "dropped as the oldest");
        assert!(applied.after(at(4)).is_some());
        assert!(applied.after(at(KEPT as i64 + 3)).is_some());
    }
}
