//! The walking skeleton: an administrator invites a guest into one task; the guest
//! accepts by email, sees that task and nothing else, and hears about its changes.
//!
//! The same story runs on both storage backends, because the embedded (SQLite) and the
//! production (PostgreSQL) editions must behave the same to their users.

use std::time::Duration;

use e2e::{
    data, error_code, graphql_error, App, Auth, Backend, SmtpSink, MAIL_TIMEOUT, SESSION_COOKIE,
};
use serde_json::{json, Value};

const GUEST_EMAIL: &str = "gus@client.test";
const GUEST_PASSWORD: &str = "gus's own passphrase";
const TASK_TITLE: &str = "Print the catalogue";
const TASK_DESCRIPTION: &str = "Two hundred copies, A4, on recycled paper.";

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
    let admin = app.login_admin().await;

    // 2. The administrator creates two tasks and invites a guest into the first only.
    let catalogue = app
        .create_task(&admin, TASK_TITLE, Some(TASK_DESCRIPTION))
        .await;
    let pricing = app
        .create_task(
            &admin,
            "Negotiate the printer's price",
            Some("Internal: our ceiling is 4 000 EUR."),
        )
        .await;
    app.invite_guest(&admin, &catalogue, GUEST_EMAIL, "Gus", "Guest", "OBSERVER")
        .await;

    // 3. The guest gets an email that tells them what the task is and how to join.
    let invitation = smtp.wait_for_mail_to(GUEST_EMAIL).await;
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
    let invitation_path = format!("/invitations/{}/", app.account_in_links);
    assert!(
        link.starts_with(&format!("{}{invitation_path}", app.base_url)),
        "the link {link} points into account {} of {}",
        app.account_in_links,
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
    let mut form = app.open_invitation(&link).await.form;
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

    let accepted = app.submit_invitation(link_without_query, &form).await;
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
    let replayed = app.submit_invitation(link_without_query, &form).await;
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
    let nonexistent = e2e::nonexistent_id("Task");
    let (missing_code, missing_message) = task_error(&app, guest, &nonexistent).await;
    assert_eq!(hidden_code, "NOT_FOUND");
    assert_eq!(missing_code, "NOT_FOUND");
    assert_eq!(
        hidden_message.replace(&pricing, "<id>"),
        missing_message.replace(&nonexistent, "<id>"),
        "a hidden task and a nonexistent one get the same message"
    );

    // Groups too: a guest sees none, and asking tells nothing about which exist.
    let group = app
        .graphql(
            guest,
            "query Group($id: ID!) { workgroup(id: $id) { id name } }",
            json!({ "id": e2e::nonexistent_id("Workgroup") }),
        )
        .await;
    assert_eq!(error_code(&group), "NOT_FOUND", "{group}");

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
    for hidden in [other_guest, e2e::nonexistent_id("Person")] {
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
    let admin_mails_before = smtp.count_to(&app.admin_email);
    let new_title = "Print the catalogue in colour";
    app.update_task(&admin, &catalogue, new_title, Some("IN_PROGRESS"))
        .await;

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
        smtp.count_to(&app.admin_email),
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
    let invited = app
        .invite_guest(admin, task, email, "Ivy", "Other", "PARTICIPANT")
        .await;
    let mail = smtp.wait_for_mail_to(email).await;
    let accepted = app.accept_invitation(&mail, "ivy's own passphrase").await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    invited["invitation"]["personId"]
        .as_str()
        .expect("the invitation names the person")
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
