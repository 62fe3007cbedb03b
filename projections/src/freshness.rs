//! Whether the read models are current with the log, measured all the time while the
//! process serves, not only against the head at start. Every little while the log's
//! head is noted; the read models' lag is how long ago the oldest noted head they
//! have not reached was noted. Past the limit they are *behind*: `/readyz` fails and
//! the permission engine refuses to answer (`permission::Unavailable`), since a
//! revocation stored that long ago would not be in force.
//!
//! What is in the log when the process starts was stored while it was not there to
//! note it, maybe a day ago: those events count as noted long enough ago to be
//! behind at once, so a process that starts after downtime serves (and says it is
//! not ready) without answering from what it has yet to apply.
//!
//! On PostgreSQL the same loop watches for the log being held: committed events that
//! no follower may read yet because some transaction elsewhere on the cluster is
//! still open (see `log.rs`). How long that has lasted is a metric and a log line,
//! so an operator can find and end the forgotten session.

use crate::projector::ProjectorHandle;
use crate::{EventLog, LogPosition};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often a log held that long is logged again.
const REMIND_EVERY: Duration = Duration::from_secs(30);

/// What the monitor last measured. `Default`: current, nothing held.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measured {
    /// How long the oldest head the read models have not reached has waited.
    pub lag: Duration,
    /// Whether `lag` is past the limit.
    pub behind: bool,
    /// How long committed events have waited unreadable behind an open transaction.
    pub log_held: Duration,
}

/// What the monitor measured, for anyone who asks. Cheap to clone. A handle no
/// monitor runs for (a test's state) always reads current.
#[derive(Clone, Default)]
pub struct Freshness {
    measured: Arc<Mutex<Measured>>,
}

impl Freshness {
    pub fn measured(&self) -> Measured {
        *self.measured.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, measured: Measured) {
        *self.measured.lock().unwrap_or_else(PoisonError::into_inner) = measured;
    }
}

/// Measures the read models' lag and the log's hold, and publishes both to a
/// [`Freshness`].
pub struct FreshnessMonitor {
    log: EventLog,
    read_models: ProjectorHandle,
    max_lag: Duration,
    every: Duration,
    freshness: Freshness,
}

impl FreshnessMonitor {
    /// The read models are behind once a head they have not reached was noted more
    /// than `max_lag` ago; heads are noted often enough to tell that within a quarter
    /// of the limit.
    ///
    /// Until its first measurement it publishes *behind*: it does not know yet.
    pub fn new(log: EventLog, read_models: ProjectorHandle, max_lag: Duration) -> Self {
        let freshness = Freshness::default();
        freshness.set(Measured {
            behind: true,
            ..Measured::default()
        });
        Self {
            log,
            read_models,
            max_lag,
            every: (max_lag / 4).clamp(Duration::from_millis(50), Duration::from_secs(1)),
            freshness,
        }
    }

    pub fn freshness(&self) -> Freshness {
        self.freshness.clone()
    }

    /// Measures until `shutdown` fires. A database that does not answer is `/readyz`'s
    /// to report; the measures then keep their last values and the lag grows.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut heads: VecDeque<(Instant, LogPosition)> = VecDeque::new();
        let mut held_since: Option<Instant> = None;
        let mut told: Option<Instant> = None;
        let mut was_behind = false;
        // The log's head as first found was stored before this process could note it.
        let mut before_start = true;
        let mut start_head: Option<LogPosition> = None;
        loop {
            let now = Instant::now();
            if let Ok(head) = self.log.head().await {
                if std::mem::take(&mut before_start) {
                    let long_ago = now.checked_sub(self.max_lag * 2).unwrap_or(now);
                    heads.push_back((long_ago, head));
                    start_head = Some(head);
                }
                // An event removed by hand (a bad one) is no longer anyone's to reach.
                while heads.back().is_some_and(|(_, noted)| *noted > head) {
                    heads.pop_back();
                }
                if heads.back().is_none_or(|(_, noted)| *noted < head) {
                    heads.push_back((now, head));
                }
            }
            let at = self.read_models.position();
            while heads.front().is_some_and(|(_, noted)| *noted <= at) {
                heads.pop_front();
            }
            let lag = heads
                .front()
                .map_or(Duration::ZERO, |(noted, _)| now.duration_since(*noted));
            let behind = lag > self.max_lag;
            // Behind only on what was stored before the start: the expected catch-up
            // after downtime, told once, not an alarm.
            let catching_up_from_start = heads.front().map(|(_, h)| *h) == start_head;
            if behind != was_behind {
                if behind && catching_up_from_start {
                    tracing::info!(
                        "catching up with what the log stored before this start: permission \
                         checks answer UNAVAILABLE and the process is not ready until then"
                    );
                } else if behind {
                    tracing::error!(
                        lag_secs = lag.as_secs_f64(),
                        max_lag_secs = self.max_lag.as_secs_f64(),
                        "read models behind the log: permission checks answer UNAVAILABLE \
                         and the process is not ready until they catch up"
                    );
                } else {
                    tracing::info!("read models caught up with the log again");
                }
                was_behind = behind;
            }
            match self.log.held().await {
                Ok(true) => {
                    let since = *held_since.get_or_insert(now);
                    let held = now.duration_since(since);
                    let due = told.is_none_or(|at| now.duration_since(at) >= REMIND_EVERY);
                    if held > self.max_lag && due {
                        told = Some(now);
                        tracing::warn!(
                            held_secs = held.as_secs(),
                            "the log has been held for {}s by a transaction still open \
                             elsewhere on the PostgreSQL cluster: no follower can read the \
                             events committed since it began (see pg_stat_activity for the \
                             oldest xact_start)",
                            held.as_secs()
                        );
                    }
                }
                Ok(false) => {
                    if told.is_some() {
                        tracing::info!("the log is no longer held by an open transaction");
                    }
                    held_since = None;
                    told = None;
                }
                Err(_) => {}
            }
            self.freshness.set(Measured {
                lag,
                behind,
                log_held: held_since.map_or(Duration::ZERO, |since| now.duration_since(since)),
            });
            // Once behind, measure again as soon as the read models pass the oldest head
            // they missed, not a tick later: a process that started behind is ready
            // the moment it has caught up.
            let oldest = heads.front().map(|(_, noted)| *noted);
            let mut position = self.read_models.subscribe();
            let caught_up = async move {
                match oldest {
                    Some(oldest) if behind => {
                        if position.wait_for(|at| *at >= oldest).await.is_err() {
                            // The projector is gone; the tick goes on measuring.
                            std::future::pending::<()>().await
                        }
                    }
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(self.every) => {}
                _ = caught_up => {}
                _ = shutdown.changed() => break,
            }
            if *shutdown.borrow() {
                break;
            }
        }
    }
}
