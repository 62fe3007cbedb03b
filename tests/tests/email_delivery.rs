//! Email is delivered exactly once, whatever happens to the service in between: a
//! restart for maintenance sends nothing again, and a crash while the mail server is
//! down loses nothing.
//!
//! Both stories run on both storage backends, because the outbox and its checkpoint
//! live in the database, and each backend must keep them the same way.

use std::collections::HashMap;
use std::time::Duration;

use e2e::{data, App, Auth, Backend, SmtpSink, MAIL_TIMEOUT};
use serde_json::json;

const GUEST_EMAIL: &str = "gus@client.test";
const TASK_TITLE: &str = "Print the catalogue";
const NEW_TITLE: &str = "Print the catalogue in colour";
const TASK_DESCRIPTION: &str = "Two hundred copies, A4.";
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
    let (admin, task) = invite_guest_into_a_task(&app).await;
    smtp.wait_for_mail_to(GUEST_EMAIL).await;

    // 2. The service is stopped for maintenance and started again. The notifier picks
    //    up from where it stopped: what it sent before, it does not send again.
    app.restart().await;
    tokio::time::sleep(GRACE).await;
    assert_eq!(
        smtp.count_to(GUEST_EMAIL),
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

    // 4. The administrator renames the task (a new title and nothing else, so one
    //    change to hear about); the guest hears of it once, and hears nothing more of
    //    the invitation.
    app.update_task(&admin, &task, NEW_TITLE, None).await;
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
    invite_guest_into_a_task(&app).await;

    // 2. The notifier tries, fails, and keeps the invitation for later.
    app.wait_for_log("email not sent", FIRST_TRY_TIMEOUT).await;

    // 3. The service crashes before it could try again, and the mail server comes back
    //    while it is down. Only what the database holds survives the crash.
    app.crash().await;
    smtp.open();
    app.start().await;

    // 4. The invitation is delivered once, and it still works.
    let invitation = smtp.wait_for_mail_to(GUEST_EMAIL).await;
    tokio::time::sleep(GRACE).await;
    assert_eq!(
        smtp.count_to(GUEST_EMAIL),
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

/// The administrator logs in, creates a task and invites Gus Guest into it as an
/// observer; returns the administrator's credentials and the task's id.
async fn invite_guest_into_a_task(app: &App) -> (Auth, String) {
    let admin = app.login_admin().await;
    let task = app
        .create_task(&admin, TASK_TITLE, Some(TASK_DESCRIPTION))
        .await;
    app.invite_guest(&admin, &task, GUEST_EMAIL, "Gus", "Guest", "OBSERVER")
        .await;
    (admin, task)
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

/// The subjects of every mail `email` has received, in the order they arrived.
fn subjects_to(smtp: &SmtpSink, email: &str) -> Vec<String> {
    smtp.all()
        .iter()
        .filter(|mail| mail.is_addressed_to(email))
        .map(|mail| mail.subject())
        .collect()
}
