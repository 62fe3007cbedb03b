//! Two server processes of one deployment, sharing a PostgreSQL database: a session
//! opened on one works on the other, changes made through either are seen through
//! both, and every email is sent once although both run a notifier.

use e2e::{App, Backend, SmtpSink, CREATE_TASK, INVITE_GUEST};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_deployment() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Postgres, &smtp).await;
    let peer = app.peer().await;
    let admin = app.login_admin().await;

    // The session is in the database: the other process knows it.
    let viewer = peer.graphql(&admin, "{ viewer { id } }", json!({})).await;
    assert_eq!(
        viewer["data"]["viewer"]["id"],
        app.admin_id.as_str(),
        "{viewer}"
    );

    // A task made through the peer, guests invited through both.
    let created = peer
        .graphql(
            &admin,
            CREATE_TASK,
            json!({ "input": { "title": "Shared work", "description": "" } }),
        )
        .await;
    let task = created["data"]["createTask"]["task"]["id"]
        .as_str()
        .expect("task id")
        .to_owned();
    let guests: Vec<String> = (0..10).map(|n| format!("guest{n}@client.test")).collect();
    for (n, email) in guests.iter().enumerate() {
        let input = json!({ "input": {
            "taskId": task, "email": email, "firstName": "Guest", "lastName": format!("N{n}"), "role": "OBSERVER",
        }});
        // The first process sees the task the peer has just made: the peer announced
        // its progress, and every check here first catches up to what it has heard.
        let answer: Value = if n % 2 == 0 {
            app.graphql(&admin, INVITE_GUEST, input).await
        } else {
            peer.graphql(&admin, INVITE_GUEST, input).await
        };
        assert!(
            answer["data"]["inviteGuestToTask"]["invitation"]["id"].is_string(),
            "{answer}"
        );
    }

    for email in &guests {
        smtp.wait_for_mail_to(email).await;
    }
    // Both notifiers had the chance to send each message again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Each guest gets their invitation, then one email for every guest added to the
    // task after them (a guest hears of every change to their task): exactly that
    // many, whichever process decided and sent them.
    for (n, email) in guests.iter().enumerate() {
        let expected = 1 + (guests.len() - 1 - n);
        assert_eq!(
            smtp.count_to(email),
            expected,
            "{email}: invitation once, each later change once"
        );
    }
    let ids: Vec<String> = smtp.all().iter().filter_map(|m| m.message_id()).collect();
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), distinct.len(), "no message delivered twice");
}
