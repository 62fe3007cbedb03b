//! Harness for the end-to-end tests in `tests/tests/`.
//!
//! These tests drive the real `extranet` binary as a user would: through its command
//! line, its GraphQL endpoint, its HTML pages and the mail it sends to a real SMTP
//! server. They never link against the other crates of the workspace, so what they
//! pass is what ships.
//!
//! # Running
//!
//! Cargo cannot hand one package's binary to another package's tests, and building it
//! from inside a test would deadlock on the lock `cargo test` holds. So build it first:
//!
//! ```text
//! cargo build -p gateway --bin extranet && cargo test -p e2e
//! ```
//!
//! The binary is taken from `$EXTRANET_BIN` if set, else from
//! `$CARGO_TARGET_DIR/debug/extranet`, else from `<workspace>/target/debug/extranet`.
//! A stale binary is not detected: rebuild after changing the gateway.
//!
//! `tests/browser.rs` also needs Debian's `chromium` and `chromium-driver`; it fails,
//! saying so, without them, and saves a screenshot of each step under
//! `target/browser-artifacts/` (or `$EXTRANET_ARTIFACTS_DIR`).
//!
//! The PostgreSQL tests need a server that lets `postgres` in without a password on
//! `127.0.0.1:5432` (override with `EXTRANET_TEST_POSTGRES_URL`, a URL to any
//! database of a role that may `CREATE DATABASE`).
//!
//! # Shape
//!
//! Every test starts its own [`SmtpSink`] and its own [`App`] (own data directory, own
//! database, own port), so tests share nothing and run in parallel. A failing test
//! keeps its data directory and database and prints the binary's log.
//!
//! An [`App`] can be stopped (SIGTERM), crashed (SIGKILL) and started again on the same
//! data directory, database and port, which is all that survives in production. An
//! [`SmtpSink`] can start as a mail server that is down ([`SmtpSink::reserve`]) and
//! come up later ([`SmtpSink::open`]).
//!
//! The steps the stories share are written once: [`App::create_task`],
//! [`App::invite_guest`], [`App::accept_invitation`] and the like (each with a `try_`
//! twin for refusals), and the readers of responses [`data`], [`succeeded`],
//! [`user_error`] and [`error_code`].

mod app;
mod bad_event;
mod form;
mod ids;
mod mail;
mod readiness;
pub mod socket;
mod story;

pub use app::{App, Auth, Backend, HttpResponse, Peer, PostgresDatabase, SESSION_COOKIE};
pub use form::{FormInput, HtmlForm};
pub use ids::nonexistent_id;
pub use mail::{ReceivedMail, SmtpSink};
pub use readiness::NOTICE_WITHIN;
pub use story::{
    assert_no_user_errors, data, error_code, metric, succeeded, user_error, AcceptancePage,
    CREATE_TASK, INVITE_GUEST, MAIL_TIMEOUT, UPDATE_TASK,
};

/// The `extensions.code` and `message` of the first GraphQL error of a response, if any.
pub fn graphql_error(response: &serde_json::Value) -> Option<(String, String)> {
    let error = response.get("errors")?.as_array()?.first()?;
    let code = error
        .pointer("/extensions/code")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let message = error
        .get("message")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Some((code, message))
}
