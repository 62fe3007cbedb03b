//! `/readyz`: whether this process should be sent traffic. `/healthz` only says the
//! process is alive (it touches nothing, so a database outage does not get every
//! server restarted); `/readyz` says it can serve: the database answers, and the read
//! models hold at least what the log held when the process started, are not stalled at
//! an event they cannot apply and are not behind the log (measured all the time, see
//! `projections/src/freshness.rs`), and the permission engine would answer. Every
//! stalled follower is named in the body.
//!
//! The body is JSON for the operator reading it; a load balancer needs only the status.

use crate::app::Shared;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use projections::health::{Health, Stall};
use projections::log::LAG_COUNTED_UP_TO;
use projections::{EventLog, LogPosition, StoreError};
use serde::Serialize;
use std::time::Duration;

/// How long the database has to answer before the process is reported not ready. The
/// pool's own wait for a connection (10 s) is longer than a prober waits.
const DATABASE_DEADLINE: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize)]
struct Readiness {
    /// `ready` or `not ready`.
    status: &'static str,
    /// What keeps the process from being ready: `database`, `read_models`,
    /// `read_models_behind`, `permission_index_behind`, `permission_index`.
    not_ready: Vec<&'static str>,
    /// `ok`, or why permission checks answer `UNAVAILABLE` now: `read_models`
    /// (stalled), `read_models_behind`, `permission_index_behind` (the index is far
    /// behind the read models and catching up) or `permission_index` (stalled).
    permissions: &'static str,
    /// How long the oldest head of the log the read models have not reached has
    /// waited, in seconds.
    read_models_lag_seconds: f64,
    /// How long committed events have waited unreadable behind a transaction open
    /// elsewhere on the PostgreSQL cluster, in seconds; 0 when none do.
    log_held_seconds: f64,
    /// `ok`, `unreachable` or `timed out`.
    database: &'static str,
    read_models: Follower,
    notifier: Follower,
    /// Events the read models have applied and the in-memory permission index has
    /// not yet (by global position); checks are refused past 10,000.
    permission_index_behind_events: i64,
    /// Every follower of the log that cannot go on, and where.
    stalled: Vec<Stalled>,
}

#[derive(Debug, Serialize)]
struct Stalled {
    /// `read_models`, `notifier`, `history`, `activity` or `reactor`.
    follower: &'static str,
    /// The last position of the log it applied.
    after_global_position: i64,
    /// The event it cannot apply; null when the failure was no one event's (reading
    /// the log, committing).
    event: Option<StalledEvent>,
    /// What went wrong, without the event's content.
    error: String,
    /// When it first failed there (RFC 3339).
    since: String,
}

/// Enough to find the row in `events`; never the payload.
#[derive(Debug, Serialize)]
struct StalledEvent {
    global_position: i64,
    /// The writing transaction, on PostgreSQL (0 on SQLite).
    tx_id: i64,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
}

