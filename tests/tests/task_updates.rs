//! `updateTask` with several fields is one change: every field is stored or none is,
//! and each person on the task hears of it in one email naming every change.
//!
//! Whether a mail did *not* come is told by a later one: after the change, the
//! administrator comments on the task, and every watcher is emailed about the comment.
//! The notifier follows the log in order, so once the comment's mail is in, any mail
//! about the change before it is too.

use e2e::{data, succeeded, user_error, App, Auth, Backend, SmtpSink, MAIL_TIMEOUT};
use serde_json::json;

const TITLE: &str = "Print the catalogue";
const NEW_TITLE: &str = "Print the catalogue in colour";
const WATCHERS: [&str; 2] = ["ann@client.test", "bob@client.test"];
const COMMENT: &str = "mutation($input: CommentOnTaskInput!) { commentOnTask(input: $input) { task { id } userErrors { code } } }";
const TASK: &str = "query($id: ID!) { task(id: $id) { title status description } }";

#[tokio::test]
async fn one_update_is_one_email_naming_every_change_on_sqlite() {
    run_one_update_one_email(Backend::Sqlite).await;
}

#[tokio::test]
async fn one_update_is_one_email_naming_every_change_on_postgres() {
    run_one_update_one_email(Backend::Postgres).await;
}

#[tokio::test]
async fn a_refused_field_stores_nothing_on_sqlite() {
    run_a_refused_field_stores_nothing(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_refused_field_stores_nothing_on_postgres() {
    run_a_refused_field_stores_nothing(Backend::Postgres).await;
}

/// A task with two guests on it who have joined, so both are emailed about changes.
async fn task_with_watchers(app: &App, smtp: &SmtpSink) -> (Auth, String) {
    let admin = app.login_admin().await;
    let task = app.create_task(&admin, TITLE, None).await;
    for watcher in WATCHERS {
        app.guest_joins(smtp, &admin, &task, watcher, "a long password")
            .await;
    }
    (admin, task)
}

/// Comments `text` on the task as the administrator and waits until every watcher has
/// the mail about it: every mail about what came before has arrived by then.
async fn comment_and_wait(app: &App, smtp: &SmtpSink, admin: &Auth, task: &str, text: &str) {
    let said = app
        .graphql(
            admin,
            COMMENT,
            json!({ "input": { "taskId": task, "text": text } }),
        )
        .await;
    succeeded(said, "/commentOnTask");
    for watcher in WATCHERS {
        smtp.wait_for(
            |mail| mail.is_addressed_to(watcher) && mail.body_text().contains(text),
            MAIL_TIMEOUT,
        )
        .await;
    }
}

/// The subjects of the mails to `watcher` about a change of the task's own fields.
fn field_changes_to(smtp: &SmtpSink, watcher: &str) -> Vec<String> {
    smtp.all()
        .iter()
        .filter(|mail| mail.is_addressed_to(watcher))
        .map(|mail| mail.subject())
        .filter(|subject| subject.contains("renamed") || subject.contains("changed the"))
        .collect()
}

async fn run_one_update_one_email(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = App::spawn(backend, &smtp).await;
    let (admin, task) = task_with_watchers(&app, &smtp).await;

    // One request changes the title and the status.
    app.update_task(&admin, &task, NEW_TITLE, Some("IN_PROGRESS"))
        .await;
    comment_and_wait(&app, &smtp, &admin, &task, "The proofs are in").await;

    for watcher in WATCHERS {
        let changes = field_changes_to(&smtp, watcher);
        assert_eq!(
            changes.len(),
            1,
            "{watcher} hears of the update in one mail: {changes:#?}"
        );
        assert!(
            changes[0].contains(&format!("renamed the task to \"{NEW_TITLE}\""))
                && changes[0].contains("changed the status to in progress"),
            "the one mail names both changes: {}",
            changes[0]
        );
    }
}

async fn run_a_refused_field_stores_nothing(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = App::spawn(backend, &smtp).await;
    let (admin, task) = task_with_watchers(&app, &smtp).await;

    // A good title and status, and a description with a control character: the whole
    // change is refused, naming the field.
    let refused = app
        .graphql(
            &admin,
            e2e::UPDATE_TASK,
            json!({ "input": { "taskId": task, "title": NEW_TITLE, "status": "COMPLETED",
                               "description": "Two hundred\u{0007} copies" } }),
        )
        .await;
    let (field, code, _) = user_error(&refused, "/updateTask");
    assert_eq!(code, "INVALID_DESCRIPTION", "{refused}");
    assert_eq!(field, ["input", "description"], "{refused}");

    let stored = data(
        app.graphql(&admin, TASK, json!({ "id": task })).await,
        "/task",
    );
    assert_eq!(stored["title"], TITLE, "the title is not changed: {stored}");
    assert_eq!(
        stored["status"], "NEW",
        "the status is not changed: {stored}"
    );

    comment_and_wait(&app, &smtp, &admin, &task, "Still waiting for the proofs").await;
    for watcher in WATCHERS {
        let changes = field_changes_to(&smtp, watcher);
        assert!(
            changes.is_empty(),
            "{watcher} hears of no change that was not made: {changes:#?}"
        );
    }
}
