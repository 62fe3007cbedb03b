//! Answers kept between changes (`gateway/src/graphql/kept.rs`): a query asked again
//! while nothing in the asker's account has changed is answered from what was kept,
//! and any change in the account, a revocation, a logout or another server's change
//! is in force for the very next request all the same.

use e2e::{data, error_code, metric, App, Auth, Backend, SmtpSink, CREATE_TASK};
use serde_json::{json, Value};

const PASSWORD: &str = "a guest's long passphrase";
const TASK: &str = "query($id: ID!) { task(id: $id) { id title } }";

/// The `extranet_kept_answers_total` counters in `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    hit: u64,
    outdated: u64,
    miss: u64,
}

async fn counts(app: &App) -> Option<Counts> {
    counts_at(&app.base_url).await
}

/// The counters of the server at `base_url`.
async fn counts_at(base_url: &str) -> Option<Counts> {
    let metrics = reqwest::get(format!("{base_url}/metrics"))
        .await
        .expect("GET /metrics");
    assert_eq!(metrics.status().as_u16(), 200);
    let body = metrics.text().await.expect("the metrics");
    let count = |outcome: &str| {
        metric(
            &body,
            &format!("extranet_kept_answers_total{{outcome=\"{outcome}\"}}"),
        )
        .map(|n| u64::try_from(n).expect("a count"))
    };
    Some(Counts {
        hit: count("hit")?,
        outdated: count("outdated")?,
        miss: count("miss")?,
    })
}

async fn kept_counts(app: &App) -> Counts {
    counts(app).await.expect("/metrics counts kept answers")
}

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

/// Asks `TASK` until an answer comes from what was kept, checking every answer on the
/// way; returns it. (Events that follow from the setup may still arrive, each of
/// which rightly ends what was kept.)
async fn until_kept(app: &App, who: &Auth, task: &str, expected_title: &str) -> Value {
    for _ in 0..50 {
        let before = kept_counts(app).await;
        let answer = app.graphql(who, TASK, json!({ "id": task })).await;
        assert_eq!(title(&answer), expected_title, "{answer}");
        if kept_counts(app).await.hit > before.hit {
            return answer;
        }
    }
    panic!("the same query, asked again and again with nothing changing, was never answered from what was kept");
}

