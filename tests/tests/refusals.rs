//! Every refusal a person can run into through the API, each with the code a program
//! relies on and a message a person can act on. The stories here run on the embedded
//! store; the guest flow covers both.

use e2e::{graphql_error, App, Auth, Backend, HtmlForm, SmtpSink};
use serde_json::{json, Value};
use std::time::Duration;

const MAIL_TIMEOUT: Duration = Duration::from_secs(20);

const CREATE_TASK: &str = "mutation Create($input: CreateTaskInput!) {
    createTask(input: $input) { task { id } userErrors { field message code } } }";
const INVITE: &str = "mutation Invite($input: InviteGuestToTaskInput!) {
    inviteGuestToTask(input: $input) { invitation { id personId } userErrors { field message code } } }";
const UPDATE_TASK: &str = "mutation Update($input: UpdateTaskInput!) {
    updateTask(input: $input) { task { id } userErrors { field message code } } }";
const LOGIN: &str = "mutation Login($input: LoginInput!) {
    login(input: $input) { token userErrors { field message code } } }";

/// The single user error of a mutation's payload at `path`.
fn user_error(response: &Value, path: &str) -> (Vec<String>, String, String) {
    let errors = response
        .pointer(&format!("/data/{path}/userErrors"))
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no userErrors at {path}: {response}"));
    assert_eq!(errors.len(), 1, "exactly one user error: {response}");
    let e = &errors[0];
    let field = e["field"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    (
        field,
        e["code"].as_str().unwrap_or_default().to_owned(),
        e["message"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn create_task(app: &App, who: &Auth, title: &str) -> String {
    let response = app
        .graphql(who, CREATE_TASK, json!({ "input": { "title": title } }))
        .await;
    response
        .pointer("/data/createTask/task/id")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("task created: {response}"))
        .to_owned()
}

fn invite_input(task: &str, email: &str, first: &str, last: &str) -> Value {
    json!({ "input": { "taskId": task, "email": email, "firstName": first, "lastName": last, "role": "PARTICIPANT" } })
}

#[tokio::test]
async fn what_an_administrator_is_refused() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Sqlite, &smtp).await;
    let admin = Auth::Bearer(app.login(&app.admin_email, &app.admin_password).await);

    let empty = app
        .graphql(&admin, CREATE_TASK, json!({ "input": { "title": "   " } }))
        .await;
    let (field, code, message) = user_error(&empty, "createTask");
    assert_eq!(
        (field, code.as_str()),
        (vec!["input".into(), "title".into()], "INVALID_TITLE")
    );
    assert_eq!(message, "the title is empty");
    let long = app
        .graphql(
            &admin,
            CREATE_TASK,
            json!({ "input": { "title": "t".repeat(251) } }),
        )
        .await;
    assert_eq!(user_error(&long, "createTask").1, "INVALID_TITLE");

    let task = create_task(&app, &admin, "Brief the printer").await;
    let bad_email = app
        .graphql(
            &admin,
            INVITE,
            invite_input(&task, "gus at client", "Gus", "Guest"),
        )
        .await;
    let (field, code, message) = user_error(&bad_email, "inviteGuestToTask");
    assert_eq!(
        (field, code.as_str()),
        (vec!["input".into(), "email".into()], "INVALID_EMAIL")
    );
    assert!(message.contains("gus at client"), "{message}");

    let no_name = app
        .graphql(
            &admin,
            INVITE,
            invite_input(&task, "gus@client.test", "", "Guest"),
        )
        .await;
    let (field, code, _) = user_error(&no_name, "inviteGuestToTask");
    assert_eq!(
        (field, code.as_str()),
        (vec!["input".into(), "firstName".into()], "INVALID_NAME")
    );

    let taken = app
        .graphql(
            &admin,
            INVITE,
            invite_input(&task, &app.admin_email.to_uppercase(), "Ada", "Again"),
        )
        .await;
    let (_, code, message) = user_error(&taken, "inviteGuestToTask");
    assert_eq!(code, "EMAIL_TAKEN");
    assert!(message.contains(&app.admin_email), "{message}");

    let unknown_task = app
        .graphql(
            &admin,
            INVITE,
            invite_input(
                &uuid::Uuid::new_v4().to_string(),
                "gus@client.test",
                "Gus",
                "Guest",
            ),
        )
        .await;
    assert_eq!(
        graphql_error(&unknown_task).map(|e| e.0).as_deref(),
        Some("NOT_FOUND")
    );

    let page_too_big = app
        .graphql(
            &admin,
            "{ myTasks(first: 1000) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        graphql_error(&page_too_big).map(|e| e.0).as_deref(),
        Some("BAD_USER_INPUT")
    );
    let bad_cursor = app
        .graphql(
            &admin,
            "{ myTasks(after: \"garbage\") { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        graphql_error(&bad_cursor).map(|e| e.0).as_deref(),
        Some("BAD_USER_INPUT")
    );

    // A batch of operations is refused whole: one request, one operation.
    let batch = reqwest::Client::new()
        .post(format!("{}/graphql", app.base_url))
        .json(&json!([{ "query": "{ viewer { id } }" }, { "query": "{ viewer { id } }" }]))
        .send()
        .await
        .expect("send batch");
    assert!(
        batch.status().is_client_error(),
        "a batch is refused: {}",
        batch.status()
    );
}

#[tokio::test]
async fn login_tells_nothing_about_who_exists() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Sqlite, &smtp).await;
    let attempt = |email: String, password: &'static str, account: String| {
        let app = &app;
        async move {
            app.graphql(
                &Auth::Anonymous,
                LOGIN,
                json!({ "input": { "accountId": account, "email": email, "password": password } }),
            )
            .await
        }
    };
    let wrong_password = attempt(
        app.admin_email.clone(),
        "not the password",
        app.account_id.clone(),
    )
    .await;
    let unknown_email = attempt(
        "nobody@acme.test".into(),
        "not the password",
        app.account_id.clone(),
    )
    .await;
    let other_account = attempt(
        app.admin_email.clone(),
        "not the password",
        uuid::Uuid::new_v4().to_string(),
    )
    .await;
    let refusals: Vec<_> = [&wrong_password, &unknown_email, &other_account]
        .iter()
        .map(|r| {
            assert!(
                r.pointer("/data/login/token").is_some_and(Value::is_null),
                "{r}"
            );
            user_error(r, "login")
        })
        .collect();
    assert_eq!(refusals[0].1, "INVALID_CREDENTIALS");
    assert_eq!(
        refusals[0], refusals[1],
        "unknown email answers like a wrong password"
    );
    assert_eq!(refusals[0], refusals[2], "another account answers the same");

    // Logging out ends the session at once.
    let token = app.login(&app.admin_email, &app.admin_password).await;
    let me = Auth::Bearer(token);
    let out = app.graphql(&me, "mutation { logout }", json!({})).await;
    assert_eq!(out.pointer("/data/logout"), Some(&json!(true)), "{out}");
    let after = app
        .graphql(&me, "{ myTasks { edges { cursor } } }", json!({}))
        .await;
    assert_eq!(
        graphql_error(&after).map(|e| e.0).as_deref(),
        Some("UNAUTHENTICATED")
    );
    let viewer = app.graphql(&me, "{ viewer { id } }", json!({})).await;
    assert_eq!(
        viewer.pointer("/data/viewer"),
        Some(&Value::Null),
        "{viewer}"
    );
}

