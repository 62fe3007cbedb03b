//! An administrator adds people directly: without confirmation the person is in at
//! once and is emailed a password that is stored nowhere; with confirmation they get a
//! link and choose their own. Others may not, and a taken address is refused.
//!
//! The same story runs on both storage backends.

use e2e::{
    data, succeeded, user_error, App, Auth, Backend, ReceivedMail, SmtpSink, SESSION_COOKIE,
};
use serde_json::{json, Value};
use sqlx::{Connection, Row};
use std::time::Duration;

const ADD: &str = "mutation Add($input: AddPersonDirectlyInput!) {
    addPersonDirectly(input: $input) {
        person { id email firstName lastName kind status sponsorId }
        invitation { id personId email status kind position }
        userErrors { field message code }
    }
}";

const NORA: &str = "nora@acme.test";
const CLEO: &str = "cleo@acme.test";
const POSITION: &str = "Senior purchasing buyer";

#[tokio::test]
async fn direct_add_on_sqlite() {
    run_direct_add(Backend::Sqlite).await;
}

#[tokio::test]
async fn direct_add_on_postgres() {
    run_direct_add(Backend::Postgres).await;
}

async fn add(app: &App, who: &Auth, input: Value) -> Value {
    app.graphql(who, ADD, json!({ "input": input })).await
}

/// The password line of the email sent to someone added without confirmation.
fn password_in(mail: &ReceivedMail) -> String {
    let text = mail.body_text();
    text.lines()
        .find_map(|line| line.trim().strip_prefix("Password:"))
        .map(|password| password.trim().to_owned())
        .filter(|password| !password.is_empty())
        .unwrap_or_else(|| panic!("the mail holds a password:\n{text}"))
}

