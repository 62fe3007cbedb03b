//! `/metrics` in the Prometheus text format: how far each follower of the log lags
//! behind it, and how much mail waits to be sent.

use crate::app::Shared;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use projections::{EventLog, StoreError};
use sqlx::Row;
use std::fmt::Write;

async fn render(app: &Shared) -> Result<String, StoreError> {
    let log = EventLog::new(app.state.db.clone());
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP extranet_projector_lag_events Events in the log that a follower has not applied yet.");
    let _ = writeln!(out, "# TYPE extranet_projector_lag_events gauge");
    for (name, handle) in [
        ("read_models", &app.state.read_models),
        ("notifier", &app.notifier),
    ] {
        let lag = log.count_after(handle.position()).await?;
        let _ = writeln!(
            out,
            "extranet_projector_lag_events{{projection=\"{name}\"}} {lag}"
        );
    }
    let pending: i64 = sqlx::query("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")
        .fetch_one(&app.state.db.any)
        .await?
        .try_get("n")?;
    let _ = writeln!(
        out,
        "# HELP extranet_notifier_queue_emails Emails decided and not yet delivered."
    );
    let _ = writeln!(out, "# TYPE extranet_notifier_queue_emails gauge");
    let _ = writeln!(out, "extranet_notifier_queue_emails {pending}");
    Ok(out)
}

pub async fn handle(State(app): State<Shared>) -> Response {
    match render(&app).await {
        Ok(body) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response(),
        Err(error) => {
            tracing::error!(%error, "metrics could not be read");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
