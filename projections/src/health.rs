//! Whether a follower of the log is moving. A follower that meets an event it cannot
//! apply must not go past it (the log's order is what every projection relies on), so
//! it stops there and keeps trying. This is how it says so at once, to `/readyz`,
//! `/metrics`, a mutation waiting for it and the log, instead of a log line a second
//! that nothing else hears.
//!
//! Nothing here holds or logs an event's payload: it may carry personal data. A stall
//! names the event by where it is and what it is.

use crate::{LogPosition, StoreError, StoredEvent};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// How often a stall that lasts is logged again: often enough to be seen in a log
/// someone opens late, rarely enough not to bury everything else.
const REMIND_EVERY: Duration = Duration::from_secs(60);
/// The first pause after a failure, doubled after each further one up to
/// [`RETRY_AT_MOST`]: a database blip is retried soon, a bad event not hammered.
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_AT_MOST: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Running,
    Stalled(Stall),
}

impl Health {
    pub fn stall(&self) -> Option<&Stall> {
        match self {
            Health::Running => None,
            Health::Stalled(stall) => Some(stall),
        }
    }
}

/// An event of the log by where and what it is, never by its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRef {
    pub position: LogPosition,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub event_type: String,
    pub sequence: i64,
}

impl EventRef {
    pub fn of(event: &StoredEvent) -> Self {
        Self {
            position: event.position,
            aggregate_type: event.aggregate_type.clone(),
            aggregate_id: event.aggregate_id.clone(),
            event_type: event.event_type.clone(),
            sequence: event.sequence,
        }
    }
}

impl fmt::Display for EventRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the event at global position {} ({} {} sequence {}, {})",
            self.position.position,
            self.aggregate_type,
            self.aggregate_id,
            self.sequence,
            self.event_type
        )
    }
}

/// A batch of the log a follower could not apply. Deliberately without a `source`:
/// the cause's own text may quote the payload (see [`describe`]).
#[derive(Debug)]
pub struct ProjectionError {
    pub follower: &'static str,
    /// The last position the follower applied; it could not go on after it.
    pub after: LogPosition,
    /// The event whose apply failed; none when the batch failed as a whole (reading
    /// the log, moving the checkpoint, committing).
    pub event: Option<EventRef>,
    pub cause: StoreError,
}

impl ProjectionError {
    /// Whether the fault lies in what the log holds (an event that cannot be applied,
    /// a row that cannot be read) rather than in reaching the database: waiting or
    /// restarting will not cure it, an operator must.
    pub fn is_in_the_log(&self) -> bool {
        self.event.is_some()
            || matches!(
                self.cause,
                StoreError::Corrupt { .. } | StoreError::UnknownValue { .. }
            )
    }
}

impl fmt::Display for ProjectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        where_stuck(f, self.follower, self.after, self.event.as_ref())?;
        write!(f, ": {}", describe(&self.cause))
    }
}

fn where_stuck(
    f: &mut fmt::Formatter<'_>,
    follower: &str,
    after: LogPosition,
    event: Option<&EventRef>,
) -> fmt::Result {
    match event {
        Some(event) => write!(f, "the {follower} projection cannot apply {event}"),
        None => write!(
            f,
            "the {follower} projection cannot go on after global position {}",
            after.position
        ),
    }
}

impl std::error::Error for ProjectionError {}

/// Why a follower is not moving, as its handles see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stall {
    pub follower: &'static str,
    pub after: LogPosition,
    pub event: Option<EventRef>,
    /// What went wrong, without any payload's content.
    pub error: String,
    /// The first failure of this stall.
    pub since: SystemTime,
}

impl Stall {
    fn of(error: &ProjectionError) -> Self {
        Self {
            follower: error.follower,
            after: error.after,
            event: error.event.clone(),
            error: describe(&error.cause),
            since: SystemTime::now(),
        }
    }

    /// The same place: a retry that failed again, not a new stall.
    fn same_place(&self, error: &ProjectionError) -> bool {
        self.after == error.after && self.event == error.event
    }
}

