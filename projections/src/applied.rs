//! The last batches a projector applied, kept in memory for the followers in the same
//! process that need those events next: the permission index, history, activity and
//! the notifier all follow the read models, and without this each read every batch
//! from the log again (issue 14: one more round trip on the first request after every
//! change, and after a downtime four reads and decodes of the whole backlog). A
//! follower that does not find its next events here (it is further behind, or another
//! process applied them) reads the log as before.

use crate::{LogPosition, StoredEvent};
use std::collections::VecDeque;
use std::ops::Deref;
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
    events: Events,
}

/// Consecutive events of the log, in order: a batch as read, or the rest of one.
/// Cheap to clone: the events are shared.
#[derive(Clone)]
pub struct Events {
    batch: Arc<[StoredEvent]>,
    from: usize,
}

impl Deref for Events {
    type Target = [StoredEvent];

    fn deref(&self) -> &[StoredEvent] {
        &self.batch[self.from..]
    }
}

impl From<Vec<StoredEvent>> for Events {
    fn from(events: Vec<StoredEvent>) -> Self {
        Self {
            batch: events.into(),
            from: 0,
        }
    }
}

impl Events {
    /// The events after `at`, which must lie between this run's start and its end.
    fn after(&self, at: LogPosition) -> Self {
        Self {
            batch: self.batch.clone(),
            from: self.from + self.partition_point(|e| e.position <= at),
        }
    }
}

impl Applied {
    /// Keeps a batch the projector has committed: every event of the log after
    /// `after` up to the last of `events`.
    pub(crate) fn record(&self, after: LogPosition, events: Events) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() == KEPT {
            kept.pop_front();
        }
        kept.push_back(AppliedBatch { after, events });
    }

    /// The events of the log right after `at` up to the end of a batch the projector
    /// applied lately, if `at` lies at the start of one or inside it.
    pub fn after(&self, at: LogPosition) -> Option<Events> {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        kept.iter()
            .find(|batch| {
                batch.after <= at && batch.events.last().is_some_and(|last| last.position > at)
            })
            .map(|batch| batch.events.after(at))
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
    fn a_batch_is_found_from_its_start_or_within_it() {
        let applied = Applied::default();
        applied.record(at(0), vec![event(1), event(2)].into());
        applied.record(at(2), vec![event(3)].into());
        let next = applied.after(at(2)).expect("the second batch");
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].position, at(3));
        assert_eq!(applied.after(at(0)).expect("the first batch").len(), 2);
        let rest = applied.after(at(1)).expect("the rest of the first batch");
        assert_eq!(rest.iter().map(|e| e.position).collect::<Vec<_>>(), [at(2)]);
        // Past the last batch: the follower reads the log.
        assert!(applied.after(at(3)).is_none());
    }

    #[test]
    fn only_the_last_batches_are_kept() {
        let applied = Applied::default();
        for n in 0..(KEPT as i64 + 4) {
            applied.record(at(n), vec![event(n + 1)].into());
        }
        assert!(applied.after(at(3)).is_none(), "dropped as the oldest");
        assert!(applied.after(at(4)).is_some());
        assert!(applied.after(at(KEPT as i64 + 3)).is_some());
    }
}