#[tokio::test]
async fn what_a_guest_is_refused_and_how_pages_refuse() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Sqlite, &smtp).await;
    let admin = Auth::Bearer(app.login(&app.admin_email, &app.admin_password).await);
    let task = create_task(&app, &admin, "Check the proofs").await;
    let invited = app
        .graphql(
            &admin,
            INVITE,
            invite_input(&task, "gus@client.test", "Gus", "Guest"),
        )
        .await;
    assert!(
        invited
            .pointer("/data/inviteGuestToTask/invitation/id")
            .is_some_and(Value::is_string),
        "{invited}"
    );
    let mail = smtp
        .wait_for(|m| m.is_addressed_to("gus@client.test"), MAIL_TIMEOUT)
        .await;
    let link = mail.link().expect("the invitation has a link");
    let path = link
        .split_once('?')
        .map(|(p, _)| p.to_owned())
        .expect("link with a query");

    // The form refuses what it cannot take, next to the field, and keeps the link usable.
    let page = app.get(&link, &Auth::Anonymous).await;
    let mut form = HtmlForm::parse(&page.body).expect("a form");
    form.fill("password", "short").fill("first_name", " ");
    let refused = app.post_form(&path, &form.fields(), &Auth::Anonymous).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains(r#"id="password-error""#),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("at least 10 characters"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains(r#"id="first_name-error""#),
        "{}",
        refused.body
    );
    assert!(refused.set_cookie_header(e2e::SESSION_COOKIE).is_none());

    // Markup typed into the form comes back as text.
    form.fill("first_name", "<script>alert(1)</script>")
        .fill("password", "x");
    let echoed = app.post_form(&path, &form.fields(), &Auth::Anonymous).await;
    assert_eq!(echoed.status, 422);
    assert!(
        !echoed.body.contains("<script>alert(1)</script>"),
        "{}",
        echoed.body
    );
    assert!(
        echoed
            .body
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        echoed.body
    );

    // A forged secret in the form is refused even with a valid invitation id.
    form.fill("first_name", "Gus")
        .fill("password", "a long enough passphrase");
    let mut forged = form.clone();
    forged.fill("secret", &"f".repeat(64));
    let refused = app
        .post_form(&path, &forged.fields(), &Auth::Anonymous)
        .await;
    assert_eq!(refused.status, 404, "{}", refused.body);

    let accepted = app.post_form(&path, &form.fields(), &Auth::Anonymous).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let guest = Auth::Bearer(
        app.login("gus@client.test", "a long enough passphrase")
            .await,
    );

    let update = app
        .graphql(
            &guest,
            UPDATE_TASK,
            json!({ "input": { "taskId": task, "title": "Mine now" } }),
        )
        .await;
    assert_eq!(user_error(&update, "updateTask").1, "FORBIDDEN");
    let create = app
        .graphql(
            &guest,
            CREATE_TASK,
            json!({ "input": { "title": "A task of my own" } }),
        )
        .await;
    assert_eq!(user_error(&create, "createTask").1, "FORBIDDEN");
    let invite = app
        .graphql(
            &guest,
            INVITE,
            invite_input(&task, "friend@client.test", "Fred", "Friend"),
        )
        .await;
    assert_eq!(user_error(&invite, "inviteGuestToTask").1, "FORBIDDEN");

    // The admin's other task stays invisible to mutations too, not just queries.
    let other = create_task(&app, &admin, "Internal budget").await;
    let hidden = app
        .graphql(
            &guest,
            UPDATE_TASK,
            json!({ "input": { "taskId": other, "title": "x" } }),
        )
        .await;
    assert_eq!(
        graphql_error(&hidden).map(|e| e.0).as_deref(),
        Some("NOT_FOUND")
    );
}

#[tokio::test]
async fn my_tasks_come_a_page_at_a_time() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Sqlite, &smtp).await;
    let admin = Auth::Bearer(app.login(&app.admin_email, &app.admin_password).await);
    let mut created = Vec::new();
    for n in 0..5 {
        created.push(create_task(&app, &admin, &format!("Task {n}")).await);
    }
    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let page = app
            .graphql(
                &admin,
                "query Page($after: String) { myTasks(first: 2, after: $after) {
                    edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }",
                json!({ "after": after }),
            )
            .await;
        let connection = &page["data"]["myTasks"];
        let edges = connection["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{page}"));
        assert!(edges.len() <= 2);
        seen.extend(
            edges
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap_or_default().to_owned()),
        );
        pages += 1;
        if connection["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(pages, 3);
    let mut expected = created.clone();
    expected.sort();
    seen.sort();
    assert_eq!(seen, expected, "every task once, across pages");
}