impl fmt::Display for Stall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        where_stuck(f, self.follower, self.after, self.event.as_ref())?;
        write!(f, ": {}", self.error)
    }
}

/// A store error as a stall reports it. serde's messages quote the value they met
/// (`invalid type: string "ada@acme.test", expected u64`), and an event's payload is
/// read with its personal data opened, so those messages keep only the kind of value.
pub fn describe(error: &StoreError) -> String {
    match error {
        StoreError::Corrupt { what, source } => {
            format!("a stored {what} could not be read: {}", redact(source))
        }
        other => other.to_string(),
    }
}

fn redact(error: &serde_json::Error) -> String {
    let message = error.to_string();
    for lead in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(lead) {
            if let Some((unexpected, expected)) = rest.split_once(", expected ") {
                // serde writes the kind first: `string "…"`, `integer `5``, `map`.
                let kind = unexpected.split(' ').next().unwrap_or("value");
                return format!("{lead}{kind}, expected {expected}");
            }
        }
    }
    message
}

/// The pause before retrying after `failures` failures in a row.
pub(crate) fn retry_after(failures: u32) -> Duration {
    RETRY_FIRST
        .saturating_mul(2_u32.saturating_pow(failures.saturating_sub(1)))
        .min(RETRY_AT_MOST)
}

/// Waits out the pause after the `failures`-th failure in a row. Not cut short by a
/// waiting request or a leader's progress: what failed would most likely fail again
/// at once. False when `shutdown` fired meanwhile.
pub(crate) async fn back_off(failures: u32, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(retry_after(failures)) => {}
        _ = shutdown.changed() => return false,
    }
    !*shutdown.borrow()
}

/// Kept by a follower, read through [`HealthWatch`].
pub(crate) struct Vitals {
    follower: &'static str,
    health: watch::Sender<Health>,
    failures: AtomicU64,
    /// When the current stall was last logged.
    logged: Mutex<Option<Instant>>,
}

impl Vitals {
    pub(crate) fn new(follower: &'static str) -> Arc<Self> {
        Arc::new(Self {
            follower,
            health: watch::channel(Health::Running).0,
            failures: AtomicU64::new(0),
            logged: Mutex::new(None),
        })
    }

    /// Records a failure: a new stall is told at once, one that lasts once a while.
    pub(crate) fn failed(&self, error: &ProjectionError) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let mut fresh = false;
        self.health.send_if_modified(|health| match health {
            Health::Stalled(stall) if stall.same_place(error) => {
                stall.error = describe(&error.cause);
                false
            }
            _ => {
                *health = Health::Stalled(Stall::of(error));
                fresh = true;
                true
            }
        });
        let mut logged = self.logged.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let due = fresh || logged.is_none_or(|at| now.duration_since(at) >= REMIND_EVERY);
        if !due {
            return;
        }
        *logged = Some(now);
        let health = self.health.borrow();
        if let Some(stall) = health.stall() {
            log(stall, fresh);
        }
    }

    /// Records that a batch went through (or there was nothing to do): a stall is over.
    pub(crate) fn succeeded(&self) {
        let mut ended = None;
        self.health.send_if_modified(|health| match health {
            Health::Running => false,
            Health::Stalled(stall) => {
                ended = Some(stall.clone());
                *health = Health::Running;
                true
            }
        });
        if let Some(stall) = ended {
            *self.logged.lock().unwrap_or_else(PoisonError::into_inner) = None;
            tracing::info!(
                projection = self.follower,
                stalled_after = stall.after.position,
                "projection recovered: it applies the log again"
            );
        }
    }

    pub(crate) fn watch(self: &Arc<Self>) -> HealthWatch {
        HealthWatch {
            vitals: self.clone(),
        }
    }
}

