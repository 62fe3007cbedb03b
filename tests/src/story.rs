//! The steps the stories share, each written once: what an administrator does through
//! the API, what a guest does in the browser, and how a test reads what came back.
//!
//! A step that must succeed is named for what it does (`create_task`) and fails the
//! test when it does not. Its `try_` twin sends the same request and returns the whole
//! response (`data`, `errors`) for a test that expects a refusal.

use std::time::Duration;

use serde_json::{json, Value};

use crate::{
    graphql_error, App, Auth, HtmlForm, HttpResponse, ReceivedMail, SmtpSink, SESSION_COOKIE,
};

/// How long the notifier may take to hand a mail to the SMTP server. After a failure it
/// waits 1 s, 2 s, 4 s… before trying again, so a mail held up by an outage can take a
/// few seconds more than one sent straight away.
pub const MAIL_TIMEOUT: Duration = Duration::from_secs(20);

/// `createTask`, with everything a test reads of its payload.
pub const CREATE_TASK: &str = "mutation Create($input: CreateTaskInput!) {
    createTask(input: $input) {
        task { id title }
        userErrors { field message code }
    }
}";

/// `inviteGuestToTask`, with everything a test reads of its payload.
pub const INVITE_GUEST: &str = "mutation Invite($input: InviteGuestToTaskInput!) {
    inviteGuestToTask(input: $input) {
        invitation { id personId email status }
        userErrors { field message code }
    }
}";

/// `updateTask`, with everything a test reads of its payload.
pub const UPDATE_TASK: &str = "mutation Update($input: UpdateTaskInput!) {
    updateTask(input: $input) {
        task { id title status }
        userErrors { field message code }
    }
}";

/// An invitation link opened in a browser: the acceptance page's form, and where it
/// is submitted.
#[derive(Debug, Clone)]
pub struct AcceptancePage {
    /// The link without its query, where the form is posted.
    pub action: String,
    pub form: HtmlForm,
}

impl App {
    /// Creates another account ("Other") on this deployment with its administrator
    /// Olga (`olga@other.test`, `password`), and returns her session.
    pub async fn other_account(&self, password: &str) -> Auth {
        let other = self
            .run_command_with_env(
                &[
                    "create-account",
                    "--name",
                    "Other",
                    "--admin-email",
                    "olga@other.test",
                    "--admin-first-name",
                    "Olga",
                    "--admin-last-name",
                    "Other",
                ],
                &[("EXTRANET_ADMIN_PASSWORD", password)],
            )
            .await;
        let other_account = String::from_utf8_lossy(&other.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("account ").map(str::to_owned))
            .expect("create-account prints the account");
        // Made by another process: the server follows the log within moments.
        let mut token = None;
        for _ in 0..100 {
            let login = self
                .graphql(
                    &Auth::Anonymous,
                    "mutation($input: LoginInput!) { login(input: $input) { token } }",
                    json!({ "input": { "accountId": other_account, "email": "olga@other.test", "password": password } }),
                )
                .await;
            token = data(login, "/login")["token"].as_str().map(str::to_owned);
            if token.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Auth::Bearer(token.expect("Olga logs in to the other account"))
    }

    /// Invites `email` as an observer of `task`, accepts the invitation from the mail
    /// with `password`, and returns the guest's browser session and person id.
    pub async fn guest_joins(
        &self,
        smtp: &SmtpSink,
        admin: &Auth,
        task: &str,
        email: &str,
        password: &str,
    ) -> (Auth, String) {
        let invited = self
            .invite_guest(admin, task, email, "Gus", "Guest", "OBSERVER")
            .await;
        let person = invited["invitation"]["personId"]
            .as_str()
            .expect("the invitation names the person")
            .to_owned();
        let mail = smtp.wait_for_mail_to(email).await;
        let accepted = self.accept_invitation(&mail, password).await;
        let cookie = accepted
            .cookie(SESSION_COOKIE)
            .unwrap_or_else(|| panic!("accepting logs the guest in: {}", accepted.body));
        (Auth::Session(cookie), person)
    }

    /// Logs the administrator in and returns their credentials as an API client sends
    /// them.
    pub async fn login_admin(&self) -> Auth {
        Auth::Bearer(self.login(&self.admin_email, &self.admin_password).await)
    }

    /// Sends `createTask` as `who`, with no description when `description` is `None`,
    /// and returns the whole response.
    pub async fn try_create_task(
        &self,
        who: &Auth,
        title: &str,
        description: Option<&str>,
    ) -> Value {
        let mut input = json!({ "title": title });
        if let Some(description) = description {
            input["description"] = json!(description);
        }
        self.graphql(who, CREATE_TASK, json!({ "input": input }))
            .await
    }

    /// The titles of the first 100 of `who`'s tasks (`myTasks`), oldest first.
    pub async fn my_task_titles(&self, who: &Auth) -> Vec<String> {
        let response = self
            .graphql(
                who,
                "{ myTasks(first: 100) { edges { node { title } } } }",
                json!({}),
            )
            .await;
        response
            .pointer("/data/myTasks/edges")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("myTasks: {response}"))
            .iter()
            .filter_map(|edge| edge.pointer("/node/title")?.as_str().map(str::to_owned))
            .collect()
    }

