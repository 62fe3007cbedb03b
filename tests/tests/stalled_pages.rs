//! A form page whose change is recorded while the read models are stalled says so,
//! with a page of its own ("recorded, not yet shown", 503 with `Retry-After`), never
//! "something went wrong" and never a success it cannot show.

use e2e::{succeeded, App, Auth, Backend, HtmlForm, SmtpSink};
use serde_json::json;

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

/// Writes an event the read models cannot apply and waits until `/readyz` reports
/// them stalled on it.
async fn stall_the_read_models(app: &App) {
    let bad = app.write_bad_event().await;
    app.readiness_until("the stall is reported", |_, body| {
        body.pointer("/stalled/0/event/aggregate_id") == Some(&json!(bad))
    })
    .await;
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
