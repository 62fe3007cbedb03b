//! What wraps every route: a request id, a log span, metrics, a timeout and a body
//! limit. Outermost first, as a request meets them:
//!
//! 1. a client's `x-request-id` is kept only if it is sane, else one is made (a UUID);
//! 2. the request's log span carries that id, so every line logged while it is served
//!    does, and a line is logged when it is answered;
//! 3. the id is copied onto the response;
//! 4. the request is counted and timed by route template (`crate::metrics::record`);
//! 5. past the timeout, the request's work is dropped and it is answered 503;
//! 6. a body over the limit is refused before it is read.
//!
//! The id, the log and the metrics sit outside the timeout so that a request cut off is
//! still logged, counted and given its id.

use crate::metrics::{self, HttpMetrics};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, StatusCode};
use axum::middleware;
use axum::Router;
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::{Level, Span};

/// The header a request id travels in, both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-supplied request id kept.
const MAX_REQUEST_ID_LEN: usize = 64;

/// What each request is held to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Requests larger than this are refused before they are read.
    pub max_body_bytes: usize,
    /// A request still unanswered after this long is answered 503.
    pub request_timeout: Duration,
}

/// Wraps every route of `router` (and its fallback) in the layers described above.
///
/// A timed-out request is answered 503 Service Unavailable rather than 408 Request
/// Timeout: 408 says the client was slow to send, and browsers resend a request that
/// got one on their own, which for a mutation would run it again.
pub fn around(router: Router, limits: Limits, http_metrics: HttpMetrics) -> Router {
    // Each `layer` wraps what is already there, so the last one added is outermost.
    router
        .layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            limits.request_timeout,
        ))
        .layer(middleware::from_fn_with_state(
            http_metrics,
            metrics::record,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                // One line per answered request at the default `info` level: the access
                // log operators correlate by request id.
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(middleware::map_request(drop_unfit_request_id))
}

/// Removes a client's `x-request-id` unless it is a single value of at most 64
/// characters of `[A-Za-z0-9-_.]`, so that one is generated instead. The id lands in
/// every log line: a client must not be able to forge log lines or flood them.
async fn drop_unfit_request_id(mut request: Request) -> Request {
    let values = request.headers().get_all(&REQUEST_ID);
    let mut values = values.iter();
    let fit = match (values.next(), values.next()) {
        (Some(value), None) => is_fit(value.as_bytes()),
        (None, _) => true,
        (Some(_), Some(_)) => false,
    };
    if !fit {
        request.headers_mut().remove(&REQUEST_ID);
    }
    request
}

fn is_fit(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The span every log line of a request is written in. It names the route template,
/// not the URI: paths carry ids, and an invitation link's query carries its secret.
fn request_span(request: &Request) -> Span {
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    tracing::info_span!(
        "request",
        request_id,
        method = %request.method(),
        route,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app(request_timeout: Duration) -> Router {
        app_counted(request_timeout).0
    }

    fn app_counted(request_timeout: Duration) -> (Router, HttpMetrics) {
        let router = Router::new()
            .route("/fast", get(|| async { "ok" }))
            .route("/items/{id}", get(|| async { "an item" }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    "too late"
                }),
            );
        let limits = Limits {
            max_body_bytes: 1024,
            request_timeout,
        };
        let metrics = HttpMetrics::new().expect("register");
        (around(router, limits, metrics.clone()), metrics)
    }

    async fn get_with(
        router: Router,
        path: &str,
        request_id: Option<&str>,
    ) -> axum::response::Response {
        let mut request = Request::get(path);
        if let Some(id) = request_id {
            request = request.header(&REQUEST_ID, id);
        }
        router
            .oneshot(request.body(Body::empty()).expect("a request"))
            .await
            .expect("infallible")
    }

    fn request_id_of(response: &axum::response::Response) -> String {
        response
            .headers()
            .get(&REQUEST_ID)
            .expect("every response carries a request id")
            .to_str()
            .expect("ascii")
            .to_owned()
    }

    #[tokio::test]
    async fn a_request_past_the_timeout_is_answered_503_with_its_id() {
        let started = std::time::Instant::now();
        let response = get_with(app(Duration::from_millis(100)), "/slow", Some("slow-1")).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(request_id_of(&response), "slow-1");
        assert!(started.elapsed() < Duration::from_secs(5));

        let response = get_with(app(Duration::from_millis(100)), "/fast", None).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_sane_client_id_is_echoed_and_anything_else_replaced() {
        let router = app(Duration::from_secs(5));
        let response = get_with(router.clone(), "/fast", Some("abc-123_x.y")).await;
        assert_eq!(request_id_of(&response), "abc-123_x.y");

        let long = "a".repeat(65);
        for unfit in ["has space", "semi;colon", "ünïcode", long.as_str()] {
            let response = get_with(router.clone(), "/fast", Some(unfit)).await;
            let id = request_id_of(&response);
            assert_ne!(id, unfit);
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id} is no UUID");
        }

        let response = get_with(router.clone(), "/nowhere", None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(uuid::Uuid::parse_str(&request_id_of(&response)).is_ok());
    }

    #[tokio::test]
    async fn requests_are_counted_by_route_template_timeouts_included() {
        let (router, metrics) = app_counted(Duration::from_millis(100));
        for path in ["/items/1", "/items/2", "/slow", "/no/such/path"] {
            get_with(router.clone(), path, None).await;
        }
        let text = metrics.render().expect("render");
        for line in [
            r#"extranet_http_requests_total{method="GET",route="/items/{id}",status="200"} 2"#,
            r#"extranet_http_requests_total{method="GET",route="/slow",status="503"} 1"#,
            r#"extranet_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
            r#"extranet_http_request_duration_seconds_count{route="/items/{id}"} 2"#,
        ] {
            assert!(text.lines().any(|l| l == line), "no line {line} in\n{text}");
        }
        assert!(
            !text.contains("/items/1"),
            "a raw path became a label:\n{text}"
        );
    }

    #[test]
    fn fit_ids() {
        assert!(is_fit(b"0123456789abcdef"));
        assert!(is_fit("a".repeat(64).as_bytes()));
        assert!(!is_fit("a".repeat(65).as_bytes()));
        assert!(!is_fit(b""));
        assert!(!is_fit(b"a\nb"));
    }
}
