//! Sending an invitation again with a new link (the old one stops working), by its
//! sponsor or an administrator. A pending invitation keeps the place it holds under the
//! plan's limit. An expired one gave its place back (the reactor, on
//! `InvitationExpired`), so it takes a place again first, under the limit and the
//! account's domain lists as a new invitation would; without that, a resent
//! invitation would let one more person in than the plan allows.
//!
//! Whether it expired is the invitation aggregate's own fact. The reactor gives the
//! place back after the expiry, so the two race: should the reactor look after the
//! resend, it finds the invitation pending again and keeps the place; a second resend
//! racing the first takes a second place, which the person's seat hold records as one
//! too many and gives back (`domain::seat`). Either way the count ends right. Who may
//! resend (its sponsor, an administrator) and where it goes are facts fixed when it
//! was issued, so the read model holds them faithfully. Should the resend itself fail after the place was taken, the sweeper
//! gives the place back (`projections/src/holds.rs`).

use super::{refusal_of, Failure};
use crate::state::AppState;
use domain::account::{Account, AccountCommand, AccountError};
use domain::invitation::{Invitation, InvitationCommand, InvitationError, InvitationState};
use domain::{AggregateKey, Email, InvitationId};
use projections::invitations;
use projections::permission::Viewer;

#[derive(Debug, thiserror::Error)]
pub enum ResendError {
    /// No invitation the viewer may see: unknown, or someone else's.
    #[error("invitation not found")]
    NotFound,
    /// No place under the plan's limit for an expired invitation, or its address is no
    /// longer admitted by the account's domain lists.
    #[error(transparent)]
    Seat(AccountError),
    #[error(transparent)]
    Invitation(InvitationError),
    #[error(transparent)]
    Failed(#[from] Failure),
}

pub async fn resend_invitation(
    state: &AppState,
    viewer: &Viewer,
    invitation: InvitationId,
) -> Result<(), ResendError> {
    let record = invitations::get(&state.db.any, viewer.account, invitation)
        .await
        .map_err(Failure::from)?
        .ok_or(ResendError::NotFound)?;
    let sponsor = record.sponsor == Some(viewer.person);
    if !sponsor && !state.permissions.may_administer(viewer) {
        // Someone else's invitation: its existence is not theirs to learn.
        return Err(ResendError::NotFound);
    }
    let actor = Some(viewer.person);
    let key = AggregateKey::new(viewer.account, invitation.0);
    let current = state
        .bus
        .load::<Invitation>(key)
        .await
        .map_err(Failure::from)?;
    if current.state() == InvitationState::Expired {
        let seat = AccountCommand::TakeSeat {
            person: record.person,
            external: record.kind.is_external(),
            email: Email::parse(&record.address).ok(),
        };
        let account_key = AggregateKey::account(viewer.account);
        if let Err(e) = state.execute::<Account>(account_key, seat, actor).await {
            return Err(ResendError::Seat(refusal_of(e)?));
        }
    }
    if let Err(e) = state
        .execute::<Invitation>(key, InvitationCommand::Resend, actor)
        .await
    {
        return Err(ResendError::Invitation(refusal_of(e)?));
    }
    tracing::info!(account = %viewer.account, %invitation, "invitation sent again");
    Ok(())
}
