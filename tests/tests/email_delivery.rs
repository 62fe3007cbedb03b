//! Email is delivered exactly once, whatever happens to the service in between: a
//! restart for maintenance sends nothing again, and a crash while the mail server is
//! down loses nothing.
//!
//! Both stories run on both storage backends, because the outbox and its checkpoint
//! live in the database, and each backend must keep them the same way.

use std::collections::HashMap;
use std::time::Duration;

use e2e::{App, Auth, Backend, SmtpSink};
use serde_json::{json, Value};

const GUEST_EMAIL: &str = "gus@client.test";
const TASK_TITLE: &str = "Print the catalogue";
const NEW_TITLE: &str = "Print the catalogue in colour";
/// How long the notifier may take to hand a mail to the SMTP server. After a failure it
/// waits 1 s, 2 s, 4 s… before trying again, so a mail held up by an outage can take a
/// few seconds more than one sent straight away.
const MAIL_TIMEOUT: Duration = Duration::from_secs(20);
/// How long we give a mail that should not exist to arrive before concluding there is
/// none: several rounds of the notifier, which polls its outbox twice a second.
const GRACE: Duration = Duration::from_secs(2);
/// How long the notifier may take to try the unreachable mail server once.
const FIRST_TRY_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn restart_sends_nothing_twice_on_sqlite() {
    run_restart_sends_nothing_twice(Backend::Sqlite).await;
}

#[tokio::test]
async fn restart_sends_nothing_twice_on_postgres() {
    run_restart_sends_nothing_twice(Backend::Postgres).await;
}

async fn run_restart_sends_nothing_twice(backend: Backend) {
    // 1. An administrator invites a guest into a task, and the invitation arrives.
    let smtp = SmtpSink::start();
    let mut app = App::spawn(backend, &smtp).await;
    let admin = Auth::Bearer(app.login(&app.admin_email, &app.admin_password).await);
    let task = create_task(&app, &admin, TASK_TITLE).await;
    invite_guest(&app, &admin, &task).await;
    smtp.wait_for(|mail| mail.is_addressed_to(GUEST_EMAIL), MAIL_TIMEOUT)
        .await;

    // 2. The service is stopped for maintenance and started again. The notifier picks
    //    up from where it stopped: what it sent before, it does not send again.
    app.restart().await;
    tokio::time::sleep(GRACE).await;
    assert_eq!(
        mails_to(&smtp, GUEST_EMAIL),
        1,
        "the guest got their invitation once, restart or not"
    );
    assert_no_mail_delivered_twice(&smtp);

    // 3. The administrator's session outlived the restart: sessions are kept in the
    //    database, so nobody is logged out by maintenance.
    let viewer = data(
        app.graphql(&admin, "{ viewer { id } }", json!({})).await,
        "/viewer",
    );
    assert_eq!(
        viewer["id"], app.admin_id,
        "the administrator's token still works after the restart"
    );

    // 4. The administrator renames the task; the guest hears of it once, and hears
    //    nothing more of the invitation.
    rename_task(&app, &admin, &task, NEW_TITLE).await;
    smtp.wait_for(
        |mail| mail.is_addressed_to(GUEST_EMAIL) && mail.subject().contains(NEW_TITLE),
        MAIL_TIMEOUT,
    )
    .await;
    tokio::time::sleep(GRACE).await;
    let subjects = subjects_to(&smtp, GUEST_EMAIL);
    assert_eq!(
        subjects
            .iter()
            .filter(|subject| subject.contains(NEW_TITLE))
            .count(),
        1,
        "the guest hears of the change once: {subjects:#?}"
    );
    assert_eq!(
        subjects.len(),
        2,
        "the guest got the invitation and the change, nothing else: {subjects:#?}"
    );
    assert_no_mail_delivered_twice(&smtp);
}

