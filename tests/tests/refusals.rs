//! Every refusal a person can run into through the API, each with the code a program
//! relies on and a message a person can act on. The stories here run on the embedded
//! store; the guest flow covers both.

use e2e::{error_code, user_error, AcceptancePage, App, Auth, Backend, SmtpSink, SESSION_COOKIE};
use serde_json::{json, Value};

const GUEST_EMAIL: &str = "gus@client.test";
const PARTICIPANT: &str = "PARTICIPANT";
const LOGIN: &str = "mutation Login($input: LoginInput!) {
    login(input: $input) { token userErrors { field message code } } }";

#[tokio::test]
async fn what_an_administrator_is_refused() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Sqlite, &smtp).await;
    let admin = app.login_admin().await;

    let empty = app.try_create_task(&admin, "   ", None).await;
    let (field, code, message) = user_error(&empty, "/createTask");
    assert_eq!(
        (field, code.as_str()),
        (vec!["input".into(), "title".into()], "INVALID_TITLE")
    );
    assert_eq!(message, "the title is empty");
    let long = app.try_create_task(&admin, &"t".repeat(251), None).await;
    assert_eq!(user_error(&long, "/createTask").1, "INVALID_TITLE");

    let task = app.create_task(&admin, "Brief the printer", None).await;
    let bad_email = app
        .try_invite_guest(&admin, &task, "gus at client", "Gus", "Guest", PARTICIPANT)
        .await;
    let (field, code, message) = user_error(&bad_email, "/inviteGuestToTask");
    assert_eq!(
        (field, code.as_str()),
        (vec!["input".into(), "email".into()], "INVALID_EMAIL")
    );
    assert!(message.contains("gus at client"), "{message}");

    let no_name = app
        .try_invite_guest(&admin, &task, GUEST_EMAIL, "", "Guest", PARTICIPANT)
        .await;
    let (field, code, _) = user_error(&no_name, "/inviteGuestToTask");
    assert_eq!(
        (field, code.as_str()),
        (vec!["input".into(), "firstName".into()], "INVALID_NAME")
    );

    let taken = app
        .try_invite_guest(
            &admin,
            &task,
            &app.admin_email.to_uppercase(),
            "Ada",
            "Again",
            PARTICIPANT,
        )
        .await;
    let (_, code, message) = user_error(&taken, "/inviteGuestToTask");
    assert_eq!(code, "EMAIL_TAKEN");
    assert!(message.contains(&app.admin_email), "{message}");

    let unknown_task = app
        .try_invite_guest(
            &admin,
            &e2e::nonexistent_id("Task"),
            GUEST_EMAIL,
            "Gus",
            "Guest",
            PARTICIPANT,
        )
        .await;
    assert_eq!(error_code(&unknown_task), "NOT_FOUND", "{unknown_task}");

    let page_too_big = app
        .graphql(
            &admin,
            "{ myTasks(first: 1000) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        error_code(&page_too_big),
        "BAD_USER_INPUT",
        "{page_too_big}"
    );
    let bad_cursor = app
        .graphql(
            &admin,
            "{ myTasks(after: \"garbage\") { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&bad_cursor), "BAD_USER_INPUT", "{bad_cursor}");

    // A batch of more than ten operations is refused whole (see limits.rs).
    let batch: Vec<serde_json::Value> = (0..11)
        .map(|_| json!({ "query": "{ viewer { id } }" }))
        .collect();
    let batch = app.post_json("/graphql", &json!(batch), &admin).await;
    assert_eq!(batch.status.as_u16(), 400, "{}", batch.body);
    assert!(batch.body.contains("BATCH_TOO_LARGE"), "{}", batch.body);
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
        e2e::nonexistent_id("Account"),
    )
    .await;
    let refusals: Vec<_> = [&wrong_password, &unknown_email, &other_account]
        .iter()
        .map(|r| {
            assert!(
                r.pointer("/data/login/token").is_some_and(Value::is_null),
                "{r}"
            );
            user_error(r, "/login")
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
    assert_eq!(error_code(&after), "UNAUTHENTICATED", "{after}");
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
    let admin = app.login_admin().await;
    let task = app.create_task(&admin, "Check the proofs", None).await;
    app.invite_guest(&admin, &task, GUEST_EMAIL, "Gus", "Guest", PARTICIPANT)
        .await;
    let mail = smtp.wait_for_mail_to(GUEST_EMAIL).await;
    let link = mail.link().expect("the invitation has a link");

    // The form refuses what it cannot take, next to the field, and keeps the link usable.
    let AcceptancePage {
        action: path,
        mut form,
    } = app.open_invitation(&link).await;
    form.fill("password", "short").fill("first_name", " ");
    let refused = app.submit_invitation(&path, &form).await;
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
    assert!(refused.set_cookie_header(SESSION_COOKIE).is_none());

    // Markup typed into the form comes back as text.
    form.fill("first_name", "<script>alert(1)</script>")
        .fill("password", "x");
    let echoed = app.submit_invitation(&path, &form).await;
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
    let refused = app.submit_invitation(&path, &forged).await;
    assert_eq!(refused.status, 404, "{}", refused.body);

    let accepted = app.submit_invitation(&path, &form).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let guest = Auth::Bearer(app.login(GUEST_EMAIL, "a long enough passphrase").await);

    let update = app.try_update_task(&guest, &task, "Mine now", None).await;
    assert_eq!(user_error(&update, "/updateTask").1, "FORBIDDEN");
    let create = app.try_create_task(&guest, "A task of my own", None).await;
    assert_eq!(user_error(&create, "/createTask").1, "FORBIDDEN");
    let invite = app
        .try_invite_guest(
            &guest,
            &task,
            "friend@client.test",
            "Fred",
            "Friend",
            PARTICIPANT,
        )
        .await;
    assert_eq!(user_error(&invite, "/inviteGuestToTask").1, "FORBIDDEN");

    // The admin's other task stays invisible to mutations too, not just queries.
    let other = app.create_task(&admin, "Internal budget", None).await;
    let hidden = app.try_update_task(&guest, &other, "x", None).await;
    assert_eq!(error_code(&hidden), "NOT_FOUND", "{hidden}");
}

#[tokio::test]
async fn my_tasks_come_a_page_at_a_time() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Sqlite, &smtp).await;
    let admin = app.login_admin().await;
    let mut created = Vec::new();
    for n in 0..5 {
        created.push(app.create_task(&admin, &format!("Task {n}"), None).await);
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

/// The plan decides who may be let in: the free plan has no extranet, and a plan's
/// user limit counts everyone registered or invited.
#[tokio::test]
async fn the_plan_limits_who_can_be_invited() {
    let smtp = SmtpSink::start();
    let app = App::spawn_on_plan(Backend::Sqlite, &smtp, "free").await;
    let admin = app.login_admin().await;
    let task = app.create_task(&admin, "Brief the printer", None).await;
    let refused = app
        .try_invite_guest(&admin, &task, "gus@client.test", "Gus", "Guest", "OBSERVER")
        .await;
    let (_, code, message) = user_error(&refused, "/inviteGuestToTask");
    assert_eq!(code, "NO_EXTRANET_ON_PLAN");
    assert!(message.contains("free plan"), "{message}");

    let smtp = SmtpSink::start();
    let app = App::spawn_on_plan(Backend::Sqlite, &smtp, "standard").await;
    let admin = app.login_admin().await;
    let task = app.create_task(&admin, "Brief the printer", None).await;
    // The administrator holds one of the standard plan's 50 places.
    for n in 1..50 {
        app.invite_guest(
            &admin,
            &task,
            &format!("g{n}@client.test"),
            "Guest",
            &format!("N{n}"),
            "OBSERVER",
        )
        .await;
    }
    let over = app
        .try_invite_guest(
            &admin,
            &task,
            "one.more@client.test",
            "One",
            "More",
            "OBSERVER",
        )
        .await;
    let (_, code, message) = user_error(&over, "/inviteGuestToTask");
    assert_eq!(code, "PLAN_LIMIT_REACHED");
    assert!(
        message.contains("50"),
        "the message names the limit: {message}"
    );
}
