//! `/metrics` in the Prometheus text format: how far each follower of the log lags
//! behind it, whether one is stalled, how much mail waits to be sent, and how many HTTP
//! requests were answered and how fast.
//!
//! The lag and the queue are read from the database at each scrape, the stalls from
//! the followers themselves; the request figures are counted as requests pass (see
//! [`record`]) in a registry of the `prometheus` crate that belongs to this server,
//! not a process-wide one, so two servers in one test process count apart.

use crate::app::Shared;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use projections::health::{Health, HealthWatch};
use projections::log::LAG_COUNTED_UP_TO;
use projections::permission::FAR_BEHIND;
use projections::{EventLog, StoreError};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};
use sqlx::Row;
use std::fmt::Write;
use std::time::Instant;

/// Upper bounds, in seconds, of the latency histogram's buckets: from a cached read to
/// the default request timeout (30 s), past which nothing is answered but a 503.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The `route` label of a request that matched no route. Labels take the route
/// template, never the raw path: every distinct value is a new time series, and paths
/// carry ids.
const UNMATCHED: &str = "unmatched";

#[derive(Debug, thiserror::Error)]
#[error("the HTTP metrics could not be registered: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

/// What the HTTP layer counts. Cheap to clone: the metrics are shared handles.
#[derive(Clone)]
pub struct HttpMetrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
}

impl HttpMetrics {
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "extranet_http_requests_total",
                "HTTP requests answered, by method, route template and status.",
            ),
            &["method", "route", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "extranet_http_request_duration_seconds",
                "Time from a request's arrival to its response's headers, by route template.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self {
            registry,
            requests,
            duration,
        })
    }

    fn observe(&self, method: &Method, route: &str, status: StatusCode, seconds: f64) {
        self.requests
            .with_label_values(&[method_label(method), route, status.as_str()])
            .inc();
        self.duration.with_label_values(&[route]).observe(seconds);
    }

    pub(crate) fn render(&self) -> Result<String, prometheus::Error> {
        TextEncoder::new().encode_to_string(&self.registry.gather())
    }
}

/// The standard methods by name; anything else (a client may send any token) as
/// `other`, so the label stays bounded.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "other",
    }
}

/// Middleware: counts every answered request and times it. It runs after routing, so
/// the route template ([`MatchedPath`]) is known; it sits outside the timeout, so a
/// request cut off is counted with the 503 it got.
pub async fn record(State(metrics): State<HttpMetrics>, request: Request, next: Next) -> Response {
    // A shared handle on the template, not a copy of it.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.observe(
        &method,
        route.as_ref().map_or(UNMATCHED, MatchedPath::as_str),
        response.status(),
        started.elapsed().as_secs_f64(),
    );
    response
}

async fn render(app: &Shared) -> Result<String, StoreError> {
    let log = EventLog::new(app.state.db.clone());
    let mut out = String::new();
    write_stalls(&mut out, &app.followers);
    write_freshness(&mut out, app);
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP extranet_projector_lag_events Events in the log that a follower has not applied yet, counted up to {LAG_COUNTED_UP_TO}.");
    let _ = writeln!(out, "# TYPE extranet_projector_lag_events gauge");
    for (name, at) in [
        ("read_models", app.state.read_models.position()),
        ("notifier", app.notifier.position()),
    ] {
        let lag = log.lag_after(at, LAG_COUNTED_UP_TO).await?;
        let _ = writeln!(
            out,
            "extranet_projector_lag_events{{projection=\"{name}\"}} {lag}"
        );
    }
    let pending: i64 = sqlx::query("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")
        .fetch_one(&app.state.db.any)
        .await?
        .try_get("n")?;
    let _ = writeln!(out, "# HELP extranet_permission_index_behind_events Events the read models have applied and the permission index has not yet, by global position; checks are refused past {FAR_BEHIND}.");
    let _ = writeln!(out, "# TYPE extranet_permission_index_behind_events gauge");
    let _ = writeln!(
        out,
        "extranet_permission_index_behind_events {}",
        app.state.permissions.behind()
    );
    let _ = writeln!(
        out,
        "# HELP extranet_notifier_queue_emails Emails decided and not yet delivered."
    );
    let _ = writeln!(out, "# TYPE extranet_notifier_queue_emails gauge");
    let _ = writeln!(out, "extranet_notifier_queue_emails {pending}");
    match app.http_metrics.render() {
        Ok(http) => out.push_str(&http),
        // The figures read from the database are still worth serving.
        Err(error) => tracing::error!(%error, "HTTP metrics could not be rendered"),
    }
    Ok(out)
}

