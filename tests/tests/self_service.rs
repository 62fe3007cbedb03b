//! Getting in without an invitation, and back in without a password: registering
//! through the account's link (with and without an administrator's approval), asking
//! for a password reset, and the limits on how often anyone may try.
//!
//! These drive the pages as plain HTTP, the way `guest_flow` does; `browser.rs` drives
//! the same pages in Chromium with the keyboard.

use e2e::{
    data, succeeded, user_error, App, Auth, Backend, HtmlForm, HttpResponse, SmtpSink,
    MAIL_TIMEOUT, SESSION_COOKIE,
};
use serde_json::{json, Value};
use std::time::Duration;

const CONFIGURE_LINK: &str = "mutation Configure($input: ConfigureRegistrationLinkInput!) {
    configureRegistrationLink(input: $input) {
        link { url enabled approvalRequired approvalFreeDomains }
        userErrors { field message code }
    }
}";

const DECIDE: &str = "mutation Decide($input: RegistrationInput!, $approve: Boolean!) {
    approve: approveRegistration(input: $input) @include(if: $approve) {
        registration { id email status } person { id email kind status }
        userErrors { field message code }
    }
    reject: rejectRegistration(input: $input) @skip(if: $approve) {
        registration { id email status } person { id }
        userErrors { field message code }
    }
}";

const REQUEST_RESET: &str = "mutation Reset($input: RequestPasswordResetInput!) {
    requestPasswordReset(input: $input) { message userErrors { field message code } }
}";

/// Turns the registration link on as asked and returns its URL.
async fn configure_link(app: &App, admin: &Auth, approval_required: bool, free: &[&str]) -> String {
    let payload = succeeded(
        app.graphql(
            admin,
            CONFIGURE_LINK,
            json!({ "input": {
                "enabled": true, "approvalRequired": approval_required, "approvalFreeDomains": free,
            }}),
        )
        .await,
        "/configureRegistrationLink",
    );
    assert_eq!(payload["link"]["enabled"], true, "{payload}");
    let url = payload["link"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("the link has a URL: {payload}"))
        .to_owned();
    let asked = app
        .graphql(admin, "{ registrationLink { url enabled } }", json!({}))
        .await;
    assert_eq!(
        asked["data"]["registrationLink"]["url"],
        url.as_str(),
        "{asked}"
    );
    url
}

/// Opens the registration link, fills in the form and submits it.
async fn register(app: &App, link: &str, email: &str, first: &str, password: &str) -> HttpResponse {
    let page = app.get(link, &Auth::Anonymous).await;
    assert_eq!(
        page.status, 200,
        "the registration page opens:\n{}",
        page.body
    );
    let mut form = HtmlForm::parse(&page.body)
        .unwrap_or_else(|| panic!("the registration page has a form:\n{}", page.body));
    form.fill("email", email)
        .fill("first_name", first)
        .fill("last_name", "Newcomer")
        .fill("password", password);
    let action = link.split_once('?').map_or(link, |(path, _)| path);
    app.post_form(action, &form.fields(), &Auth::Anonymous)
        .await
}

async fn viewer_email(app: &App, who: &Auth) -> Value {
    data(
        app.graphql(who, "{ viewer { email kind } }", json!({}))
            .await,
        "/viewer",
    )["email"]
        .clone()
}

async fn login_error(app: &App, email: &str, password: &str) -> String {
    let response = app
        .graphql(
            &Auth::Anonymous,
            "mutation Login($input: LoginInput!) {
                login(input: $input) { token userErrors { field message code } }
            }",
            json!({ "input": {
                "accountId": app.account_id, "email": email, "password": password,
            }}),
        )
        .await;
    match response.pointer("/data/login/userErrors/0/code") {
        Some(code) => code.as_str().unwrap_or_default().to_owned(),
        None => String::new(),
    }
}

/// The registration id an administrator's "asks to join" mail names.
fn registration_id(mail: &e2e::ReceivedMail) -> String {
    let text = mail.body_text();
    text.lines()
        .find_map(|line| line.trim().strip_prefix("Registration: "))
        .unwrap_or_else(|| panic!("the mail names the registration:\n{text}"))
        .trim()
        .to_owned()
}

