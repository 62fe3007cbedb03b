//! What the GraphQL endpoint holds a client to: in production it shows nothing of the
//! schema beyond what a request names, and a batch has a cap.

use e2e::{App, Auth, Backend, SmtpSink, CREATE_TASK};
use serde_json::{json, Value};

const INTROSPECTION: &str = "{ __schema { queryType { name } } }";
/// A misspelt `viewer`: in development the error suggests the right name.
const MISSPELT: &str = "{ viewr { id } }";

fn first_error(response: &Value) -> String {
    response
        .pointer("/errors/0/message")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("expected an error: {response}"))
        .to_owned()
}

#[tokio::test]
async fn production_serves_no_graphiql_no_introspection_and_no_suggestions() {
    let smtp = SmtpSink::start();
    let app =
        App::spawn_with_settings(Backend::Sqlite, &smtp, &[("EXTRANET_MODE", "production")]).await;

    let graphiql = app.get("/graphql", &Auth::Anonymous).await;
    assert!(
        matches!(graphiql.status.as_u16(), 404 | 405),
        "GET /graphql answered {} in production:\n{}",
        graphiql.status,
        graphiql.body
    );
    assert!(!graphiql.body.contains("graphiql"), "{}", graphiql.body);

    // async-graphql answers a disabled introspection field with null, not an error.
    for query in [
        INTROSPECTION,
        r#"{ __type(name: "Task") { fields { name } } }"#,
    ] {
        let introspection = app.graphql(&Auth::Anonymous, query, json!({})).await;
        let answered = introspection
            .get("data")
            .and_then(Value::as_object)
            .is_some_and(|data| data.values().any(|value| !value.is_null()));
        assert!(
            !answered,
            "introspection answered in production: {introspection}"
        );
    }

    let misspelt = app.graphql(&Auth::Anonymous, MISSPELT, json!({})).await;
    let message = first_error(&misspelt);
    assert!(
        message.contains("viewr") && !message.contains("Did you mean"),
        "{message}"
    );

    // The API itself is unchanged.
    let admin = app.login_admin().await;
    let viewer = app.graphql(&admin, "{ viewer { id } }", json!({})).await;
    assert_eq!(
        viewer.pointer("/data/viewer/id").and_then(Value::as_str),
        Some(app.admin_id.as_str()),
        "{viewer}"
    );
}

#[tokio::test]
async fn development_serves_graphiql_introspection_and_suggestions() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Sqlite, &smtp).await;

    let graphiql = app.get("/graphql", &Auth::Anonymous).await;
    assert_eq!(graphiql.status.as_u16(), 200);
    assert!(graphiql.body.to_lowercase().contains("graphiql"));

    let introspection = app
        .graphql(&Auth::Anonymous, INTROSPECTION, json!({}))
        .await;
    assert_eq!(
        introspection.pointer("/data/__schema/queryType/name"),
        Some(&json!("Query")),
        "{introspection}"
    );

    let misspelt = app.graphql(&Auth::Anonymous, MISSPELT, json!({})).await;
    let message = first_error(&misspelt);
    assert!(message.contains("Did you mean"), "{message}");
}

fn create_task(title: &str) -> Value {
    json!({ "query": CREATE_TASK, "variables": { "input": { "title": title } } })
}

async fn task_titles(app: &App, who: &Auth) -> Vec<String> {
    let response = app
        .graphql(
            who,
            "{ myTasks(first: 100) { edges { node { title } } } }",
            json!({}),
        )
        .await;
    response
        .pointer("/data/myTasks/edges")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("myTasks: {response}"))
        .iter()
        .filter_map(|edge| edge.pointer("/node/title")?.as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_batch_runs_up_to_ten_operations_and_is_refused_whole_beyond() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Sqlite, &smtp).await;
    let admin = app.login_admin().await;

    // Ten: all run, in order, each answered in its place.
    let batch: Vec<Value> = (1..=10)
        .map(|n| create_task(&format!("batched {n}")))
        .collect();
    let answered = app.post_json("/graphql", &json!(batch), &admin).await;
    assert_eq!(answered.status.as_u16(), 200, "{}", answered.body);
    let responses: Vec<Value> = serde_json::from_str(&answered.body).expect("a JSON array");
    assert_eq!(responses.len(), 10);
    for (n, response) in (1..=10).zip(&responses) {
        assert_eq!(
            response.pointer("/data/createTask/task/title"),
            Some(&json!(format!("batched {n}"))),
            "{response}"
        );
    }

    // Eleven: refused before any runs, with a message that says what to do.
    let batch: Vec<Value> = (1..=11)
        .map(|n| create_task(&format!("too many {n}")))
        .collect();
    let refused = app.post_json("/graphql", &json!(batch), &admin).await;
    assert_eq!(refused.status.as_u16(), 400, "{}", refused.body);
    let refusal: Value = serde_json::from_str(&refused.body).expect("a JSON body");
    assert_eq!(
        refusal.pointer("/errors/0/extensions/code"),
        Some(&json!("BATCH_TOO_LARGE")),
        "{refusal}"
    );
    let message = first_error(&refusal);
    assert!(
        message.contains("at most 10")
            && message.contains("11")
            && message.contains("nothing was run"),
        "{message}"
    );

    // Only the ten of the first batch exist, created in the order sent (myTasks lists
    // oldest first): a batch runs one operation after another.
    let titles = task_titles(&app, &admin).await;
    let sent: Vec<String> = (1..=10).map(|n| format!("batched {n}")).collect();
    assert_eq!(
        titles, sent,
        "a refused batch ran, or a batch ran out of order"
    );
}
