//! `/readyz`: whether this process should be sent traffic. `/healthz` only says the
//! process is alive (it touches nothing, so a database outage does not get every
//! server restarted); `/readyz` says it can serve: the database answers, and the read
//! models hold at least what the log held when the process started.
//!
//! The body is JSON for the operator reading it; a load balancer needs only the status.

use crate::app::Shared;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use projections::projector::ProjectorHandle;
use projections::{EventLog, StoreError};
use serde::Serialize;
use std::time::Duration;

/// How long the database has to answer before the process is reported not ready. The
/// pool's own wait for a connection (10 s) is longer than a prober waits.
const DATABASE_DEADLINE: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize)]
struct Readiness {
    /// `ready` or `not ready`.
    status: &'static str,
    /// What keeps the process from being ready: `database`, `read_models`.
    not_ready: Vec<&'static str>,
    /// `ok`, `unreachable` or `timed out`.
    database: &'static str,
    read_models: Follower,
    notifier: Follower,
}

#[derive(Debug, Serialize)]
struct Follower {
    /// Events in the log this follower has not applied; unknown without the database.
    lag_events: Option<i64>,
    /// Whether it holds everything the log held when this process started.
    caught_up_with_start: bool,
}

pub async fn handle(State(app): State<Shared>) -> Response {
    let database = match tokio::time::timeout(DATABASE_DEADLINE, lags(&app)).await {
        Ok(Ok(lags)) => Ok(lags),
        Ok(Err(error)) => {
            // The cause is for the log; the body names only what is not ready.
            tracing::warn!(%error, "not ready: the database does not answer");
            Err("unreachable")
        }
        Err(_) => {
            tracing::warn!(
                deadline = ?DATABASE_DEADLINE,
                "not ready: the database did not answer in time"
            );
            Err("timed out")
        }
    };
    let follower = |handle: &ProjectorHandle, lag: Option<i64>| Follower {
        lag_events: lag,
        caught_up_with_start: handle.position() >= app.start_head,
    };
    let (read_lag, notifier_lag) = match database {
        Ok((read, notifier)) => (Some(read), Some(notifier)),
        Err(_) => (None, None),
    };
    let readiness = Readiness {
        status: "ready",
        not_ready: Vec::new(),
        database: database.err().unwrap_or("ok"),
        read_models: follower(&app.state.read_models, read_lag),
        notifier: follower(&app.notifier, notifier_lag),
    };
    respond(readiness)
}

/// Fills in the verdict. Only the read models gate readiness: requests read them. The
/// notifier works behind them, and its lag delays mail, not answers.
fn respond(mut readiness: Readiness) -> Response {
    if readiness.database != "ok" {
        readiness.not_ready.push("database");
    }
    if !readiness.read_models.caught_up_with_start {
        readiness.not_ready.push("read_models");
    }
    let status = if readiness.not_ready.is_empty() {
        StatusCode::OK
    } else {
        readiness.status = "not ready";
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness)).into_response()
}

/// Asks the database `SELECT 1`, then how far the read models and the notifier lag.
async fn lags(app: &Shared) -> Result<(i64, i64), StoreError> {
    sqlx::query("SELECT 1").execute(&app.state.db.any).await?;
    let log = EventLog::new(app.state.db.clone());
    let read = log.count_after(app.state.read_models.position()).await?;
    let notifier = log.count_after(app.notifier.position()).await?;
    Ok((read, notifier))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn follower(lag: Option<i64>, caught_up: bool) -> Follower {
        Follower {
            lag_events: lag,
            caught_up_with_start: caught_up,
        }
    }

    async fn body(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        serde_json::from_slice(&bytes).expect("json")
    }

    #[tokio::test]
    async fn ready_when_the_database_answers_and_the_read_models_caught_up() {
        let response = respond(Readiness {
            status: "ready",
            not_ready: Vec::new(),
            database: "ok",
            read_models: follower(Some(0), true),
            // A notifier behind delays mail, not answers.
            notifier: follower(Some(7), false),
        });
        assert_eq!(response.status(), StatusCode::OK);
        let body = body(response).await;
        assert_eq!(body["status"], "ready");
        assert_eq!(body["notifier"]["lag_events"], 7);
    }

    #[tokio::test]
    async fn not_ready_names_what_is_missing() {
        let response = respond(Readiness {
            status: "ready",
            not_ready: Vec::new(),
            database: "unreachable",
            read_models: follower(None, false),
            notifier: follower(None, true),
        });
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = body(response).await;
        assert_eq!(body["status"], "not ready");
        assert_eq!(
            body["not_ready"],
            serde_json::json!(["database", "read_models"])
        );
        assert_eq!(body["read_models"]["lag_events"], serde_json::Value::Null);
    }
}
