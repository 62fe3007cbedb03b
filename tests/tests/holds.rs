//! Flows across aggregates never leak: a place under the plan's limit taken for
//! something that was then never done (the flow failed, or the process was killed
//! between two steps) is given back by the sweeper once the hold deadline has passed,
//! and nothing is emailed for it. Inviting people has no such gap: their seats and
//! invitations are stored in one transaction, so a failure or a crash before its
//! commit leaves nothing taken at all. Seen through the API: the account's seats in
//! use, and a new invitation to the same address accepted under a full plan.
//!
//! Fail points used (see `gateway/src/usecase/flow_step.rs` and
//! `projections/src/batch.rs`):
//! - `batch.before_commit=return`: inviting fails with every row written, before the
//!   commit.
//! - `batch.before_commit=return(hang)`: inviting holds there until the process dies.
//! - `registration.after_seat=return`: registering fails after the address was
//!   claimed and the place taken; both come back.
//! - `registration.after_seat=return(hang)`: registering holds there until the
//!   process is killed; after the restart both come back.
//! - `joining.after_claim=return`: accepting an invitation fails after the address
//!   was claimed; it comes back.
//! - `invite_guest.after_seat=return`: inviting a guest into a task fails after the
//!   place was taken.
//! - `reinstate.after_seat=return`: reinstating fails after the address was claimed
//!   and the place taken; both come back.
//!
//! The same stories run on both storage backends.

use e2e::{data, succeeded, App, Auth, Backend, HtmlForm, SmtpSink, MAIL_TIMEOUT, SESSION_COOKIE};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

const INVITE: &str = "mutation($input: InvitePeopleInput!) {
  invitePeople(input: $input) {
    results { address invitation { id } error { code message } }
    userErrors { code message }
  }
}";
const SEATS: &str = "{ account { seatsInUse } }";
const LOST: &str = "lost@acme.test";
/// Short, so the test is quick; the default is 10 minutes.
const DEADLINE: (&str, &str) = ("EXTRANET_HOLD_DEADLINE_SECS", "2");
const SCHEDULE: (&str, &str) = ("EXTRANET_SCHEDULE_EVERY_SECS", "1");
const NO_FAIL_POINT: (&str, &str) = ("FAILPOINTS", "batch.before_commit=off");
/// How long the sweeper may take after the deadline: many scheduler runs.
const SWEEP_TIMEOUT: Duration = Duration::from_secs(60);

fn invite(address: &str) -> Value {
    json!({ "input": { "addresses": address, "kind": "EMPLOYEE" } })
}

async fn seats(app: &App, admin: &Auth) -> i64 {
    data(
        app.graphql(admin, SEATS, json!({})).await,
        "/account/seatsInUse",
    )
    .as_i64()
    .unwrap_or(-1)
}