async fn run_direct_add(backend: Backend) {
    let smtp = SmtpSink::start();
    let mut app = App::spawn(backend, &smtp).await;
    let admin = app.login_admin().await;

    let group = data(
        app.graphql(
            &admin,
            "mutation { createWorkgroup(input: {name: \"Purchasing\", extranet: false}) {
                workgroup { id } userErrors { code } } }",
            json!({}),
        )
        .await,
        "/createWorkgroup/workgroup/id",
    );
    let group_task = data(
        app.graphql(
            &admin,
            e2e::CREATE_TASK,
            json!({ "input": { "title": "Order paper", "workgroupId": group } }),
        )
        .await,
        "/createTask/task/id",
    );

    // 1. Without confirmation: an active employee at once, in the group named.
    let added = succeeded(
        add(
            &app,
            &admin,
            json!({
                "email": "Nora@Acme.test", "firstName": "Nora", "lastName": "Newman",
                "position": POSITION, "workgroupId": group,
            }),
        )
        .await,
        "/addPersonDirectly",
    );
    let person = &added["person"];
    assert_eq!(person["email"], NORA, "{added}");
    assert_eq!(person["kind"], "EMPLOYEE", "{added}");
    assert_eq!(person["status"], "ACTIVE", "{added}");
    assert_eq!(person["sponsorId"], app.admin_id.as_str(), "{added}");
    assert_eq!(added["invitation"]["status"], "ACCEPTED", "{added}");
    assert_eq!(added["invitation"]["position"], POSITION, "{added}");
    let nora_id = person["id"].as_str().expect("an id").to_owned();

    // 2. The email tells them how to log in, with a password, and to change it.
    let mail = smtp.wait_for_mail_to(NORA).await;
    let text = mail.body_text();
    assert!(mail.subject().contains("Ada Admin"), "{}", mail.subject());
    assert!(text.contains(POSITION), "{text}");
    assert!(text.contains(&app.base_url), "the login address:\n{text}");
    assert!(text.contains(&app.account_id), "the workspace:\n{text}");
    assert!(text.contains(NORA), "the login:\n{text}");
    assert!(text.contains("change it after you log in"), "{text}");
    let password = password_in(&mail);
    assert!(password.len() >= 10, "{password}");
    assert!(
        mail.link().is_none(),
        "no invitation link to follow:\n{text}"
    );

    // 3. That exact password logs them in, as an employee who sees what employees see.
    let nora = Auth::Bearer(app.login(NORA, &password).await);
    let viewer = data(
        app.graphql(&nora, "{ viewer { id kind status } }", json!({}))
            .await,
        "/viewer",
    );
    assert_eq!(
        viewer,
        json!({ "id": nora_id, "kind": "EMPLOYEE", "status": "ACTIVE" })
    );
    let people = data(
        app.graphql(
            &nora,
            "{ people(first: 50) { edges { node { id } } } }",
            json!({}),
        )
        .await,
        "/people/edges",
    );
    assert!(
        people
            .as_array()
            .expect("edges")
            .iter()
            .any(|e| e["node"]["id"] == app.admin_id.as_str()),
        "an employee sees the other employees: {people}"
    );
    let seen = data(
        app.graphql(
            &nora,
            "query Group($id: ID!) { workgroup(id: $id) { name tasks(first: 10) { edges { node { id } } } } }",
            json!({ "id": group }),
        )
        .await,
        "/workgroup",
    );
    assert_eq!(seen["name"], "Purchasing", "{seen}");
    assert_eq!(
        seen["tasks"]["edges"][0]["node"]["id"], group_task,
        "{seen}"
    );
    app.create_task(&nora, "Compare paper prices", None).await;

    // 4. The password is stored nowhere: not in any table, not in the log file.
    assert_nowhere(&app, backend, &password).await;
    assert!(
        !app.log().contains(&password),
        "the server logged the password"
    );

    // 5. With confirmation: a link, listed as invited until they choose a password.
    let added = succeeded(
        add(
            &app,
            &admin,
            json!({
                "email": CLEO, "firstName": "Cleo", "lastName": "Cruz",
                "position": "Accountant", "confirm": true,
            }),
        )
        .await,
        "/addPersonDirectly",
    );
    assert_eq!(added["person"], Value::Null, "{added}");
    assert_eq!(added["invitation"]["status"], "PENDING", "{added}");
    assert_eq!(added["invitation"]["position"], "Accountant", "{added}");
    let cleo_id = added["invitation"]["personId"]
        .as_str()
        .expect("the person to be")
        .to_owned();
    let invited = data(
        app.graphql(
            &admin,
            "{ invitations(first: 50) { edges { node { email status position } } } }",
            json!({}),
        )
        .await,
        "/invitations/edges",
    );
    assert!(
        invited.as_array().expect("edges").iter().any(|e| e["node"]
            == json!({ "email": CLEO, "status": "PENDING", "position": "Accountant" })),
        "listed as invited: {invited}"
    );
    let mail = smtp.wait_for_mail_to(CLEO).await;
    let text = mail.body_text();
    assert!(text.contains("Accountant"), "{text}");
    assert!(
        !text.contains("Password:"),
        "no password to someone who chooses one:\n{text}"
    );
    let mut page = app
        .open_invitation(&mail.link().unwrap_or_else(|| panic!("a link:\n{text}")))
        .await;
    assert_eq!(page.form.value("first_name"), Some("Cleo"));
    page.form.fill("password", "cleo's own passphrase");
    let accepted = app.submit_invitation(&page.action, &page.form).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert!(
        accepted.cookie(SESSION_COOKIE).is_some(),
        "accepting logs in"
    );
    let cleo = Auth::Bearer(app.login(CLEO, "cleo's own passphrase").await);
    let viewer = data(
        app.graphql(&cleo, "{ viewer { kind status } }", json!({}))
            .await,
        "/viewer",
    );
    assert_eq!(viewer, json!({ "kind": "EMPLOYEE", "status": "ACTIVE" }));

    // 6. Refusals: not an administrator, a taken address, nonsense input.
    let by_employee = add(
        &app,
        &nora,
        json!({ "email": "zed@acme.test", "firstName": "Zed", "lastName": "Z", "position": "Clerk" }),
    )
    .await;
    assert_eq!(
        user_error(&by_employee, "/addPersonDirectly").1,
        "FORBIDDEN",
        "{by_employee}"
    );
    for taken in ["NORA@acme.test", CLEO, app.admin_email.as_str()] {
        let again = add(
            &app,
            &admin,
            json!({ "email": taken, "firstName": "Dup", "lastName": "Licate", "position": "Clerk" }),
        )
        .await;
        let (field, code, _) = user_error(&again, "/addPersonDirectly");
        assert_eq!(
            (field, code.as_str()),
            (vec!["input".to_owned(), "email".to_owned()], "EMAIL_TAKEN"),
            "{again}"
        );
    }
    // A suspended person is not in the directory's current people, but still holds
    // their address: the claim on joining refuses it, and no password is sent.
    succeeded(
        app.graphql(
            &admin,
            "mutation Suspend($input: PersonInput!) {
                suspendPerson(input: $input) { person { status } userErrors { field message code } }
            }",
            json!({ "input": { "personId": cleo_id } }),
        )
        .await,
        "/suspendPerson",
    );
    let suspended = add(
        &app,
        &admin,
        json!({ "email": CLEO, "firstName": "Cleo", "lastName": "Again", "position": "Clerk" }),
    )
    .await;
    assert_eq!(
        user_error(&suspended, "/addPersonDirectly").1,
        "EMAIL_TAKEN",
        "{suspended}"
    );
    for (input, code) in [
        (
            json!({ "email": "not an address", "firstName": "A", "lastName": "B", "position": "C" }),
            "INVALID_EMAIL",
        ),
        (
            json!({ "email": "refused@acme.test", "firstName": " ", "lastName": "B", "position": "C" }),
            "INVALID_NAME",
        ),
        (
            json!({ "email": "refused@acme.test", "firstName": "A", "lastName": "B", "position": " " }),
            "INVALID_POSITION",
        ),
        (
            json!({ "email": "refused@acme.test", "firstName": "A", "lastName": "B", "position": "C\nD" }),
            "INVALID_POSITION",
        ),
    ] {
        let refused = add(&app, &admin, input).await;
        assert_eq!(
            user_error(&refused, "/addPersonDirectly").1,
            code,
            "{refused}"
        );
    }

    // 7. A restart sends nothing again.
    app.restart().await;
    let admin = app.login_admin().await;
    succeeded(
        add(
            &app,
            &admin,
            json!({ "email": "omar@acme.test", "firstName": "Omar", "lastName": "O", "position": "Clerk" }),
        )
        .await,
        "/addPersonDirectly",
    );
    smtp.wait_for_mail_to("omar@acme.test").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.count_to(NORA), 1, "Nora's password is sent once");
    assert_eq!(smtp.count_to(CLEO), 1, "Cleo's link is sent once");
    assert_eq!(smtp.count_to("zed@acme.test"), 0);
    assert_eq!(smtp.count_to("refused@acme.test"), 0);
}

