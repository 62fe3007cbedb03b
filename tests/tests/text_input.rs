//! No input can stop the service: every mutation that takes text is sent values drawn
//! from all of Unicode (NUL, every C0 and C1 control, bidirectional controls, invisible
//! formatting, lone surrogates as JSON escapes, 10,000-character strings, HTML and SQL
//! fragments) through the real HTTP server, on PostgreSQL and on SQLite.
//!
//! For each value the answer is a typed refusal or a stored value that reads back as
//! the rules of docs/domain.md ("Text") make it; never `INTERNAL`, never a 5xx, never
//! a GraphQL error without a code. After the run the read models have applied
//! everything and `/readyz` is ready.
//!
//! The rules are written out again here, from the documentation, as the oracle: a
//! name is refused exactly when they say so, and what is stored is exactly what they
//! make of it. `EXTRANET_PROPTEST_CASES` sets how many values are tried (CI keeps the
//! default small).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use e2e::{App, Auth, Backend, HttpResponse, SmtpSink};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Stands for a lone surrogate: JSON can escape one (`\ud800`), a Rust string cannot
/// hold one, so the request body is written by hand where this appears.
const LONE_SURROGATE: &str = "LONESURROGATE";

/// What the rules allow in a field.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// One line, no invisible formatting.
    Name { max: usize },
    /// Line breaks and tabs allowed.
    Prose { max: usize, optional: bool },
    /// Not free text (an address, a password, a secret): it need not be stored, but a
    /// control or invisible character must be refused, never taken or failed on.
    Other,
}

/// What the rules make of `raw`, or `None` when they refuse it.
fn under_the_rules(rule: Rule, raw: &str) -> Option<String> {
    let text: String = raw
        .trim()
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .nfc()
        .collect();
    let (max, optional) = match rule {
        Rule::Name { max } => (max, false),
        Rule::Prose { max, optional } => (max, optional),
        Rule::Other => return Some(text),
    };
    let allowed = |c: char| match rule {
        Rule::Prose { .. } => c == '\n' || c == '\t' || !c.is_control(),
        _ => !c.is_control() && !breaks_a_line(c) && !invisible(c),
    };
    let fits = text.chars().count() <= max && (optional || !text.is_empty());
    (fits && text.chars().all(allowed)).then_some(text)
}

fn breaks_a_line(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
    )
}

fn invisible(c: char) -> bool {
    c.general_category() == GeneralCategory::Format && c != '\u{200C}' && c != '\u{200D}'
}

/// Whether `raw` holds anything no field of the product may take.
fn holds_hidden_characters(raw: &str) -> bool {
    raw.chars()
        .any(|c| c.is_control() || invisible(c) || breaks_a_line(c))
}

/// One text input of one mutation.
struct Target {
    name: &'static str,
    query: &'static str,
    /// Where the mutation's payload is in `data`.
    payload: &'static str,
    rule: Rule,
    /// Where, in the payload, the stored value reads back.
    read_back: Option<&'static str>,
    /// The codes of a refusal of this value.
    codes: &'static [&'static str],
    variables: fn(&Fixture, &str, u64) -> Value,
}

/// What the targets act on, made once before the run.
struct Fixture {
    account: String,
    task: String,
    group: String,
    admin_password: String,
}

const UPDATE_TASK: &str = "mutation($input: UpdateTaskInput!) {
    updateTask(input: $input) { task { title description } userErrors { field message code } } }";
const CREATE_TASK_READ: &str = "mutation($input: CreateTaskInput!) {
    createTask(input: $input) { task { title description } userErrors { field message code } } }";
const COMMENT: &str = "mutation($input: CommentOnTaskInput!) {
    commentOnTask(input: $input) { task { id } userErrors { field message code } } }";
const CREATE_GROUP: &str = "mutation($input: CreateWorkgroupInput!) {
    createWorkgroup(input: $input) { workgroup { name } userErrors { field message code } } }";
const RENAME_GROUP: &str = "mutation($input: RenameWorkgroupInput!) {
    renameWorkgroup(input: $input) { workgroup { name } userErrors { field message code } } }";
