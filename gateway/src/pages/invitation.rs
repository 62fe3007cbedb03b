//! Accepting an invitation: the page the emailed link opens, and its form.

use super::html::{self, escape, page, respond, Field, CORRECT_BELOW};
use crate::app::Shared;
use crate::auth::session_cookie;
use crate::password;
use crate::rate_limit::{Attempt, ClientIp};
use crate::usecase::accept_invitation::{
    accept_invitation, AcceptInvitation, AcceptInvitationError,
};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use domain::invitation::{InvitationError, InvitationState};
use domain::{AccountId, InvitationId, PersonName};
use projections::invitations::{self, InvitationRecord};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    secret: String,
}

#[derive(Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    secret: String,
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
    first_name: Option<String>,
    last_name: Option<String>,
    password: Option<String>,
}

impl FieldErrors {
    fn any(&self) -> bool {
        self.first_name.is_some() || self.last_name.is_some() || self.password.is_some()
    }
}

/// Why a link leads nowhere, as a page.
enum Dead {
    Invalid,
    Expired,
    Used,
    /// Declined, revoked or rejected.
    Withdrawn,
    /// Someone current in the account already has the invitation's address.
    EmailTaken,
    Internal,
}

impl IntoResponse for Dead {
    fn into_response(self) -> Response {
        let (status, title, text) = match self {
            Dead::Invalid => (
                StatusCode::NOT_FOUND,
                "This link is not valid",
                InvitationError::InvalidLink.to_string(),
            ),
            Dead::Expired => (StatusCode::GONE, "This link has expired", InvitationError::Expired.to_string()),
            Dead::Used => (
                StatusCode::GONE,
                "This invitation was already accepted",
                InvitationError::AlreadyAccepted.to_string(),
            ),
            Dead::Withdrawn => (
                StatusCode::GONE,
                "This invitation is no longer valid",
                InvitationError::Revoked.to_string(),
            ),
            Dead::EmailTaken => (
                StatusCode::CONFLICT,
                "You already have an account here",
                "Someone in this workspace already uses this email address. Log in with it, or ask the person who invited you to use another address.".to_string(),
            ),
            Dead::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Something went wrong on our side; it has been logged. Please try again in a minute.".to_string(),
            ),
        };
        html::notice(status, title, &text, true)
    }
}

fn internal<E: std::fmt::Display>(error: E) -> Dead {
    tracing::error!(%error, "accepting an invitation failed");
    Dead::Internal
}

/// The invitation a link names, if the link's secret is right and it can still be
/// accepted. A wrong secret learns nothing, not even whether the invitation exists.
async fn pending_invitation(
    app: &Shared,
    account: &str,
    invitation: &str,
    secret: &str,
) -> Result<(AccountId, InvitationRecord), Dead> {
    let (Ok(account), Ok(invitation)) = (
        account.parse::<AccountId>(),
        invitation.parse::<InvitationId>(),
    ) else {
        return Err(Dead::Invalid);
    };
    let record = invitations::get(&app.state.db.any, account, invitation)
        .await
        .map_err(internal)?
        .ok_or(Dead::Invalid)?;
    if !app.state.secrets.verify(record.id, &record.nonce, secret) {
        return Err(Dead::Invalid);
    }
    match record.state {
        InvitationState::Pending => {}
        InvitationState::Accepted => return Err(Dead::Used),
        InvitationState::Expired => return Err(Dead::Expired),
        InvitationState::Declined | InvitationState::Revoked | InvitationState::Rejected => {
            return Err(Dead::Withdrawn)
        }
        InvitationState::None | InvitationState::AwaitingApproval => return Err(Dead::Invalid),
    }
    if record
        .expires_at
        .is_some_and(|at| at <= app.state.clock.now())
    {
        return Err(Dead::Expired);
    }
    Ok((account, record))
}

