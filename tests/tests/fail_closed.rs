//! When the service cannot be sure, it refuses and says so: a change the read models
//! did not reach in time is "stored, not yet in force", permission checks answer
//! `UNAVAILABLE` (HTTP 503, `Retry-After`) while what they answer from is stale,
//! `/readyz` and `/metrics` say why, a background worker that dies takes the process
//! down with the reason, two processes never both react to one batch, and a
//! transaction left open on PostgreSQL makes `serve` listen, not ready, instead of
//! hanging.
//!
//! Fail points used (switched on through `FAILPOINTS` in the binary's environment):
//! - `read_models.slow=return(<event type>:<ms>)`: the read-model projector waits
//!   that long before applying a batch holding such an event;
//! - `read_models.fail=return(<event type>)`: the read-model projector cannot apply
//!   an event of that type;
//! - `permission_index.apply=return`: the permission index cannot apply any event;
//! - `scheduler.tick=panic(<message>)`: the scheduler panics at its first run;
//! - `reactor.slow=return(<ms>)`: the reactor waits that long after claiming a batch.

use e2e::socket::{next, subscribe};
use e2e::{
    data, error_code, graphql_error, metric, App, Auth, Backend, SmtpSink, CREATE_TASK,
    NOTICE_WITHIN,
};
use serde_json::{json, Value};
use sqlx::{Connection, Executor};
use std::time::{Duration, Instant};

const TASK: &str = "query($id: ID!) { task(id: $id) { id title } }";
const DISMISS: &str = "mutation($input: PersonInput!) {
    dismissPerson(input: $input) { person { status } userErrors { code message } }
}";

fn not_ready_for(reason: &'static str) -> impl Fn(u16, &Value) -> bool {
    move |status, body| {
        status == 503
            && body["not_ready"]
                .as_array()
                .is_some_and(|reasons| reasons.contains(&json!(reason)))
    }
}

fn ready(status: u16, _body: &Value) -> bool {
    status == 200
}

/// A GraphQL request whose whole HTTP answer the test reads: a refusal is a 503.
async fn graphql_http(
    app: &App,
    auth: &Auth,
    query: &str,
    variables: Value,
) -> (u16, Option<String>, Value) {
    let response = app
        .post_json(
            "/graphql",
            &json!({ "query": query, "variables": variables }),
            auth,
        )
        .await;
    let retry_after = response
        .headers
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = serde_json::from_str(&response.body)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {}", response.body));
    (response.status.as_u16(), retry_after, body)
}

/// A refusal as a client meets it: 503, `Retry-After`, code `UNAVAILABLE`, no data.
fn assert_unavailable(answer: &(u16, Option<String>, Value)) {
    let (status, retry_after, body) = answer;
    assert_eq!(*status, 503, "{body}");
    assert!(
        retry_after
            .as_deref()
            .is_some_and(|s| s.parse::<u64>().is_ok()),
        "Retry-After in seconds: {retry_after:?}"
    );
    assert_eq!(error_code(body), "UNAVAILABLE", "{body}");
    let (_, message) = graphql_error(body).expect("an error");
    assert!(message.to_lowercase().contains("try again"), "{message}");
    assert_eq!(body["data"]["task"], Value::Null, "{body}");
}

// ---- a change not in force in time; checks refused while the read models are behind

