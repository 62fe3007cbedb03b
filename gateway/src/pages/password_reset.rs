//! Forgotten passwords: the page that asks for a reset link, and the page the emailed
//! link opens, where a new password is chosen.

use super::html::{self, escape, page, respond, Field, CORRECT_BELOW};
use crate::app::Shared;
use crate::auth::session_cookie;
use crate::password;
use crate::rate_limit::{Attempt, ClientIp};
use crate::usecase::request_password_reset::{request_password_reset, sent_message};
use crate::usecase::reset_password::{check_link, reset_password, ResetError, ResetPassword};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use domain::person::PersonError;
use domain::{AccountId, Email, PersonId};
use projections::accounts;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct AskForm {
    #[serde(default)]
    email: String,
}

#[derive(Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    secret: String,
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    secret: String,
    #[serde(default)]
    password: String,
}

fn unknown_workspace() -> Response {
    html::notice(
        StatusCode::NOT_FOUND,
        "This page does not exist",
        "There is no workspace at this address. Check the link you followed.",
        true,
    )
}

/// The account in the path, if it exists.
async fn workspace(app: &Shared, account: &str) -> Result<AccountId, Response> {
    let Ok(account) = account.parse::<AccountId>() else {
        return Err(unknown_workspace());
    };
    match accounts::get(&app.state.db, account).await {
        Ok(Some(_)) => Ok(account),
        Ok(None) => Err(unknown_workspace()),
        Err(e) => Err(html::internal("opening the password reset page", e)),
    }
}

fn ask_page(email: &str, error: Option<&str>) -> String {
    let summary = if error.is_some() { CORRECT_BELOW } else { "" };
    let field = Field {
        name: "email",
        label: "Email",
        kind: "email",
        value: email,
        autocomplete: "email",
        error,
    }
    .html();
    let body = format!(
        r#"<p>Give the email address you log in with. We will send a link to it for setting a new password.</p>
{summary}
<form method="post">
{field}
<button type="submit">Send the link</button>
</form>"#
    );
    page("Forgot your password?", &body)
}

/// GET: the form asking for an address.
pub async fn ask(State(app): State<Shared>, Path(account): Path<String>) -> Response {
    if let Err(response) = workspace(&app, &account).await {
        return response;
    }
    respond(StatusCode::OK, ask_page("", None), None)
}

/// POST: sends a link if the address is someone's, and says the same either way.
pub async fn request(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    Path(account): Path<String>,
    Form(form): Form<AskForm>,
) -> Response {
    let account = match workspace(&app, &account).await {
        Ok(account) => account,
        Err(response) => return response,
    };
    let address = format!("reset {account}/{}", form.email.trim());
    if let Err(refused) = app
        .limiter
        .check(Attempt::PasswordReset, Some(&address), client)
        .await
    {
        return html::refused_attempt(refused);
    }
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => {
            return respond(
                StatusCode::UNPROCESSABLE_ENTITY,
                ask_page(&form.email, Some(&e.to_string())),
                None,
            )
        }
    };
    if let Err(e) = request_password_reset(&app.state, account, &email).await {
        return html::internal("asking for a password reset", e);
    }
    html::notice(
        StatusCode::OK,
        "Check your email",
        &sent_message(email.as_str()),
        false,
    )
}

/// Why a reset link leads nowhere, as a page.
fn dead(error: ResetError) -> Response {
    let refusal = match error {
        ResetError::Refused(refusal) => refusal,
        ResetError::Failed(failure) => return html::failed("resetting a password", failure),
        // `reset` shows a refused password on its form; nothing else gets one.
        ResetError::InvalidPassword(e) => return html::internal("resetting a password", e),
    };
    let (status, title) = match &refusal {
        PersonError::ResetLinkExpired => (StatusCode::GONE, "This link has expired"),
        PersonError::ResetLinkUsed => (StatusCode::GONE, "This link was already used"),
        PersonError::Suspended | PersonError::Dismissed | PersonError::Erased => {
            (StatusCode::FORBIDDEN, "You cannot log in here now")
        }
        _ => (StatusCode::NOT_FOUND, "This link is not valid"),
    };
    let text = match &refusal {
        PersonError::Suspended | PersonError::Dismissed | PersonError::Erased => "Your access to this workspace has ended or is suspended. Ask an administrator of the workspace.".to_string(),
        PersonError::ResetLinkExpired | PersonError::ResetLinkUsed => refusal.to_string(),
        // A wrong secret, a person who asked for nothing, one who does not exist: all
        // read the same.
        _ => PersonError::ResetLinkInvalid.to_string(),
    };
    html::notice(status, title, &capitalised(&text), true)
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn ids(account: &str, person: &str) -> Option<(AccountId, PersonId)> {
    Some((account.parse().ok()?, person.parse().ok()?))
}

fn reset_page(secret: &str, error: Option<&str>) -> String {
    let summary = if error.is_some() { CORRECT_BELOW } else { "" };
    let field = Field {
        name: "password",
        label: "New password",
        kind: "password",
        value: "",
        autocomplete: "new-password",
        error,
    }
    .html();
    let body = format!(
        r#"<p>Choose a new password. Every session you have open elsewhere will end.</p>
{summary}
<form method="post">
<input type="hidden" name="secret" value="{secret}">
{field}
<p id="password-hint">At least {min} characters.</p>
<button type="submit">Set the password</button>
</form>"#,
        secret = escape(secret),
        min = password::MIN_CHARS,
    );
    page("Set a new password", &body)
}

/// GET: the new-password form, if the link works.
pub async fn show(
    State(app): State<Shared>,
    Path((account, person)): Path<(String, String)>,
    Query(query): Query<LinkQuery>,
) -> Response {
    let Some((account, person)) = ids(&account, &person) else {
        return dead(ResetError::Refused(PersonError::ResetLinkInvalid));
    };
    match check_link(&app.state, account, person, &query.secret).await {
        Ok(()) => respond(StatusCode::OK, reset_page(&query.secret, None), None),
        Err(e) => dead(e),
    }
}

/// POST: sets the password, ends the other sessions, logs in.
pub async fn reset(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    Path((account, person)): Path<(String, String)>,
    Form(form): Form<ResetForm>,
) -> Response {
    let link = format!("reset link {account}/{person}");
    if let Err(refused) = app
        .limiter
        .check(Attempt::PasswordReset, Some(&link), client)
        .await
    {
        return html::refused_attempt(refused);
    }
    let Some((account, person)) = ids(&account, &person) else {
        return dead(ResetError::Refused(PersonError::ResetLinkInvalid));
    };
    let request = ResetPassword {
        account,
        person,
        secret: form.secret.clone(),
        password: form.password,
    };
    match reset_password(&app.state, request).await {
        Ok(token) => {
            let body = r#"<p role="status">Your password is changed and you are logged in. Every other session you had has ended.</p>"#;
            respond(
                StatusCode::OK,
                page("Password changed", body),
                Some(session_cookie(&token)),
            )
        }
        Err(ResetError::InvalidPassword(e)) => respond(
            StatusCode::UNPROCESSABLE_ENTITY,
            reset_page(&form.secret, Some(&e.to_string())),
            None,
        ),
        Err(e) => dead(e),
    }
}