fn log(stall: &Stall, fresh: bool) {
    let message = if fresh {
        "projection stalled: it cannot apply the log past this point and retries; it is \
         not ready until the cause is fixed (a bad event: repair or remove it)"
    } else {
        "projection still stalled"
    };
    let stalled_secs = stall.since.elapsed().unwrap_or_default().as_secs();
    match &stall.event {
        Some(event) => tracing::error!(
            projection = stall.follower,
            global_position = event.position.position,
            tx_id = event.position.tx,
            aggregate_type = %event.aggregate_type,
            aggregate_id = %event.aggregate_id,
            sequence = event.sequence,
            event_type = %event.event_type,
            error = %stall.error,
            stalled_secs,
            "{message}"
        ),
        None => tracing::error!(
            projection = stall.follower,
            after_global_position = stall.after.position,
            after_tx_id = stall.after.tx,
            error = %stall.error,
            stalled_secs,
            "{message}"
        ),
    }
}

/// A follower's health, for anyone who asks. Cheap to clone.
#[derive(Clone)]
pub struct HealthWatch {
    vitals: Arc<Vitals>,
}

impl HealthWatch {
    /// The follower's name, as its checkpoint and metrics call it.
    pub fn follower(&self) -> &'static str {
        self.vitals.follower
    }

    pub fn health(&self) -> Health {
        self.vitals.health.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Health> {
        self.vitals.health.subscribe()
    }

    /// Failed attempts to apply a batch since the process started, stalls and blips alike.
    pub fn failures(&self) -> u64 {
        self.vitals.failures.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(after: i64, event_at: Option<i64>) -> ProjectionError {
        ProjectionError {
            follower: "read_models",
            after: LogPosition {
                tx: 0,
                position: after,
            },
            event: event_at.map(|position| EventRef {
                position: LogPosition { tx: 0, position },
                aggregate_type: "task".into(),
                aggregate_id: "a:t".into(),
                event_type: "TaskRenamed".into(),
                sequence: 2,
            }),
            cause: StoreError::UnknownValue {
                what: "test",
                value: "bad".into(),
            },
        }
    }

    #[test]
    fn a_stall_is_set_on_the_first_failure_kept_through_retries_and_cleared_by_success() {
        let vitals = Vitals::new("read_models");
        let watch = vitals.watch();
        assert_eq!(watch.health(), Health::Running);

        vitals.failed(&failure(4, Some(5)));
        let first = watch.health().stall().cloned().expect("stalled");
        assert_eq!(first.event.as_ref().map(|e| e.position.position), Some(5));
        assert_eq!(first.after.position, 4);

        vitals.failed(&failure(4, Some(5)));
        assert_eq!(
            watch.health().stall().map(|s| s.since),
            Some(first.since),
            "a retry at the same place is the same stall"
        );
        assert_eq!(watch.failures(), 2);

        vitals.succeeded();
        assert_eq!(watch.health(), Health::Running);
        assert_eq!(watch.failures(), 2, "failures are counted, not reset");
    }

    #[test]
    fn the_error_of_a_payload_keeps_the_kind_of_value_not_the_value() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Shape {
            seats: u64,
        }
        let source = serde_json::from_value::<Shape>(serde_json::json!({"seats": "ada@acme.test"}))
            .expect_err("a string is no number");
        let error = StoreError::Corrupt {
            what: "event payload",
            source,
        };
        let described = describe(&error);
        assert!(!described.contains("ada@acme.test"), "{described}");
        assert!(
            described.contains("invalid type: string, expected u64"),
            "{described}"
        );

        let source = serde_json::from_value::<Shape>(serde_json::json!({})).expect_err("no seats");
        let missing = describe(&StoreError::Corrupt {
            what: "event payload",
            source,
        });
        assert!(missing.contains("missing field `seats`"), "{missing}");
    }

    #[test]
    fn retries_back_off_to_a_bound() {
        assert_eq!(retry_after(1), Duration::from_millis(500));
        assert_eq!(retry_after(2), Duration::from_secs(1));
        assert_eq!(retry_after(4), Duration::from_secs(4));
        assert_eq!(retry_after(5), RETRY_AT_MOST);
        assert_eq!(retry_after(u32::MAX), RETRY_AT_MOST);
    }
}
