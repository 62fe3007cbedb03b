//! A person changing the address they log in with and are emailed at: they show it
//! is them with their password, and the new address becomes theirs first, since one
//! current person per address is where racing changes meet.

use super::change_password::is_their_password;
use super::{failure, refusal_of, Failure};
use crate::state::{AppState, Claim};
use domain::person::{Person, PersonCommand, PersonError};
use domain::{AggregateKey, Email};
use projections::permission::Viewer;

#[derive(Debug)]
pub struct ChangeEmail {
    pub email: Email,
    pub current_password: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeEmailError {
    #[error("the current password is not right")]
    WrongPassword,
    #[error("{0} already belongs to a person of this account")]
    EmailTaken(Email),
    #[error(transparent)]
    Refused(PersonError),
    #[error(transparent)]
    Failed(#[from] Failure),
}

pub async fn change_email(
    state: &AppState,
    viewer: &Viewer,
    request: ChangeEmail,
) -> Result<(), ChangeEmailError> {
    if !is_their_password(state, viewer, request.current_password).await? {
        return Err(ChangeEmailError::WrongPassword);
    }
    let email = request.email;
    let actor = Some(viewer.person);
    match state
        .claim_email(viewer.account, &email, viewer.person, actor)
        .await
    {
        Ok(Claim::Theirs) => {}
        Ok(Claim::TakenByOther) => return Err(ChangeEmailError::EmailTaken(email)),
        Err(e) => return Err(failure(e).into()),
    }
    let key = AggregateKey::new(viewer.account, viewer.person.0);
    if let Err(e) = state
        .execute::<Person>(key, PersonCommand::ChangeEmail { email }, actor)
        .await
    {
        return Err(match refusal_of(e) {
            Ok(refused) => ChangeEmailError::Refused(refused),
            Err(failure) => failure.into(),
        });
    }
    Ok(())
}