async fn a_late_change_is_not_called_done_and_checks_wait_for_it(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = App::spawn_with_settings(
        backend,
        &smtp,
        &[
            // Short enough for a test, long enough for a busy machine's setup steps.
            ("EXTRANET_COMMAND_WAIT_MS", "2000"),
            ("EXTRANET_MAX_READ_MODEL_LAG_MS", "2000"),
            (
                "FAILPOINTS",
                "read_models.slow=return(PersonDismissed:10000)",
            ),
        ],
    )
    .await;
    let admin = app.login_admin().await;
    let task = app.create_task(&admin, "Shared with a guest", None).await;
    let (guest, person) = app
        .guest_joins(&smtp, &admin, &task, "gus@client.test", "guest password 1")
        .await;
    let seen = app.graphql(&guest, TASK, json!({ "id": task })).await;
    assert_eq!(data(seen, "/task")["id"], task.as_str());
    let token = match &guest {
        Auth::Session(token) | Auth::Bearer(token) => token.clone(),
        Auth::Anonymous => panic!("the guest has a session"),
    };
    let mut following = subscribe(
        &app,
        &token,
        "subscription($id: ID!) { taskChanged(taskId: $id) { id title } }",
        json!({ "id": task }),
    )
    .await;

    // The dismissal is stored, but the read models take 10 s to reach it: not success.
    let dismissed = app
        .graphql(&admin, DISMISS, json!({ "input": { "personId": person } }))
        .await;
    assert_eq!(error_code(&dismissed), "NOT_YET_IN_FORCE", "{dismissed}");
    let (_, message) = graphql_error(&dismissed).expect("an error");
    assert!(message.contains("recorded"), "{message}");
    assert!(message.contains("catches up"), "{message}");
    // The service knows it is behind that change: no check is answered from before
    // it, not even the guest's own.
    assert_unavailable(&graphql_http(&app, &guest, TASK, json!({ "id": task })).await);
    // Nor is their session read: `viewer` asks no permission check, and would show the
    // dismissed guest as logged in from the people table the dismissal has not reached.
    let me = graphql_http(&app, &guest, "{ viewer { id } }", json!({})).await;
    assert_unavailable(&me);
    assert_eq!(me.2["data"], Value::Null, "{}", me.2);
    // A subscription's checks are refused alike: the stream ends saying why (follow
    // again later), not "not found" and not with an update judged from before.
    let ended = next(&mut following).await;
    assert_eq!(ended["type"], "next", "{ended}");
    assert_eq!(
        ended["payload"]["errors"][0]["extensions"]["code"], "UNAVAILABLE",
        "{ended}"
    );
    let complete = next(&mut following).await;
    assert_eq!(complete["type"], "complete", "{complete}");

    // Past the allowed lag the monitor measures it too: not ready, saying why.
    let behind = not_ready_for("read_models_behind");
    let measured = |status, body: &Value| {
        behind(status, body) && body["read_models_lag_seconds"].as_f64() > Some(2.0)
    };
    let body = app
        .readiness_until("measured behind the log", measured)
        .await;
    assert_eq!(body["permissions"], "read_models_behind", "{body}");
    let numbers = app.metrics().await;
    assert_eq!(
        metric(
            &numbers,
            r#"extranet_permissions_unavailable{reason="read_models_behind"}"#
        ),
        Some(1),
        "{numbers}"
    );
    assert_unavailable(&graphql_http(&app, &guest, TASK, json!({ "id": task })).await);
    assert_unavailable(&graphql_http(&app, &admin, TASK, json!({ "id": task })).await);

    // Once the read models reach it, the dismissal is in force and all is well again.
    app.readiness_until("caught up", ready).await;
    let refused = app.graphql(&guest, TASK, json!({ "id": task })).await;
    assert_eq!(error_code(&refused), "UNAUTHENTICATED", "{refused}");
    let seen = app.graphql(&admin, TASK, json!({ "id": task })).await;
    assert_eq!(data(seen, "/task")["id"], task.as_str());
    let numbers = app.metrics().await;
    assert_eq!(
        metric(
            &numbers,
            r#"extranet_permissions_unavailable{reason="read_models_behind"}"#
        ),
        Some(0),
        "{numbers}"
    );
    assert!(
        app.log().contains("read models behind the log"),
        "{}",
        app.log()
    );
}

#[tokio::test]
async fn a_late_change_is_not_called_done_and_checks_wait_for_it_on_postgres() {
    let _shared = CLUSTER.read().await;
    a_late_change_is_not_called_done_and_checks_wait_for_it(Backend::Postgres).await;
}

