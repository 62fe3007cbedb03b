//! A query asked again and again is answered afresh each time: any change in the
//! asker's account, a revocation, a logout or another server's change is in force for
//! the very next request. (These once guarded an answer cache; it is gone, and every
//! request runs its query, so they now hold the real path to the same promise.)

use e2e::{data, error_code, App, Auth, Backend, SmtpSink, CREATE_TASK};
use serde_json::{json, Value};

const PASSWORD: &str = "a guest's long passphrase";
const TASK: &str = "query($id: ID!) { task(id: $id) { id title } }";

/// A guest of a new task "Print the catalogue": their session, the task's id and
/// their person id.
async fn guest_of_a_task(
    app: &App,
    smtp: &SmtpSink,
    admin: &Auth,
    email: &str,
) -> (Auth, String, String) {
    let task = app.create_task(admin, "Print the catalogue", None).await;
    let (guest, person) = app.guest_joins(smtp, admin, &task, email, PASSWORD).await;
    (guest, task, person)
}

fn title(answer: &Value) -> &str {
    answer["data"]["task"]["title"]
        .as_str()
        .unwrap_or_else(|| panic!("no task in {answer}"))
}

/// Asks `TASK` a few times, checking every answer.
async fn asked_again(app: &App, who: &Auth, task: &str, expected_title: &str) -> Value {
    let mut answer = Value::Null;
    for _ in 0..5 {
        answer = app.graphql(who, TASK, json!({ "id": task })).await;
        assert_eq!(title(&answer), expected_title, "{answer}");
    }
    answer
}

async fn every_answer_is_fresh(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = App::spawn(backend, &smtp).await;
    let admin = app.login_admin().await;
    let (guest, task, guest_person) = guest_of_a_task(&app, &smtp, &admin, "gus@client.test").await;

    // Asked again, the same answer.
    let fresh = app.graphql(&guest, TASK, json!({ "id": task })).await;
    let again = asked_again(&app, &guest, &task, "Print the catalogue").await;
    assert_eq!(again, fresh);

    // A change in another account changes nothing here.
    let olga = app.other_account("Olga's passphrase, long enough").await;
    let elsewhere = app
        .graphql(
            &olga,
            CREATE_TASK,
            json!({ "input": { "title": "Their own work", "description": "" } }),
        )
        .await;
    assert!(data(elsewhere, "/createTask")["task"]["id"].is_string());
    let answer = app.graphql(&guest, TASK, json!({ "id": task })).await;
    assert_eq!(answer, fresh);

    // A change in the account: the very next request has it.
    app.update_task(&admin, &task, "Print the new catalogue", None)
        .await;
    let answer = app.graphql(&guest, TASK, json!({ "id": task })).await;
    assert_eq!(title(&answer), "Print the new catalogue", "{answer}");
    asked_again(&app, &guest, &task, "Print the new catalogue").await;

    // A second session of the guest, asked again and again, ends at logout.
    let token = app.login("gus@client.test", PASSWORD).await;
    let second = Auth::Bearer(token);
    asked_again(&app, &second, &task, "Print the new catalogue").await;
    let logout = app.graphql(&second, "mutation { logout }", json!({})).await;
    assert_eq!(logout["data"]["logout"], true, "{logout}");
    let answer = app.graphql(&second, TASK, json!({ "id": task })).await;
    assert!(answer["data"]["task"].is_null(), "{answer}");
    assert!(!error_code(&answer).is_empty(), "{answer}");
    // The first session goes on.
    asked_again(&app, &guest, &task, "Print the new catalogue").await;

    // Taken off the task: the next request is refused, and so is every one after.
    let unassigned = app
        .graphql(
            &admin,
            "mutation($input: UnassignFromTaskInput!) {
                unassignFromTask(input: $input) { task { id } userErrors { message } }
            }",
            json!({ "input": { "taskId": task, "personId": guest_person } }),
        )
        .await;
    assert!(
        data(unassigned.clone(), "/unassignFromTask")["userErrors"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "{unassigned}"
    );
    for _ in 0..3 {
        let answer = app.graphql(&guest, TASK, json!({ "id": task })).await;
        assert_eq!(error_code(&answer), "NOT_FOUND", "{answer}");
    }

    // The same mutation twice does its work twice.
    let make = json!({ "input": { "title": "Twice", "description": "" } });
    let first = app.graphql(&admin, CREATE_TASK, make.clone()).await;
    let second = app.graphql(&admin, CREATE_TASK, make).await;
    assert_ne!(
        data(first, "/createTask")["task"]["id"],
        data(second, "/createTask")["task"]["id"]
    );

    // History, which follows the read models a moment behind, answers each time.
    let history = "query($id: ID!) { personHistory(personId: $id) { edges { node { event } } } }";
    for _ in 0..3 {
        let answer = app
            .graphql(&admin, history, json!({ "id": guest_person }))
            .await;
        assert!(!data(answer, "/personHistory")["edges"]
            .as_array()
            .expect("edges")
            .is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_is_fresh_on_sqlite() {
    every_answer_is_fresh(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_is_fresh_on_postgres() {
    every_answer_is_fresh(Backend::Postgres).await;
}

/// Two servers of one deployment: a change made through one is in the other's very
/// next answer, however often that server was asked the same before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_another_server_is_in_this_ones_next_answer() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Postgres, &smtp).await;
    let peer = app.peer().await;
    let admin = app.login_admin().await;
    let (guest, task, _) = guest_of_a_task(&app, &smtp, &admin, "gus@client.test").await;

    for round in 0..5 {
        let expected = if round == 0 {
            "Print the catalogue".to_owned()
        } else {
            format!("Print edition {round}")
        };
        // Asked of the peer again and again…
        for _ in 0..3 {
            let answer = peer.graphql(&guest, TASK, json!({ "id": task })).await;
            assert_eq!(title(&answer), expected, "{answer}");
        }
        // …then renamed through the first server.
        let next = format!("Print edition {}", round + 1);
        app.update_task(&admin, &task, &next, None).await;
        let answer = peer.graphql(&guest, TASK, json!({ "id": task })).await;
        assert_eq!(title(&answer), next, "round {round}: {answer}");
    }
}
