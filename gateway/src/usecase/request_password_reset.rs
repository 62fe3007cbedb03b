//! Asking for a link to set a new password: the same answer, in about the same time,
//! whether or not the address is someone's (see `reset_password` for where the reset
//! lives).

use crate::state::AppState;
use domain::person::{Person, PersonCommand};
use domain::{AccountId, AggregateKey, Email};
use projections::StoreError;

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
pub async fn request_password_reset(
    state: &AppState,
    account: AccountId,
    email: &Email,
) -> Result<(), StoreError> {
    // The address's claim names its person; the person's aggregate then refuses
    // anyone who may not log in (suspended, dismissed), logged and never told.
    let Some(person) = state.holder_of(account, email).await? else {
        return Ok(());
    };
    let state = state.clone();
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
