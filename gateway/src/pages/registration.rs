//! Registering through the account's link: the page the link opens, and its form.
//!
//! Registering makes an employee. Depending on the account's settings the person is in
//! at once (and logged in), or waits for an administrator's approval, unless their
//! email's domain is on the list that skips it.

use super::html::{self, escape, page, respond, Field, CORRECT_BELOW};
use crate::app::Shared;
use crate::auth::session_cookie;
use crate::joining::{self, JoinError, Newcomer};
use crate::password;
use crate::rate_limit::{Attempt, ClientIp};
use crate::state::AppState;
use crate::state::Claim;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use domain::account::{Account, AccountCommand, AccountError};
use domain::invitation::{Approval, Invitation, InvitationCommand, Link};
use domain::{AccountId, AggregateKey, Email, InvitationId, PersonId, PersonName};
use projections::accounts::{self, AccountRecord};
use projections::commands::CommandError;
use projections::directory;
use projections::invitations::Registration;
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

const EMAIL_TAKEN: &str =
    "someone in this workspace already uses this address: log in with it, or reset its password";

fn invalid_link() -> Response {
    html::notice(
        StatusCode::NOT_FOUND,
        "This link is not valid",
        "This registration link is not valid: ask someone in the workspace for the current one.",
        true,
    )
}

fn busy() -> Response {
    html::notice(
        StatusCode::CONFLICT,
        "Please try again",
        "Something else changed at the same moment. Go back and send the form again.",
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
    match directory::by_email(&state.db, account, &email).await {
        Ok(None) => {}
        Ok(Some(_)) => {
            errors.email = Some(EMAIL_TAKEN.to_string());
            return Err(refused(&record, &form, &errors));
        }
        Err(e) => return Err(html::internal("registering", e)),
    }
    let password_hash = password::hash(form.password.clone())
        .await
        .map_err(|e| html::internal("hashing a password", e))?;

    let person = PersonId::new_random();
    let invitation = InvitationId::new_random();
    // The address is theirs from now on, even while they wait for approval, so that
    // two registrations for one address cannot both be let in; a rejection gives it
    // back (the reactor).
    match state
        .claim_email(account, &email, person, Some(person))
        .await
    {
        Ok(Claim::Theirs) => {}
        Ok(Claim::TakenByOther) => {
            errors.email = Some(EMAIL_TAKEN.to_string());
            return Err(refused(&record, &form, &errors));
        }
        Err(CommandError::Conflict) => return Err(busy()),
        Err(e) => return Err(html::internal("claiming an address", e)),
    }
    let release_claim = || state.give_back_email(account, &email, person, Some(person));

    // A place under the plan's limit, as for anyone invited, if the account's domain
    // lists admit the address. Should the flow stop after this, the sweeper gives the
    // place and the address back.
    let seat = AccountCommand::TakeSeat {
        person,
        external: false,
        email: Some(email.clone()),
    };
    let account_key = AggregateKey::account(account);
    if let Err(e) = state
        .execute::<Account>(account_key, seat, Some(person))
        .await
    {
        release_claim().await;
        return Err(match e {
            CommandError::Refused(refusal @ AccountError::DomainNotAllowed(_)) => {
                errors.email = Some(refusal.to_string());
                refused(&record, &form, &errors)
            }
            CommandError::Refused(refusal) => html::notice(
                StatusCode::FORBIDDEN,
                "This workspace is full",
                &format!(
                    "You cannot register now: {refusal}. Ask an administrator of the workspace."
                ),
                true,
            ),
            CommandError::Conflict => busy(),
            e => html::internal("taking a seat for a registration", e),
        });
    }

    if let Err(stopped) = crate::flow_step::between_steps("registration.after_seat").await {
        return Err(html::internal("registering", stopped));
    }
    let approval = record.settings.approval_for(&email);
    let register = InvitationCommand::Register {
        invitation,
        person,
        email: email.clone(),
        name: name.clone(),
        password_hash: password_hash.clone(),
        approval: approval.clone(),
    };
    let key = AggregateKey::new(account, invitation.0);
    if let Err(e) = state
        .execute::<Invitation>(key, register, Some(person))
        .await
    {
        release_claim().await;
        return Err(match e {
            CommandError::Conflict => busy(),
            e => html::internal("registering", e),
        });
    }
    tracing::info!(%account, %person, %invitation, ?approval, "registered through the link");

    if approval == Approval::Required {
        let text = format!(
            "Thank you, {}. An administrator of {} must approve your registration before you can log in. You will get an email at {} when they have.",
            name.first,
            record.name,
            email.as_str()
        );
        return Ok(html::notice(
            StatusCode::ACCEPTED,
            "Waiting for approval",
            &text,
            false,
        ));
    }

    let registration = Registration {
        person,
        email,
        name,
        password_hash,
        approval,
    };
    let newcomer = Newcomer::registered(account, invitation, registration, None);
    let first = newcomer.name.first.clone();
    match joining::join(state, newcomer, Some(person)).await {
        Ok(()) | Err(JoinError::AlreadyJoined) => {}
        Err(JoinError::Busy) => return Err(busy()),
        Err(e @ JoinError::Internal(_)) => return Err(html::internal("joining", e)),
    }
    let token = state
        .sessions
        .open(account, person, state.clock.now())
        .await
        .map_err(|e| html::internal("opening a session", e))?;
    let body = format!(
        r#"<p role="status">Welcome, {}. You are registered and logged in to {}.</p>"#,
        escape(&first),
        escape(&record.name)
    );
    Ok(respond(
        StatusCode::OK,
        page("You are in", &body),
        Some(session_cookie(&token)),
    ))
}