#[tokio::test]
async fn registration_through_the_link_with_and_without_approval() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Postgres, &smtp).await;
    let admin = app.login_admin().await;

    // Closed by default: the link does not take registrations until turned on.
    let closed_link = {
        let payload = succeeded(
            app.graphql(
                &admin,
                "mutation { rotateRegistrationLink { link { url enabled } userErrors { code } } }",
                json!({}),
            )
            .await,
            "/rotateRegistrationLink",
        );
        assert_eq!(payload["link"]["enabled"], false, "{payload}");
        payload["link"]["url"].as_str().expect("a URL").to_owned()
    };
    assert_eq!(app.get(&closed_link, &Auth::Anonymous).await.status, 410);

    // Without approval: in at once, and logged in.
    let link = configure_link(&app, &admin, false, &[]).await;
    assert_eq!(link, closed_link, "configuring keeps the link");
    let short = register(&app, &link, "nia@partner.test", "Nia", "short").await;
    assert_eq!(short.status, 422, "{}", short.body);
    assert!(
        short.body.contains(r#"aria-describedby="password-error""#),
        "{}",
        short.body
    );
    let joined = register(
        &app,
        &link,
        "nia@partner.test",
        "Nia",
        "nia's own passphrase",
    )
    .await;
    assert_eq!(joined.status, 200, "{}", joined.body);
    let nia = Auth::Session(joined.cookie(SESSION_COOKIE).expect("registering logs in"));
    assert_eq!(viewer_email(&app, &nia).await, "nia@partner.test");
    let again = register(
        &app,
        &link,
        "NIA@partner.test",
        "Nia",
        "nia's own passphrase",
    )
    .await;
    assert_eq!(
        again.status, 422,
        "an address registers once:\n{}",
        again.body
    );
    assert!(
        again.body.contains("already uses this address"),
        "{}",
        again.body
    );

    // With approval: waiting, not logged in; administrators are told.
    configure_link(&app, &admin, true, &["trusted.test"]).await;
    let waiting = register(
        &app,
        &link,
        "bob@outside.test",
        "Bob",
        "bob's own passphrase",
    )
    .await;
    assert_eq!(waiting.status, 202, "{}", waiting.body);
    assert!(waiting.body.contains("approve"), "{}", waiting.body);
    assert!(waiting.set_cookie_header(SESSION_COOKIE).is_none());
    assert_eq!(
        login_error(&app, "bob@outside.test", "bob's own passphrase").await,
        "INVALID_CREDENTIALS"
    );
    let asks = smtp
        .wait_for(
            |m| m.is_addressed_to(&app.admin_email) && m.body_text().contains("bob@outside.test"),
            MAIL_TIMEOUT,
        )
        .await;
    let bob_registration = registration_id(&asks);

    // A trusted domain skips approval.
    let trusted = register(&app, &link, "cy@trusted.test", "Cy", "cy's own passphrase").await;
    assert_eq!(trusted.status, 200, "{}", trusted.body);

    // Approved: Bob joins, hears of it, and logs in with the password he chose.
    let approved = succeeded(
        app.graphql(
            &admin,
            DECIDE,
            json!({ "input": { "invitationId": bob_registration }, "approve": true }),
        )
        .await,
        "/approve",
    );
    assert_eq!(approved["registration"]["status"], "APPROVED", "{approved}");
    assert_eq!(
        approved["person"]["email"], "bob@outside.test",
        "{approved}"
    );
    assert_eq!(approved["person"]["kind"], "EMPLOYEE", "{approved}");
    smtp.wait_for(
        |m| m.is_addressed_to("bob@outside.test") && m.subject().contains("approved"),
        MAIL_TIMEOUT,
    )
    .await;
    app.login("bob@outside.test", "bob's own passphrase").await;
    // Approving again changes nothing and says so.
    let twice = app
        .graphql(
            &admin,
            DECIDE,
            json!({ "input": { "invitationId": bob_registration }, "approve": false }),
        )
        .await;
    let (_, code, _) = user_error(&twice, "/reject");
    assert_eq!(code, "NOT_AWAITING_APPROVAL");

    // Rejected: not let in, told so, and the address is free to register again.
    let dee = register(
        &app,
        &link,
        "dee@outside.test",
        "Dee",
        "dee's own passphrase",
    )
    .await;
    assert_eq!(dee.status, 202, "{}", dee.body);
    let asks = smtp
        .wait_for(
            |m| m.is_addressed_to(&app.admin_email) && m.body_text().contains("dee@outside.test"),
            MAIL_TIMEOUT,
        )
        .await;
    let rejected = succeeded(
        app.graphql(
            &admin,
            DECIDE,
            json!({ "input": { "invitationId": registration_id(&asks) }, "approve": false }),
        )
        .await,
        "/reject",
    );
    assert_eq!(rejected["registration"]["status"], "REJECTED", "{rejected}");
    assert!(rejected["person"].is_null());
    smtp.wait_for(
        |m| m.is_addressed_to("dee@outside.test") && m.subject().contains("not approved"),
        MAIL_TIMEOUT,
    )
    .await;
    assert_eq!(
        login_error(&app, "dee@outside.test", "dee's own passphrase").await,
        "INVALID_CREDENTIALS"
    );
    // The address is given back by a follow-up process: wait for it.
    let mut status = 0;
    for _ in 0..50 {
        status = register(
            &app,
            &link,
            "dee@outside.test",
            "Dee",
            "dee's own passphrase",
        )
        .await
        .status
        .as_u16();
        if status == 202 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status, 202, "a rejected address may register again");

    // Only administrators decide, and a rotated link leaves the old one dead.
    let as_nia = app
        .graphql(
            &nia,
            DECIDE,
            json!({ "input": { "invitationId": bob_registration }, "approve": true }),
        )
        .await;
    assert_eq!(user_error(&as_nia, "/approve").1, "FORBIDDEN");
    let rotated = succeeded(
        app.graphql(
            &admin,
            "mutation { rotateRegistrationLink { link { url } userErrors { code } } }",
            json!({}),
        )
        .await,
        "/rotateRegistrationLink",
    );
    assert_ne!(rotated["link"]["url"], link.as_str());
    assert_eq!(app.get(&link, &Auth::Anonymous).await.status, 404);
    let forged = format!(
        "{}?secret={}",
        link.split_once('?').expect("a query").0,
        "0".repeat(64)
    );
    let forged = app.get(&forged, &Auth::Anonymous).await;
    assert_eq!(forged.status, 404);
    assert!(
        !forged.body.contains("Acme"),
        "a forged link reveals nothing:\n{}",
        forged.body
    );
}

