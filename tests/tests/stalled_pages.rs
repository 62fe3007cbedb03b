//! A form page whose change is recorded while the read models are stalled says so,
//! with a page of its own ("recorded, not yet shown", 503 with `Retry-After`), never
//! "something went wrong" and never a success it cannot show.

use e2e::{succeeded, App, Auth, Backend, HtmlForm, SmtpSink};
use serde_json::{json, Value};
use sqlx::{AnyConnection, Connection};
use std::time::{Duration, Instant};

/// How long the service may take to notice the stall: a retry is at most a few
/// seconds away, and other tests share the machine.
const NOTICE_WITHIN: Duration = Duration::from_secs(30);

const CONFIGURE_LINK: &str = "mutation Configure($input: ConfigureRegistrationLinkInput!) {
    configureRegistrationLink(input: $input) { link { url } userErrors { code } }
}";

#[tokio::test]
async fn a_registration_recorded_during_a_stall_says_so_on_sqlite() {
    run_a_registration_recorded_during_a_stall_says_so(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_registration_recorded_during_a_stall_says_so_on_postgres() {
    run_a_registration_recorded_during_a_stall_says_so(Backend::Postgres).await;
}

/// Writes straight into the log a `TaskRenamed` without its `title`, which the read
/// models cannot apply, and waits until `/readyz` reports them stalled on it.
async fn stall_the_read_models(app: &App) {
    sqlx::any::install_default_drivers();
    let mut db = AnyConnection::connect(app.database_url())
        .await
        .expect("connect to the test's database");
    let aggregate_id = format!("{}:{}", app.account_in_links, uuid::Uuid::new_v4());
    sqlx::query(
        r#"INSERT INTO events
               (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
           VALUES ('task', $1, 1, 'TaskRenamed', '1', '{"TaskRenamed": {}}', '{"at": "1700000000000"}')"#,
    )
    .bind(&aggregate_id)
    .execute(&mut db)
    .await
    .expect("write the bad event");
    let deadline = Instant::now() + NOTICE_WITHIN;
    loop {
        let response = app.get("/readyz", &Auth::Anonymous).await;
        let body: Value = serde_json::from_str(&response.body).unwrap_or_default();
        if body.pointer("/stalled/0/event/aggregate_id") == Some(&json!(aggregate_id)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the stall is reported within {NOTICE_WITHIN:?}: {}",
            response.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn run_a_registration_recorded_during_a_stall_says_so(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = App::spawn(backend, &smtp).await;
    let admin = app.login_admin().await;
    let configured = succeeded(
        app.graphql(
            &admin,
            CONFIGURE_LINK,
            json!({ "input": { "enabled": true, "approvalRequired": false } }),
        )
        .await,
        "/configureRegistrationLink",
    );
    let link = configured["link"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("the link has a URL: {configured}"))
        .to_owned();
    let page = app.get(&link, &Auth::Anonymous).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let mut form = HtmlForm::parse(&page.body).expect("the registration page has a form");
    form.fill("email", "nia@partner.test")
        .fill("first_name", "Nia")
        .fill("last_name", "Newcomer")
        .fill("password", "nia's own passphrase");

    stall_the_read_models(&app).await;
    let action = link.split_once('?').map_or(link.as_str(), |(path, _)| path);
    let answer = app
        .post_form(action, &form.fields(), &Auth::Anonymous)
        .await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(
        answer.body.contains("Recorded, not yet shown"),
        "the page says the registration is recorded: {}",
        answer.body
    );
    assert!(
        !answer.body.contains("Something went wrong"),
        "{}",
        answer.body
    );
    assert!(
        answer.header("retry-after").is_some(),
        "the page says when to try again"
    );
    assert!(
        answer.cookie(e2e::SESSION_COOKIE).is_none(),
        "nobody is logged in to what cannot be shown"
    );
}
