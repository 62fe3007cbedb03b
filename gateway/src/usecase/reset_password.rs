//! Setting a new password through an emailed link: the application service behind the
//! reset pages and the `requestPasswordReset` mutation.
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

use crate::state::AppState;
use domain::person::{Person, PersonCommand, PersonError};
use domain::{AccountId, AggregateKey, Email, PersonId};
use projections::commands::CommandError;
use projections::{directory, EventLog, StoreError};

/// What everyone who asks for a reset is told, whether or not the address is known:
/// the answer must not tell who has an account.
pub fn sent_message(email: &str) -> String {
    format!(
        "If {email} belongs to someone in this workspace, we have sent a link to it for \
         setting a new password. The link works once, within {} minutes.",
        domain::person::RESET_VALID_MINUTES
    )
}

/// Asks for a reset link for `email` in `account`. Returns the same, and in about the
/// same time, whether or not someone active has that address: the command, which is
/// what would take longer, runs after the answer.
pub async fn request(
    state: &AppState,
    account: AccountId,
    email: &Email,
) -> Result<(), StoreError> {
    let Some(person) = directory::by_email(&state.db, account, email).await? else {
        return Ok(());
    };
    if !person.active {
        return Ok(());
    }
    let state = state.clone();
    let person = person.id;
    tokio::spawn(async move {
        let key = AggregateKey::new(account, person.0);
        match state
            .execute::<Person>(key, PersonCommand::RequestPasswordReset, None)
            .await
        {
            Ok(()) => tracing::info!(%account, %person, "password reset link requested"),
            Err(error) => tracing::warn!(%error, %account, %person, "no password reset link"),
        }
    });
    Ok(())
}

/// Why a reset link does not work.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error(transparent)]
    Refused(PersonError),
    #[error("someone else changed this person at the same moment; try again")]
    Busy,
    #[error("resetting a password failed: {0}")]
    Internal(String),
}

impl From<StoreError> for ResetError {
    fn from(error: StoreError) -> Self {
        ResetError::Internal(error.to_string())
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

/// Sets the new password through the link, ends every session the person had, and
/// opens a new one, whose token is returned.
pub async fn reset(
    state: &AppState,
    account: AccountId,
    person: PersonId,
    secret: String,
    password_hash: String,
) -> Result<String, ResetError> {
    let key = AggregateKey::new(account, person.0);
    let command = PersonCommand::ResetPassword {
        secret,
        password_hash,
    };
    match state.execute::<Person>(key, command, Some(person)).await {
        Ok(()) => {}
        Err(CommandError::Refused(e)) => return Err(ResetError::Refused(e)),
        Err(CommandError::Conflict) => return Err(ResetError::Busy),
        Err(e) => return Err(ResetError::Internal(e.to_string())),
    }
    state.sessions.close_all_of(account, person).await?;
    let token = state
        .sessions
        .open(account, person, state.clock.now())
        .await?;
    tracing::info!(%account, %person, "password reset; every other session ended");
    Ok(token)
}
