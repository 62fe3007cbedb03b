//! Holds: places under the plan's limit and email addresses taken for a person id
//! that nothing has taken up yet (see migration `0012_holds.sql`).
//!
//! Flows across aggregates (invite: seat, then invitation; register: address, seat,
//! then request; join: address, then person) commit step by step. Should a flow stop
//! between its steps (a refusal, a timeout, a client that hung up, a crash), its
//! holds stay here, and the scheduler's sweeper gives back those older than the
//! deadline. Part of the read models' projection, so a hold and what took it up are
//! applied in one transaction, in log order.

use crate::bulk::{placeholders, rows_per_statement};
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
            if let AccountEvent::SeatTaken { .. } = e.decode()? {
                seats_taken(tx, std::slice::from_ref(e)).await?;
            }
        }
        // Given back, or a second take already given back as one too many: either
        // way there is nothing left for the sweeper.
        SeatHold::TYPE => match e.decode()? {
            SeatHoldEvent::SeatGivenBack { person, .. }
            | SeatHoldEvent::SeatTakenTwice { person, .. } => {
                clear(tx, Hold::Seat, &[(account, person)]).await?;
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
            InvitationEvent::InvitationIssued { .. } => {
                invitations_issued(tx, std::slice::from_ref(e)).await?;
            }
            InvitationEvent::RegistrationRequested { person, .. } => {
                clear(tx, Hold::Seat, &[(account, person)]).await?;
                clear(tx, Hold::Claim, &[(account, person)]).await?;
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
                    clear(tx, Hold::Seat, &[(account, person)]).await?;
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
                    clear(tx, Hold::Seat, &[(account, person)]).await?;
                    clear(tx, Hold::Claim, &[(account, person)]).await?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The two kinds of hold, one table each; every query below serves both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// A place under the plan's limit, per (account, person).
    Seat,
    /// An email address, per (account, claim aggregate), for one person.
    Claim,
}

impl Hold {
    fn table(self) -> &'static str {
        match self {
            Hold::Seat => "seat_holds",
            Hold::Claim => "claim_holds",
        }
    }

    /// The column that tells the holds of one account apart.
    fn key_column(self) -> &'static str {
        match self {
            Hold::Seat => "person_id",
            Hold::Claim => "claim_id",
        }
    }
}

/// Takes up every hold of `kind` taken for `person`.
/// The places a run of `SeatTaken` events took: one statement for the whole run.
pub async fn seats_taken(tx: &mut Tx, events: &[StoredEvent]) -> Result<(), StoreError> {
    let mut rows = Vec::with_capacity(events.len());
    for e in events {
        if let AccountEvent::SeatTaken { person } = e.decode()? {
            rows.push((e.account_id.as_str(), person.to_string(), e.metadata.at.0));
        }
    }
    for chunk in rows.chunks(rows_per_statement(3)) {
        let sql = format!(
            "INSERT INTO seat_holds (account_id, person_id, taken_at) VALUES {}
             ON CONFLICT (account_id, person_id) DO NOTHING",
            placeholders(chunk.len(), &["", "", ""])
        );
        let mut query = sqlx::query(&sql);
        for (account, person, at) in chunk {
            query = query.bind(*account).bind(person.as_str()).bind(*at);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A run of `InvitationIssued` events takes up the place (and any address) each
/// invitation's person holds.
pub async fn invitations_issued(tx: &mut Tx, events: &[StoredEvent]) -> Result<(), StoreError> {
    let mut people = Vec::with_capacity(events.len());
    for e in events {
        if let InvitationEvent::InvitationIssued { person, .. } = e.decode()? {
            people.push((e.account_id.as_str(), person));
        }
    }
    clear(tx, Hold::Seat, &people).await?;
    clear(tx, Hold::Claim, &people).await
}

/// Clears the holds of `kind` of these (account, person) pairs.
async fn clear(tx: &mut Tx, kind: Hold, people: &[(&str, PersonId)]) -> Result<(), StoreError> {
    for chunk in people.chunks(rows_per_statement(2)) {
        let sql = format!(
            "DELETE FROM {} WHERE (account_id, person_id) IN (VALUES {})",
            kind.table(),
            placeholders(chunk.len(), &["", ""])
        );
        let mut query = sqlx::query(&sql);
        for (account, person) in chunk {
            query = query.bind(*account).bind(person.to_string());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A hold taken at or before the deadline and not taken up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    pub account: AccountId,
    pub person: PersonId,
    /// The claim aggregate's id for an address; the person's id for a place.
    pub key: uuid::Uuid,
}

/// The oldest holds of `kind` taken at or before `taken_before`, at most `limit`.
pub async fn stale(
    db: &sqlx::AnyPool,
    kind: Hold,
    taken_before: i64,
    limit: i64,
) -> Result<Vec<Stale>, StoreError> {
    let sql = format!(
        "SELECT account_id, person_id, {key} AS hold_key FROM {table} WHERE taken_at <= $1
          ORDER BY taken_at LIMIT $2",
        key = kind.key_column(),
        table = kind.table(),
    );
    let rows = sqlx::query(&sql)
        .bind(taken_before)
        .bind(limit)
        .fetch_all(db)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Stale {
                account: parse_id(row, "account_id")?,
                person: parse_id(row, "person_id")?,
                key: parse_id(row, "hold_key")?,
            })
        })
        .collect()
}

/// Moves a hold the sweeper could not give back to the back of the queue (as if
/// taken at `now`), so that holds nothing will ever give back (a place taken before
/// holds were recorded, whose seat hold the reactor never opened) are retried once a
/// deadline instead of filling every batch ahead of newer ones.
pub async fn postpone(
    db: &sqlx::AnyPool,
    kind: Hold,
    hold: &Stale,
    now: i64,
) -> Result<(), StoreError> {
    let sql = format!(
        "UPDATE {table} SET taken_at = $1 WHERE account_id = $2 AND {key} = $3",
        key = kind.key_column(),
        table = kind.table(),
    );
    sqlx::query(&sql)
        .bind(now)
        .bind(hold.account.to_string())
        .bind(hold.key.to_string())
        .execute(db)
        .await?;
    Ok(())
}
