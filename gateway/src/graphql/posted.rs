//! What a POST to `/graphql` carries: one GraphQL request, or a batch of them, as JSON
//! (`Content-Type: application/json`). Anything else is refused with 400 and a body
//! shaped as a GraphQL response, so a client reads it as it reads any other error.

use async_graphql::{BatchRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The code of [`NotARequest`].
pub const BAD_REQUEST: &str = "BAD_REQUEST";

/// How the refusals end: what to send instead.
const SHAPE: &str = "A GraphQL request is a JSON object such as \
                     {\"query\": \"{ viewer { id } }\"}, with \"variables\" and \
                     \"operationName\" if needed; a batch is an array of them.";

/// Why a body is not a GraphQL request, said to the client: answered 400
/// `BAD_REQUEST`.
#[derive(Debug)]
pub struct NotARequest(String);

impl IntoResponse for NotARequest {
    fn into_response(self) -> Response {
        refusal(StatusCode::BAD_REQUEST, BAD_REQUEST, self.0)
    }
}

/// The request or batch `body` carries.
pub fn read(headers: &HeaderMap, body: &[u8]) -> Result<BatchRequest, NotARequest> {
    if !is_json(headers) {
        return Err(NotARequest(format!(
            "send the body as JSON, declared with `Content-Type: application/json`. {SHAPE}"
        )));
    }
    // JSON says by its first character whether this is a batch. (async-graphql's own
    // reader tries one shape and then the other, and its error names neither.)
    let batch = body.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[');
    let request = if batch {
        let requests: Vec<Request> = serde_json::from_slice(body).map_err(not_a_request)?;
        if requests.is_empty() {
            return Err(NotARequest(
                "this batch holds no operation; send at least one.".into(),
            ));
        }
        BatchRequest::Batch(requests)
    } else {
        BatchRequest::Single(serde_json::from_slice(body).map_err(not_a_request)?)
    };
    if let Some(index) = request
        .iter()
        .position(|request| request.query.trim().is_empty())
    {
        let which = match &request {
            BatchRequest::Single(_) => "this request".to_owned(),
            BatchRequest::Batch(_) => format!("operation {} of the batch", index + 1),
        };
        return Err(NotARequest(format!(
            "{which} has no \"query\": the text of the operation to run. {SHAPE}"
        )));
    }
    Ok(request)
}

/// Whether the body is declared as JSON (`application/json`, any parameters).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"))
}

fn not_a_request(error: serde_json::Error) -> NotARequest {
    NotARequest(format!(
        "the body is not a GraphQL request in JSON ({error}). {SHAPE}"
    ))
}

/// `status` with a body shaped as a GraphQL response: one error with `message` and
/// `code`.
pub fn refusal(status: StatusCode, code: &str, message: String) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    });
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn json() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers
    }

    /// The status and the first error's message of a refusal.
    async fn refused(headers: &HeaderMap, body: &str) -> (u16, String) {
        let Err(refused) = read(headers, body.as_bytes()) else {
            panic!("{body} was read as a request");
        };
        let response = refused.into_response();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the body");
        let body: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], BAD_REQUEST,
            "{body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        (status, message.to_owned())
    }

    #[tokio::test]
    async fn a_request_and_a_batch_are_read() {
        let single = read(&json(), br#"{"query": "{ viewer { id } }"}"#);
        assert!(matches!(single, Ok(BatchRequest::Single(_))));
        let batch = read(
            &json(),
            b" \n[{\"query\": \"{ a }\"}, {\"query\": \"{ b }\"}]",
        );
        assert!(matches!(batch, Ok(BatchRequest::Batch(requests)) if requests.len() == 2));
        let mut with_charset = HeaderMap::new();
        with_charset.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert!(read(&with_charset, br#"{"query": "{ a }"}"#).is_ok());
    }

    #[tokio::test]
    async fn anything_else_is_refused_saying_what_to_send() {
        let (status, message) = refused(&HeaderMap::new(), r#"{"query": "{ a }"}"#).await;
        assert_eq!(status, 400);
        assert!(
            message.contains("Content-Type: application/json"),
            "{message}"
        );
        for body in [
            "not json",
            "\"\\ud800\"",
            r#"{"query": "\ud800"}"#,
            "[1]",
            "42",
        ] {
            let (status, message) = refused(&json(), body).await;
            assert_eq!(status, 400);
            assert!(
                message.starts_with("the body is not a GraphQL request"),
                "{message}"
            );
        }
        let (_, message) = refused(&json(), "[]").await;
        assert!(message.contains("no operation"), "{message}");
        let (_, message) = refused(&json(), r#"{"foo": 1}"#).await;
        assert!(
            message.starts_with("this request has no \"query\""),
            "{message}"
        );
        let (_, message) = refused(&json(), r#"[{"query": "{ a }"}, {"query": " "}]"#).await;
        assert!(message.starts_with("operation 2 of the batch"), "{message}");
    }
}