async fn wait_for_seats(app: &App, admin: &Auth, expected: i64) {
    let waited = tokio::time::timeout(SWEEP_TIMEOUT, async {
        while seats(app, admin).await != expected {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "seats in use never became {expected} (now {}):\n{}",
        seats(app, admin).await,
        app.log()
    );
}

/// The free plan allows 5: Ada and three invited people leave one place, which the
/// stranded invitation takes.
async fn nearly_full(backend: Backend, smtp: &SmtpSink) -> (App, Auth) {
    let app = App::spawn_with(backend, smtp, "free", &[DEADLINE, SCHEDULE, NO_FAIL_POINT]).await;
    let admin = app.login_admin().await;
    let invited = app
        .graphql(
            &admin,
            INVITE,
            invite("b@acme.test, c@acme.test, d@acme.test"),
        )
        .await;
    let results = data(invited.clone(), "/invitePeople/results");
    assert!(
        results
            .as_array()
            .is_some_and(|r| r.iter().all(|r| r["invitation"]["id"].is_string())),
        "{invited}"
    );
    assert_eq!(seats(&app, &admin).await, 4);
    (app, admin)
}

/// Waits for mail to `address` and checks it is the only one: the invitation that
/// was issued, not the one stopped midway.
async fn emailed_once(smtp: &SmtpSink, address: &str) {
    smtp.wait_for(|m| m.is_addressed_to(address), MAIL_TIMEOUT)
        .await;
    let sent = smtp
        .all()
        .iter()
        .filter(|m| m.is_addressed_to(address))
        .count();
    assert_eq!(sent, 1, "only the invitation that was issued is emailed");
}

/// The plan is full only after a new invitation to the same address, which is the
/// only one ever emailed to it.
async fn nothing_was_taken_nor_sent(app: &mut App, admin: &Auth, smtp: &SmtpSink) {
    assert_eq!(seats(app, admin).await, 4, "no place was taken");
    let again = app.graphql(admin, INVITE, invite(LOST)).await;
    let result = data(again.clone(), "/invitePeople/results/0");
    assert!(result["invitation"]["id"].is_string(), "{again}");
    assert_eq!(seats(app, admin).await, 5, "the plan is full");
    let full = app.graphql(admin, INVITE, invite("e@acme.test")).await;
    assert_eq!(
        data(full.clone(), "/invitePeople/results/0")["error"]["code"],
        "PLAN_LIMIT_REACHED",
        "{full}"
    );
    emailed_once(smtp, LOST).await;
}

async fn a_failed_invitation_takes_no_place(backend: Backend) {
    let smtp = SmtpSink::start();
    let (mut app, _) = nearly_full(backend, &smtp).await;
    app.restart_with_settings(&[("FAILPOINTS", "batch.before_commit=return")])
        .await;
    let admin = app.login_admin().await;
    let failed = app.graphql(&admin, INVITE, invite(LOST)).await;
    assert!(
        failed
            .pointer("/data/invitePeople/results/0/invitation/id")
            .is_none()
            && failed["errors"].is_array(),
        "the request failed as a whole: {failed}"
    );
    assert_eq!(seats(&app, &admin).await, 4, "no place was taken");
    app.restart_with_settings(&[NO_FAIL_POINT]).await;
    let admin = app.login_admin().await;
    nothing_was_taken_nor_sent(&mut app, &admin, &smtp).await;
}

async fn a_flow_killed_before_its_commit_takes_no_place(backend: Backend) {
    let smtp = SmtpSink::start();
    let (mut app, _) = nearly_full(backend, &smtp).await;
    app.restart_with_settings(&[("FAILPOINTS", "batch.before_commit=return(hang)")])
        .await;
    let admin = app.login_admin().await;
    let Auth::Bearer(token) = admin.clone() else {
        unreachable!("login_admin gives a bearer token")
    };
    // The invitation, held with its rows written and not committed, on its own
    // connection.
    let url = format!("{}/graphql", app.base_url);
    let held = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .bearer_auth(token)
            .json(&json!({ "query": INVITE, "variables": invite(LOST) }))
            .send()
            .await
    });
    app.wait_for_log("a batch held before its commit", SWEEP_TIMEOUT)
        .await;
    app.crash().await;
    held.abort();
    app.start_with_settings(&[NO_FAIL_POINT]).await;
    let admin = app.login_admin().await;
    nothing_was_taken_nor_sent(&mut app, &admin, &smtp).await;
}

