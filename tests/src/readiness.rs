//! What an operator's probes see: `/readyz` and `/metrics`, and waiting on them.

use crate::{App, Auth};
use serde_json::Value;
use std::time::{Duration, Instant};

/// How long a stall, a lag or a recovery may take to show at `/readyz`: many of the
/// projectors' retries.
pub const NOTICE_WITHIN: Duration = Duration::from_secs(30);

impl App {
    /// `/readyz`'s status and JSON body.
    pub async fn readiness(&self) -> (u16, Value) {
        let response = self.get("/readyz", &Auth::Anonymous).await;
        let body = serde_json::from_str(&response.body)
            .unwrap_or_else(|error| panic!("/readyz is not JSON ({error}): {}", response.body));
        (response.status.as_u16(), body)
    }

    /// Polls `/readyz` until `done` holds of its status and body, and returns the body;
    /// fails the test, saying `what` was awaited, after [`NOTICE_WITHIN`].
    pub async fn readiness_until(&self, what: &str, done: impl Fn(u16, &Value) -> bool) -> Value {
        let (_, body) = self
            .probe_until(
                what,
                || self.readiness(),
                |(status, body)| done(*status, body),
            )
            .await;
        body
    }

    /// Polls `/metrics` until `done` holds of it, and returns it; fails the test, saying
    /// `what` was awaited, after [`NOTICE_WITHIN`].
    pub async fn metrics_until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        self.probe_until(what, || self.metrics(), |numbers| done(numbers))
            .await
    }

    /// Asks `probe` every 100 ms until `done` holds of its answer.
    async fn probe_until<T: std::fmt::Debug, F: std::future::Future<Output = T>>(
        &self,
        what: &str,
        probe: impl Fn() -> F,
        done: impl Fn(&T) -> bool,
    ) -> T {
        let deadline = Instant::now() + NOTICE_WITHIN;
        loop {
            let answer = probe().await;
            if done(&answer) {
                return answer;
            }
            assert!(
                Instant::now() < deadline,
                "{what} within {NOTICE_WITHIN:?}; the probe answers {answer:?}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `/metrics` as text.
    pub async fn metrics(&self) -> String {
        let response = self.get("/metrics", &Auth::Anonymous).await;
        assert_eq!(response.status.as_u16(), 200, "{}", response.body);
        response.body
    }
}
