//! The walking skeleton: an administrator invites a guest into one task; the guest
//! accepts by email, sees that task and nothing else, and hears about its changes.
//!
//! The same story runs on both storage backends, because the embedded (SQLite) and the
//! production (PostgreSQL) editions must behave the same to their users.

use std::time::Duration;

use e2e::{graphql_error, App, Auth, Backend, HtmlForm, SmtpSink, SESSION_COOKIE};
use serde_json::{json, Value};

const GUEST_EMAIL: &str = "gus@client.test";
const GUEST_PASSWORD: &str = "gus's own passphrase";
const TASK_TITLE: &str = "Print the catalogue";
const TASK_DESCRIPTION: &str = "Two hundred copies, A4, on recycled paper.";
/// How long the notifier may take to hand a mail to the SMTP server.
const MAIL_TIMEOUT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn guest_flow_on_sqlite() {
    run_guest_flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn guest_flow_on_postgres() {
    run_guest_flow(Backend::Postgres).await;
}

async fn run_guest_flow(backend: Backend) {
    // 1. An account exists with its administrator, who logs in.
    let smtp = SmtpSink::start();
    let app = App::spawn(backend, &smtp).await;
    let admin = Auth::Bearer(app.login(&app.admin_email, &app.admin_password).await);

    // 2. The administrator creates two tasks and invites a guest into the first only.
    let catalogue = create_task(&app, &admin, TASK_TITLE, TASK_DESCRIPTION).await;
    let pricing = create_task(
        &app,
        &admin,
        "Negotiate the printer's price",
        "Internal: our ceiling is 4 000 EUR.",
    )
    .await;
    let invited = data(
        app.graphql(
            &admin,
            "mutation Invite($input: InviteGuestToTaskInput!) {
                inviteGuestToTask(input: $input) {
                    invitation { id email status }
                    userErrors { field message code }
                }
            }",
            json!({ "input": {
                "taskId": catalogue, "email": GUEST_EMAIL,
                "firstName": "Gus", "lastName": "Guest", "role": "OBSERVER",
            }}),
        )
        .await,
        "/inviteGuestToTask",
    );
    assert_no_user_errors(&invited);
    assert_eq!(invited["invitation"]["email"], GUEST_EMAIL);

    // 3. The guest gets an email that tells them what the task is and how to join.
    let invitation = smtp
        .wait_for(|mail| mail.is_addressed_to(GUEST_EMAIL), MAIL_TIMEOUT)
        .await;
    let text = invitation.body_text();
    assert!(
        text.contains(TASK_TITLE),
        "the invitation names the task:\n{text}"
    );
    assert!(
        text.contains(TASK_DESCRIPTION),
        "the invitation describes the task:\n{text}"
    );
    let link = invitation
        .link()
        .unwrap_or_else(|| panic!("the invitation has a link:\n{text}"));
    let invitation_path = format!("/invitations/{}/", app.account_id);
    assert!(
        link.starts_with(&format!("{}{invitation_path}", app.base_url)),
        "the link {link} points into account {} of {}",
        app.account_id,
        app.base_url
    );
    let (link_without_query, secret) = link
        .split_once("?secret=")
        .unwrap_or_else(|| panic!("the link {link} carries its secret"));
    assert!(
        secret.len() == 64 && secret.chars().all(|c| c.is_ascii_hexdigit()),
        "the secret is 64 hex digits: {secret}"
    );

    // A link with a wrong secret shows nothing about the invitation.
    let forged = format!("{link_without_query}?secret={}", "0".repeat(64));
    let refused = app.get(&forged, &Auth::Anonymous).await;
    assert_eq!(
        refused.status, 404,
        "a forged link is not valid:\n{}",
        refused.body
    );
    assert!(
        !refused.body.contains("Gus"),
        "a forged link reveals nobody:\n{}",
        refused.body
    );

    // 4. The guest opens the link, finds a form about themself, and chooses a password.
    let page = app.get(&link, &Auth::Anonymous).await;
    assert_eq!(
        page.status, 200,
        "the acceptance page opens:\n{}",
        page.body
    );
    let mut form = HtmlForm::parse(&page.body)
        .unwrap_or_else(|| panic!("the acceptance page has a form:\n{}", page.body));
    assert_eq!(form.method, "post");
    assert_eq!(
        form.input("secret").map(|i| i.kind.as_str()),
        Some("hidden")
    );
    assert_eq!(form.value("secret"), Some(secret));
    assert_eq!(form.value("first_name"), Some("Gus"));
    assert_eq!(form.value("last_name"), Some("Guest"));
    assert!(
        form.input("password").is_some(),
        "the form asks for a password"
    );
    form.fill("password", GUEST_PASSWORD);

    let accepted = app
        .post_form(link_without_query, &form.fields(), &Auth::Anonymous)
        .await;
    assert!(
        accepted.status == 200 || accepted.status == 303,
        "accepting succeeds, got {}:\n{}",
        accepted.status,
        accepted.body
    );
    let session_header = accepted
        .set_cookie_header(SESSION_COOKIE)
        .unwrap_or_else(|| panic!("accepting logs the guest in: {:?}", accepted.set_cookies));
    assert!(
        session_header.to_ascii_lowercase().contains("httponly"),
        "scripts cannot read the session cookie: {session_header}"
    );
    let guest_cookie = Auth::Session(
        accepted
            .cookie(SESSION_COOKIE)
            .expect("the session cookie has a value"),
    );

    // An invitation is good for one acceptance only, whether replayed or reopened.
    let replayed = app
        .post_form(link_without_query, &form.fields(), &Auth::Anonymous)
        .await;
    assert!(
        replayed.status.is_client_error(),
        "accepting twice is refused, got {}:\n{}",
        replayed.status,
        replayed.body
    );
    assert!(replayed.set_cookie_header(SESSION_COOKIE).is_none());
    let reopened = app.get(&link, &Auth::Anonymous).await;
    assert!(
        reopened.status.is_client_error(),
        "a used link shows an error, got {}:\n{}",
        reopened.status,
        reopened.body
    );

    // 5. The guest sees the task they were invited into and nothing else, whether in
    //    the browser (cookie) or through the API after logging in (token).
    let guest_token = Auth::Bearer(app.login(GUEST_EMAIL, GUEST_PASSWORD).await);
    for guest in [&guest_cookie, &guest_token] {
        let tasks = my_tasks(&app, guest).await;
        assert_eq!(
            tasks,
            vec![(catalogue.clone(), TASK_TITLE.to_owned())],
            "the guest's tasks as {guest:?}"
        );
    }
    let guest = &guest_cookie;

    let task = data(
        app.graphql(
            guest,
            "query Task($id: ID!) { task(id: $id) { id title description status } }",
            json!({ "id": catalogue }),
        )
        .await,
        "/task",
    );
    assert_eq!(task["title"], TASK_TITLE);
    assert_eq!(task["description"], TASK_DESCRIPTION);

    // A task the guest may not see is indistinguishable from one that does not exist,
    // so a guest cannot probe for ids.
    let (hidden_code, hidden_message) = task_error(&app, guest, &pricing).await;
    let nonexistent = uuid::Uuid::new_v4().to_string();
    let (missing_code, missing_message) = task_error(&app, guest, &nonexistent).await;
    assert_eq!(hidden_code, "NOT_FOUND");
    assert_eq!(missing_code, "NOT_FOUND");
    assert_eq!(
        hidden_message.replace(&pricing, "<id>"),
        missing_message.replace(&nonexistent, "<id>"),
        "a hidden task and a nonexistent one get the same message"
    );

    // The people of the guest's own task are theirs to see; anyone else is not, even
    // another guest of the same account who has joined.
    let admin_as_seen_by_guest = data(
        app.graphql(
            guest,
            "query Person($id: ID!) { person(id: $id) { id firstName } }",
            json!({ "id": app.admin_id }),
        )
        .await,
        "/person",
    );
    assert_eq!(
        admin_as_seen_by_guest["firstName"], "Ada",
        "the creator of the guest's task is one of its people"
    );
    let other_guest = invite_and_accept(&app, &admin, &smtp, &pricing, "ivy@supplier.test").await;
    for hidden in [other_guest, uuid::Uuid::new_v4().to_string()] {
        let response = app
            .graphql(
                guest,
                "query Person($id: ID!) { person(id: $id) { id firstName } }",
                json!({ "id": hidden }),
            )
            .await;
        assert_eq!(
            error_code(&response),
            "NOT_FOUND",
            "a guest sees no person outside their tasks: {response}"
        );
    }

    let viewer = data(
        app.graphql(
            guest,
            "{ viewer { id firstName lastName email kind } }",
            json!({}),
        )
        .await,
        "/viewer",
    );
    assert_eq!(viewer["firstName"], "Gus");
    assert_eq!(viewer["lastName"], "Guest");
    assert_eq!(viewer["email"], GUEST_EMAIL);
    assert_eq!(viewer["kind"], "GUEST");

    // 6. The administrator changes the task; the guest hears of it, the administrator
    //    (who made the change) does not.
    let admin_mails_before = mails_to(&smtp, &app.admin_email);
    let new_title = "Print the catalogue in colour";
    let updated = data(
        app.graphql(
            &admin,
            "mutation Update($input: UpdateTaskInput!) {
                updateTask(input: $input) {
                    task { id title status }
                    userErrors { field message code }
                }
            }",
            json!({ "input": {
                "taskId": catalogue, "title": new_title, "status": "IN_PROGRESS",
            }}),
        )
        .await,
        "/updateTask",
    );
    assert_no_user_errors(&updated);
    assert_eq!(updated["task"]["title"], new_title);
    assert_eq!(updated["task"]["status"], "IN_PROGRESS");

    let change = smtp
        .wait_for(
            |mail| mail.is_addressed_to(GUEST_EMAIL) && mail.subject().contains(new_title),
            MAIL_TIMEOUT,
        )
        .await;
    let text = change.body_text();
    assert!(
        text.contains(new_title),
        "the mail describes the change:\n{text}"
    );
    // The notifier sends each recipient's mail on its own; a second of grace lets a
    // wrong mail to the administrator arrive before we conclude there is none.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        mails_to(&smtp, &app.admin_email),
        admin_mails_before,
        "the administrator is not told about their own change"
    );

    // 7. Nobody learns anything without logging in.
    let anonymous = app
        .graphql(
            &Auth::Anonymous,
            "{ myTasks(first: 10) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED", "{anonymous}");
}