#[tokio::test]
async fn a_late_change_is_not_called_done_and_checks_wait_for_it_on_sqlite() {
    a_late_change_is_not_called_done_and_checks_wait_for_it(Backend::Sqlite).await;
}

// ---- a change whose own event stalls the read models

async fn a_change_the_read_models_cannot_take_is_recorded_not_shown(backend: Backend) {
    let smtp = SmtpSink::start();
    let mut app = App::spawn_with_settings(
        backend,
        &smtp,
        &[("FAILPOINTS", "read_models.fail=return(TaskCreated)")],
    )
    .await;
    let admin = app.login_admin().await;
    let made = app
        .graphql(
            &admin,
            CREATE_TASK,
            json!({ "input": { "title": "Made as the read models stall" } }),
        )
        .await;
    // Stored, and said so at once, rather than waiting out the command wait or
    // answering from the state before it.
    assert_eq!(error_code(&made), "READ_MODELS_STALLED", "{made}");
    let (_, message) = graphql_error(&made).expect("an error");
    assert!(message.contains("recorded"), "{message}");
    assert_eq!(made["data"], Value::Null, "{made}");
    // From now on nobody's session is read: the next change is refused unrecorded.
    let next = graphql_http(
        &app,
        &admin,
        CREATE_TASK,
        json!({ "input": { "title": "Asked during the stall" } }),
    )
    .await;
    assert_eq!(next.0, 503, "{}", next.2);
    assert_eq!(error_code(&next.2), "UNAVAILABLE", "{}", next.2);

    // Mended (the fail point off) and restarted: the recorded change is shown, the
    // refused one was never made.
    app.restart_with_settings(&[("FAILPOINTS", "read_models.fail=off")])
        .await;
    app.readiness_until("ready once mended", ready).await;
    let titles = app.my_task_titles(&admin).await;
    assert_eq!(titles, ["Made as the read models stall"]);
}

#[tokio::test]
async fn a_change_the_read_models_cannot_take_is_recorded_not_shown_on_postgres() {
    a_change_the_read_models_cannot_take_is_recorded_not_shown(Backend::Postgres).await;
}

#[tokio::test]
async fn a_change_the_read_models_cannot_take_is_recorded_not_shown_on_sqlite() {
    a_change_the_read_models_cannot_take_is_recorded_not_shown(Backend::Sqlite).await;
}

// ---- the permission index cannot apply an event

async fn an_index_that_cannot_apply_an_event_refuses_until_mended(backend: Backend) {
    let smtp = SmtpSink::start();
    let mut app = App::spawn_with_settings(
        backend,
        &smtp,
        &[("FAILPOINTS", "permission_index.apply=return(TaskCreated)")],
    )
    .await;
    let admin = app.login_admin().await;
    // Stored and in the read models; the index cannot take it in.
    let task = app.create_task(&admin, "Past the index", None).await;

    assert_unavailable(&graphql_http(&app, &admin, TASK, json!({ "id": task })).await);
    let body = app
        .readiness_until("the index stalled", not_ready_for("permission_index"))
        .await;
    assert_eq!(body["permissions"], "permission_index", "{body}");
    let stalled = body["stalled"].as_array().expect("a list of stalls");
    assert!(
        stalled
            .iter()
            .any(|stall| stall["follower"] == "permission_index" && stall["event"].is_object()),
        "the index's stall names its event: {body}"
    );
    let numbers = app.metrics().await;
    assert_eq!(
        metric(
            &numbers,
            r#"extranet_projector_stalled{projection="permission_index"}"#
        ),
        Some(1),
        "{numbers}"
    );
    assert_eq!(
        metric(
            &numbers,
            r#"extranet_permissions_unavailable{reason="permission_index"}"#
        ),
        Some(1),
        "{numbers}"
    );
    // Asked again, it is refused again: the index did not step past the event.
    assert_unavailable(&graphql_http(&app, &admin, TASK, json!({ "id": task })).await);

    // The fix (here: the fail point off) and a restart: the index holds the task.
    app.restart_with_settings(&[("FAILPOINTS", "permission_index.apply=off")])
        .await;
    app.readiness_until("ready once mended", ready).await;
    let seen = app.graphql(&admin, TASK, json!({ "id": task })).await;
    assert_eq!(data(seen, "/task")["title"], "Past the index");
}