#[tokio::test]
async fn a_crash_loses_no_email_on_sqlite() {
    run_a_crash_loses_no_email(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_crash_loses_no_email_on_postgres() {
    run_a_crash_loses_no_email(Backend::Postgres).await;
}

async fn run_a_crash_loses_no_email(backend: Backend) {
    // 1. The mail server is down when an administrator invites a guest.
    let mut smtp = SmtpSink::reserve();
    let mut app = App::spawn(backend, &smtp).await;
    let admin = Auth::Bearer(app.login(&app.admin_email, &app.admin_password).await);
    let task = create_task(&app, &admin, TASK_TITLE).await;
    invite_guest(&app, &admin, &task).await;

    // 2. The notifier tries, fails, and keeps the invitation for later.
    wait_for_log(&app, "email not sent", FIRST_TRY_TIMEOUT).await;

    // 3. The service crashes before it could try again, and the mail server comes back
    //    while it is down. Only what the database holds survives the crash.
    app.crash().await;
    smtp.open();
    app.start().await;

    // 4. The invitation is delivered once, and it still works.
    let invitation = smtp
        .wait_for(|mail| mail.is_addressed_to(GUEST_EMAIL), MAIL_TIMEOUT)
        .await;
    tokio::time::sleep(GRACE).await;
    assert_eq!(
        mails_to(&smtp, GUEST_EMAIL),
        1,
        "the guest got their invitation once, crash or not"
    );
    assert_no_mail_delivered_twice(&smtp);
    let link = invitation
        .link()
        .unwrap_or_else(|| panic!("the invitation has a link:\n{}", invitation.body_text()));
    let page = app.get(&link, &Auth::Anonymous).await;
    assert_eq!(
        page.status, 200,
        "the link in an invitation delivered after the crash opens:\n{}",
        page.body
    );
}

/// Creates a task as `who` and returns its id.
async fn create_task(app: &App, who: &Auth, title: &str) -> String {
    let created = data(
        app.graphql(
            who,
            "mutation Create($input: CreateTaskInput!) {
                createTask(input: $input) {
                    task { id }
                    userErrors { field message code }
                }
            }",
            json!({ "input": { "title": title, "description": "Two hundred copies, A4." } }),
        )
        .await,
        "/createTask",
    );
    assert_no_user_errors(&created);
    created["task"]["id"]
        .as_str()
        .expect("a created task has an id")
        .to_owned()
}

/// Invites Gus Guest into `task` as an observer.
async fn invite_guest(app: &App, admin: &Auth, task: &str) {
    let invited = data(
        app.graphql(
            admin,
            "mutation Invite($input: InviteGuestToTaskInput!) {
                inviteGuestToTask(input: $input) {
                    invitation { id }
                    userErrors { field message code }
                }
            }",
            json!({ "input": {
                "taskId": task, "email": GUEST_EMAIL,
                "firstName": "Gus", "lastName": "Guest", "role": "OBSERVER",
            }}),
        )
        .await,
        "/inviteGuestToTask",
    );
    assert_no_user_errors(&invited);
}

/// Gives `task` a new title and nothing else, so it makes one change to hear about.
async fn rename_task(app: &App, who: &Auth, task: &str, title: &str) {
    let updated = data(
        app.graphql(
            who,
            "mutation Update($input: UpdateTaskInput!) {
                updateTask(input: $input) {
                    task { title }
                    userErrors { field message code }
                }
            }",
            json!({ "input": { "taskId": task, "title": title } }),
        )
        .await,
        "/updateTask",
    );
    assert_no_user_errors(&updated);
    assert_eq!(updated["task"]["title"], title);
}

/// Waits until the binary's log contains `text`; panics with the log if it does not
/// within `timeout`.
async fn wait_for_log(app: &App, text: &str, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !app.log().contains(text) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the log did not say {text:?} within {timeout:?}:\n{}",
            app.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Fails if two received mails share a Message-ID. The notifier derives it from the
/// event and the recipient, so a mail delivered twice shows up here even if its text
/// were to differ.
fn assert_no_mail_delivered_twice(smtp: &SmtpSink) {
    let mut seen: HashMap<String, String> = HashMap::new();
    for mail in smtp.all() {
        let id = mail
            .message_id()
            .unwrap_or_else(|| panic!("every mail has a Message-ID:\n{}", mail.raw));
        if let Some(first) = seen.insert(id.clone(), mail.subject()) {
            panic!(
                "Message-ID {id} was delivered twice: {first:?}, then {:?}",
                mail.subject()
            );
        }
    }
}

fn mails_to(smtp: &SmtpSink, email: &str) -> usize {
    subjects_to(smtp, email).len()
}

/// The subjects of every mail `email` has received, in the order they arrived.
fn subjects_to(smtp: &SmtpSink, email: &str) -> Vec<String> {
    smtp.all()
        .iter()
        .filter(|mail| mail.is_addressed_to(email))
        .map(|mail| mail.subject())
        .collect()
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

fn assert_no_user_errors(payload: &Value) {
    assert_eq!(
        payload["userErrors"],
        json!([]),
        "no user errors: {payload}"
    );
}