    /// Creates a task as `who`, which must succeed with the title asked for, and returns
    /// its id.
    pub async fn create_task(&self, who: &Auth, title: &str, description: Option<&str>) -> String {
        let created = succeeded(
            self.try_create_task(who, title, description).await,
            "/createTask",
        );
        assert_eq!(created["task"]["title"], title, "{created}");
        created["task"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("a created task has an id: {created}"))
            .to_owned()
    }

    /// Sends `inviteGuestToTask` as `who` and returns the whole response.
    pub async fn try_invite_guest(
        &self,
        who: &Auth,
        task_id: &str,
        email: &str,
        first_name: &str,
        last_name: &str,
        role: &str,
    ) -> Value {
        self.graphql(
            who,
            INVITE_GUEST,
            json!({ "input": {
                "taskId": task_id, "email": email,
                "firstName": first_name, "lastName": last_name, "role": role,
            }}),
        )
        .await
    }

    /// Invites `email` as a guest into task `task_id`, which must succeed with an
    /// invitation to that address, and returns the payload.
    pub async fn invite_guest(
        &self,
        who: &Auth,
        task_id: &str,
        email: &str,
        first_name: &str,
        last_name: &str,
        role: &str,
    ) -> Value {
        let invited = succeeded(
            self.try_invite_guest(who, task_id, email, first_name, last_name, role)
                .await,
            "/inviteGuestToTask",
        );
        assert!(
            invited["invitation"]["id"].is_string(),
            "an invitation has an id: {invited}"
        );
        assert_eq!(invited["invitation"]["email"], email, "{invited}");
        invited
    }

    /// Sends `updateTask` as `who` with a new title, and a new status unless `None`, and
    /// returns the whole response.
    pub async fn try_update_task(
        &self,
        who: &Auth,
        task_id: &str,
        title: &str,
        status: Option<&str>,
    ) -> Value {
        let mut input = json!({ "taskId": task_id, "title": title });
        if let Some(status) = status {
            input["status"] = json!(status);
        }
        self.graphql(who, UPDATE_TASK, json!({ "input": input }))
            .await
    }

    /// Changes task `task_id` as `who`, which must succeed with the title (and status)
    /// asked for, and returns the payload.
    pub async fn update_task(
        &self,
        who: &Auth,
        task_id: &str,
        title: &str,
        status: Option<&str>,
    ) -> Value {
        let updated = succeeded(
            self.try_update_task(who, task_id, title, status).await,
            "/updateTask",
        );
        assert_eq!(updated["task"]["title"], title, "{updated}");
        if let Some(status) = status {
            assert_eq!(updated["task"]["status"], status, "{updated}");
        }
        updated
    }

