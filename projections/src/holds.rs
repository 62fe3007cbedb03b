//! Holds: places under the plan's limit and email addresses taken for a person id
//! that nothing has taken up yet (see migration `0012_holds.sql`).
//!
//! Flows across aggregates (invite: seat, then invitation; register: address, seat,
//! then request; join: address, then person) commit step by step. Should a flow stop
//! between its steps (a refusal, a timeout, a client that hung up, a crash), its
//! holds stay here, and the scheduler's sweeper gives back those older than the
//! deadline. Part of the read models' projection, so a hold and what took it up are
//! applied in one transaction, in log order.

use crate::directory::parse_id;
use crate::{StoreError, StoredEvent};
use cqrs_es::Aggregate;
use domain::account::{Account, AccountEvent};
use domain::email_claim::{EmailClaim, EmailClaimEvent};
use domain::invitation::{Invitation, InvitationEvent};
use domain::person::{Person, PersonEvent};
use domain::seat::{SeatHold, SeatHoldEvent};
use domain::{AccountId, PersonId};
use sqlx::{Any, Transaction};

type Tx = Transaction<'static, Any>;

/// Records or clears the holds `event` takes or takes up.
pub async fn apply(tx: &mut Tx, e: &StoredEvent) -> Result<(), StoreError> {
    let account = e.account_id.as_str();
    let at = e.metadata.at.0;
    match e.aggregate_type.as_str() {
        Account::TYPE => {
            if let AccountEvent::SeatTaken { person } = e.decode()? {
                sqlx::query(
                    "INSERT INTO seat_holds (account_id, person_id, taken_at) VALUES ($1, $2, $3)
                     ON CONFLICT (account_id, person_id) DO NOTHING",
                )
                .bind(account)
                .bind(person.to_string())
                .bind(at)
                .execute(&mut **tx)
                .await?;
            }
        }
        // Given back, or a second take already given back as one too many: either
        // way there is nothing left for the sweeper.
        SeatHold::TYPE => match e.decode()? {
            SeatHoldEvent::SeatGivenBack { person, .. }
            | SeatHoldEvent::SeatTakenTwice { person, .. } => {
                clear_seat(tx, account, person).await?;
            }
            SeatHoldEvent::SeatHeld { .. } => {}
        },
        EmailClaim::TYPE => match e.decode()? {
            EmailClaimEvent::EmailClaimed { person, .. } => {
                sqlx::query(
                    "INSERT INTO claim_holds (account_id, claim_id, person_id, taken_at)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (account_id, claim_id) DO UPDATE
                       SET person_id = excluded.person_id, taken_at = excluded.taken_at",
                )
                .bind(account)
                .bind(e.entity_id())
                .bind(person.to_string())
                .bind(at)
                .execute(&mut **tx)
                .await?;
            }
            EmailClaimEvent::EmailReleased { .. } => {
                sqlx::query("DELETE FROM claim_holds WHERE account_id = $1 AND claim_id = $2")
                    .bind(account)
                    .bind(e.entity_id())
                    .execute(&mut **tx)
                    .await?;
            }
        },
        // An invitation or a registration request takes up the place (and the
        // address a registration claimed).
        Invitation::TYPE => match e.decode()? {
            InvitationEvent::InvitationIssued { person, .. }
            | InvitationEvent::RegistrationRequested { person, .. } => {
                clear_seat(tx, account, person).await?;
                clear_claims(tx, account, person).await?;
            }
            // An expired invitation sent again took a place for its person first
            // (`usecase/resend_invitation.rs`); the resend takes it up.
            InvitationEvent::InvitationResent { .. } => {
                let person: Option<String> = sqlx::query_scalar(
                    "SELECT person_id FROM invitations WHERE account_id = $1 AND invitation_id = $2",
                )
                .bind(account)
                .bind(e.entity_id())
                .fetch_optional(&mut **tx)
                .await?;
                if let Some(person) = person.and_then(|p| p.parse::<PersonId>().ok()) {
                    clear_seat(tx, account, person).await?;
                }
            }
            _ => {}
        },
        // Joining, coming back or moving to a new address takes up what was taken for
        // it.
        Person::TYPE => {
            let taken_up = matches!(
                e.decode()?,
                PersonEvent::PersonJoined { .. }
                    | PersonEvent::PersonReinstated
                    | PersonEvent::EmailChanged { .. }
            );
            if taken_up {
                if let Ok(person) = e.entity_id().parse::<PersonId>() {
                    clear_seat(tx, account, person).await?;
                    clear_claims(tx, account, person).await?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

async fn clear_seat(tx: &mut Tx, account: &str, person: PersonId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM seat_holds WHERE account_id = $1 AND person_id = $2")
        .bind(account)
        .bind(person.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn clear_claims(tx: &mut Tx, account: &str, person: PersonId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM claim_holds WHERE account_id = $1 AND person_id = $2")
        .bind(account)
        .bind(person.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A place taken at or before the deadline and not taken up.
pub struct StaleSeat {
    pub account: AccountId,
    pub person: PersonId,
}

/// An address claimed at or before the deadline and not taken up.
pub struct StaleClaim {
    pub account: AccountId,
    pub claim: uuid::Uuid,
    pub person: PersonId,
}

pub async fn stale_seats(
    db: &sqlx::AnyPool,
    taken_before: i64,
    limit: i64,
) -> Result<Vec<StaleSeat>, StoreError> {
    let rows = sqlx::query(
        "SELECT account_id, person_id FROM seat_holds WHERE taken_at <= $1
          ORDER BY taken_at LIMIT $2",
    )
    .bind(taken_before)
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(StaleSeat {
                account: parse_id(row, "account_id")?,
                person: parse_id(row, "person_id")?,
            })
        })
        .collect()
}

pub async fn stale_claims(
    db: &sqlx::AnyPool,
    taken_before: i64,
    limit: i64,
) -> Result<Vec<StaleClaim>, StoreError> {
    let rows = sqlx::query(
        "SELECT account_id, claim_id, person_id FROM claim_holds WHERE taken_at <= $1
          ORDER BY taken_at LIMIT $2",
    )
    .bind(taken_before)
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(StaleClaim {
                account: parse_id(row, "account_id")?,
                claim: parse_id(row, "claim_id")?,
                person: parse_id(row, "person_id")?,
            })
        })
        .collect()
}
