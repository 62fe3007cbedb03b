//! The background workers of `serve` (projectors, reactor, scheduler, sender,
//! sweepers, the freshness monitor), each under a name. None of them may end while
//! the server runs: each loops until shutdown. One that panics or returns early has
//! stopped doing its part (mail not sent, read models not moving) while the server
//! would go on answering, so the rule for all is the same: the process exits non-zero
//! with the worker and the reason logged (zero-to-production's `report_exit`), and the
//! service manager starts it again from the checkpoints.

use std::collections::HashMap;
use std::future::Future;
use tokio::task::{Id, JoinError, JoinSet};

#[derive(Default)]
pub struct Workers {
    running: JoinSet<()>,
    names: HashMap<Id, &'static str>,
}

/// A worker that ended while the server ran.
#[derive(Debug, thiserror::Error)]
#[error("the background worker {worker} {reason}; the process exits so that it is started again")]
pub struct WorkerEnded {
    pub worker: &'static str,
    /// `ended` or `panicked: <message>`.
    pub reason: String,
}

impl Workers {
    pub fn spawn(&mut self, name: &'static str, work: impl Future<Output = ()> + Send + 'static) {
        let handle = self.running.spawn(work);
        self.names.insert(handle.id(), name);
    }

    /// Waits until some worker ends, and says which and why. Pending for ever when
    /// there are none.
    pub async fn first_to_end(&mut self) -> WorkerEnded {
        let Some(ended) = self.running.join_next_with_id().await else {
            return std::future::pending().await;
        };
        let (id, reason) = match ended {
            Ok((id, ())) => (id, "ended".to_owned()),
            Err(error) => (error.id(), failure(error)),
        };
        WorkerEnded {
            worker: self.names.get(&id).copied().unwrap_or("unnamed"),
            reason,
        }
    }

    /// Waits for every worker to finish (after shutdown was signalled).
    pub async fn join_all(mut self) {
        while self.running.join_next().await.is_some() {}
    }
}

fn failure(error: JoinError) -> String {
    if !error.is_panic() {
        return "was cancelled".to_owned();
    }
    let payload = error.into_panic();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    format!("panicked: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_worker_that_returns_is_named_as_ended() {
        let mut workers = Workers::default();
        workers.spawn("forever", std::future::pending());
        workers.spawn("sender", async {});
        let ended = workers.first_to_end().await;
        assert_eq!((ended.worker, ended.reason.as_str()), ("sender", "ended"));
    }

    #[tokio::test]
    async fn a_worker_that_panics_is_named_with_its_message() {
        let mut workers = Workers::default();
        workers.spawn("forever", std::future::pending());
        workers.spawn("scheduler", async { panic!("boom at {}", 42) });
        let ended = workers.first_to_end().await;
        assert_eq!(ended.worker, "scheduler");
        assert_eq!(ended.reason, "panicked: boom at 42");
        assert!(
            ended.to_string().contains("scheduler panicked: boom"),
            "{ended}"
        );
    }
}