    /// Opens an invitation link as a browser does: the page must open and hold a form.
    pub async fn open_invitation(&self, link: &str) -> AcceptancePage {
        let page = self.get(link, &Auth::Anonymous).await;
        assert_eq!(
            page.status, 200,
            "the acceptance page opens:\n{}",
            page.body
        );
        let form = HtmlForm::parse(&page.body)
            .unwrap_or_else(|| panic!("the acceptance page has a form:\n{}", page.body));
        let action = link
            .split_once('?')
            .map(|(path, _)| path)
            .unwrap_or_else(|| panic!("the link {link} carries its secret in its query"))
            .to_owned();
        AcceptancePage { action, form }
    }

    /// Submits `form` to the acceptance page at `action`, as a browser does, and returns
    /// the response.
    pub async fn submit_invitation(&self, action: &str, form: &HtmlForm) -> HttpResponse {
        self.post_form(action, &form.fields(), &Auth::Anonymous)
            .await
    }

    /// Follows the link of `invitation`, types `password` into the acceptance form and
    /// submits it; returns the response to the submission.
    pub async fn accept_invitation(
        &self,
        invitation: &ReceivedMail,
        password: &str,
    ) -> HttpResponse {
        let link = invitation
            .link()
            .unwrap_or_else(|| panic!("the invitation has a link:\n{}", invitation.body_text()));
        let mut page = self.open_invitation(&link).await;
        page.form.fill("password", password);
        self.submit_invitation(&page.action, &page.form).await
    }
}

impl SmtpSink {
    /// Waits for the first mail addressed to `email`.
    pub async fn wait_for_mail_to(&self, email: &str) -> ReceivedMail {
        self.wait_for(|mail| mail.is_addressed_to(email), MAIL_TIMEOUT)
            .await
    }

    /// How many of the mails received so far are addressed to `email`.
    pub fn count_to(&self, email: &str) -> usize {
        self.all()
            .iter()
            .filter(|mail| mail.is_addressed_to(email))
            .count()
    }
}

/// The value of one line of `/metrics`, named with its labels, e.g.
/// `extranet_projector_lag_events{projection="read_models"}`.
pub fn metric(body: &str, name: &str) -> Option<i64> {
    body.lines()
        .find(|line| line.starts_with(name) && line[name.len()..].starts_with(' '))
        .and_then(|line| line[name.len()..].trim().parse().ok())
}

/// The `data` at `path` (`/createTask`) of a response that must have no GraphQL errors.
pub fn data(response: Value, path: &str) -> Value {
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

/// Fails unless the mutation payload `payload` has an empty `userErrors`.
pub fn assert_no_user_errors(payload: &Value) {
    assert_eq!(
        payload["userErrors"],
        json!([]),
        "no user errors: {payload}"
    );
}

/// The payload at `path` of a mutation that must have succeeded: no GraphQL errors
/// ([`data`]) and no user errors ([`assert_no_user_errors`]).
pub fn succeeded(response: Value, path: &str) -> Value {
    let payload = data(response, path);
    assert_no_user_errors(&payload);
    payload
}

/// The single user error of the mutation payload at `path` (`/createTask`): its field,
/// code and message.
pub fn user_error(response: &Value, path: &str) -> (Vec<String>, String, String) {
    let errors = response
        .pointer(&format!("/data{path}/userErrors"))
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no userErrors at {path}: {response}"));
    assert_eq!(errors.len(), 1, "exactly one user error: {response}");
    let error = &errors[0];
    let field = error["field"]
        .as_array()
        .map(|field| {
            field
                .iter()
                .filter_map(|segment| segment.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    (
        field,
        error["code"].as_str().unwrap_or_default().to_owned(),
        error["message"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The `extensions.code` of the first GraphQL error of `response`, or "" when it has
/// none.
pub fn error_code(response: &Value) -> String {
    graphql_error(response)
        .map(|(code, _)| code)
        .unwrap_or_default()
}
