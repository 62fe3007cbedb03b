//! Two server processes of one deployment, sharing a PostgreSQL database: a session
//! opened on one works on the other, changes made through either are seen through
//! both, and every email is sent once although both run a notifier. The embedded
//! SQLite store serves one process: a second server on its file is refused.

use e2e::{
    error_code, metric, App, Auth, Backend, Peer, SmtpSink, CREATE_TASK, INVITE_GUEST, UPDATE_TASK,
};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_deployment() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Postgres, &smtp).await;
    let peer = app.peer().await;
    let admin = app.login_admin().await;

    // The session is in the database: the other process knows it.
    let viewer = peer.graphql(&admin, "{ viewer { id } }", json!({})).await;
    assert_eq!(
        viewer["data"]["viewer"]["id"],
        app.admin_id.as_str(),
        "{viewer}"
    );

    // A task made through the peer, guests invited through both.
    let task = create_task_through(&peer, &admin, "Shared work").await;
    let guests: Vec<String> = (0..10).map(|n| format!("guest{n}@client.test")).collect();
    for (n, email) in guests.iter().enumerate() {
        let input = json!({ "input": {
            "taskId": task, "email": email, "firstName": "Guest", "lastName": format!("N{n}"), "role": "OBSERVER",
        }});
        // The first process sees the task the peer has just made: the peer announced
        // its progress, and every check here first catches up to what it has heard.
        let answer: Value = if n % 2 == 0 {
            app.graphql(&admin, INVITE_GUEST, input).await
        } else {
            peer.graphql(&admin, INVITE_GUEST, input).await
        };
        assert!(
            answer["data"]["inviteGuestToTask"]["invitation"]["id"].is_string(),
            "{answer}"
        );
    }

    for email in &guests {
        smtp.wait_for_mail_to(email).await;
    }
    // Both notifiers had the chance to send each message again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Each guest gets their invitation, then one email for every guest added to the
    // task after them (a guest hears of every change to their task): exactly that
    // many, whichever process decided and sent them.
    for (n, email) in guests.iter().enumerate() {
        let expected = 1 + (guests.len() - 1 - n);
        assert_eq!(
            smtp.count_to(email),
            expected,
            "{email}: invitation once, each later change once"
        );
    }
    let ids: Vec<String> = smtp.all().iter().filter_map(|m| m.message_id()).collect();
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), distinct.len(), "no message delivered twice");
}

/// Creates a task through `peer` and returns its id.
async fn create_task_through(peer: &Peer, admin: &Auth, title: &str) -> String {
    let created = peer
        .graphql(
            admin,
            CREATE_TASK,
            json!({ "input": { "title": title, "description": "" } }),
        )
        .await;
    created["data"]["createTask"]["task"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("task id: {created}"))
        .to_owned()
}

/// Joins `email` as a guest of `task` and returns their browser session.
async fn guest_session(
    app: &App,
    smtp: &SmtpSink,
    admin: &Auth,
    task: &str,
    email: &str,
) -> (Auth, String) {
    app.guest_joins(smtp, admin, task, email, "a guest's passphrase")
        .await
}

const TASK: &str = "query($id: ID!) { task(id: $id) { id } }";
const GROUP: &str = "query($id: ID!) { workgroup(id: $id) { id } }";
const ADMINISTER: &str = "mutation($input: PersonInput!) {
    dismissPerson(input: $input) { person { status } userErrors { code message } }
}";