const PROFILE: &str = "mutation($input: UpdateMyProfileInput!) {
    updateMyProfile(input: $input) { person { firstName lastName } userErrors { field message code } } }";
const DIRECT: &str = "mutation($input: AddPersonDirectlyInput!) {
    addPersonDirectly(input: $input) { person { firstName lastName email } userErrors { field message code } } }";
const INVITE_GUEST: &str = "mutation($input: InviteGuestToTaskInput!) {
    inviteGuestToTask(input: $input) { invitation { email } userErrors { field message code } } }";
const INVITE_PEOPLE: &str = "mutation($input: InvitePeopleInput!) {
    invitePeople(input: $input) {
        workgroup { name }
        results { address invitation { id } error { field message code } }
        userErrors { field message code } } }";
const SETTINGS: &str = "mutation($settings: InvitationSettingsInput!) {
    updateInvitationSettings(settings: $settings) { account { name } userErrors { field message code } } }";
const LOGIN: &str = "mutation($input: LoginInput!) {
    login(input: $input) { token userErrors { field message code } } }";
const RESET: &str = "mutation($input: RequestPasswordResetInput!) {
    requestPasswordReset(input: $input) { message userErrors { field message code } } }";
const CHANGE_EMAIL: &str = "mutation($input: ChangeMyEmailInput!) {
    changeMyEmail(input: $input) { person { email } userErrors { field message code } } }";
const CHANGE_PASSWORD: &str = "mutation($input: ChangeMyPasswordInput!) {
    changeMyPassword(input: $input) { person { id } userErrors { field message code } } }";
const DECLINE: &str = "mutation($input: DeclineInvitationInput!) {
    declineInvitation(input: $input) { invitation { id } userErrors { field message code } } }";

const NAME: Rule = Rule::Name { max: 100 };
const GROUP_NAME: Rule = Rule::Name { max: 200 };

fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "createTask.title",
            query: CREATE_TASK_READ,
            payload: "/createTask",
            rule: Rule::Name { max: 250 },
            read_back: Some("/task/title"),
            codes: &["INVALID_TITLE"],
            variables: |_, v, _| json!({ "input": { "title": v } }),
        },
        Target {
            name: "createTask.description",
            query: CREATE_TASK_READ,
            payload: "/createTask",
            rule: Rule::Prose {
                max: 20_000,
                optional: true,
            },
            read_back: Some("/task/description"),
            codes: &["INVALID_DESCRIPTION"],
            variables: |_, v, _| json!({ "input": { "title": "Fixed", "description": v } }),
        },
        Target {
            name: "updateTask.title",
            query: UPDATE_TASK,
            payload: "/updateTask",
            rule: Rule::Name { max: 250 },
            read_back: Some("/task/title"),
            codes: &["INVALID_TITLE"],
            variables: |f, v, _| json!({ "input": { "taskId": f.task, "title": v } }),
        },
        Target {
            name: "updateTask.description",
            query: UPDATE_TASK,
            payload: "/updateTask",
            rule: Rule::Prose {
                max: 20_000,
                optional: true,
            },
            read_back: Some("/task/description"),
            codes: &["INVALID_DESCRIPTION"],
            variables: |f, v, _| json!({ "input": { "taskId": f.task, "description": v } }),
        },
        Target {
            name: "commentOnTask.text",
            query: COMMENT,
            payload: "/commentOnTask",
            rule: Rule::Prose {
                max: 10_000,
                optional: false,
            },
            read_back: None,
            codes: &["INVALID_COMMENT"],
            variables: |f, v, _| json!({ "input": { "taskId": f.task, "text": v } }),
        },
        Target {
            name: "createWorkgroup.name",
            query: CREATE_GROUP,
            payload: "/createWorkgroup",
            rule: GROUP_NAME,
            read_back: Some("/workgroup/name"),
            codes: &["INVALID_NAME"],
            variables: |_, v, _| json!({ "input": { "name": v, "extranet": false } }),
        },
        Target {
            name: "renameWorkgroup.name",
            query: RENAME_GROUP,
            payload: "/renameWorkgroup",
            rule: GROUP_NAME,
            read_back: Some("/workgroup/name"),
            codes: &["INVALID_NAME"],
            variables: |f, v, _| json!({ "input": { "workgroupId": f.group, "name": v } }),
        },
        Target {
            name: "updateMyProfile.firstName",
            query: PROFILE,
            payload: "/updateMyProfile",
            rule: NAME,
            read_back: Some("/person/firstName"),
            codes: &["INVALID_NAME"],
            variables: |_, v, _| json!({ "input": { "firstName": v, "lastName": "Admin" } }),
        },
        Target {
            name: "updateMyProfile.lastName",
            query: PROFILE,
            payload: "/updateMyProfile",
            rule: NAME,
            read_back: Some("/person/lastName"),
            codes: &["INVALID_NAME"],
            variables: |_, v, _| json!({ "input": { "firstName": "Ada", "lastName": v } }),
        },
        Target {
            name: "addPersonDirectly.firstName",
            query: DIRECT,
            payload: "/addPersonDirectly",
            rule: NAME,
            read_back: Some("/person/firstName"),
            codes: &["INVALID_NAME"],
            variables: |_, v, n| {
                json!({ "input": { "email": format!("direct{n}@acme.test"), "firstName": v,
                    "lastName": "Direct", "position": "Buyer" } })
            },
        },
        Target {
            name: "addPersonDirectly.position",
            query: DIRECT,
            payload: "/addPersonDirectly",
            rule: NAME,
            read_back: None,
            codes: &["INVALID_POSITION"],
            variables: |_, v, n| {
                json!({ "input": { "email": format!("position{n}@acme.test"), "firstName": "Pat",
                    "lastName": "Direct", "position": v } })
            },
        },
        Target {
            name: "addPersonDirectly.email",
            query: DIRECT,
            payload: "/addPersonDirectly",
            rule: Rule::Other,
            read_back: None,
            codes: &["INVALID_EMAIL", "EMAIL_TAKEN"],
            variables: |_, v, _| {
                json!({ "input": { "email": v, "firstName": "Pat", "lastName": "Direct",
                    "position": "Buyer" } })
            },
        },
        Target {
            name: "inviteGuestToTask.lastName",
            query: INVITE_GUEST,
            payload: "/inviteGuestToTask",
            rule: NAME,
            read_back: None,
            codes: &["INVALID_NAME"],
            variables: |f, v, n| {
                json!({ "input": { "taskId": f.task, "email": format!("guest{n}@client.test"),
                    "firstName": "Gus", "lastName": v, "role": "OBSERVER" } })
            },
        },
        Target {
            name: "inviteGuestToTask.email",
            query: INVITE_GUEST,
            payload: "/inviteGuestToTask",
            rule: Rule::Other,
            read_back: None,
            codes: &["INVALID_EMAIL", "EMAIL_TAKEN"],
            variables: |f, v, _| {
                json!({ "input": { "taskId": f.task, "email": v, "firstName": "Gus",
                    "lastName": "Guest", "role": "OBSERVER" } })
            },
        },
        Target {
            name: "invitePeople.newWorkgroupName",
            query: INVITE_PEOPLE,
            payload: "/invitePeople",
            rule: GROUP_NAME,
            read_back: Some("/workgroup/name"),
            codes: &["INVALID_NAME"],
            variables: |_, v, n| {
                json!({ "input": { "addresses": format!("partner{n}@partner.test"),
                    "kind": "EXTRANET", "newWorkgroupName": v } })
            },
        },
        Target {
            name: "invitePeople.addresses",
            query: INVITE_PEOPLE,
            payload: "/invitePeople",
            rule: Rule::Other,
            read_back: None,
            codes: &["NO_ADDRESSES"],
            variables: |_, v, _| json!({ "input": { "addresses": v, "kind": "EMPLOYEE" } }),
        },
        Target {
            name: "updateInvitationSettings.approvalFreeDomains",
            query: SETTINGS,
            payload: "/updateInvitationSettings",
            rule: Rule::Other,
            read_back: None,
            codes: &["INVALID_DOMAIN", "DOMAIN_ON_BOTH_LISTS"],
            variables: |_, v, _| {
                json!({ "settings": { "everyoneMayInvite": false, "registrationLink": false,
                    "approvalRequired": true, "approvalFreeDomains": [v],
                    "allowedDomains": [], "blockedDomains": [] } })
            },
        },
        Target {
            name: "login.email",
            query: LOGIN,
            payload: "/login",
            rule: Rule::Other,
            read_back: None,
            codes: &["INVALID_EMAIL", "INVALID_CREDENTIALS"],
            variables: |f, v, _| json!({ "input": { "accountId": f.account, "email": v, "password": "wrong" } }),
        },
        Target {
            name: "login.password",
            query: LOGIN,
            payload: "/login",
            rule: Rule::Other,
            read_back: None,
            codes: &["INVALID_CREDENTIALS"],
            variables: |f, v, _| {
                json!({ "input": { "accountId": f.account, "email": "admin@acme.test",
                    "password": format!("{v}{}", f.admin_password) } })
            },
        },
        Target {
            name: "requestPasswordReset.email",
            query: RESET,
            payload: "/requestPasswordReset",
            rule: Rule::Other,
            read_back: None,
            codes: &["INVALID_EMAIL"],
            variables: |f, v, _| json!({ "input": { "accountId": f.account, "email": v } }),
        },
        Target {
            name: "changeMyEmail.email",
            query: CHANGE_EMAIL,
            payload: "/changeMyEmail",
            rule: Rule::Other,
            read_back: None,
            codes: &["INVALID_EMAIL", "INVALID_CREDENTIALS"],
            variables: |_, v, _| json!({ "input": { "email": v, "currentPassword": "wrong" } }),
        },
        Target {
            name: "changeMyPassword.newPassword",
            query: CHANGE_PASSWORD,
            payload: "/changeMyPassword",
            rule: Rule::Other,
            read_back: None,
            codes: &["INVALID_CREDENTIALS"],
            variables: |_, v, _| json!({ "input": { "currentPassword": "wrong", "newPassword": v } }),
        },
        Target {
            name: "declineInvitation.secret",
            query: DECLINE,
            payload: "/declineInvitation",
            rule: Rule::Other,
            read_back: None,
            codes: &["INVALID_LINK", "NOT_FOUND"],
            variables: |f, v, _| {
                json!({ "input": { "accountId": f.account,
                    "invitationId": uuid::Uuid::new_v4().to_string(), "secret": v } })
            },
        },
    ]
}