/// Whether each follower is stalled now, and how often its batches failed: a stall
/// shows as 1 at once, a blip that healed only as failures counted.
fn write_stalls(out: &mut String, followers: &[HealthWatch]) {
    let _ = writeln!(out, "# HELP extranet_projector_stalled 1 while a follower of the log cannot apply it past an event (see /readyz for which), else 0.");
    let _ = writeln!(out, "# TYPE extranet_projector_stalled gauge");
    for follower in followers {
        let stalled = u8::from(follower.health() != Health::Running);
        let _ = writeln!(
            out,
            "extranet_projector_stalled{{projection=\"{}\"}} {stalled}",
            follower.follower()
        );
    }
    let _ = writeln!(
        out,
        "# HELP extranet_projector_failures_total Batches of the log a follower failed to apply, retries included."
    );
    let _ = writeln!(out, "# TYPE extranet_projector_failures_total counter");
    for follower in followers {
        let _ = writeln!(
            out,
            "extranet_projector_failures_total{{projection=\"{}\"}} {}",
            follower.follower(),
            follower.failures()
        );
    }
}

/// How far the read models lag the log, how long the log has been held, and whether
/// (and why) permission checks answer `UNAVAILABLE`.
fn write_freshness(out: &mut String, app: &Shared) {
    let measured = app.freshness.measured();
    let _ = writeln!(out, "# HELP extranet_read_models_lag_seconds How long the oldest head of the log the read models have not applied has waited.");
    let _ = writeln!(out, "# TYPE extranet_read_models_lag_seconds gauge");
    let _ = writeln!(
        out,
        "extranet_read_models_lag_seconds {:.3}",
        measured.lag.as_secs_f64()
    );
    let _ = writeln!(out, "# HELP extranet_log_held_seconds How long committed events have waited unreadable behind a transaction open elsewhere on the PostgreSQL cluster; 0 when none do.");
    let _ = writeln!(out, "# TYPE extranet_log_held_seconds gauge");
    let _ = writeln!(
        out,
        "extranet_log_held_seconds {}",
        measured.log_held.as_secs()
    );
    let _ = writeln!(out, "# HELP extranet_reactor_reacted_events_total Events of the log this process's reactor acted on; processes sharing a database never act on the same one.");
    let _ = writeln!(out, "# TYPE extranet_reactor_reacted_events_total counter");
    let _ = writeln!(
        out,
        "extranet_reactor_reacted_events_total {}",
        app.reacted.load(std::sync::atomic::Ordering::Relaxed)
    );
    let why = app.state.permissions.unavailable();
    let _ = writeln!(out, "# HELP extranet_permissions_unavailable 1 for the reason permission checks answer UNAVAILABLE now, else 0.");
    let _ = writeln!(out, "# TYPE extranet_permissions_unavailable gauge");
    for reason in [
        "read_models",
        "read_models_behind",
        "permission_index_behind",
        "permission_index",
    ] {
        let now = u8::from(why.as_ref().is_some_and(|why| why.label() == reason));
        let _ = writeln!(
            out,
            "extranet_permissions_unavailable{{reason=\"{reason}\"}} {now}"
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_counted_and_timed_by_route_template() {
        let metrics = HttpMetrics::new().expect("register");
        let route = "/invitations/{account}/{invitation}";
        metrics.observe(&Method::GET, route, StatusCode::OK, 0.003);
        metrics.observe(&Method::GET, route, StatusCode::OK, 0.2);
        metrics.observe(
            &Method::from_bytes(b"BREW").expect("a token"),
            route,
            StatusCode::METHOD_NOT_ALLOWED,
            0.001,
        );
        let text = metrics.render().expect("render");
        for line in [
            r#"extranet_http_requests_total{method="GET",route="/invitations/{account}/{invitation}",status="200"} 2"#,
            r#"extranet_http_requests_total{method="other",route="/invitations/{account}/{invitation}",status="405"} 1"#,
            r#"extranet_http_request_duration_seconds_bucket{route="/invitations/{account}/{invitation}",le="0.005"} 2"#,
            r#"extranet_http_request_duration_seconds_bucket{route="/invitations/{account}/{invitation}",le="0.25"} 3"#,
            r#"extranet_http_request_duration_seconds_bucket{route="/invitations/{account}/{invitation}",le="+Inf"} 3"#,
            r#"extranet_http_request_duration_seconds_count{route="/invitations/{account}/{invitation}"} 3"#,
        ] {
            assert!(text.lines().any(|l| l == line), "no line {line} in\n{text}");
        }
    }
}