/// A dismissal, a suspension or a removal from a group made through one process is in
/// force for the very next request to the other: no window in which the other's
/// permission index or read models still let the person in.
///
/// The other process learns of it through the shared checkpoint it reads with every
/// session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_through_one_process_holds_on_the_other_at_once() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Postgres, &smtp).await;
    let peer = app.peer().await;
    let admin = app.login_admin().await;
    let task = app.create_task(&admin, "Shared work", None).await;

    for round in 0..3 {
        // Dismissed through the first process: refused at once by the second.
        let (guest, person) = guest_session(
            &app,
            &smtp,
            &admin,
            &task,
            &format!("dismissed{round}@client.test"),
        )
        .await;
        let seen = peer.graphql(&guest, TASK, json!({ "id": task })).await;
        assert_eq!(seen["data"]["task"]["id"], task.as_str(), "{seen}");
        let dismissed = app
            .graphql(
                &admin,
                ADMINISTER,
                json!({ "input": { "personId": person } }),
            )
            .await;
        assert_eq!(
            dismissed["data"]["dismissPerson"]["person"]["status"], "DISMISSED",
            "{dismissed}"
        );
        let refused = peer.graphql(&guest, TASK, json!({ "id": task })).await;
        assert_eq!(
            error_code(&refused),
            "UNAUTHENTICATED",
            "round {round}: a dismissed guest's session still works on the other process: {refused}"
        );

        // Logged out through the first process: refused at once by the second.
        let (guest, _) = guest_session(
            &app,
            &smtp,
            &admin,
            &task,
            &format!("leaving{round}@client.test"),
        )
        .await;
        let seen = peer.graphql(&guest, TASK, json!({ "id": task })).await;
        assert_eq!(seen["data"]["task"]["id"], task.as_str(), "{seen}");
        let logout = app.graphql(&guest, "mutation { logout }", json!({})).await;
        assert_eq!(logout["data"]["logout"], true, "{logout}");
        let refused = peer.graphql(&guest, TASK, json!({ "id": task })).await;
        assert_eq!(
            error_code(&refused),
            "UNAUTHENTICATED",
            "round {round}: a session logged out on one process still works on the other: {refused}"
        );

        // Suspended through the second process: refused at once by the first.
        let (guest, person) = guest_session(
            &app,
            &smtp,
            &admin,
            &task,
            &format!("suspended{round}@client.test"),
        )
        .await;
        let suspended = peer
            .graphql(
                &admin,
                "mutation($input: PersonInput!) { suspendPerson(input: $input) { person { status } userErrors { code } } }",
                json!({ "input": { "personId": person } }),
            )
            .await;
        assert_eq!(
            suspended["data"]["suspendPerson"]["person"]["status"], "SUSPENDED_BY_ADMINISTRATOR",
            "{suspended}"
        );
        let refused = app.graphql(&guest, TASK, json!({ "id": task })).await;
        assert_eq!(
            error_code(&refused),
            "UNAUTHENTICATED",
            "round {round}: {refused}"
        );

        // Removed from a group through the first process: the group is gone for them
        // on the second at once. (A guest transferred to employee is a member to remove.)
        let (member, person) = guest_session(
            &app,
            &smtp,
            &admin,
            &task,
            &format!("member{round}@client.test"),
        )
        .await;
        let transferred = app
            .graphql(
                &admin,
                "mutation($input: PersonInput!) { transferToEmployee(input: $input) { person { kind } userErrors { code } } }",
                json!({ "input": { "personId": person } }),
            )
            .await;
        assert_eq!(
            transferred["data"]["transferToEmployee"]["person"]["kind"], "EMPLOYEE",
            "{transferred}"
        );
        let created = app
            .graphql(
                &admin,
                "mutation($input: CreateWorkgroupInput!) { createWorkgroup(input: $input) { workgroup { id } userErrors { code } } }",
                json!({ "input": { "name": format!("Extranet room {round}"), "extranet": true } }),
            )
            .await;
        let group = created["data"]["createWorkgroup"]["workgroup"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("a group is created: {created}"))
            .to_owned();
        // Employees see company groups anyway; an extranet group only as members.
        let add = "mutation($input: AddMemberInput!) { addWorkgroupMember(input: $input) { workgroup { id } userErrors { code message } } }";
        let added = app
            .graphql(
                &admin,
                add,
                json!({ "input": { "workgroupId": group, "personId": person, "role": "MEMBER" } }),
            )
            .await;
        assert!(
            added["data"]["addWorkgroupMember"]["workgroup"]["id"].is_string(),
            "{added}"
        );
        let seen = peer.graphql(&member, GROUP, json!({ "id": group })).await;
        assert_eq!(seen["data"]["workgroup"]["id"], group.as_str(), "{seen}");
        let remove = "mutation($input: RemoveMemberInput!) { removeWorkgroupMember(input: $input) { workgroup { id } userErrors { code message } } }";
        let removed = app
            .graphql(
                &admin,
                remove,
                json!({ "input": { "workgroupId": group, "personId": person } }),
            )
            .await;
        assert!(
            removed["data"]["removeWorkgroupMember"]["workgroup"]["id"].is_string(),
            "{removed}"
        );
        let gone = peer.graphql(&member, GROUP, json!({ "id": group })).await;
        assert_eq!(
            error_code(&gone),
            "NOT_FOUND",
            "round {round}: a removed member still sees the group on the other process: {gone}"
        );
    }
}