/// Invites `email` as a guest into `task`, follows the emailed link and joins;
/// returns the new person's id.
async fn invite_and_accept(
    app: &App,
    admin: &Auth,
    smtp: &SmtpSink,
    task: &str,
    email: &str,
) -> String {
    let invited = data(
        app.graphql(
            admin,
            "mutation Invite($input: InviteGuestToTaskInput!) {
                inviteGuestToTask(input: $input) {
                    invitation { personId }
                    userErrors { field message code }
                }
            }",
            json!({ "input": {
                "taskId": task, "email": email,
                "firstName": "Ivy", "lastName": "Other", "role": "PARTICIPANT",
            }}),
        )
        .await,
        "/inviteGuestToTask",
    );
    assert_no_user_errors(&invited);
    let mail = smtp
        .wait_for(|mail| mail.is_addressed_to(email), MAIL_TIMEOUT)
        .await;
    let link = mail.link().expect("the invitation has a link");
    let page = app.get(&link, &Auth::Anonymous).await;
    let mut form = HtmlForm::parse(&page.body).expect("the acceptance page has a form");
    form.fill("password", "ivy's own passphrase");
    let path = link.split_once('?').map(|(path, _)| path).unwrap_or(&link);
    let accepted = app.post_form(path, &form.fields(), &Auth::Anonymous).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    invited["invitation"]["personId"]
        .as_str()
        .expect("the invitation names the person")
        .to_owned()
}

