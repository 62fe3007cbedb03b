//! Logging in and out.

use super::context::{auth, state};
use super::error::ApiError;
use super::types::{Person, UserError};
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use domain::{AccountId, Email};
use projections::directory;

#[derive(Default)]
pub struct SessionMutation;

/// Log in with the email and password of a person of an account.
#[derive(InputObject)]
pub struct LoginInput {
    /// The account (workspace) to log in to.
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
    /// Opens a session.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<LoginPayload, ApiError> {
        let state = state(ctx);
        let account: Option<AccountId> = input.account_id.parse().ok();
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

    /// Ends the session this request was made with. True if there was one.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool, ApiError> {
        let Some(token) = auth(ctx).token.as_deref() else {
            return Ok(false);
        };
        state(ctx).sessions.close(token).await?;
        Ok(true)
    }
}