/// Fails if `secret` is anywhere in the database: every row of every table as text on
/// PostgreSQL; the database file and its write-ahead log byte for byte on SQLite, so
/// not even a freed page may keep it. The search must find what is stored (the
/// position), or it proves nothing.
async fn assert_nowhere(app: &App, backend: Backend, secret: &str) {
    let found = |needle: &str, haystack: &[u8]| {
        haystack
            .windows(needle.len())
            .any(|window| window == needle.as_bytes())
    };
    match backend {
        Backend::Postgres => {
            let mut db = sqlx::PgConnection::connect(app.database_url())
                .await
                .expect("connect to the test database");
            let tables: Vec<String> = sqlx::query(
                "SELECT table_schema || '.' || quote_ident(table_name) AS name
                   FROM information_schema.tables
                  WHERE table_type = 'BASE TABLE'
                    AND table_schema NOT IN ('pg_catalog', 'information_schema')",
            )
            .fetch_all(&mut db)
            .await
            .expect("list the tables")
            .iter()
            .map(|row| row.get("name"))
            .collect();
            assert!(tables.iter().any(|t| t.ends_with(".outbox")), "{tables:?}");
            let mut dump = Vec::new();
            for table in &tables {
                for row in sqlx::query(&format!("SELECT CAST(t AS text) AS row FROM {table} t"))
                    .fetch_all(&mut db)
                    .await
                    .unwrap_or_else(|error| panic!("read {table}: {error}"))
                {
                    let text: String = row.get("row");
                    assert!(!text.contains(secret), "{table} holds the password: {text}");
                    dump.extend_from_slice(text.as_bytes());
                }
            }
            assert!(found(POSITION, &dump), "the search finds what is stored");
        }
        Backend::Sqlite => {
            let file = app
                .database_url()
                .trim_start_matches("sqlite://")
                .to_owned();
            let mut bytes = Vec::new();
            for path in [file.clone(), format!("{file}-wal")] {
                if let Ok(content) = std::fs::read(&path) {
                    assert!(!found(secret, &content), "{path} holds the password");
                    bytes.extend(content);
                }
            }
            assert!(found(POSITION, &bytes), "the search finds what is stored");
        }
    }
}