/// A second `serve` on the file of a running one exits at once, non-zero, with an
/// error naming the database, the process that serves it and what to do instead; the
/// first goes on serving. The lock goes with the first process, whether it stops or is
/// killed, so a server started after it serves again.
/// The permission index of a process follows the log on its own, through what
/// another process applied as well: after a burst of changes made through the peer,
/// the first process's index reaches the head with no request asking it to, so the
/// next check there answers at once instead of reading the burst first
/// (ARCHITECTURE.md, "Fail closed").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_follows_what_another_process_wrote_without_a_request() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Postgres, &smtp).await;
    let peer = app.peer().await;
    let admin = app.login_admin().await;
    let lag = |numbers: &str, projection: &str| {
        metric(
            numbers,
            &format!(r#"extranet_projector_lag_events{{projection="{projection}"}}"#),
        )
    };
    let index_behind = |numbers: &str| metric(numbers, "extranet_permission_index_behind_events");
    app.metrics_until("the index level with the read models at start", |numbers| {
        lag(numbers, "read_models") == Some(0) && index_behind(numbers) == Some(0)
    })
    .await;

    // Only the peer is asked from here on; the first process serves /metrics alone.
    let task = create_task_through(&peer, &admin, "Busy elsewhere").await;
    for n in 0..30 {
        let renamed = peer
            .graphql(
                &admin,
                UPDATE_TASK,
                json!({ "input": { "taskId": task, "title": format!("Busy elsewhere, take {n}") } }),
            )
            .await;
        assert_eq!(
            renamed["data"]["updateTask"]["task"]["title"],
            format!("Busy elsewhere, take {n}"),
            "{renamed}"
        );
    }
    let numbers = app
        .metrics_until("the index following the peer's changes", |numbers| {
            lag(numbers, "read_models") == Some(0) && index_behind(numbers) == Some(0)
        })
        .await;
    assert_eq!(
        metric(
            &numbers,
            r#"extranet_permissions_unavailable{reason="permission_index_behind"}"#
        ),
        Some(0),
        "{numbers}"
    );
    let seen = app.graphql(&admin, TASK_TITLE, json!({ "id": task })).await;
    assert_eq!(
        seen["data"]["task"]["title"], "Busy elsewhere, take 29",
        "{seen}"
    );
}

const TASK_TITLE: &str = "query($id: ID!) { task(id: $id) { title } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_one_sqlite_file_is_refused() {
    let smtp = SmtpSink::start();
    let mut app = App::spawn(Backend::Sqlite, &smtp).await;
    let admin = app.login_admin().await;
    let task = app.create_task(&admin, "Shared work", None).await;

    let second = app.try_command(&["serve"]).await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&second.stdout),
        String::from_utf8_lossy(&second.stderr),
    );
    assert!(!second.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains("listening on"), "{stdout}");
    let file = app.database_url().trim_start_matches("sqlite://");
    for expected in [
        format!("already serving the SQLite database {file}"),
        format!("(process {})", app.pid()),
        format!("{file}-serve.lock"),
        "stop that server first".to_owned(),
        "PostgreSQL".to_owned(),
    ] {
        assert!(stderr.contains(&expected), "no {expected:?} in:\n{stderr}");
    }

    // The first serves as before, reads and changes alike.
    let seen = app.graphql(&admin, TASK, json!({ "id": task })).await;
    assert_eq!(seen["data"]["task"]["id"], task.as_str(), "{seen}");
    let later = app.create_task(&admin, "After the refusal", None).await;

    // Stopped, or killed outright: the next server on the file starts.
    app.restart().await;
    app.crash().await;
    app.start().await;
    let admin = app.login_admin().await;
    let seen = app.graphql(&admin, TASK, json!({ "id": later })).await;
    assert_eq!(seen["data"]["task"]["id"], later.as_str(), "{seen}");
}
