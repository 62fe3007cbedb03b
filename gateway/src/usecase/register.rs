//! Registering through the account's link: the person claims their address, takes a
//! place under the plan's limit and is recorded as registered; then they are in at
//! once (joined, with a session), or wait for an administrator's approval, unless
//! their email's domain is on the list that skips it. Registration makes employees.

use super::joining::{self, JoinError, Newcomer};
use super::{failure, refusal_of, Failure};
use crate::password;
use crate::state::{AppState, Claim};
use domain::account::{Account, AccountCommand, AccountError};
use domain::invitation::{Approval, Invitation, InvitationCommand};
use domain::{AccountId, AggregateKey, Email, InvitationId, PersonId, PersonName};
use projections::accounts::AccountRecord;
use projections::invitations::Registration;

/// A registration, once the door has checked the link and the form.
#[derive(Debug, Clone)]
pub struct Register {
    pub account: AccountId,
    /// The account the link opened, with its settings as they are now.
    pub record: AccountRecord,
    pub email: Email,
    pub name: PersonName,
    pub password: String,
}

#[derive(Debug, Clone)]
pub enum Registered {
    /// In and logged in.
    In { session_token: String },
    /// Waiting for an administrator.
    AwaitingApproval,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("someone in this workspace already uses this address: log in with it, or reset its password")]
    EmailTaken,
    /// The account's domain lists do not admit the address.
    #[error(transparent)]
    DomainNotAllowed(domain::account::DomainRefusal),
    /// No place under the plan's limit.
    #[error(transparent)]
    Full(AccountError),
    #[error(transparent)]
    Failed(#[from] Failure),
}

pub async fn register(state: &AppState, request: Register) -> Result<Registered, RegisterError> {
    let Register {
        account,
        record,
        email,
        name,
        password,
    } = request;
    if state
        .holder_of(account, &email)
        .await
        .map_err(Failure::from)?
        .is_some()
    {
        return Err(RegisterError::EmailTaken);
    }
    let password_hash = password::hash(password)
        .await
        .map_err(|e| Failure::Internal(e.to_string()))?;

    let person = PersonId::new_random();
    let invitation = InvitationId::new_random();
    let actor = Some(person);
    // The address is theirs from now on, even while they wait for approval, so that
    // two registrations for one address cannot both be let in; a rejection gives it
    // back (the reactor).
    match state.claim_email(account, &email, person, actor).await {
        Ok(Claim::Theirs) => {}
        Ok(Claim::TakenByOther) => return Err(RegisterError::EmailTaken),
        Err(e) => return Err(failure(e).into()),
    }

    // A place under the plan's limit, as for anyone invited, if the account's domain
    // lists admit the address. Should the flow stop after this, the sweeper gives the
    // place and the address back (`projections/src/holds.rs`).
    let seat = AccountCommand::TakeSeat {
        person,
        external: false,
        email: Some(email.clone()),
    };
    let account_key = AggregateKey::account(account);
    if let Err(e) = state.execute::<Account>(account_key, seat, actor).await {
        state.give_back_email(account, &email, person, actor).await;
        return Err(match refusal_of(e) {
            Ok(AccountError::DomainNotAllowed(refusal)) => RegisterError::DomainNotAllowed(refusal),
            Ok(full) => RegisterError::Full(full),
            Err(failure) => failure.into(),
        });
    }

    if let Err(stopped) = super::flow_step::between_steps("registration.after_seat").await {
        return Err(Failure::Internal(stopped.to_string()).into());
    }
    let approval = record.settings.approval_for(&email);
    let register = InvitationCommand::Register {
        invitation,
        person,
        email: email.clone(),
        name: name.clone(),
        password_hash: password_hash.clone(),
        approval: approval.clone(),
    };
    let key = AggregateKey::new(account, invitation.0);
    if let Err(e) = state.execute::<Invitation>(key, register, actor).await {
        state.give_back_email(account, &email, person, actor).await;
        return Err(failure(e).into());
    }
    tracing::info!(%account, %person, %invitation, ?approval, "registered through the link");

    if approval == Approval::Required {
        return Ok(Registered::AwaitingApproval);
    }
    let registration = Registration {
        person,
        email,
        name,
        password_hash,
        approval,
    };
    let newcomer = Newcomer::registered(account, invitation, registration, None);
    match joining::join(state, newcomer, actor).await {
        Ok(()) | Err(JoinError::AlreadyJoined) => {}
        Err(JoinError::Failed(failure)) => return Err(failure.into()),
    }
    let session_token = state
        .sessions
        .open(account, person, state.clock.now())
        .await
        .map_err(Failure::from)?;
    Ok(Registered::In { session_token })
}
