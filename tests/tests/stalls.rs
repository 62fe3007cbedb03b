//! An event in the log that the read models cannot apply, as an operator meets it: the
//! service says so at once (`/readyz`, `/metrics`, one log line), a mutation is told
//! its change is recorded but cannot be shown, `serve` starts all the same and
//! `rebuild` names the event; once the event is removed, the service is ready again.

use e2e::{error_code, metric, App, Auth, Backend, SmtpSink, CREATE_TASK, NOTICE_WITHIN};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const STALLED: &str = r#"extranet_projector_stalled{projection="read_models"}"#;
const FAILURES: &str = r#"extranet_projector_failures_total{projection="read_models"}"#;

/// The read models' stall as `/readyz` reports it, checked to name the bad event.
fn assert_names_the_event(body: &Value, aggregate_id: &str) {
    assert_eq!(body["status"], "not ready", "{body}");
    assert_eq!(body["not_ready"], json!(["read_models"]), "{body}");
    let stalled = body["stalled"].as_array().expect("a list of stalls");
    assert_eq!(stalled.len(), 1, "only the read models: {body}");
    let stall = &stalled[0];
    assert_eq!(stall["follower"], "read_models", "{body}");
    let event = &stall["event"];
    assert_eq!(event["aggregate_type"], "task", "{body}");
    assert_eq!(event["aggregate_id"], aggregate_id, "{body}");
    assert_eq!(event["event_type"], "TaskRenamed", "{body}");
    assert_eq!(event["sequence"], 1, "{body}");
    assert!(event["global_position"].is_i64(), "{body}");
    let error = stall["error"].as_str().unwrap_or_default();
    assert!(error.contains("missing field `title`"), "{body}");
}

fn stalled_for(aggregate_id: &str) -> impl Fn(u16, &Value) -> bool + '_ {
    move |status, body| {
        status == 503 && body.pointer("/stalled/0/event/aggregate_id") == Some(&json!(aggregate_id))
    }
}

fn ready(status: u16, body: &Value) -> bool {
    status == 200 && body["stalled"] == json!([])
}

async fn a_stall_is_reported_refused_and_recovered(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = App::spawn(backend, &smtp).await;
    let admin = app.login_admin().await;
    app.create_task(&admin, "Before the bad event", None).await;

    let bad = app.write_bad_event().await;
    let body = app
        .readiness_until("the stall is reported", stalled_for(&bad))
        .await;
    assert_names_the_event(&body, &bad);
    let health = app.get("/healthz", &Auth::Anonymous).await;
    assert_eq!((health.status.as_u16(), health.body.as_str()), (200, "ok"));

    let body = app.metrics().await;
    assert_eq!(metric(&body, STALLED), Some(1), "{body}");
    assert!(metric(&body, FAILURES) >= Some(1), "{body}");
    // The followers behind the read models wait for them; they are not stalled.
    assert_eq!(
        metric(
            &body,
            r#"extranet_projector_stalled{projection="notifier"}"#
        ),
        Some(0),
        "{body}"
    );

    // Nobody can be sure now who the session belongs to (a dismissal may sit past the
    // stall), so a change asked for now is refused before anything is recorded
    // (`fail_closed.rs` has the change whose own event stalls the read models).
    let during = app
        .graphql(
            &admin,
            CREATE_TASK,
            json!({ "input": { "title": "During the stall" } }),
        )
        .await;
    assert_eq!(error_code(&during), "UNAVAILABLE", "{during}");
    assert_eq!(during["data"], Value::Null, "{during}");

    // Retries go on, but the log names the stall once, not once a retry.
    let deadline = Instant::now() + NOTICE_WITHIN;
    while metric(&app.metrics().await, FAILURES) < Some(3) {
        assert!(Instant::now() < deadline, "the projector stopped retrying");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = app.log();
    let told: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("projection stalled"))
        .collect();
    assert_eq!(told.len(), 1, "one line for the stall:\n{log}");
    assert!(
        told[0].contains(&bad),
        "the line names the event: {}",
        told[0]
    );
    assert!(told[0].contains("TaskRenamed"), "{}", told[0]);
    assert!(!log.contains("projection failed; retrying"), "{log}");

    // The operator removes the event; the read models go on by themselves, and the
    // change refused during the stall was never recorded.
    app.remove_bad_event(&bad).await;
    app.readiness_until("ready again", ready).await;
    let body = app.metrics().await;
    assert_eq!(metric(&body, STALLED), Some(0), "{body}");
    let titles = app.my_task_titles(&admin).await;
    assert!(
        titles.iter().any(|t| t == "Before the bad event"),
        "{titles:?}"
    );
    assert!(
        !titles.iter().any(|t| t == "During the stall"),
        "{titles:?}"
    );
    assert!(app.log().contains("projection recovered"), "{}", app.log());
}

#[tokio::test]
async fn a_stall_is_reported_refused_and_recovered_on_postgres() {
    a_stall_is_reported_refused_and_recovered(Backend::Postgres).await;
}

#[tokio::test]
async fn a_stall_is_reported_refused_and_recovered_on_sqlite() {
    a_stall_is_reported_refused_and_recovered(Backend::Sqlite).await;
}

async fn serve_starts_with_the_event_in_the_log_and_rebuild_names_it(backend: Backend) {
    let smtp = SmtpSink::start();
    let mut app = App::spawn(backend, &smtp).await;
    // Answered once before stopping: `serve` announces its address a moment before it
    // handles SIGTERM, so a stop sent at once could kill it rather than stop it.
    app.readiness_until("ready before stopping", |status, _| status == 200)
        .await;
    app.stop().await;
    let bad = app.write_bad_event().await;

    // Start-up cannot catch up, and serves all the same: alive, not ready from the
    // first request, and saying why once the projector meets the event.
    app.start().await;
    let health = app.get("/healthz", &Auth::Anonymous).await;
    assert_eq!((health.status.as_u16(), health.body.as_str()), (200, "ok"));
    let (status, body) = app.readiness().await;
    assert_eq!(status, 503, "{body}");
    let body = app
        .readiness_until("the stalled event named", stalled_for(&bad))
        .await;
    assert_names_the_event(&body, &bad);
    assert_eq!(body["read_models"]["caught_up_with_start"], false, "{body}");

    // A rebuild meets the same event and says which it is.
    let mut rebuild = app.spawn_command(&["rebuild"], "rebuild");
    let exit = tokio::time::timeout(Duration::from_secs(60), rebuild.wait())
        .await
        .expect("the rebuild ends")
        .expect("wait for the rebuild");
    let said = std::fs::read_to_string(app.data_dir.join("rebuild.log")).unwrap_or_default();
    assert!(!exit.success(), "the rebuild cannot succeed:\n{said}");
    let error = said
        .lines()
        .find(|line| line.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line:\n{said}"));
    for part in [
        &bad,
        "TaskRenamed",
        "global position",
        "missing field `title`",
    ] {
        assert!(error.contains(part), "{part} not in: {error}");
    }

    app.remove_bad_event(&bad).await;
    app.readiness_until("ready once the event is gone", ready)
        .await;
}

#[tokio::test]
async fn serve_starts_with_the_event_in_the_log_and_rebuild_names_it_on_postgres() {
    serve_starts_with_the_event_in_the_log_and_rebuild_names_it(Backend::Postgres).await;
}

#[tokio::test]
async fn serve_starts_with_the_event_in_the_log_and_rebuild_names_it_on_sqlite() {
    serve_starts_with_the_event_in_the_log_and_rebuild_names_it(Backend::Sqlite).await;
}