fn form_page(record: &InvitationRecord, form: &AcceptForm, errors: &FieldErrors) -> String {
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
        r#"<p>You were invited as <strong>{email}</strong>. Choose a password to join.</p>
{summary}
<form method="post">
<input type="hidden" name="secret" value="{secret}">
{first}
{last}
{password}
<p id="password-hint">At least {min} characters.</p>
<button type="submit">Join</button>
</form>"#,
        email = escape(&record.address),
        secret = escape(&form.secret),
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
    page("Accept your invitation", &body)
}

/// GET: the form, prefilled with the name the inviter gave.
pub async fn show(
    State(app): State<Shared>,
    Path((account, invitation)): Path<(String, String)>,
    Query(query): Query<LinkQuery>,
) -> Response {
    match pending_invitation(&app, &account, &invitation, &query.secret).await {
        Ok((_, record)) => {
            let form = AcceptForm {
                secret: query.secret,
                first_name: record.first_name.clone(),
                last_name: record.last_name.clone(),
                password: String::new(),
            };
            respond(
                StatusCode::OK,
                form_page(&record, &form, &FieldErrors::default()),
                None,
            )
        }
        Err(dead) => dead.into_response(),
    }
}

/// POST: accept, join, log in.
pub async fn accept(
    State(app): State<Shared>,
    ClientIp(client): ClientIp,
    Path((account, invitation)): Path<(String, String)>,
    Form(form): Form<AcceptForm>,
) -> Response {
    // Counted per link: guessing a link's secret, or its password form, from anywhere.
    let link = format!("invitation {account}/{invitation}");
    if let Err(refused) = app
        .limiter
        .check(Attempt::Acceptance, Some(&link), client)
        .await
    {
        return html::refused_attempt(refused);
    }
    match accept_inner(&app, &account, &invitation, form).await {
        Ok(response) | Err(response) => response,
    }
}

async fn accept_inner(
    app: &Shared,
    account: &str,
    invitation: &str,
    form: AcceptForm,
) -> Result<Response, Response> {
    let dead = |d: Dead| d.into_response();
    let (account, record) = pending_invitation(app, account, invitation, &form.secret)
        .await
        .map_err(dead)?;
    let mut errors = FieldErrors::default();
    let name = PersonName::parse(&form.first_name, &form.last_name);
    match &name {
        Err(e) if e.field == domain::Field::LastName => errors.last_name = Some(e.to_string()),
        Err(e) => errors.first_name = Some(e.to_string()),
        Ok(_) => {}
    }
    if let Err(e) = password::check_policy(&form.password) {
        errors.password = Some(e.to_string());
    }
    let (Ok(name), false) = (name, errors.any()) else {
        return Err(respond(
            StatusCode::UNPROCESSABLE_ENTITY,
            form_page(&record, &form, &errors),
            None,
        ));
    };
    let request = AcceptInvitation {
        account,
        invitation: record,
        secret: form.secret,
        name,
        password: form.password,
    };
    let accepted = match accept_invitation(&app.state, request).await {
        Ok(accepted) => accepted,
        Err(AcceptInvitationError::Invalid(_)) => return Err(dead(Dead::Invalid)),
        Err(AcceptInvitationError::Expired) => return Err(dead(Dead::Expired)),
        Err(AcceptInvitationError::Used) => return Err(dead(Dead::Used)),
        Err(AcceptInvitationError::Withdrawn) => return Err(dead(Dead::Withdrawn)),
        Err(AcceptInvitationError::EmailTaken) => return Err(dead(Dead::EmailTaken)),
        Err(AcceptInvitationError::Failed(failure)) => {
            return Err(html::failed("accepting an invitation", failure))
        }
    };
    let body = format!(
        r#"<p role="status">Welcome, {}. You are logged in and can now work on the tasks you were invited to.</p>"#,
        escape(&accepted.first_name)
    );
    Ok(respond(
        StatusCode::OK,
        page("You are in", &body),
        Some(session_cookie(&accepted.session_token)),
    ))
}
