//! Bringing a dismissed person back as they were. Their email address and a place
//! under the plan's limit are taken back first; if someone else has the address now,
//! or the plan is full, they stay dismissed and the refusal says why. The dismissal's
//! follow-ups (the reactor releasing the address) run first, so none lands after the
//! address was taken back.

use super::{failure, refusal_of, Failure};
use crate::state::{AppState, Claim};
use cqrs_es::Aggregate;
use domain::account::{Account, AccountCommand, AccountError};
use domain::person::{Person, PersonCommand, PersonError, PersonStatus};
use domain::{AggregateKey, Email, PersonId};
use projections::permission::Viewer;
use projections::{reactor, EventLog};

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
    /// The dismissal's follow-ups (giving back the address and the place) have not
    /// run yet; they will, and then the reinstatement can.
    #[error(
        "this person's dismissal is still being carried out (their address and place \
         are being given back); try again in a few seconds"
    )]
    DismissalInProgress,
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
    let key = AggregateKey::new(viewer.account, person.0);
    // Whether they are dismissed is the person's own fact: a read model could still
    // show them active a moment after a dismissal, or dismissed after a reinstatement.
    let current = state.bus.load::<Person>(key).await.map_err(Failure::from)?;
    // Only a dismissed person gave their address and place back; for anyone else the
    // command's own refusal says why there is nothing to reinstate.
    if current.status() == PersonStatus::Dismissed {
        // The dismissal's follow-up releases the address unless they are back by
        // then; taking it back before that has run would be undone by it.
        let dismissed_at = EventLog::new(state.db.clone())
            .last_of_aggregate(Person::TYPE, &key.to_string())
            .await
            .map_err(Failure::from)?
            .unwrap_or_default();
        if !reactor::reacted_through(&state.db, dismissed_at, state.command_wait)
            .await
            .map_err(Failure::from)?
        {
            return Err(ReinstateError::DismissalInProgress);
        }
        if let Some(email) = current.email() {
            match state
                .claim_email(viewer.account, email, person, actor)
                .await
            {
                Ok(Claim::Theirs) => {}
                Ok(Claim::TakenByOther) => return Err(ReinstateError::EmailTaken(email.clone())),
                Err(e) => return Err(failure(e).into()),
            }
            let seat = AccountCommand::TakeSeat {
                person,
                external: current.kind().is_external(),
                // Coming back is not an invitation: the domain lists do not apply.
                email: None,
            };
            let account_key = AggregateKey::account(viewer.account);
            if let Err(e) = state.execute::<Account>(account_key, seat, actor).await {
                state
                    .give_back_email(viewer.account, email, person, actor)
                    .await;
                return Err(match refusal_of(e) {
                    Ok(full) => ReinstateError::Seat(full),
                    Err(failure) => failure.into(),
                });
            }
            // Stopped here, the address and the place come back through the sweeper.
            if let Err(stopped) = super::flow_step::between_steps("reinstate.after_seat").await {
                return Err(Failure::Internal(stopped.to_string()).into());
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
