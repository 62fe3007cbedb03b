//! Subscriptions over WebSocket (graphql-transport-ws): a guest follows their task and
//! hears each change, until they lose access; an employee follows the activity
//! stream of the company's groups.

use e2e::socket::{next, subscribe};
use e2e::{data, App, Auth, Backend, SmtpSink, SESSION_COOKIE};
use serde_json::json;

#[tokio::test]
async fn a_guest_hears_changes_to_their_task_until_access_ends() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Sqlite, &smtp).await;
    let admin = app.login_admin().await;
    let task = app.create_task(&admin, "Print run", None).await;
    let invited = app
        .invite_guest(&admin, &task, "gus@client.test", "Gus", "Guest", "OBSERVER")
        .await;
    let gus_id = invited["invitation"]["personId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mail = smtp.wait_for_mail_to("gus@client.test").await;
    let accepted = app.accept_invitation(&mail, "a guest's passphrase").await;
    let cookie = accepted
        .cookie(SESSION_COOKIE)
        .expect("the guest is logged in");

    let mut socket = subscribe(
        &app,
        &cookie,
        "subscription($id: ID!) { taskChanged(taskId: $id) { id title } }",
        json!({ "id": task }),
    )
    .await;
    app.update_task(&admin, &task, "Print run, second edition", None)
        .await;
    let heard = next(&mut socket).await;
    assert_eq!(heard["type"], "next", "{heard}");
    assert_eq!(
        heard["payload"]["data"]["taskChanged"]["title"], "Print run, second edition",
        "{heard}"
    );

    // Taken off the task: the stream ends with "not found", and nothing more comes.
    let unassign = "mutation($input: UnassignFromTaskInput!) { unassignFromTask(input: $input) { task { id } } }";
    app.graphql(
        &admin,
        unassign,
        json!({ "input": { "taskId": task, "personId": gus_id } }),
    )
    .await;
    let ended = next(&mut socket).await;
    assert_eq!(ended["type"], "next", "{ended}");
    assert_eq!(
        ended["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{ended}"
    );
    let complete = next(&mut socket).await;
    assert_eq!(complete["type"], "complete", "{complete}");
    app.update_task(&admin, &task, "Third edition", None).await;

    // Someone without a session cannot follow anything.
    let mut anonymous = subscribe(
        &app,
        "no such token",
        "subscription($id: ID!) { taskChanged(taskId: $id) { id } }",
        json!({ "id": task }),
    )
    .await;
    let refused = next(&mut anonymous).await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{refused}"
    );
}

#[tokio::test]
async fn an_employee_hears_the_activity_of_company_groups() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Postgres, &smtp).await;
    let admin = app.login_admin().await;
    let Auth::Bearer(token) = admin.clone() else {
        panic!("the administrator has a bearer token")
    };
    let create = "mutation($input: CreateWorkgroupInput!) { createWorkgroup(input: $input) { workgroup { id } } }";
    let made = app
        .graphql(
            &admin,
            create,
            json!({ "input": { "name": "Design", "extranet": false } }),
        )
        .await;
    let group = data(made, "/createWorkgroup")["workgroup"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut socket = subscribe(
        &app,
        &token,
        "subscription { activity { kind detail workgroupId } }",
        json!({}),
    )
    .await;
    let task = "mutation($input: CreateTaskInput!) { createTask(input: $input) { task { id } } }";
    app.graphql(
        &admin,
        task,
        json!({ "input": { "title": "New logo", "workgroupId": group } }),
    )
    .await;
    let heard = next(&mut socket).await;
    assert_eq!(heard["type"], "next", "{heard}");
    let entry = &heard["payload"]["data"]["activity"];
    assert_eq!(entry["kind"], "task_created", "{heard}");
    assert_eq!(entry["detail"], "New logo", "{heard}");
    assert_eq!(entry["workgroupId"], group.as_str(), "{heard}");
}