/// Characters that have broken, or could break, something somewhere.
const HAZARDS: &[char] = &[
    '\u{0}',
    '\u{1}',
    '\u{7}',
    '\u{8}',
    '\t',
    '\n',
    '\u{b}',
    '\u{c}',
    '\r',
    '\u{1b}',
    '\u{7f}',
    '\u{80}',
    '\u{85}',
    '\u{9f}',
    '\u{a0}',
    '\u{ad}',
    '\u{34f}',
    '\u{61c}',
    '\u{200b}',
    '\u{200c}',
    '\u{200d}',
    '\u{200e}',
    '\u{200f}',
    '\u{2028}',
    '\u{2029}',
    '\u{202a}',
    '\u{202b}',
    '\u{202c}',
    '\u{202d}',
    '\u{202e}',
    '\u{2060}',
    '\u{2066}',
    '\u{2067}',
    '\u{2068}',
    '\u{2069}',
    '\u{feff}',
    '\u{fffd}',
    '\u{fffe}',
    '\u{ffff}',
    '\u{e0001}',
    '\u{10ffff}',
    '\u{301}',
    'é',
    'ß',
    'İ',
    'ﬁ',
    '👩',
    '\u{1f3fb}',
    '"',
    '\'',
    '\\',
    '<',
    '&',
];

const FRAGMENTS: &[&str] = &[
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "'; DROP TABLE events; --",
    "Robert'); DROP TABLE people;--",
    "\" OR \"1\"=\"1",
    "$1 $2 %s %n {0} {{7*7}} ${jndi:ldap://x}",
    "Bcc: everyone@acme.test\r\nSubject: hi",
    "e\u{301}",
    "\u{202e}gpj.exe",
    "   ",
];