impl From<&Stall> for Stalled {
    fn from(stall: &Stall) -> Self {
        Self {
            follower: stall.follower,
            after_global_position: stall.after.position,
            event: stall.event.as_ref().map(|event| StalledEvent {
                global_position: event.position.position,
                tx_id: event.position.tx,
                aggregate_type: event.aggregate_type.clone(),
                aggregate_id: event.aggregate_id.clone(),
                sequence: event.sequence,
                event_type: event.event_type.clone(),
            }),
            error: stall.error.clone(),
            since: chrono::DateTime::<chrono::Utc>::from(stall.since)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
}

#[derive(Debug, Serialize)]
struct Follower {
    /// Events in the log this follower has not applied; unknown without the database.
    lag_events: Option<i64>,
    /// Whether it holds everything the log held when this process started.
    caught_up_with_start: bool,
}

pub async fn handle(State(app): State<Shared>) -> Response {
    // Read once, before the lags are counted from them: the verdict and the numbers
    // in the body then describe the same moment (a projector moving on meanwhile
    // could otherwise make a body say ready beside a lag counted before it moved).
    let read_models_at = app.state.read_models.position();
    let notifier_at = app.notifier.position();
    let measuring = lags(&app, read_models_at, notifier_at);
    let database = match tokio::time::timeout(DATABASE_DEADLINE, measuring).await {
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
    let follower = |at: LogPosition, lag: Option<i64>| Follower {
        lag_events: lag,
        // Holding the whole log as it is now also holds what was there at start,
        // even when the event then at the head has since been removed by hand.
        caught_up_with_start: at >= app.start_head || lag == Some(0),
    };
    let (read_lag, notifier_lag) = match database {
        Ok((read, notifier)) => (Some(read), Some(notifier)),
        Err(_) => (None, None),
    };
    let permissions = app
        .state
        .permissions
        .unavailable()
        .map_or("ok", |why| why.label());
    let measured = app.freshness.measured();
    let stalled = app
        .followers
        .iter()
        .filter_map(|follower| match follower.health() {
            Health::Running => None,
            Health::Stalled(stall) => Some(Stalled::from(&stall)),
        })
        .collect();
    let readiness = Readiness {
        status: "ready",
        not_ready: Vec::new(),
        permissions,
        read_models_lag_seconds: measured.lag.as_secs_f64(),
        log_held_seconds: measured.log_held.as_secs_f64(),
        database: database.err().unwrap_or("ok"),
        read_models: follower(read_models_at, read_lag),
        notifier: follower(notifier_at, notifier_lag),
        permission_index_behind_events: app.state.permissions.behind(),
        stalled,
    };
    respond(readiness)
}

/// Fills in the verdict. Only the read models gate readiness: requests read them, and
/// a mutation cannot be shown while they are stalled. The other followers work behind
/// them: a stalled notifier delays mail, a stalled history or activity stream holds
/// back those two views, the reactor its follow-ups; none makes an answer wrong, so
/// they are reported here and at `/metrics` without taking the process out of service.
fn respond(mut readiness: Readiness) -> Response {
    if readiness.database != "ok" {
        readiness.not_ready.push("database");
    }
    let read_models_stalled = readiness
        .stalled
        .iter()
        .any(|stall| stall.follower == "read_models");
    if !readiness.read_models.caught_up_with_start || read_models_stalled {
        readiness.not_ready.push("read_models");
    }
    // Requests would be refused: not ready, for the same reason they are told.
    if readiness.permissions != "ok" && !readiness.not_ready.contains(&readiness.permissions) {
        readiness.not_ready.push(readiness.permissions);
    }
    let status = if readiness.not_ready.is_empty() {
        StatusCode::OK
    } else {
        readiness.status = "not ready";
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness)).into_response()
}

/// Asks the database `SELECT 1`, then how many events lie after the read models'
/// and the notifier's positions (up to [`LAG_COUNTED_UP_TO`]).
async fn lags(
    app: &Shared,
    read_models_at: LogPosition,
    notifier_at: LogPosition,
) -> Result<(i64, i64), StoreError> {
    sqlx::query("SELECT 1").execute(&app.state.db.any).await?;
    let log = EventLog::new(app.state.db.clone());
    let read = log.lag_after(read_models_at, LAG_COUNTED_UP_TO).await?;
    let notifier = log.lag_after(notifier_at, LAG_COUNTED_UP_TO).await?;
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
            permissions: "ok",
            read_models_lag_seconds: 0.0,
            log_held_seconds: 0.0,
            database: "ok",
            read_models: follower(Some(0), true),
            // A notifier behind delays mail, not answers.
            notifier: follower(Some(7), false),
            permission_index_behind_events: 0,
            stalled: Vec::new(),
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
            permissions: "ok",
            read_models_lag_seconds: 0.0,
            log_held_seconds: 0.0,
            database: "unreachable",
            read_models: follower(None, false),
            notifier: follower(None, true),
            permission_index_behind_events: 0,
            stalled: Vec::new(),
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

    fn stalled(follower: &'static str) -> Stalled {
        Stalled {
            follower,
            after_global_position: 41,
            event: Some(StalledEvent {
                global_position: 42,
                tx_id: 0,
                aggregate_type: "task".into(),
                aggregate_id: "a:t".into(),
                sequence: 3,
                event_type: "TaskRenamed".into(),
            }),
            error: "a stored event payload could not be read: missing field `title`".into(),
            since: "2024-05-01T10:00:00Z".into(),
        }
    }

    #[tokio::test]
    async fn stalled_read_models_are_not_ready_even_past_the_start() {
        let response = respond(Readiness {
            status: "ready",
            not_ready: Vec::new(),
            permissions: "ok",
            read_models_lag_seconds: 0.0,
            log_held_seconds: 0.0,
            database: "ok",
            read_models: follower(Some(2), true),
            notifier: follower(Some(2), true),
            permission_index_behind_events: 0,
            stalled: vec![stalled("read_models")],
        });
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = body(response).await;
        assert_eq!(body["not_ready"], serde_json::json!(["read_models"]));
        assert_eq!(body["stalled"][0]["event"]["global_position"], 42);
    }

    #[tokio::test]
    async fn refused_permission_checks_are_not_ready_and_say_why() {
        let response = respond(Readiness {
            status: "ready",
            not_ready: Vec::new(),
            permissions: "read_models_behind",
            read_models_lag_seconds: 7.5,
            log_held_seconds: 0.0,
            database: "ok",
            read_models: follower(Some(3), true),
            notifier: follower(Some(3), true),
            permission_index_behind_events: 0,
            stalled: Vec::new(),
        });
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = body(response).await;
        assert_eq!(body["not_ready"], serde_json::json!(["read_models_behind"]));
        assert_eq!(body["read_models_lag_seconds"], 7.5);
    }

    #[tokio::test]
    async fn a_stalled_notifier_is_reported_but_keeps_the_process_ready() {
        let response = respond(Readiness {
            status: "ready",
            not_ready: Vec::new(),
            permissions: "ok",
            read_models_lag_seconds: 0.0,
            log_held_seconds: 0.0,
            database: "ok",
            read_models: follower(Some(0), true),
            notifier: follower(Some(2), false),
            permission_index_behind_events: 0,
            stalled: vec![stalled("notifier")],
        });
        assert_eq!(response.status(), StatusCode::OK);
        let body = body(response).await;
        assert_eq!(body["stalled"][0]["follower"], "notifier");
    }
}