async fn answers_are_kept_until_the_account_changes(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = App::spawn(backend, &smtp).await;
    let admin = app.login_admin().await;
    let (guest, task, guest_person) = guest_of_a_task(&app, &smtp, &admin, "gus@client.test").await;

    // Asked again, the same answer, from what was kept.
    let fresh = app.graphql(&guest, TASK, json!({ "id": task })).await;
    let kept = until_kept(&app, &guest, &task, "Print the catalogue").await;
    assert_eq!(kept, fresh);

    // A change in another account leaves it kept.
    let olga = app.other_account("Olga's passphrase, long enough").await;
    let elsewhere = app
        .graphql(
            &olga,
            CREATE_TASK,
            json!({ "input": { "title": "Their own work", "description": "" } }),
        )
        .await;
    assert!(data(elsewhere, "/createTask")["task"]["id"].is_string());
    let before = kept_counts(&app).await;
    let answer = app.graphql(&guest, TASK, json!({ "id": task })).await;
    assert_eq!(title(&answer), "Print the catalogue");
    let after = kept_counts(&app).await;
    assert_eq!(
        (after.hit - before.hit, after.outdated - before.outdated),
        (1, 0),
        "another account's change ended an answer of this one"
    );

    // A change in the account: the very next request has it.
    app.update_task(&admin, &task, "Print the new catalogue", None)
        .await;
    let before = kept_counts(&app).await;
    let answer = app.graphql(&guest, TASK, json!({ "id": task })).await;
    assert_eq!(title(&answer), "Print the new catalogue", "{answer}");
    let after = kept_counts(&app).await;
    assert_eq!(
        after.outdated - before.outdated,
        1,
        "{before:?} → {after:?}"
    );
    assert_eq!(after.hit, before.hit);
    until_kept(&app, &guest, &task, "Print the new catalogue").await;

    // A second session of the guest, kept answers and all, ends at logout.
    let token = app.login("gus@client.test", PASSWORD).await;
    let second = Auth::Bearer(token);
    until_kept(&app, &second, &task, "Print the new catalogue").await;
    let logout = app.graphql(&second, "mutation { logout }", json!({})).await;
    assert_eq!(logout["data"]["logout"], true, "{logout}");
    let answer = app.graphql(&second, TASK, json!({ "id": task })).await;
    assert!(answer["data"]["task"].is_null(), "{answer}");
    assert!(!error_code(&answer).is_empty(), "{answer}");
    // The first session goes on.
    until_kept(&app, &guest, &task, "Print the new catalogue").await;

    // Taken off the task: the next request is refused, and refusals are not kept.
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
    let before = kept_counts(&app).await;
    for _ in 0..3 {
        let answer = app.graphql(&guest, TASK, json!({ "id": task })).await;
        assert_eq!(error_code(&answer), "NOT_FOUND", "{answer}");
    }
    assert_eq!(kept_counts(&app).await.hit, before.hit);

    // Mutations are never kept: the same one twice does its work twice.
    let make = json!({ "input": { "title": "Twice", "description": "" } });
    let first = app.graphql(&admin, CREATE_TASK, make.clone()).await;
    let second = app.graphql(&admin, CREATE_TASK, make).await;
    assert_ne!(
        data(first, "/createTask")["task"]["id"],
        data(second, "/createTask")["task"]["id"]
    );

    // History follows the read models a moment behind, so its answers are not kept.
    let history = "query($id: ID!) { personHistory(personId: $id) { edges { node { event } } } }";
    let before = kept_counts(&app).await;
    for _ in 0..3 {
        let answer = app
            .graphql(&admin, history, json!({ "id": guest_person }))
            .await;
        assert!(!data(answer, "/personHistory")["edges"]
            .as_array()
            .expect("edges")
            .is_empty());
    }
    assert_eq!(kept_counts(&app).await.hit, before.hit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_kept_until_the_account_changes_on_sqlite() {
    answers_are_kept_until_the_account_changes(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_kept_until_the_account_changes_on_postgres() {
    answers_are_kept_until_the_account_changes(Backend::Postgres).await;
}

/// Two servers of one deployment: what one keeps is ended by a change made through the
/// other, at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_another_server_ends_what_this_one_kept() {
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
        // Asked of the peer until it answers from what it kept…
        let before = counts_at(&peer.base_url)
            .await
            .expect("the peer keeps answers");
        for _ in 0..3 {
            let answer = peer.graphql(&guest, TASK, json!({ "id": task })).await;
            assert_eq!(title(&answer), expected, "{answer}");
        }
        let after = counts_at(&peer.base_url)
            .await
            .expect("the peer keeps answers");
        assert!(
            after.hit > before.hit,
            "round {round}: {before:?} → {after:?}"
        );
        // …then renamed through the first server.
        let next = format!("Print edition {}", round + 1);
        app.update_task(&admin, &task, &next, None).await;
        let answer = peer.graphql(&guest, TASK, json!({ "id": task })).await;
        assert_eq!(title(&answer), next, "round {round}: {answer}");
    }
}

/// `--kept-answers-mib 0`: nothing is kept and every query runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeping_answers_can_be_turned_off() {
    let smtp = SmtpSink::start();
    let app = App::spawn_with_settings(
        Backend::Sqlite,
        &smtp,
        &[("EXTRANET_KEPT_ANSWERS_MIB", "0")],
    )
    .await;
    let admin = app.login_admin().await;
    let (guest, task, _) = guest_of_a_task(&app, &smtp, &admin, "gus@client.test").await;
    for _ in 0..3 {
        let answer = app.graphql(&guest, TASK, json!({ "id": task })).await;
        assert_eq!(title(&answer), "Print the catalogue");
    }
    assert_eq!(counts(&app).await, None, "no counts of what is not kept");
}
