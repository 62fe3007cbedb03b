//! `extranet rebuild` beside a running server: a rebuild killed midway and run again,
//! and a rebuild from scratch, both end with exactly the tables the server built event
//! by event (compared table by table), the server answers throughout, and it goes on
//! projecting new events into the switched tables.

use e2e::{data, App, Auth, Backend, SmtpSink};
use serde_json::json;
use sqlx::{Column, Connection, Row};
use std::time::Duration;

/// Every table the rebuild replaces.
const TABLES: [&str; 10] = [
    "accounts",
    "people",
    "invitations",
    "tasks",
    "task_roles",
    "task_comments",
    "workgroups",
    "workgroup_members",
    "person_history",
    "activity",
];

const TASK: &str = "query($id: ID!) { task(id: $id) { id title } }";

#[tokio::test]
async fn killed_rebuild_resumes_to_the_same_tables_on_sqlite() {
    killed_rebuild_resumes_to_the_same_tables(Backend::Sqlite).await;
}

#[tokio::test]
async fn killed_rebuild_resumes_to_the_same_tables_on_postgres() {
    killed_rebuild_resumes_to_the_same_tables(Backend::Postgres).await;
}

async fn killed_rebuild_resumes_to_the_same_tables(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = App::spawn(backend, &smtp).await;
    let admin = app.login_admin().await;
    let first_task = populate(&app, &admin, &smtp).await;
    let live_before = live_checkpoint(&app, backend).await;

    // Killed midway: frozen as soon as its copy has taken its first batch, checked,
    // then killed outright.
    let mut rebuild = app.spawn_command(&["rebuild", "--batch-size", "1"], "rebuild");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if copy_position(&app, backend).await.unwrap_or(0) > 0 {
            break;
        }
        assert!(
            rebuild.try_wait().expect("poll the rebuild").is_none(),
            "the rebuild ended before it could be stopped midway:\n{}",
            std::fs::read_to_string(app.data_dir.join("rebuild.log")).unwrap_or_default()
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rebuild's copy never moved"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let pid = rebuild.id().expect("the rebuild runs").to_string();
    let stopped = tokio::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .await
        .expect("run kill -STOP");
    assert!(stopped.success());
    let copied = copy_position(&app, backend).await.unwrap_or(0);
    assert!(
        copied < live_before,
        "stopped midway: the copy is at {copied} of {live_before}"
    );
    assert_eq!(
        live_checkpoint(&app, backend).await,
        live_before,
        "nothing was switched before the rebuild finished"
    );
    rebuild.kill().await.expect("kill the rebuild");
    rebuild.wait().await.expect("reap the rebuild");

    // The server never noticed; the log grows while no rebuild runs.
    let answer = app.graphql(&admin, TASK, json!({ "id": first_task })).await;
    assert_eq!(data(answer, "/task")["id"], first_task.as_str());
    app.create_task(&admin, "Written between the two rebuilds", None)
        .await;
    let built_live = dump(&app).await;
    let live_indexes = indexes(&app, backend).await;

    // Run again: it resumes the copy and switches, while the server keeps answering.
    let reads = {
        let (base, admin, task) = (app.base_url.clone(), admin.clone(), first_task.clone());
        tokio::spawn(async move { read_while_rebuilding(base, admin, task).await })
    };
    let resumed = app.run_command(&["rebuild"]).await;
    let printed = String::from_utf8_lossy(&resumed.stdout).to_string();
    assert!(
        printed.contains("resumed an interrupted rebuild") && printed.contains("switched over"),
        "{printed}"
    );
    reads.abort();
    let after_resume = dump(&app).await;
    assert_same_tables(&built_live, &after_resume, "resumed rebuild");

    // From scratch, uninterrupted: the same again.
    let fresh = app.run_command(&["rebuild", "--fresh"]).await;
    let printed = String::from_utf8_lossy(&fresh.stdout).to_string();
    assert!(
        !printed.contains("resumed") && printed.contains("switched over"),
        "{printed}"
    );
    assert_same_tables(&built_live, &dump(&app).await, "fresh rebuild");
    assert_eq!(
        indexes(&app, backend).await,
        live_indexes,
        "the rebuilt tables have the live tables' keys and indexes"
    );
    assert_eq!(copy_position(&app, backend).await, None, "the copy is gone");

    // The server's projector follows the switched tables: a new task shows.
    let after = app
        .create_task(&admin, "Written after the switch", None)
        .await;
    let answer = app.graphql(&admin, TASK, json!({ "id": after })).await;
    assert_eq!(
        data(answer, "/task")["title"],
        "Written after the switch",
        "{}",
        app.log()
    );
}

/// A workspace with tasks, guests invited to them, two who accepted, and changes.
async fn populate(app: &App, admin: &Auth, smtp: &SmtpSink) -> String {
    let mut tasks = Vec::new();
    for n in 0..30 {
        tasks.push(
            app.create_task(admin, &format!("Task {n}"), Some("Details"))
                .await,
        );
    }
    for (n, task) in tasks.iter().take(8).enumerate() {
        app.invite_guest(
            admin,
            task,
            &format!("guest{n}@client.test"),
            "Gina",
            &format!("Guest{n}"),
            "OBSERVER",
        )
        .await;
    }
    for n in 0..2 {
        let mail = smtp
            .wait_for_mail_to(&format!("guest{n}@client.test"))
            .await;
        let accepted = app.accept_invitation(&mail, "guest password 1234").await;
        assert_eq!(accepted.status.as_u16(), 200, "{}", accepted.body);
    }
    for task in tasks.iter().skip(10).take(10) {
        app.update_task(admin, task, "Renamed", Some("IN_PROGRESS"))
            .await;
    }
    tasks.swap_remove(0)
}

/// Asks for a task over and over until aborted; every answer must be right.
async fn read_while_rebuilding(base_url: String, admin: Auth, task: String) {
    let client = reqwest::Client::new();
    let Auth::Bearer(token) = admin else {
        panic!("the administrator logs in with a bearer token")
    };
    loop {
        let answer: serde_json::Value = client
            .post(format!("{base_url}/graphql"))
            .bearer_auth(&token)
            .json(&json!({ "query": TASK, "variables": { "id": task } }))
            .send()
            .await
            .expect("the server answers during the rebuild")
            .json()
            .await
            .expect("a JSON answer");
        assert_eq!(answer["data"]["task"]["id"], task.as_str(), "{answer}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn connect(url: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(url)
        .await
        .unwrap_or_else(|error| panic!("connect to {url}: {error}"))
}

/// Where the live read models' checkpoint is.
async fn live_checkpoint(app: &App, _backend: Backend) -> i64 {
    let mut db = connect(app.database_url()).await;
    sqlx::query("SELECT position FROM checkpoints WHERE name = 'read_models'")
        .fetch_one(&mut db)
        .await
        .expect("the read models have a checkpoint")
        .get("position")
}

/// Where the rebuild's copy of the read models is, if a copy exists.
async fn copy_position(app: &App, backend: Backend) -> Option<i64> {
    let (url, table) = match backend {
        Backend::Postgres => (
            app.database_url().to_owned(),
            "extranet_rebuild.checkpoints",
        ),
        Backend::Sqlite => {
            let file = format!(
                "{}-extranet_rebuild",
                app.database_url().trim_start_matches("sqlite://")
            );
            if !std::path::Path::new(&file).exists() {
                return None;
            }
            (format!("sqlite://{file}?mode=ro"), "checkpoints")
        }
    };
    let mut db = sqlx::AnyConnection::connect(&url).await.ok()?;
    let row = sqlx::query(&format!(
        "SELECT position FROM {table} WHERE name = 'read_models'"
    ))
    .fetch_optional(&mut db)
    .await
    .ok()?;
    Some(row.map_or(0, |row| row.get("position")))
}

/// Every key and index of the live database's tables, as the database defines them.
async fn indexes(app: &App, backend: Backend) -> Vec<String> {
    let mut db = connect(app.database_url()).await;
    let sql = match backend {
        Backend::Postgres => {
            "SELECT i.indexdef || ' ' || coalesce(
                        (SELECT c.contype::text FROM pg_constraint c
                          WHERE c.conname = i.indexname
                            AND c.connamespace = to_regnamespace(current_schema())), '-')
                    AS definition
               FROM pg_indexes i WHERE i.schemaname = current_schema() ORDER BY 1"
        }
        Backend::Sqlite => {
            "SELECT type || ' ' || name || ' ' || coalesce(sql, '') AS definition
               FROM sqlite_master WHERE type = 'index' ORDER BY 1"
        }
    };
    let found: Vec<String> = sqlx::query(sql)
        .fetch_all(&mut db)
        .await
        .expect("list the indexes")
        .iter()
        .map(|row| row.get("definition"))
        .collect();
    assert!(
        found.iter().any(|d| d.contains("person_history")),
        "{found:?}"
    );
    found
}

/// Every row of every rebuilt table, as sorted text, once the server's history and
/// activity (which follow the read models, unwaited for by mutations) have caught up.
async fn dump(app: &App) -> Vec<(String, Vec<String>)> {
    let mut db = connect(app.database_url()).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let positions: Vec<(i64, i64)> = sqlx::query(
            "SELECT tx, position FROM checkpoints
              WHERE name IN ('read_models', 'history', 'activity')",
        )
        .fetch_all(&mut db)
        .await
        .expect("read the checkpoints")
        .iter()
        .map(|row| (row.get("tx"), row.get("position")))
        .collect();
        if positions.len() == 3 && positions.iter().all(|p| *p == positions[0]) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the projections never met: {positions:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut tables = Vec::new();
    for table in TABLES {
        let rows = sqlx::query(&format!("SELECT * FROM {table}"))
            .fetch_all(&mut db)
            .await
            .unwrap_or_else(|error| panic!("read {table}: {error}"));
        let mut lines: Vec<String> = rows
            .iter()
            .map(|row| {
                row.columns()
                    .iter()
                    .map(|column| format!("{}={}", column.name(), text(row, column.ordinal())))
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .collect();
        lines.sort();
        tables.push((table.to_owned(), lines));
    }
    tables
}

fn text(row: &sqlx::any::AnyRow, at: usize) -> String {
    if let Ok(value) = row.try_get::<Option<String>, _>(at) {
        return format!("{value:?}");
    }
    if let Ok(value) = row.try_get::<Option<i64>, _>(at) {
        return format!("{value:?}");
    }
    if let Ok(value) = row.try_get::<Option<i32>, _>(at) {
        return format!("{value:?}");
    }
    if let Ok(value) = row.try_get::<Option<i16>, _>(at) {
        return format!("{value:?}");
    }
    panic!("column {at} has a type this comparison does not read")
}

fn assert_same_tables(
    expected: &[(String, Vec<String>)],
    actual: &[(String, Vec<String>)],
    what: &str,
) {
    // Tables the workspace above leaves empty: it has no groups and no comments.
    let may_be_empty = [
        "task_comments",
        "workgroups",
        "workgroup_members",
        "activity",
    ];
    for ((table, want), (_, got)) in expected.iter().zip(actual) {
        assert!(
            !want.is_empty() || may_be_empty.contains(&table.as_str()),
            "the workspace fills {table}"
        );
        assert_eq!(want, got, "{what}: table {table} differs");
    }
}
