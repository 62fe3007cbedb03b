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
    let titles = app.my_task_titles(&admin).await;
    let sent: Vec<String> = (1..=10).map(|n| format!("batched {n}")).collect();
    assert_eq!(
        titles, sent,
        "a refused batch ran, or a batch ran out of order"
    );
}

const LOGIN: &str = "mutation Login($input: LoginInput!) {
    login(input: $input) { token userErrors { code } }
}";

/// A login with a wrong password for `email` at the server at `base_url`, as sent with
/// `X-Forwarded-For: forwarded_for` if given: `INVALID_CREDENTIALS` or `RATE_LIMITED`.
async fn failed_login(
    base_url: &str,
    account_id: &str,
    email: &str,
    forwarded_for: Option<&str>,
) -> String {
    let headers: Vec<_> = forwarded_for
        .map(|value| ("x-forwarded-for", value.to_owned()))
        .into_iter()
        .collect();
    failed_login_with(base_url, account_id, email, &headers).await
}

/// [`failed_login`], with any forwarding `headers` (names and values).
async fn failed_login_with(
    base_url: &str,
    account_id: &str,
    email: &str,
    headers: &[(&str, String)],
) -> String {
    // A server just started answers UNAVAILABLE until its read models have caught up
    // with the log (it listens at once); such an answer spends no budget.
    loop {
        let mut request = reqwest::Client::new()
            .post(format!("{base_url}/graphql"))
            .json(&json!({ "query": LOGIN, "variables": { "input": {
                "accountId": account_id, "email": email, "password": "not the password",
            }}}));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response: Value = request
            .send()
            .await
            .expect("send the login")
            .json()
            .await
            .expect("a JSON answer");
        if response.pointer("/errors/0/extensions/code") == Some(&json!("UNAVAILABLE")) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            continue;
        }
        return response
            .pointer("/data/login/userErrors/0/code")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("a failed login answers a user error: {response}"))
            .to_owned();
    }
}

#[tokio::test]
async fn servers_on_one_database_share_the_budget_of_an_address_and_keep_it_across_restarts() {
    let smtp = SmtpSink::start();
    let mut app = App::spawn_with_settings(
        Backend::Postgres,
        &smtp,
        &[("EXTRANET_RATE_LIMIT_PER_ADDRESS", "4")],
    )
    .await;
    let peer = app.peer().await;
    let email = "mallory-target@acme.test";

    // Four attempts, split between the two servers: each alone would allow four more.
    for base_url in [&app.base_url, &peer.base_url, &app.base_url, &peer.base_url] {
        assert_eq!(
            failed_login(base_url, &app.account_id, email, None).await,
            "INVALID_CREDENTIALS"
        );
    }
    for base_url in [&peer.base_url, &app.base_url] {
        assert_eq!(
            failed_login(base_url, &app.account_id, email, None).await,
            "RATE_LIMITED",
            "the fifth attempt, on either server"
        );
    }
    drop(peer);

    // A restart forgets nothing.
    app.restart().await;
    assert_eq!(
        failed_login(&app.base_url, &app.account_id, email, None).await,
        "RATE_LIMITED"
    );
    // Another address is not affected.
    assert_eq!(
        failed_login(&app.base_url, &app.account_id, "someone@acme.test", None).await,
        "INVALID_CREDENTIALS"
    );
}

/// Failed logins, each for a new address, sent as from `client` until one is refused:
/// how many went through (at most `ceiling`).
async fn attempts_until_refused(app: &App, client: &str, ceiling: usize) -> usize {
    for n in 0..=ceiling {
        let email = format!("guess-{client}-{n}@acme.test");
        match failed_login(&app.base_url, &app.account_id, &email, Some(client))
            .await
            .as_str()
        {
            "INVALID_CREDENTIALS" => {}
            "RATE_LIMITED" => return n,
            other => panic!("unexpected {other}"),
        }
    }
    panic!("{client} was never refused after {ceiling} attempts")
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let smtp = SmtpSink::start();
    // The tests connect from 127.0.0.1: that is the proxy.
    let app = App::spawn_with_settings(
        Backend::Sqlite,
        &smtp,
        &[
            ("EXTRANET_RATE_LIMIT_PER_CLIENT", "4"),
            ("EXTRANET_TRUSTED_PROXIES", "127.0.0.1, ::1"),
        ],
    )
    .await;
    // A client's own left-most entry is ignored: the proxy appended the real one.
    assert_eq!(attempts_until_refused(&app, "198.51.100.1", 10).await, 4);
    assert_eq!(attempts_until_refused(&app, "198.51.100.2", 10).await, 4);
    assert_eq!(
        failed_login(
            &app.base_url,
            &app.account_id,
            "spoofer@acme.test",
            Some("203.0.113.99, 198.51.100.1")
        )
        .await,
        "RATE_LIMITED",
        "claiming another IP on the left changes nothing"
    );
}

#[tokio::test]
async fn without_trusted_proxies_x_forwarded_for_changes_nothing() {
    let smtp = SmtpSink::start();
    let app = App::spawn_with_settings(
        Backend::Sqlite,
        &smtp,
        &[("EXTRANET_RATE_LIMIT_PER_CLIENT", "4")],
    )
    .await;
    // The harness's own logins at start count too: at most four go through in all.
    let first = attempts_until_refused(&app, "198.51.100.1", 10).await;
    assert!(first <= 4, "{first}");
    assert_eq!(
        attempts_until_refused(&app, "198.51.100.2", 10).await,
        0,
        "another X-Forwarded-For is the same client"
    );
}

/// Behind proxies that write the standard `Forwarded` header (RFC 7239), told with
/// `EXTRANET_FORWARDED_HEADER=forwarded`: each client has its own budget, and an
/// `X-Forwarded-For` the client sends itself changes nothing.
#[tokio::test]
async fn behind_a_proxy_writing_forwarded_each_client_has_its_own_budget() {
    let smtp = SmtpSink::start();
    let app = App::spawn_with_settings(
        Backend::Sqlite,
        &smtp,
        &[
            ("EXTRANET_RATE_LIMIT_PER_CLIENT", "4"),
            ("EXTRANET_TRUSTED_PROXIES", "127.0.0.1, ::1"),
            ("EXTRANET_FORWARDED_HEADER", "forwarded"),
        ],
    )
    .await;
    let attempt = |n: usize, headers: Vec<(&'static str, String)>| {
        let email = format!("guess-{n}@acme.test");
        let (base_url, account_id) = (app.base_url.clone(), app.account_id.clone());
        async move { failed_login_with(&base_url, &account_id, &email, &headers).await }
    };
    let as_client =
        |client: &str| vec![("forwarded", format!("for=\"{client}:4711\";proto=https"))];
    for n in 0..4 {
        assert_eq!(
            attempt(n, as_client("[2001:db8::7]")).await,
            "INVALID_CREDENTIALS"
        );
    }
    assert_eq!(attempt(4, as_client("[2001:db8::7]")).await, "RATE_LIMITED");
    // Another client behind the same proxy has a budget of its own.
    assert_eq!(
        attempt(5, as_client("198.51.100.8")).await,
        "INVALID_CREDENTIALS"
    );
    // The first client naming another address in X-Forwarded-For is still the first.
    let mut spoofed = as_client("[2001:db8::7]");
    spoofed.push(("x-forwarded-for", "203.0.113.99".to_owned()));
    let response = attempt(6, spoofed).await;
    assert_eq!(response, "RATE_LIMITED");
}
