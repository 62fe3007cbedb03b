//! Bringing a dismissed person back as they were. Their email address and a place
//! under the plan's limit are taken back first; if someone else has the address now,
//! or the plan is full, they stay dismissed and the refusal says why.

use super::{failure, refusal_of, Failure};
use crate::state::{AppState, Claim};
use domain::account::{Account, AccountCommand, AccountError};
use domain::person::{Person, PersonCommand, PersonError, PersonKind};
use domain::{AggregateKey, Email, PersonId};
use projections::directory;
use projections::permission::Viewer;

#[derive(Debug, thiserror::Error)]
pub enum ReinstateError {
    /// Nobody the viewer may see.
    #[error("person not found")]
    NotFound,
    #[error("only an administrator of the account can do this")]
    Forbidden,
    #[error("administrators cannot do this to themselves; ask another administrator")]
    OwnPerson,
    #[error("{0} belongs to someone else in this account now")]
    EmailTaken(Email),
    /// No place under the plan's limit.
    #[error(transparent)]
    Seat(AccountError),
    #[error(transparent)]
    Person(PersonError),
    #[error(transparent)]
    Failed(#[from] Failure),
}

pub async fn reinstate_person(
    state: &AppState,
    viewer: &Viewer,
    person: PersonId,
) -> Result<(), ReinstateError> {
    let permissions = &state.permissions;
    if !permissions
        .may_see_person(viewer, person)
        .await
        .map_err(Failure::from)?
    {
        return Err(ReinstateError::NotFound);
    }
    if !permissions.may_administer(viewer) {
        return Err(ReinstateError::Forbidden);
    }
    if person == viewer.person {
        return Err(ReinstateError::OwnPerson);
    }
    let actor = Some(viewer.person);
    let record = directory::by_id(&state.db, viewer.account, person)
        .await
        .map_err(Failure::from)?;
    // Only a dismissed person gave their address and place back; for anyone else the
    // command's own refusal says why there is nothing to reinstate.
    if let Some(record) = record.filter(|r| r.dismissed) {
        if let Ok(email) = Email::parse(&record.email) {
            match state
                .claim_email(viewer.account, &email, person, actor)
                .await
            {
                Ok(Claim::Theirs) => {}
                Ok(Claim::TakenByOther) => return Err(ReinstateError::EmailTaken(email)),
                Err(e) => return Err(failure(e).into()),
            }
            let seat = AccountCommand::TakeSeat {
                person,
                external: record.kind != PersonKind::Employee,
                // Coming back is not an invitation: the domain lists do not apply.
                email: None,
            };
            let account_key = AggregateKey::account(viewer.account);
            if let Err(e) = state.execute::<Account>(account_key, seat, actor).await {
                state
                    .give_back_email(viewer.account, &email, person, actor)
                    .await;
                return Err(match refusal_of(e) {
                    Ok(full) => ReinstateError::Seat(full),
                    Err(failure) => failure.into(),
                });
            }
        }
    }
    let key = AggregateKey::new(viewer.account, person.0);
    if let Err(e) = state
        .execute::<Person>(key, PersonCommand::Reinstate, actor)
        .await
    {
        return Err(match refusal_of(e) {
            Ok(refused) => ReinstateError::Person(refused),
            Err(failure) => failure.into(),
        });
    }
    tracing::info!(account = %viewer.account, %person, by = %viewer.person, "person reinstated");
    Ok(())
}
