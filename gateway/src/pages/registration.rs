//! Registering through the account's link: the page the link opens, and its form.
//!
//! Registering makes an employee. Depending on the account's settings the person is in
//! at once (and logged in), or waits for an administrator's approval, unless their
//! email's domain is on the list that skips it.

use super::html::{self, escape, page, respond, Field, CORRECT_BELOW};
use crate::app::Shared;
use crate::auth::session_cookie;
use crate::password;
use crate::rate_limit::{Attempt, ClientIp};
use crate::state::AppState;
use crate::usecase::register::{self, Register, RegisterError, Registered};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use domain::invitation::Link;
use domain::{AccountId, Email, PersonName};
use projections::accounts::{self, AccountRecord};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    secret: String,
}

#[derive(Deserialize, Default)]
pub struct RegisterForm {
    #[serde(default)]
    secret: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    password: String,
}

/// Errors shown next to the form's fields.
#[derive(Default)]
struct FieldErrors {
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    password: Option<String>,
}

impl FieldErrors {
    fn any(&self) -> bool {
        self.email.is_some()
            || self.first_name.is_some()
            || self.last_name.is_some()
            || self.password.is_some()
    }
}

fn invalid_link() -> Response {
    html::notice(
        StatusCode::NOT_FOUND,
        "This link is not valid",
        "This registration link is not valid: ask someone in the workspace for the current one.",
        true,
    )
}

/// The account a registration link names, if its secret is the current one and the
/// link is turned on. A wrong secret learns nothing, not even whether the account
/// exists or takes registrations.
async fn open_link(
    state: &AppState,
    account: &str,
    secret: &str,
) -> Result<(AccountId, AccountRecord), Response> {
    let Ok(account) = account.parse::<AccountId>() else {
        return Err(invalid_link());
    };
    let record = match accounts::get(&state.db, account).await {
        Ok(Some(record)) => record,
        Ok(None) => return Err(invalid_link()),
        Err(e) => return Err(html::internal("opening a registration link", e)),
    };
    let link = Link::Registration(account);
    if !state
        .secrets
        .verify_link(link, &record.registration_nonce, secret)
    {
        return Err(invalid_link());
    }
    if !record.settings.registration_link {
        return Err(html::notice(
            StatusCode::GONE,
            "Registration is closed",
            "This workspace does not take registrations through its link at the moment. Ask someone in it to invite you.",
            true,
        ));
    }
    Ok((account, record))
}

fn form_page(account: &AccountRecord, form: &RegisterForm, errors: &FieldErrors) -> String {
    let field = |name, label, kind, value, autocomplete, error: &Option<String>| {
        Field {
            name,
            label,
            kind,
            value,
            autocomplete,
            error: error.as_deref(),
        }
        .html()
    };
    let summary = if errors.any() { CORRECT_BELOW } else { "" };
    let body = format!(
        r#"<p>Register to work in <strong>{name}</strong>.</p>
{summary}
<form method="post">
<input type="hidden" name="secret" value="{secret}">
{email}
{first}
{last}
{password}
<p id="password-hint">At least {min} characters.</p>
<button type="submit">Register</button>
</form>"#,
        name = escape(&account.name),
        secret = escape(&form.secret),
        email = field(
            "email",
            "Email",
            "email",
            &form.email,
            "email",
            &errors.email
        ),
        first = field(
            "first_name",
            "First name",
            "text",
            &form.first_name,
            "given-name",
            &errors.first_name
        ),
        last = field(
            "last_name",
            "Last name",
            "text",
            &form.last_name,
            "family-name",
            &errors.last_name
        ),
        password = field(
            "password",
            "Password",
            "password",
            "",
            "new-password",
            &errors.password
        ),
        min = password::MIN_CHARS,
    );
    page("Register", &body)
}

/// GET: the empty form.
pub async fn show(
    State(app): State<Shared>,
    Path(account): Path<String>,
    Query(query): Query<LinkQuery>,
) -> Response {
    match open_link(&app.state, &account, &query.secret).await {
        Ok((_, record)) => {
            let form = RegisterForm {
                secret: query.secret,
                ..RegisterForm::default()
            };
            respond(
                StatusCode::OK,
                form_page(&record, &form, &FieldErrors::default()),
                None,
            )
        }
        Err(response) => response,
    }
}

/// POST: register; then either in and logged in, or waiting for approval.
pub async fn register(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    Path(account): Path<String>,
    Form(form): Form<RegisterForm>,
) -> Response {
    let address = format!("registration {account}/{}", form.email.trim());
    if let Err(refused) = app
        .limiter
        .check(Attempt::Registration, Some(&address), client)
        .await
    {
        return html::refused_attempt(refused);
    }
    match register_inner(&app.state, &account, form).await {
        Ok(response) | Err(response) => response,
    }
}

fn refused(record: &AccountRecord, form: &RegisterForm, errors: &FieldErrors) -> Response {
    respond(
        StatusCode::UNPROCESSABLE_ENTITY,
        form_page(record, form, errors),
        None,
    )
}

async fn register_inner(
    state: &AppState,
    account: &str,
    form: RegisterForm,
) -> Result<Response, Response> {
    let (account, record) = open_link(state, account, &form.secret).await?;

    let mut errors = FieldErrors::default();
    let email = Email::parse(&form.email);
    match &email {
        Err(e) => errors.email = Some(e.to_string()),
        Ok(email) => {
            if let Err(refusal) = record.settings.admits(email) {
                errors.email = Some(refusal.to_string());
            }
        }
    }
    let name = PersonName::parse(&form.first_name, &form.last_name);
    match &name {
        Err(e) if e.field == domain::Field::LastName => errors.last_name = Some(e.to_string()),
        Err(e) => errors.first_name = Some(e.to_string()),
        Ok(_) => {}
    }
    if let Err(e) = password::check_policy(&form.password) {
        errors.password = Some(e.to_string());
    }
    let (Ok(email), Ok(name), false) = (email, name, errors.any()) else {
        return Err(refused(&record, &form, &errors));
    };
    let first_name = name.first.clone();
    let request = Register {
        account,
        record: record.clone(),
        email: email.clone(),
        name,
        password: form.password.clone(),
    };
    match register::register(state, request).await {
        Ok(Registered::AwaitingApproval) => {
            let text = format!(
                "Thank you, {first_name}. An administrator of {} must approve your registration before you can log in. You will get an email at {} when they have.",
                record.name,
                email.as_str()
            );
            Ok(html::notice(
                StatusCode::ACCEPTED,
                "Waiting for approval",
                &text,
                false,
            ))
        }
        Ok(Registered::In { session_token }) => {
            let body = format!(
                r#"<p role="status">Welcome, {}. You are registered and logged in to {}.</p>"#,
                escape(&first_name),
                escape(&record.name)
            );
            Ok(respond(
                StatusCode::OK,
                page("You are in", &body),
                Some(session_cookie(&session_token)),
            ))
        }
        Err(e @ (RegisterError::EmailTaken | RegisterError::DomainNotAllowed(_))) => {
            errors.email = Some(e.to_string());
            Err(refused(&record, &form, &errors))
        }
        Err(RegisterError::Full(refusal)) => Err(html::notice(
            StatusCode::FORBIDDEN,
            "This workspace is full",
            &format!("You cannot register now: {refusal}. Ask an administrator of the workspace."),
            true,
        )),
        Err(RegisterError::Failed(failure)) => Err(html::failed("registering", failure)),
    }
}