#[tokio::test]
async fn a_password_reset_link_works_once_and_ends_every_other_session() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Sqlite, &smtp).await;
    let old_session = app.login_admin().await;

    // The same answer for a known and an unknown address, through the API and the page.
    let ask = |email: &'static str| {
        let app = &app;
        async move {
            let payload = succeeded(
                app.graphql(
                    &Auth::Anonymous,
                    REQUEST_RESET,
                    json!({ "input": { "accountId": app.account_id, "email": email } }),
                )
                .await,
                "/requestPasswordReset",
            );
            payload["message"]
                .as_str()
                .expect("a message")
                .replace(email, "<email>")
        }
    };
    assert_eq!(ask("admin@acme.test").await, ask("nobody@acme.test").await);
    let page_answer = |email: &'static str| {
        let app = &app;
        async move {
            let path = format!("/password-reset/{}", app.account_in_links);
            let response = app
                .post_form(
                    &path,
                    &[("email".to_owned(), email.to_owned())],
                    &Auth::Anonymous,
                )
                .await;
            (response.status, response.body.replace(email, "<email>"))
        }
    };
    assert_eq!(
        page_answer("admin@acme.test").await,
        page_answer("ghost@acme.test").await
    );

    // Two requests for the administrator, two links; only the newer one works.
    let deadline = tokio::time::Instant::now() + MAIL_TIMEOUT;
    while smtp.count_to(&app.admin_email) < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let links: Vec<String> = smtp
        .all()
        .iter()
        .filter(|m| m.is_addressed_to(&app.admin_email))
        .filter_map(|m| m.link_to("/password-reset/"))
        .collect();
    assert_eq!(links.len(), 2, "one link per request: {links:?}");
    assert!(
        smtp.all().iter().all(
            |m| !m.is_addressed_to("nobody@acme.test") && !m.is_addressed_to("ghost@acme.test")
        ),
        "nobody is emailed for an unknown address"
    );
    let mut opened = Vec::new();
    for link in &links {
        opened.push(app.get(link, &Auth::Anonymous).await);
    }
    let statuses: Vec<u16> = opened.iter().map(|r| r.status.as_u16()).collect();
    let mut sorted = statuses.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        vec![200, 404],
        "the older link is dead: {statuses:?}"
    );
    let newer = statuses
        .iter()
        .position(|s| *s == 200)
        .expect("one link opens");
    let (latest, older) = (links[newer].clone(), links[1 - newer].clone());
    let page = &opened[newer];
    let action = latest
        .split_once('?')
        .expect("the link carries its secret")
        .0
        .to_owned();
    let mut form = HtmlForm::parse(&page.body).expect("a form");

    form.fill("password", "short");
    let refused = app
        .post_form(&action, &form.fields(), &Auth::Anonymous)
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains(r#"id="password-error""#),
        "{}",
        refused.body
    );

    form.fill("password", "a brand new passphrase");
    let done = app
        .post_form(&action, &form.fields(), &Auth::Anonymous)
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let new_session = Auth::Session(done.cookie(SESSION_COOKIE).expect("the reset logs in"));
    assert_eq!(
        viewer_email(&app, &new_session).await,
        app.admin_email.as_str()
    );
    assert!(
        viewer_email(&app, &old_session).await.is_null(),
        "the old session ended"
    );
    assert_eq!(
        login_error(&app, &app.admin_email, &app.admin_password).await,
        "INVALID_CREDENTIALS"
    );
    app.login(&app.admin_email, "a brand new passphrase").await;

    // Single use; and a link from before a newer request, or a forged one, is no good.
    let reused = app
        .post_form(&action, &form.fields(), &Auth::Anonymous)
        .await;
    assert_eq!(reused.status, 410, "{}", reused.body);
    assert_eq!(app.get(&latest, &Auth::Anonymous).await.status, 410);
    assert_eq!(app.get(&older, &Auth::Anonymous).await.status, 404);
    let forged = format!("{action}?secret={}", "0".repeat(64));
    assert_eq!(app.get(&forged, &Auth::Anonymous).await.status, 404);
}

