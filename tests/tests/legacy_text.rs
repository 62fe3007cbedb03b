//! Text stored before the text rules (docs/domain.md, "Text") may hold a NUL, which
//! PostgreSQL cannot write into a read model's text column. Such events are already in
//! the logs of deployments, so they are written here straight into the events table,
//! as an older version of the service would have stored them, and the service must
//! start, apply them, and read their text without the NUL (`domain/src/upcast.rs`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use e2e::{data, App, Auth, Backend, SmtpSink};
use serde_json::{json, Value};
use sqlx::Connection;

/// The uuid inside one of the API's ids (`base64url("<Kind>:<uuid>")`).
fn uuid_of(api_id: &str) -> String {
    let decoded = URL_SAFE_NO_PAD
        .decode(api_id)
        .expect("an API id is base64url");
    let text = String::from_utf8(decoded).expect("an API id decodes to text");
    let (_, uuid) = text.split_once(':').expect("an API id is <Kind>:<uuid>");
    uuid.to_owned()
}

fn api_id(kind: &str, uuid: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{uuid}"))
}

/// One event row as postgres-es and sqlite-es write it.
struct LegacyEvent {
    aggregate_type: &'static str,
    aggregate_id: String,
    event_type: &'static str,
    event_version: &'static str,
    /// The payload's JSON text, `\u0000` escapes and all.
    payload: String,
    metadata: String,
}

async fn insert(app: &App, events: &[LegacyEvent]) {
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(app.database_url())
        .await
        .expect("connect to the test database");
    // PostgreSQL's payload column is `json` (which takes a \u0000 escape); SQLite's is text.
    let json = if app.postgres().is_some() {
        "::json"
    } else {
        ""
    };
    for e in events {
        sqlx::query(&format!(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                                 event_version, payload, metadata)
             VALUES ($1, $2, 1, $3, $4, $5{json}, $6{json})"
        ))
        .bind(e.aggregate_type)
        .bind(&e.aggregate_id)
        .bind(e.event_type)
        .bind(e.event_version)
        .bind(&e.payload)
        .bind(&e.metadata)
        .execute(&mut connection)
        .await
        .expect("insert an event as an older version stored it");
    }
}

const TASK: &str = "query($id: ID!) { task(id: $id) { title description } }";
const GROUP: &str = "query($id: ID!) { workgroup(id: $id) { name } }";

/// The task's and the workgroup's text as the API reads them.
async fn read(app: &App, admin: &Auth, task: &str, group: &str) -> (Value, Value) {
    let task = data(
        app.graphql(admin, TASK, json!({ "id": task })).await,
        "/task",
    );
    let group = data(
        app.graphql(admin, GROUP, json!({ "id": group })).await,
        "/workgroup",
    );
    (task, group)
}

/// `/readyz` once it answers 200: `serve` listens before its read models have caught
/// up with the log.
/// Ready, with the read models at the end of the log: an event a worker writes just
/// after the start (the reactor's follow-ups, now taken from memory at once) may still
/// be on its way when `/readyz` first says ready. A projector stuck on a legacy event
/// never gets there, and the wait fails.
async fn ready(app: &App) -> Value {
    app.readiness_until(
        "ready with the read models at the end of the log",
        |status, body| status == 200 && body["read_models"]["lag_events"] == 0,
    )
    .await
}

async fn legacy_text_with_nul_is_applied_without_it(backend: Backend) {
    let smtp = SmtpSink::start();
    let mut app = App::spawn(backend, &smtp).await;
    let account = app.account_in_links.clone();
    let admin = uuid_of(&app.admin_id);
    let (task, group) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let metadata = json!({ "at": "1767225600000", "actor": admin }).to_string();

    // Stopped, so the events are in the log when `serve` starts, as after an upgrade.
    app.stop().await;
    insert(
        &app,
        &[
            LegacyEvent {
                aggregate_type: "task",
                aggregate_id: format!("{account}:{task}"),
                event_type: "TaskCreated",
                event_version: "2",
                payload: format!(
                    r#"{{"TaskCreated": {{"task": "{task}", "title": "Legacy\u0000 catalogue",
                        "description": "Line one\u0000\nLine\u001b two", "creator": "{admin}",
                        "workgroup": null, "deadline": null}}}}"#
                ),
                metadata: metadata.clone(),
            },
            LegacyEvent {
                aggregate_type: "workgroup",
                aggregate_id: format!("{account}:{group}"),
                event_type: "WorkgroupCreated",
                event_version: "1",
                payload: format!(
                    r#"{{"WorkgroupCreated": {{"group": "{group}", "name": "Old\u0000 group",
                        "extranet": false, "owner": "{admin}"}}}}"#
                ),
                metadata,
            },
        ],
    )
    .await;
    app.start().await;

    let body = ready(&app).await;
    assert_eq!(body["read_models"]["lag_events"], 0, "{body}");
    let admin_auth = app.login_admin().await;
    let (task_id, group_id) = (
        api_id("Task", &task.to_string()),
        api_id("Workgroup", &group.to_string()),
    );
    let (task_read, group_read) = read(&app, &admin_auth, &task_id, &group_id).await;
    assert_eq!(task_read["title"], "Legacy catalogue");
    assert_eq!(task_read["description"], "Line one\nLine two");
    assert_eq!(group_read["name"], "Old group");

    // The command side loads the same events: a rename is decided against them.
    let renamed = app
        .graphql(
            &admin_auth,
            "mutation($id: ID!) { renameWorkgroup(input: {workgroupId: $id, name: \"New group\"}) {
                 workgroup { name } userErrors { code } } }",
            json!({ "id": group_id }),
        )
        .await;
    assert_eq!(
        data(renamed, "/renameWorkgroup"),
        json!({ "workgroup": { "name": "New group" }, "userErrors": [] })
    );

    // A rebuild replays them the same way.
    let rebuilt = app.run_command(&["rebuild", "--fresh"]).await;
    assert!(
        rebuilt.status.success(),
        "rebuild: {}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    let (task_read, _) = read(&app, &admin_auth, &task_id, &group_id).await;
    assert_eq!(task_read["title"], "Legacy catalogue");
    ready(&app).await;
}

#[tokio::test]
async fn legacy_text_with_nul_is_applied_without_it_on_postgres() {
    legacy_text_with_nul_is_applied_without_it(Backend::Postgres).await;
}

#[tokio::test]
async fn legacy_text_with_nul_is_applied_without_it_on_sqlite() {
    legacy_text_with_nul_is_applied_without_it(Backend::Sqlite).await;
}