#[tokio::test]
async fn a_failed_invitation_takes_no_place_on_sqlite() {
    a_failed_invitation_takes_no_place(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_failed_invitation_takes_no_place_on_postgres() {
    a_failed_invitation_takes_no_place(Backend::Postgres).await;
}

#[tokio::test]
async fn a_flow_killed_before_its_commit_takes_no_place_on_sqlite() {
    a_flow_killed_before_its_commit_takes_no_place(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_flow_killed_before_its_commit_takes_no_place_on_postgres() {
    a_flow_killed_before_its_commit_takes_no_place(Backend::Postgres).await;
}

/// A pasted list longer than one statement's thousand rows: one invitation and one
/// place per address, every invitation in the invited list, all shown by the time
/// the answer comes.
async fn a_long_list_takes_one_place_per_address(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = App::spawn_with(backend, &smtp, "professional", &[NO_FAIL_POINT]).await;
    let admin = app.login_admin().await;
    let many = 1_200;
    let list = (0..many)
        .map(|n| format!("p{n}@acme.test"))
        .collect::<Vec<_>>()
        .join(", ");
    let invited = app.graphql(&admin, INVITE, invite(&list)).await;
    let results = data(invited.clone(), "/invitePeople/results");
    let ids: HashSet<&str> = results
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.pointer("/invitation/id").and_then(Value::as_str))
        .collect();
    assert_eq!(ids.len(), many, "one invitation per address");
    assert_eq!(
        seats(&app, &admin).await,
        many as i64 + 1,
        "and one place each"
    );
    let mut listed = HashSet::new();
    let mut after = Value::Null;
    loop {
        let page = app
            .graphql(
                &admin,
                "query($after: String) { invitations(first: 100, after: $after) {
                   nodes { id } pageInfo { hasNextPage endCursor } } }",
                json!({ "after": after }),
            )
            .await;
        let connection = data(page, "/invitations");
        for node in connection["nodes"].as_array().into_iter().flatten() {
            listed.insert(node["id"].as_str().unwrap_or_default().to_owned());
        }
        if connection.pointer("/pageInfo/hasNextPage") != Some(&json!(true)) {
            break;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(
        listed.len(),
        many,
        "every invitation is in the invited list"
    );
    assert!(ids.iter().all(|id| listed.contains(*id)));
}

/// Two lists pasted at the same moment meet on the account's seats: whichever commits
/// second finds the account changed and is decided again, so both are invited whole
/// and every place is counted once.
async fn lists_pasted_at_once_both_land(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = App::spawn_with(backend, &smtp, "professional", &[NO_FAIL_POINT]).await;
    let admin = app.login_admin().await;
    let list = |prefix: &str| {
        (0..300)
            .map(|n| format!("{prefix}{n}@acme.test"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (first, second) = tokio::join!(
        app.graphql(&admin, INVITE, invite(&list("a"))),
        app.graphql(&admin, INVITE, invite(&list("b"))),
    );
    for answer in [first, second] {
        let results = data(answer.clone(), "/invitePeople/results");
        let invited = results
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r.pointer("/invitation/id").is_some_and(Value::is_string))
            .count();
        assert_eq!(invited, 300, "{answer}");
    }
    assert_eq!(seats(&app, &admin).await, 601);
}

#[tokio::test]
async fn lists_pasted_at_once_both_land_on_sqlite() {
    lists_pasted_at_once_both_land(Backend::Sqlite).await;
}

#[tokio::test]
async fn lists_pasted_at_once_both_land_on_postgres() {
    lists_pasted_at_once_both_land(Backend::Postgres).await;
}

#[tokio::test]
async fn a_long_list_takes_one_place_per_address_on_sqlite() {
    a_long_list_takes_one_place_per_address(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_long_list_takes_one_place_per_address_on_postgres() {
    a_long_list_takes_one_place_per_address(Backend::Postgres).await;
}

/// Turns the registration link on, without approval, and returns its URL.
async fn open_registration(app: &App, admin: &Auth) -> String {
    let payload = succeeded(
        app.graphql(
            admin,
            "mutation($input: ConfigureRegistrationLinkInput!) {
                configureRegistrationLink(input: $input) {
                    link { url enabled } userErrors { field message code } } }",
            json!({ "input": { "enabled": true, "approvalRequired": false, "approvalFreeDomains": [] } }),
        )
        .await,
        "/configureRegistrationLink",
    );
    payload["link"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("the link has a URL: {payload}"))
        .to_owned()
}

async fn register(app: &App, link: &str, email: &str) -> e2e::HttpResponse {
    let page = app.get(link, &Auth::Anonymous).await;
    assert_eq!(
        page.status, 200,
        "the registration page opens:\n{}",
        page.body
    );
    let mut form = HtmlForm::parse(&page.body).expect("the registration page has a form");
    form.fill("email", email)
        .fill("first_name", "Reg")
        .fill("last_name", "Newcomer")
        .fill("password", "reg's own passphrase");
    let action = link.split_once('?').map_or(link, |(path, _)| path);
    app.post_form(action, &form.fields(), &Auth::Anonymous)
        .await
}

async fn a_failed_registration_gives_its_place_and_address_back(backend: Backend) {
    const REG: &str = "reg@partner.test";
    let smtp = SmtpSink::start();
    let mut app = App::spawn_with(
        backend,
        &smtp,
        "trial",
        &[
            DEADLINE,
            SCHEDULE,
            ("FAILPOINTS", "registration.after_seat=return"),
        ],
    )
    .await;
    let admin = app.login_admin().await;
    let link = open_registration(&app, &admin).await;
    let failed = register(&app, &link, REG).await;
    assert_eq!(failed.status, 500, "{}", failed.body);
    assert_eq!(seats(&app, &admin).await, 2, "the place was taken");
    wait_for_seats(&app, &admin, 1).await;

    app.restart_with_settings(&[("FAILPOINTS", "registration.after_seat=off")])
        .await;
    let admin = app.login_admin().await;
    let joined = register(&app, &link, REG).await;
    assert_eq!(
        joined.status, 200,
        "the address is free again:\n{}",
        joined.body
    );
    assert!(
        joined.cookie(SESSION_COOKIE).is_some(),
        "registering logs in"
    );
    assert_eq!(seats(&app, &admin).await, 2);
}

#[tokio::test]
async fn a_failed_registration_gives_its_place_and_address_back_on_sqlite() {
    a_failed_registration_gives_its_place_and_address_back(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_failed_registration_gives_its_place_and_address_back_on_postgres() {
    a_failed_registration_gives_its_place_and_address_back(Backend::Postgres).await;
}

async fn a_registration_killed_midway_gives_its_place_and_address_back(backend: Backend) {
    const REG: &str = "kept@partner.test";
    let smtp = SmtpSink::start();
    let mut app = App::spawn_with(
        backend,
        &smtp,
        "trial",
        &[
            DEADLINE,
            SCHEDULE,
            ("FAILPOINTS", "registration.after_seat=return(hang)"),
        ],
    )
    .await;
    let admin = app.login_admin().await;
    let link = open_registration(&app, &admin).await;
    let page = app.get(&link, &Auth::Anonymous).await;
    let mut form = HtmlForm::parse(&page.body).expect("the registration page has a form");
    form.fill("email", REG)
        .fill("first_name", "Kept")
        .fill("last_name", "Newcomer")
        .fill("password", "kept's own passphrase");
    let fields = form.fields();
    // The link is the whole URL the account hands out; the form posts to its path.
    let action = link
        .split_once('?')
        .map_or(link.as_str(), |(path, _)| path)
        .to_owned();
    // The registration, held between its steps (address claimed, place taken), on its
    // own connection.
    let held = tokio::spawn(async move {
        reqwest::Client::new()
            .post(action)
            .form(&fields)
            .send()
            .await
    });
    wait_for_seats(&app, &admin, 2).await;
    app.crash().await;
    held.abort();
    app.start_with_settings(&[("FAILPOINTS", "registration.after_seat=off")])
        .await;
    let admin = app.login_admin().await;
    wait_for_seats(&app, &admin, 1).await;
    assert_eq!(
        smtp.all().iter().filter(|m| m.is_addressed_to(REG)).count(),
        0,
        "nothing was sent for a registration that never happened"
    );
    let joined = register(&app, &link, REG).await;
    assert_eq!(
        joined.status, 200,
        "the address is free again:\n{}",
        joined.body
    );
    assert_eq!(seats(&app, &admin).await, 2);
}

#[tokio::test]
async fn a_registration_killed_midway_gives_its_place_and_address_back_on_sqlite() {
    a_registration_killed_midway_gives_its_place_and_address_back(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_registration_killed_midway_gives_its_place_and_address_back_on_postgres() {
    a_registration_killed_midway_gives_its_place_and_address_back(Backend::Postgres).await;
}

/// Accepts as someone invited by address alone: they give their name too.
async fn accept(app: &App, mail: &e2e::ReceivedMail) -> e2e::HttpResponse {
    let link = mail.link().expect("the invitation has a link");
    let mut page = app.open_invitation(&link).await;
    page.form
        .fill("first_name", "Tess")
        .fill("last_name", "Twice")
        .fill("password", "tess's own passphrase");
    app.submit_invitation(&page.action, &page.form).await
}

async fn a_failed_acceptance_gives_its_address_back(backend: Backend) {
    const TWICE: &str = "twice@acme.test";
    let smtp = SmtpSink::start();
    let mut app = App::spawn_with(
        backend,
        &smtp,
        "trial",
        &[
            // Long enough to see the address held before it is swept.
            ("EXTRANET_HOLD_DEADLINE_SECS", "5"),
            SCHEDULE,
            ("EXTRANET_RATE_LIMIT_PER_ADDRESS", "1000"),
            ("FAILPOINTS", "joining.after_claim=return"),
        ],
    )
    .await;
    let admin = app.login_admin().await;
    // Two invitations to one address: whoever accepts first claims it.
    for _ in 0..2 {
        let invited = app.graphql(&admin, INVITE, invite(TWICE)).await;
        assert!(
            data(invited.clone(), "/invitePeople/results/0")["invitation"]["id"].is_string(),
            "{invited}"
        );
    }
    let mails = tokio::time::timeout(MAIL_TIMEOUT, async {
        loop {
            let mails: Vec<_> = smtp
                .all()
                .into_iter()
                .filter(|m| m.is_addressed_to(TWICE))
                .collect();
            if mails.len() == 2 {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("both invitations are emailed");
    let (first, second) = (&mails[0], &mails[1]);

    let failed = accept(&app, first).await;
    assert_eq!(failed.status, 500, "{}", failed.body);
    let held = accept(&app, second).await;
    assert_eq!(held.status, 409, "the address is claimed:\n{}", held.body);

    app.restart_with_settings(&[("FAILPOINTS", "joining.after_claim=off")])
        .await;
    let accepted = tokio::time::timeout(SWEEP_TIMEOUT, async {
        loop {
            let tried = accept(&app, second).await;
            if tried.status != 409 {
                return tried;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the address was never given back:\n{}", app.log()));
    assert_eq!(accepted.status, 200, "{}", accepted.body);
}

#[tokio::test]
async fn a_failed_acceptance_gives_its_address_back_on_sqlite() {
    a_failed_acceptance_gives_its_address_back(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_failed_acceptance_gives_its_address_back_on_postgres() {
    a_failed_acceptance_gives_its_address_back(Backend::Postgres).await;
}

// ---- a guest invitation and a reinstatement stopped midway

/// Guests need a plan with the extranet: the trial's, with room to spare.
async fn on_trial(backend: Backend, smtp: &SmtpSink, fail_point: &'static str) -> (App, Auth) {
    let app = App::spawn_with(
        backend,
        smtp,
        "trial",
        &[DEADLINE, SCHEDULE, ("FAILPOINTS", fail_point)],
    )
    .await;
    let admin = app.login_admin().await;
    (app, admin)
}

async fn a_failed_guest_invitation_gives_its_place_back(backend: Backend) {
    let smtp = SmtpSink::start();
    let (mut app, admin) = on_trial(backend, &smtp, "invite_guest.after_seat=off").await;
    let task = app.create_task(&admin, "Print the catalogue", None).await;
    let before = seats(&app, &admin).await;
    app.restart_with_settings(&[("FAILPOINTS", "invite_guest.after_seat=return")])
        .await;
    let admin = app.login_admin().await;
    let failed = app
        .try_invite_guest(&admin, &task, LOST, "Lost", "Guest", "OBSERVER")
        .await;
    assert!(
        failed
            .pointer("/data/inviteGuestToTask/invitation/id")
            .is_none(),
        "no invitation was issued: {failed}"
    );
    assert_eq!(seats(&app, &admin).await, before + 1, "the place was taken");
    app.restart_with_settings(&[("FAILPOINTS", "invite_guest.after_seat=off")])
        .await;
    let admin = app.login_admin().await;
    wait_for_seats(&app, &admin, before).await;
    // Invited again, the guest gets the one invitation that was issued.
    app.invite_guest(&admin, &task, LOST, "Lost", "Guest", "OBSERVER")
        .await;
    emailed_once(&smtp, LOST).await;
}

#[tokio::test]
async fn a_failed_guest_invitation_gives_its_place_back_on_sqlite() {
    a_failed_guest_invitation_gives_its_place_back(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_failed_guest_invitation_gives_its_place_back_on_postgres() {
    a_failed_guest_invitation_gives_its_place_back(Backend::Postgres).await;
}

const DISMISS: &str = "mutation($input: PersonInput!) {
  dismissPerson(input: $input) { person { status } userErrors { code message } }
}";
const REINSTATE: &str = "mutation($input: PersonInput!) {
  reinstatePerson(input: $input) { person { status } userErrors { code message } }
}";

async fn a_failed_reinstatement_gives_its_place_back(backend: Backend) {
    let smtp = SmtpSink::start();
    let (mut app, admin) = on_trial(backend, &smtp, "reinstate.after_seat=off").await;
    let task = app.create_task(&admin, "Print the catalogue", None).await;
    let before = seats(&app, &admin).await;
    let (_, person) = app
        .guest_joins(&smtp, &admin, &task, LOST, "guest password 1")
        .await;
    let who = json!({ "input": { "personId": person } });
    let dismissed = app.graphql(&admin, DISMISS, who.clone()).await;
    assert_eq!(
        data(dismissed.clone(), "/dismissPerson/person")["status"],
        "DISMISSED",
        "{dismissed}"
    );
    // The dismissal gives the guest's place back (the reactor).
    wait_for_seats(&app, &admin, before).await;

    app.restart_with_settings(&[("FAILPOINTS", "reinstate.after_seat=return")])
        .await;
    let admin = app.login_admin().await;
    let failed = app.graphql(&admin, REINSTATE, who.clone()).await;
    assert!(
        failed.pointer("/data/reinstatePerson/person/status") != Some(&json!("ACTIVE")),
        "not reinstated: {failed}"
    );
    assert_eq!(seats(&app, &admin).await, before + 1, "the place was taken");
    app.restart_with_settings(&[("FAILPOINTS", "reinstate.after_seat=off")])
        .await;
    let admin = app.login_admin().await;
    wait_for_seats(&app, &admin, before).await;
    // Still dismissed, and reinstated for real now: one place, taken once.
    let back = app.graphql(&admin, REINSTATE, who).await;
    assert_eq!(
        data(back.clone(), "/reinstatePerson/person")["status"],
        "ACTIVE",
        "{back}"
    );
    assert_eq!(seats(&app, &admin).await, before + 1);
}

#[tokio::test]
async fn a_failed_reinstatement_gives_its_place_back_on_sqlite() {
    a_failed_reinstatement_gives_its_place_back(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_failed_reinstatement_gives_its_place_back_on_postgres() {
    a_failed_reinstatement_gives_its_place_back(Backend::Postgres).await;
}