#[tokio::test]
async fn an_index_that_cannot_apply_an_event_refuses_until_mended_on_postgres() {
    let _shared = CLUSTER.read().await;
    an_index_that_cannot_apply_an_event_refuses_until_mended(Backend::Postgres).await;
}

#[tokio::test]
async fn an_index_that_cannot_apply_an_event_refuses_until_mended_on_sqlite() {
    an_index_that_cannot_apply_an_event_refuses_until_mended(Backend::Sqlite).await;
}

// ---- a background worker that dies takes the process with it

async fn a_worker_that_panics_ends_the_process_saying_why(backend: Backend) {
    let smtp = SmtpSink::start();
    let mut app = App::spawn_with_settings(
        backend,
        &smtp,
        &[(
            "FAILPOINTS",
            "scheduler.tick=panic(the scheduler broke on purpose)",
        )],
    )
    .await;
    let exit = app
        .exited_within(NOTICE_WITHIN)
        .await
        .unwrap_or_else(|| panic!("serve went on without its scheduler:\n{}", app.log()));
    assert!(!exit.success(), "exited with {exit}:\n{}", app.log());
    let log = app.log();
    let line = log
        .lines()
        .find(|line| line.contains("background worker scheduler"))
        .unwrap_or_else(|| panic!("no line names the worker:\n{log}"));
    assert!(line.contains("the scheduler broke on purpose"), "{line}");
}

#[tokio::test]
async fn a_worker_that_panics_ends_the_process_saying_why_on_postgres() {
    let _shared = CLUSTER.read().await;
    a_worker_that_panics_ends_the_process_saying_why(Backend::Postgres).await;
}

#[tokio::test]
async fn a_worker_that_panics_ends_the_process_saying_why_on_sqlite() {
    a_worker_that_panics_ends_the_process_saying_why(Backend::Sqlite).await;
}

// ---- two processes on one PostgreSQL never both react to one batch