/// Creates a task as `who` and returns its id.
async fn create_task(app: &App, who: &Auth, title: &str, description: &str) -> String {
    let created = data(
        app.graphql(
            who,
            "mutation Create($input: CreateTaskInput!) {
                createTask(input: $input) {
                    task { id title }
                    userErrors { field message code }
                }
            }",
            json!({ "input": { "title": title, "description": description } }),
        )
        .await,
        "/createTask",
    );
    assert_no_user_errors(&created);
    assert_eq!(created["task"]["title"], title);
    created["task"]["id"]
        .as_str()
        .expect("a created task has an id")
        .to_owned()
}

/// The (id, title) of every task in `who`'s `myTasks`, following the pages to the end.
async fn my_tasks(app: &App, who: &Auth) -> Vec<(String, String)> {
    let mut tasks = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = data(
            app.graphql(
                who,
                "query MyTasks($after: String) {
                    myTasks(first: 10, after: $after) {
                        edges { node { id title } cursor }
                        pageInfo { hasNextPage endCursor }
                    }
                }",
                json!({ "after": after }),
            )
            .await,
            "/myTasks",
        );
        for edge in page["edges"].as_array().expect("myTasks has edges") {
            let node = &edge["node"];
            tasks.push((
                node["id"].as_str().expect("a task has an id").to_owned(),
                node["title"]
                    .as_str()
                    .expect("a task has a title")
                    .to_owned(),
            ));
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return tasks;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// The error code and message of asking `who` for task `id`, which must fail.
async fn task_error(app: &App, who: &Auth, id: &str) -> (String, String) {
    let response = app
        .graphql(
            who,
            "query Task($id: ID!) { task(id: $id) { id title } }",
            json!({ "id": id }),
        )
        .await;
    assert!(
        response.pointer("/data/task").is_none_or(Value::is_null),
        "task {id} is not shown: {response}"
    );
    graphql_error(&response).unwrap_or_else(|| panic!("asking for task {id} fails: {response}"))
}

/// The `data` at `path` of a response that must have no GraphQL errors.
fn data(response: Value, path: &str) -> Value {
    assert!(
        response
            .get("errors")
            .is_none_or(|errors| errors.as_array().is_some_and(Vec::is_empty)),
        "unexpected GraphQL errors: {response}"
    );
    response
        .pointer(&format!("/data{path}"))
        .cloned()
        .unwrap_or_else(|| panic!("no data at {path}: {response}"))
}

fn error_code(response: &Value) -> String {
    graphql_error(response)
        .map(|(code, _)| code)
        .unwrap_or_default()
}

fn assert_no_user_errors(payload: &Value) {
    assert_eq!(
        payload["userErrors"],
        json!([]),
        "no user errors: {payload}"
    );
}

fn mails_to(smtp: &SmtpSink, email: &str) -> usize {
    smtp.all()
        .iter()
        .filter(|mail| mail.is_addressed_to(email))
        .count()
}