#[tokio::test]
async fn attempts_over_the_limit_for_one_address_are_refused_while_others_go_on() {
    let smtp = SmtpSink::start();
    let app = App::spawn_with_settings(
        Backend::Sqlite,
        &smtp,
        &[
            ("EXTRANET_RATE_LIMIT_PER_ADDRESS", "3"),
            ("EXTRANET_RATE_LIMIT_PER_CLIENT", "8"),
        ],
    )
    .await;
    // The administrator's first of three logins.
    let admin = app.login_admin().await;
    let link = configure_link(&app, &admin, false, &[]).await;
    let joined = register(
        &app,
        &link,
        "nia@partner.test",
        "Nia",
        "nia's own passphrase",
    )
    .await;
    assert_eq!(joined.status, 200, "{}", joined.body);

    for guess in ["a wrong guess", "another wrong guess"] {
        assert_eq!(
            login_error(&app, &app.admin_email, guess).await,
            "INVALID_CREDENTIALS"
        );
    }
    let refused = app
        .graphql(
            &Auth::Anonymous,
            "mutation Login($input: LoginInput!) {
                login(input: $input) { token userErrors { field message code } }
            }",
            json!({ "input": {
                "accountId": app.account_id, "email": "ADMIN@acme.test",
                "password": app.admin_password,
            }}),
        )
        .await;
    let (_, code, message) = user_error(&refused, "/login");
    assert_eq!(code, "RATE_LIMITED", "even the right password: {refused}");
    assert!(message.contains("try again in"), "{message}");
    assert!(refused
        .pointer("/data/login/token")
        .is_some_and(Value::is_null));

    // Another address still gets in, from the same client.
    app.login("nia@partner.test", "nia's own passphrase").await;

    // The page answers 429 with how long to wait.
    let path = format!("/password-reset/{}", app.account_in_links);
    let field = [("email".to_owned(), "nia@partner.test".to_owned())];
    for _ in 0..3 {
        let asked = app.post_form(&path, &field, &Auth::Anonymous).await;
        assert_eq!(asked.status, 200, "{}", asked.body);
    }
    let limited = app.post_form(&path, &field, &Auth::Anonymous).await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    let wait: u64 = limited
        .header("retry-after")
        .and_then(|s| s.parse().ok())
        .expect("a Retry-After in seconds");
    assert!(wait > 0 && wait <= 900, "{wait}");
    assert!(
        limited
            .body
            .contains(&format!("try again in {wait} seconds")),
        "{}",
        limited.body
    );

    // One client trying many addresses meets the per-client limit: four logins counted
    // so far (three for the administrator, one for Nia; the refused one is not
    // counted), so four more fit.
    for n in 0..4 {
        let email = format!("guess{n}@acme.test");
        assert_eq!(
            login_error(&app, &email, "whatever it is").await,
            "INVALID_CREDENTIALS"
        );
    }
    assert_eq!(
        login_error(&app, "fresh@acme.test", "whatever it is").await,
        "RATE_LIMITED"
    );
}

