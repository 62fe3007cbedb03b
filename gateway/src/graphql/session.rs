//! Logging in and out, and asking for a link to set a new password.
//!
//! Both answer an unknown email exactly as a known one, and both are rate-limited per
//! address and per client (see `rate_limit`).

use super::context::{auth, client_ip, site, state};
use super::error::ApiError;
use super::global_id;
use super::refusal::{rate_limited, Refusal};
use super::types::{Person, UserError};
use crate::rate_limit::{Attempt, CheckError, Limited};
use crate::usecase::request_password_reset::{request_password_reset, sent_message};
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use domain::{AccountId, Email};
use projections::directory;

#[derive(Default)]
pub struct SessionMutation;

/// Log in with the email and password of a person of an account.
#[derive(InputObject)]
pub struct LoginInput {
    /// The account (workspace) to log in to: its id as `extranet create-account`
    /// prints it, not the UUID in the account's links.
    pub account_id: ID,
    /// The address the person was invited or registered with; case does not matter.
    pub email: String,
    /// The person's password.
    pub password: String,
}

/// The outcome of a login.
#[derive(SimpleObject)]
pub struct LoginPayload {
    /// Send as `Authorization: Bearer <token>`. Null when the login was refused.
    pub token: Option<String>,
    /// The person now logged in.
    pub viewer: Option<Person>,
    /// Why the login was refused; empty on success.
    pub user_errors: Vec<UserError>,
}

/// Ask for a link to set a new password.
#[derive(InputObject)]
pub struct RequestPasswordResetInput {
    /// The account (workspace) the person belongs to, as `login` takes it.
    pub account_id: ID,
    /// The address the person logs in with; case does not matter.
    pub email: String,
}

/// The outcome of asking for a password reset link. The same whether or not the
/// address belongs to someone, so it tells nobody who has an account.
#[derive(SimpleObject)]
pub struct RequestPasswordResetPayload {
    /// What happens now, for people; null when refused.
    pub message: Option<String>,
    /// Why the request was refused (a malformed address, too many attempts); empty
    /// otherwise, including for an address nobody has.
    pub user_errors: Vec<UserError>,
}

/// The key attempts for one address are counted under.
fn address_key(what: &str, account: &ID, email: &str) -> String {
    format!("{what} {}/{}", account.as_str(), email.trim())
}

fn refused_login() -> LoginPayload {
    LoginPayload {
        token: None,
        viewer: None,
        // One answer for an unknown email and a wrong password alike.
        user_errors: vec![UserError::new(
            &["input", "password"],
            "the email or password is not right",
            "INVALID_CREDENTIALS",
        )],
    }
}

#[Object]
impl SessionMutation {
    /// Opens a session. Refused with `RATE_LIMITED` after too many attempts for one
    /// address or from one client; the message says when to try again.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<LoginPayload, ApiError> {
        let state = state(ctx);
        // Passwords and statuses are read from the read models: while they are known
        // to be stale (just started after downtime, behind, stalled), a new password
        // or a dismissal may not be in them yet, so nobody is let in on their word.
        // Before the attempt is counted: it was not the caller's to lose.
        if let Some(stale) = state.permissions.read_models_stale() {
            return Err(projections::StoreError::from(stale).into());
        }
        let address = address_key("login", &input.account_id, &input.email);
        let checked = site(ctx)?
            .limiter
            .check(Attempt::Login, Some(&address), client_ip(ctx))
            .await;
        if let Some(limited) = limited(checked)? {
            return Ok(LoginPayload {
                token: None,
                viewer: None,
                user_errors: vec![rate_limited(limited)],
            });
        }
        let account = global_id::decode::<AccountId>(&input.account_id);
        let email = Email::parse(&input.email).ok();
        let person = match (account, &email) {
            (Some(account), Some(email)) => directory::by_email(&state.db, account, email).await?,
            _ => None,
        };
        let hash = person.as_ref().map(|p| p.password_hash.clone());
        if !crate::password::verify(input.password, hash).await {
            return Ok(refused_login());
        }
        let Some(person) = person.filter(|p| p.active) else {
            return Ok(refused_login());
        };
        let token = state
            .sessions
            .open(person.account, person.id, state.clock.now())
            .await?;
        tracing::info!(account = %person.account, person = %person.id, "logged in");
        Ok(LoginPayload {
            token: Some(token),
            viewer: Some(person.into()),
            user_errors: Vec::new(),
        })
    }

    /// Emails a single-use link for setting a new password, valid for an hour, if an
    /// active person of the account has this address. Answers the same either way.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        input: RequestPasswordResetInput,
    ) -> Result<RequestPasswordResetPayload, ApiError> {
        let refuse = |e: UserError| RequestPasswordResetPayload {
            message: None,
            user_errors: vec![e],
        };
        let address = address_key("reset", &input.account_id, &input.email);
        let checked = site(ctx)?
            .limiter
            .check(Attempt::PasswordReset, Some(&address), client_ip(ctx))
            .await;
        if let Some(limited) = limited(checked)? {
            return Ok(refuse(rate_limited(limited)));
        }
        let email = match Email::parse(&input.email) {
            Ok(email) => email,
            Err(e) => return Ok(refuse(e.user_error())),
        };
        // An account that does not exist has nobody with this address either.
        if let Some(account) = global_id::decode::<AccountId>(&input.account_id) {
            request_password_reset(state(ctx), account, &email).await?;
        }
        Ok(RequestPasswordResetPayload {
            message: Some(sent_message(email.as_str())),
            user_errors: Vec::new(),
        })
    }

    /// Ends the session this request was made with. True if there was one.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool, ApiError> {
        let Some(token) = auth(ctx).token.as_deref() else {
            return Ok(false);
        };
        state(ctx).sessions.close(token).await?;
        Ok(true)
    }
}

/// A refusal to answer as a `RATE_LIMITED` user error; a store failure is the
/// resolver's error.
fn limited(checked: Result<(), CheckError>) -> Result<Option<Limited>, ApiError> {
    match checked {
        Ok(()) => Ok(None),
        Err(CheckError::Limited(limited)) => Ok(Some(limited)),
        Err(CheckError::Store(error)) => Err(error.into()),
    }
}