/// One piece of a value.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::collection::vec(any::<char>(), 0..8)
            .prop_map(|chars| chars.into_iter().collect::<String>()),
        4 => "[A-Za-z][a-z ]{0,10}",
        3 => proptest::sample::select(HAZARDS).prop_map(String::from),
        1 => (0u32..0x20).prop_map(|c| char::from_u32(c).map(String::from).unwrap_or_default()),
        1 => (0x7fu32..0xa0).prop_map(|c| char::from_u32(c).map(String::from).unwrap_or_default()),
        1 => proptest::sample::select(FRAGMENTS).prop_map(str::to_owned),
        1 => Just(LONE_SURROGATE.to_owned()),
        1 => (
            proptest::sample::select(&[99usize, 100, 101, 199, 200, 201, 250, 251, 10_000, 10_001, 20_001][..]),
            proptest::sample::select(&["x", "é", "e\u{301}", "👩"][..]),
        )
            .prop_map(|(n, unit)| unit.repeat(n)),
    ]
}

fn value() -> impl Strategy<Value = String> {
    proptest::collection::vec(piece(), 1..4).prop_map(|pieces| pieces.concat())
}

/// The request body, written by hand when the value stands for a lone surrogate.
fn body(query: &str, variables: &Value) -> String {
    json!({ "query": query, "variables": variables })
        .to_string()
        .replace(LONE_SURROGATE, "\\ud800")
}

fn fail(target: &Target, raw: &str, why: String) -> TestCaseError {
    TestCaseError::fail(format!("{}: {raw:?}: {why}", target.name))
}

