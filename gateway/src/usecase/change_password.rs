//! A person changing their own password: they show it is them with the current one,
//! and every other session of theirs ends, so whoever else had one is out.

use super::{refusal_of, Failure};
use crate::password::{self, PasswordError};
use crate::state::AppState;
use domain::person::{Person, PersonCommand, PersonError};
use domain::AggregateKey;
use projections::directory;
use projections::permission::Viewer;

#[derive(Debug)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
    /// The session the request came with, which stays open.
    pub session_token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    #[error("the current password is not right")]
    WrongPassword,
    #[error(transparent)]
    InvalidPassword(PasswordError),
    #[error(transparent)]
    Refused(PersonError),
    #[error(transparent)]
    Failed(#[from] Failure),
}

pub async fn change_password(
    state: &AppState,
    viewer: &Viewer,
    request: ChangePassword,
) -> Result<(), ChangePasswordError> {
    if !is_their_password(state, viewer, request.current_password).await? {
        return Err(ChangePasswordError::WrongPassword);
    }
    let password_hash = password::hash(request.new_password)
        .await
        .map_err(ChangePasswordError::InvalidPassword)?;
    let key = AggregateKey::new(viewer.account, viewer.person.0);
    let command = PersonCommand::ChangePassword { password_hash };
    if let Err(e) = state
        .execute::<Person>(key, command, Some(viewer.person))
        .await
    {
        return Err(match refusal_of(e) {
            Ok(refused) => ChangePasswordError::Refused(refused),
            Err(failure) => failure.into(),
        });
    }
    if let Some(token) = request.session_token.as_deref() {
        state
            .sessions
            .close_others(viewer.account, viewer.person, token)
            .await
            .map_err(Failure::from)?;
    }
    Ok(())
}

/// Whether `password` is the viewer's: what a change to their login asks first.
pub(super) async fn is_their_password(
    state: &AppState,
    viewer: &Viewer,
    password: String,
) -> Result<bool, Failure> {
    let record = directory::by_id(&state.db, viewer.account, viewer.person).await?;
    Ok(password::verify(password, record.map(|r| r.password_hash)).await)
}
