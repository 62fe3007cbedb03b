//! Setting a new password through an emailed link (asked for with
//! `request_password_reset`): the link is checked, the password set, every session of
//! the person ends and a new one opens.
//!
//! Where the reset lives: in the event log, on the person. `PasswordResetRequested`
//! holds a nonce and an expiry; the link's secret is `HMAC(server key, person : nonce)`
//! (as for invitations, see `domain::invitation::Link`), checked in constant time by the
//! person aggregate, which also knows whether the link was used, superseded or outlived
//! by a dismissal. So the notifier writes the email from the event exactly once, like
//! every other email (nothing sent twice, nothing lost), the log alone resets nobody's
//! password, and an audit of the person shows when resets were asked for and used. A
//! separate table of hashed tokens would have needed its own outbox writes and its own
//! single-use bookkeeping for the same guarantees.

use super::{refusal_of, Failure};
use crate::password::{self, PasswordError};
use crate::state::AppState;
use domain::person::{Person, PersonCommand, PersonError};
use domain::{AccountId, AggregateKey, PersonId};
use projections::{EventLog, StoreError};

/// Why a reset link does not work.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error(transparent)]
    Refused(PersonError),
    /// The link works, the new password does not.
    #[error(transparent)]
    InvalidPassword(PasswordError),
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl From<StoreError> for ResetError {
    fn from(error: StoreError) -> Self {
        ResetError::Failed(error.into())
    }
}

/// Whether `secret` opens `person`'s reset link now, asked of the person's own events
/// without running a command, so the form is shown only for a link that works.
pub async fn check_link(
    state: &AppState,
    account: AccountId,
    person: PersonId,
    secret: &str,
) -> Result<(), ResetError> {
    let folded: Person = EventLog::new(state.db.clone())
        .fold(AggregateKey::new(account, person.0))
        .await?;
    folded
        .check_reset_link(&state.secrets, state.clock.now(), secret)
        .map_err(ResetError::Refused)
}

/// A new password through the link.
#[derive(Debug)]
pub struct ResetPassword {
    pub account: AccountId,
    pub person: PersonId,
    /// The link's secret.
    pub secret: String,
    pub password: String,
}

/// Sets the new password through the link, ends every session the person had, and
/// opens a new one, whose token is returned. The link is checked first: a form for a
/// dead link is not worth correcting.
pub async fn reset_password(
    state: &AppState,
    request: ResetPassword,
) -> Result<String, ResetError> {
    let ResetPassword {
        account,
        person,
        secret,
        password,
    } = request;
    check_link(state, account, person, &secret).await?;
    let password_hash = password::hash(password).await.map_err(|e| match e {
        PasswordError::Hashing => ResetError::Failed(Failure::Internal(e.to_string())),
        policy => ResetError::InvalidPassword(policy),
    })?;
    let key = AggregateKey::new(account, person.0);
    let command = PersonCommand::ResetPassword {
        secret,
        password_hash,
    };
    if let Err(e) = state.execute::<Person>(key, command, Some(person)).await {
        return Err(ResetError::Refused(refusal_of(e)?));
    }
    state.sessions.close_all_of(account, person).await?;
    let token = state
        .sessions
        .open(account, person, state.clock.now())
        .await?;
    tracing::info!(%account, %person, "password reset; every other session ended");
    Ok(token)
}