/// The registration page refuses a name with a NUL, a control character or a bidi
/// override next to the field (docs/domain.md, "Text"). On PostgreSQL a NUL that
/// reached the log once stopped every projection, so the service must still be ready
/// and serving afterwards, and a registration with a proper name goes through.
async fn hidden_characters_in_a_name_are_refused_by_the_registration_page(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = App::spawn(backend, &smtp).await;
    let admin = app.login_admin().await;
    let link = configure_link(&app, &admin, false, &[]).await;
    for (name, shown) in [
        ("Ada\u{0}", "U+0000"),
        ("Ada\u{1b}[2J", "U+001B"),
        ("Ada\r\nBcc: all@acme.test", "one line"),
        ("\u{202e}adA", "U+202E"),
    ] {
        let refused = register(
            &app,
            &link,
            "ada@partner.test",
            name,
            "ada's own passphrase",
        )
        .await;
        assert_eq!(refused.status, 422, "{name:?}: {}", refused.body);
        assert!(
            refused.body.contains(r#"id="first_name-error""#) && refused.body.contains(shown),
            "{name:?} is refused next to the first name, naming {shown}:\n{}",
            refused.body
        );
        assert!(refused.set_cookie_header(SESSION_COOKIE).is_none());
    }
    let ready = app.get("/readyz", &Auth::Anonymous).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    // NFC: "e" and a combining accent is stored as the one character "é".
    let joined = register(
        &app,
        &link,
        "ada@partner.test",
        "Rene\u{301}e",
        "ada's own passphrase",
    )
    .await;
    assert_eq!(joined.status, 200, "{}", joined.body);
    let ada = Auth::Session(joined.cookie(SESSION_COOKIE).expect("registering logs in"));
    let viewer = data(
        app.graphql(&ada, "{ viewer { firstName } }", json!({}))
            .await,
        "/viewer",
    );
    assert_eq!(viewer["firstName"], "Ren\u{e9}e");
}

#[tokio::test]
async fn hidden_characters_in_a_name_are_refused_by_the_registration_page_on_postgres() {
    hidden_characters_in_a_name_are_refused_by_the_registration_page(Backend::Postgres).await;
}

#[tokio::test]
async fn hidden_characters_in_a_name_are_refused_by_the_registration_page_on_sqlite() {
    hidden_characters_in_a_name_are_refused_by_the_registration_page(Backend::Sqlite).await;
}
