//! The frame every page shares, and escaping: every value that came from a person or
//! the database goes through `escape` before it reaches HTML.

use crate::rate_limit::{CheckError, Limited};
use crate::usecase::Failure;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use projections::StoreError;

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page. `title` is escaped here; `body` must already be safe HTML.
pub fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Extranet</title>
<style>
  body {{ font-family: system-ui, sans-serif; max-width: 34rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5; color: #1b1b1b; }}
  label {{ display: block; margin-top: 1rem; font-weight: 600; }}
  input {{ display: block; width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box; border: 1px solid #666; border-radius: 4px; }}
  input:focus, button:focus {{ outline: 3px solid #1a5fb4; outline-offset: 2px; }}
  .error {{ color: #a51d2d; margin: .25rem 0 0; }}
  input[aria-invalid="true"] {{ border-color: #a51d2d; }}
  button {{ margin-top: 1.5rem; padding: .6rem 1.2rem; font-size: 1rem; background: #1a5fb4; color: #fff; border: 0; border-radius: 4px; cursor: pointer; }}
  .notice {{ padding: 1rem; border-left: 4px solid #a51d2d; background: #fbeaea; }}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"#,
        title = escape(title),
        body = body
    )
}

/// One labelled input, with its error (if any) right below it and tied to it by
/// `aria-describedby`, so a screen reader reads the error with the field.
pub struct Field<'a> {
    pub name: &'a str,
    pub label: &'a str,
    /// The input's `type`: text, email, password.
    pub kind: &'a str,
    pub value: &'a str,
    pub autocomplete: &'a str,
    pub error: Option<&'a str>,
}

impl Field<'_> {
    pub fn html(&self) -> String {
        let name = self.name;
        let (invalid, described, message) = match self.error {
            Some(e) => (
                r#" aria-invalid="true""#.to_string(),
                format!(r#" aria-describedby="{name}-error""#),
                format!(r#"<p class="error" id="{name}-error">{}</p>"#, escape(e)),
            ),
            None => (String::new(), String::new(), String::new()),
        };
        format!(
            r#"<label for="{name}">{label}</label>
<input id="{name}" name="{name}" type="{kind}" value="{value}" autocomplete="{autocomplete}" required{invalid}{described}>
{message}"#,
            label = escape(self.label),
            kind = self.kind,
            value = escape(self.value),
            autocomplete = self.autocomplete,
        )
    }
}

/// Said above a form that came back with errors, so a screen reader hears at once
/// that something needs correcting.
pub const CORRECT_BELOW: &str =
    r#"<p class="notice" role="alert">Please correct the fields marked below.</p>"#;

/// An HTML response that is never cached nor leaks its address in a referrer: these
/// pages carry secrets in their links and forms. `cookie` is a whole `Set-Cookie`.
pub fn respond(status: StatusCode, body: String, cookie: Option<String>) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

/// A page that only tells something: why a link leads nowhere, what happens next.
/// `alert` marks it as an error for assistive technology, else it is a status.
pub fn notice(status: StatusCode, title: &str, text: &str, alert: bool) -> Response {
    let body = if alert {
        format!(r#"<p class="notice" role="alert">{}</p>"#, escape(text))
    } else {
        format!(r#"<p role="status">{}</p>"#, escape(text))
    };
    respond(status, page(title, &body), None)
}

/// An attempt to get in that may not go on: too many, or not countable.
pub fn refused_attempt(error: CheckError) -> Response {
    match error {
        CheckError::Limited(limited) => rate_limited(limited),
        CheckError::Store(error) => internal("counting an attempt to get in", error),
    }
}

/// 429, with `Retry-After` for programs and the wait in words for people.
pub fn rate_limited(limited: Limited) -> Response {
    let text = format!(
        "There were too many attempts from here or for this address. For your security, \
         try again in {} seconds.",
        limited.seconds()
    );
    let mut response = notice(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        &text,
        true,
    );
    if let Ok(value) = HeaderValue::from_str(&limited.seconds().to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Logs a fault with what was being done; the page says only that something failed.
pub fn internal<E: std::fmt::Display>(doing: &'static str, error: E) -> Response {
    tracing::error!(%error, doing, "a page failed");
    notice(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Something went wrong on our side; it has been logged. Please try again in a minute.",
        true,
    )
}

/// How many seconds a page that could not show a recorded change asks to wait.
const NOT_YET_SHOWN_RETRY_SECS: &str = "30";

/// What every use case can meet besides its refusals, as a page. A change that is
/// recorded but cannot be shown yet gets a page of its own: it is not lost, and
/// sending the form again would not help.
pub fn failed(doing: &'static str, failure: Failure) -> Response {
    match failure {
        Failure::Busy => notice(
            StatusCode::CONFLICT,
            "Please try again",
            "Something else changed at the same moment. Go back and send the form again.",
            true,
        ),
        Failure::NotYetShown(stall) => {
            tracing::warn!(%stall, doing, "a change was recorded but cannot be shown");
            let mut response = notice(
                StatusCode::SERVICE_UNAVAILABLE,
                "Recorded, not yet shown",
                "What you sent is recorded, but the service cannot show it yet. Do not send \
                 the form again: try again shortly, for example by logging in.",
                true,
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(NOT_YET_SHOWN_RETRY_SECS),
            );
            response
        }
        Failure::NotYetInForce { waited } => {
            tracing::warn!(
                ?waited,
                doing,
                "a change was recorded but is not yet in force"
            );
            let mut response = notice(
                StatusCode::SERVICE_UNAVAILABLE,
                "Recorded, not yet in force",
                "What you sent is recorded and takes effect as soon as the service catches \
                 up. Do not send the form again: try again shortly, for example by logging in.",
                true,
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(NOT_YET_SHOWN_RETRY_SECS),
            );
            response
        }
        Failure::Store(StoreError::Unavailable(why)) => {
            tracing::warn!(%why, doing, "refused: the permissions cannot be checked now");
            let mut response = notice(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "The service cannot check permissions right now; please try again in a \
                 few seconds.",
                true,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            response
        }
        failure @ (Failure::Store(_) | Failure::EventStore(_) | Failure::Internal(_)) => {
            internal(doing, failure)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_shown_not_run() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert!(page("<b>", "").contains("<title>&lt;b&gt; · Extranet</title>"));
    }

    #[test]
    fn a_field_with_an_error_points_at_it() {
        let html = Field {
            name: "email",
            label: "Email",
            kind: "email",
            value: "\"><script>",
            autocomplete: "email",
            error: Some("not <an> address"),
        }
        .html();
        assert!(html.contains(r#"aria-invalid="true" aria-describedby="email-error""#));
        assert!(html.contains(r#"<p class="error" id="email-error">not &lt;an&gt; address</p>"#));
        assert!(html.contains(r#"value="&quot;&gt;&lt;script&gt;""#));
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn a_refusal_for_too_many_attempts_says_how_long_to_wait() {
        let response = rate_limited(Limited {
            retry_after: std::time::Duration::from_millis(89_100),
        });
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "90");
    }
}