const REACTED: &str = "extranet_reactor_reacted_events_total";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_never_react_to_the_same_events() {
    let _shared = CLUSTER.read().await;
    let smtp = SmtpSink::start();
    // Each batch is held a moment after it is claimed, so both processes reach for
    // the same events while the other is busy with them.
    let app = App::spawn_with_settings(
        Backend::Postgres,
        &smtp,
        &[("FAILPOINTS", "reactor.slow=return(300)")],
    )
    .await;
    let peer = app.peer().await;
    let admin = app.login_admin().await;
    for round in 0..6 {
        app.create_task(&admin, &format!("Round {round}"), None)
            .await;
    }
    let events = {
        let mut connection = sqlx::PgConnection::connect(app.database_url())
            .await
            .expect("connect");
        let deadline = Instant::now() + NOTICE_WITHIN;
        loop {
            let caught_up: bool = sqlx::query_scalar(
                "SELECT EXISTS (
                     SELECT 1 FROM checkpoints c,
                            (SELECT tx_id::text::bigint AS tx, global_position FROM events
                              ORDER BY tx_id DESC, global_position DESC LIMIT 1) head
                      WHERE c.name = 'reactor' AND c.tx = head.tx
                        AND c.position = head.global_position)",
            )
            .fetch_one(&mut connection)
            .await
            .expect("the reactor's checkpoint");
            if caught_up {
                break;
            }
            assert!(Instant::now() < deadline, "the reactors did not catch up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&mut connection)
            .await
            .expect("count the log");
        count
    };
    let here = metric(&app.metrics().await, REACTED).expect("the app's count");
    let there = metric(&peer.get("/metrics").await.body, REACTED).expect("the peer's count");
    assert_eq!(
        here + there,
        events,
        "every event reacted to once across both processes ({here} here, {there} there)"
    );
}

// ---- a transaction left open on PostgreSQL holds the log

/// The open transaction below holds the log of every database on the cluster, so the
/// other PostgreSQL tests of this file do not run while it is open (they take this
/// lock to read, it to write). Tests of other files may still meet it: it is kept
/// open for a few seconds only, under their default limits.
static CLUSTER: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

#[tokio::test]
async fn serve_starts_not_ready_while_an_open_transaction_holds_the_log() {
    let _alone = CLUSTER.write().await;
    let smtp = SmtpSink::start();
    let mut app = App::spawn_with_settings(
        Backend::Postgres,
        &smtp,
        &[("EXTRANET_MAX_READ_MODEL_LAG_MS", "1000")],
    )
    .await;
    let admin = app.login_admin().await;
    let before = app
        .create_task(&admin, "Before the open transaction", None)
        .await;
    app.stop().await;

    // Someone's session elsewhere on the cluster: a transaction that wrote, left open.
    let mut forgotten = sqlx::PgConnection::connect(app.database_url())
        .await
        .expect("connect");
    forgotten.execute("BEGIN").await.expect("begin");
    forgotten
        .execute("CREATE TABLE left_open (x int); INSERT INTO left_open VALUES (1)")
        .await
        .expect("write inside the transaction");
    // Committed after it began: no follower may read this until it ends.
    let other = app
        .run_command_with_env(
            &[
                "create-account",
                "--name",
                "Other",
                "--admin-email",
                "olga@other.test",
                "--admin-first-name",
                "Olga",
                "--admin-last-name",
                "Other",
            ],
            &[("EXTRANET_ADMIN_PASSWORD", "olga's password")],
        )
        .await;
    let other_account = String::from_utf8_lossy(&other.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("account ").map(str::to_owned))
        .expect("create-account prints the account");

    // `serve` listens at once, not ready, and says why.
    app.start().await;
    let body = app
        .readiness_until("behind while held", |status, body| {
            not_ready_for("read_models_behind")(status, body)
                && body["log_held_seconds"].as_f64() > Some(0.0)
        })
        .await;
    assert!(
        body["not_ready"]
            .as_array()
            .is_some_and(|reasons| reasons.contains(&json!("read_models"))),
        "not caught up with the log as it was at start: {body}"
    );
    assert!(body["log_held_seconds"].as_f64() > Some(0.0), "{body}");
    app.wait_for_log("the log has been held for", NOTICE_WITHIN)
        .await;
    let numbers = app.metrics().await;
    assert!(
        metric(&numbers, "extranet_log_held_seconds") >= Some(1),
        "{numbers}"
    );
    // Nothing is answered from the stale read models: a session opened before
    // the restart reads no task, and nobody logs in.
    assert_unavailable(&graphql_http(&app, &admin, TASK, json!({ "id": before })).await);
    assert_unavailable(
        &graphql_http(
            &app,
            &Auth::Anonymous,
            "mutation($input: LoginInput!) { login(input: $input) { token } }",
            json!({ "input": { "accountId": other_account, "email": "olga@other.test", "password": "olga's password" } }),
        )
        .await,
    );

    // The session ends its transaction: the log flows, the service is ready, and
    // what was committed meanwhile is there.
    forgotten.execute("COMMIT").await.expect("commit");
    app.readiness_until("ready once the transaction ended", ready)
        .await;
    let login = app
        .graphql(
            &Auth::Anonymous,
            "mutation($input: LoginInput!) { login(input: $input) { token } }",
            json!({ "input": { "accountId": other_account, "email": "olga@other.test", "password": "olga's password" } }),
        )
        .await;
    assert!(data(login, "/login")["token"].is_string());
    assert_eq!(
        metric(&app.metrics().await, "extranet_log_held_seconds"),
        Some(0)
    );
}