/// Sends one value to one target and judges the answer.
async fn try_one(
    app: &App,
    admin: &Auth,
    fixture: &Fixture,
    target: &Target,
    raw: &str,
    n: u64,
) -> Result<(), TestCaseError> {
    let variables = (target.variables)(fixture, raw, n);
    let response: HttpResponse = app
        .post_bytes(
            "/graphql",
            Some("application/json"),
            body(target.query, &variables),
            admin,
        )
        .await;
    if response.status.is_server_error() {
        return Err(fail(target, raw, format!("answered {}", response.status)));
    }
    let answer: Value = serde_json::from_str(&response.body).map_err(|e| {
        fail(
            target,
            raw,
            format!("a body that is not JSON ({e}): {}", response.body),
        )
    })?;
    let errors = answer["errors"].as_array().cloned().unwrap_or_default();
    for error in &errors {
        match error.pointer("/extensions/code").and_then(Value::as_str) {
            None => {
                return Err(fail(
                    target,
                    raw,
                    format!("an error without a code: {error}"),
                ))
            }
            Some("INTERNAL") => return Err(fail(target, raw, format!("INTERNAL: {error}"))),
            Some(_) => {}
        }
    }
    if raw.contains(LONE_SURROGATE) {
        // No JSON parser may take it: the whole request is refused, with a code.
        if response.status.as_u16() != 400 || errors.is_empty() {
            return Err(fail(
                target,
                raw,
                format!(
                    "a lone surrogate was answered {}: {answer}",
                    response.status
                ),
            ));
        }
        return Ok(());
    }
    if !errors.is_empty() {
        // A refusal of the whole operation must be one this input can earn.
        let expected = errors.iter().all(|e| {
            e.pointer("/extensions/code")
                .and_then(Value::as_str)
                .is_some_and(|code| target.codes.contains(&code))
        });
        return if expected {
            Ok(())
        } else {
            Err(fail(target, raw, format!("GraphQL errors: {answer}")))
        };
    }
    let payload = answer
        .pointer(&format!("/data{}", target.payload))
        .ok_or_else(|| fail(target, raw, format!("no payload: {answer}")))?;
    let refusals = payload["userErrors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let refused_by = refusals
        .first()
        .map(|e| e["code"].as_str().unwrap_or_default().to_owned());
    match (target.rule, under_the_rules(target.rule, raw), refused_by) {
        (Rule::Other, _, refused) => {
            // Each address of a list is judged on its own: one with a hidden
            // character must be refused, whatever happens to the others.
            let per_address_refused = payload["results"].as_array().is_some_and(|results| {
                results.iter().all(|r| {
                    !holds_hidden_characters(r["address"].as_str().unwrap_or_default())
                        || r["error"]["code"].is_string()
                })
            });
            if holds_hidden_characters(raw) && refused.is_none() && !per_address_refused {
                return Err(fail(target, raw, format!("taken: {payload}")));
            }
            if let Some(code) = refused {
                if !target.codes.contains(&code.as_str()) && code != "RATE_LIMITED" {
                    return Err(fail(target, raw, format!("refused with {code}: {payload}")));
                }
            }
            Ok(())
        }
        (_, Some(stored), None) => match target.read_back {
            Some(path) => {
                let read = payload.pointer(path).and_then(Value::as_str);
                if read == Some(stored.as_str()) {
                    Ok(())
                } else {
                    Err(fail(
                        target,
                        raw,
                        format!("stored {read:?}, the rules make it {stored:?}"),
                    ))
                }
            }
            None => Ok(()),
        },
        (_, Some(stored), Some(code)) => Err(fail(
            target,
            raw,
            format!("refused with {code} what the rules take as {stored:?}: {payload}"),
        )),
        (_, None, None) => Err(fail(target, raw, format!("taken: {payload}"))),
        (_, None, Some(code)) if target.codes.contains(&code.as_str()) => Ok(()),
        (_, None, Some(code)) => Err(fail(target, raw, format!("refused with {code}: {payload}"))),
    }
}

/// How many values to try.
fn cases() -> u32 {
    std::env::var("EXTRANET_PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}

fn every_text_input(backend: Backend) {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let smtp = SmtpSink::start();
    let (app, admin, fixture) = runtime.block_on(async {
        // Limits would refuse most logins of the run, which then would test nothing.
        let app = App::spawn_with(
            backend,
            &smtp,
            "professional",
            &[
                ("EXTRANET_RATE_LIMIT_PER_ADDRESS", "1000000"),
                ("EXTRANET_RATE_LIMIT_PER_CLIENT", "1000000"),
            ],
        )
        .await;
        let admin = app.login_admin().await;
        let task = app.create_task(&admin, "Print the catalogue", None).await;
        let fixture = Fixture {
            account: app.account_id.clone(),
            task,
            group: group_id(&app, &admin).await,
            admin_password: app.admin_password.clone(),
        };
        (app, admin, fixture)
    });
    let targets = targets();
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    });
    let count = AtomicU64::new(0);
    let outcome = runner.run(&(0..targets.len(), value()), |(index, raw)| {
        let n = count.fetch_add(1, Ordering::Relaxed);
        runtime.block_on(try_one(&app, &admin, &fixture, &targets[index], &raw, n))
    });
    if let Err(failure) = outcome {
        panic!("{failure}\n\nthe server's log:\n{}", app.log());
    }
    runtime.block_on(async {
        wait_for_no_lag(&app).await;
        let ready = app.get("/readyz", &Auth::Anonymous).await;
        assert_eq!(ready.status.as_u16(), 200, "{}", ready.body);
    });
}

/// The id of a workgroup the administrator made for the run.
async fn group_id(app: &App, admin: &Auth) -> String {
    let made = app
        .graphql(
            admin,
            "mutation($input: CreateWorkgroupInput!) {
                createWorkgroup(input: $input) { workgroup { id } userErrors { code } } }",
            json!({ "input": { "name": "Renamed by the run", "extranet": false } }),
        )
        .await;
    made.pointer("/data/createWorkgroup/workgroup/id")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no workgroup: {made}"))
        .to_owned()
}

/// Waits until the read models have applied every event of the log, as `/metrics`
/// tells; a stuck projector fails the test with the server's log.
async fn wait_for_no_lag(app: &App) {
    let lag = r#"extranet_projector_lag_events{projection="read_models"}"#;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = app.get("/metrics", &Auth::Anonymous).await;
        if e2e::metric(&metrics.body, lag) == Some(0) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the read models still lag after the run:\n{}\n{}",
            metrics.body,
            app.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn every_text_input_is_refused_or_stored_as_the_rules_say_on_postgres() {
    every_text_input(Backend::Postgres);
}

#[test]
fn every_text_input_is_refused_or_stored_as_the_rules_say_on_sqlite() {
    every_text_input(Backend::Sqlite);
}
