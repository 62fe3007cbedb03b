//! Things that happen by the clock: trial warnings and expiry, invitations whose links
//! ran out, people whose access ended, memberships that ended, and holds (a place or
//! an address) that no flow took up within the deadline (`holds`). The scheduler finds
//! what is due in the read models and sends the command that records it; each command
//! checks again that it is due, so running early, late or twice is harmless.

use crate::commands::{CommandBus, CommandError};
use crate::directory::parse_id;
use crate::holds::{self, Hold};
use crate::log::Metadata;
use crate::{Database, LogPosition, StoreError};
use domain::account::{Account, AccountCommand};
use domain::email_claim::{EmailClaim, EmailClaimCommand};
use domain::invitation::{Invitation, InvitationCommand};
use domain::person::{Person, PersonCommand};
use domain::seat::{SeatHold, SeatHoldCommand};
use domain::services::Clock;
use domain::workgroup::{Workgroup, WorkgroupCommand};
use domain::{AccountId, AggregateKey};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const BATCH: i64 = 500;

/// How many of each kind of due thing one run recorded.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub trial_checks: usize,
    pub invitations_expired: usize,
    pub access_expired: usize,
    pub memberships_expired: usize,
    pub seats_given_back: usize,
    pub claims_given_back: usize,
}

pub struct Scheduler {
    pub db: Database,
    pub bus: Arc<CommandBus>,
    pub clock: Arc<dyn Clock>,
    /// How long a hold may wait to be taken up before it is given back: far longer
    /// than any request may take, so only a flow that stopped midway leaves one.
    pub hold_deadline: Duration,
}

/// The default [`Scheduler::hold_deadline`].
pub const HOLD_DEADLINE: Duration = Duration::from_secs(600);

fn counted<E: std::error::Error>(
    result: Result<LogPosition, CommandError<E>>,
) -> Result<usize, StoreError> {
    match result {
        Ok(_) => Ok(1),
        // Already recorded by someone else, or no longer due.
        Err(CommandError::Refused(_)) | Err(CommandError::Conflict) => Ok(0),
        // Recorded; the bus does not wait for the read models, so this does not occur.
        Err(CommandError::ReadModelsStalled(_) | CommandError::NotYetInForce { .. }) => Ok(1),
        Err(CommandError::Store(e)) => Err(e),
        Err(CommandError::EventStore(message)) => Err(StoreError::UnknownValue {
            what: "scheduled command",
            value: message,
        }),
    }
}

impl Scheduler {
    /// Records everything due now.
    pub async fn run_once(&self) -> Result<Recorded, StoreError> {
        let now = self.clock.now();
        let metadata = Metadata {
            actor: None,
            at: now,
            request_id: None,
        };
        let mut recorded = Recorded::default();

        let warn_from = now.plus_days(7).0;
        for row in self
            .due(
                "SELECT account_id FROM accounts
                   WHERE plan = 'trial' AND trial_expired = 0 AND trial_ends_at <= $1 LIMIT $2",
                warn_from,
            )
            .await?
        {
            let account: AccountId = parse_id(&row, "account_id")?;
            let result = self
                .bus
                .execute::<Account>(
                    AggregateKey::account(account),
                    AccountCommand::CheckTrial,
                    &metadata,
                )
                .await;
            recorded.trial_checks += counted(result)?;
        }
        for row in self
            .due(
                "SELECT account_id, invitation_id FROM invitations
                   WHERE status = 'pending' AND expires_at <= $1 LIMIT $2",
                now.0,
            )
            .await?
        {
            let key = AggregateKey::new(
                parse_id(&row, "account_id")?,
                parse_id::<uuid::Uuid>(&row, "invitation_id")?,
            );
            let result = self
                .bus
                .execute::<Invitation>(key, InvitationCommand::Expire, &metadata)
                .await;
            recorded.invitations_expired += counted(result)?;
        }
        for row in self
            .due(
                "SELECT account_id, person_id FROM people
                   WHERE status = 'active' AND access_expires_at <= $1 LIMIT $2",
                now.0,
            )
            .await?
        {
            let key = AggregateKey::new(
                parse_id(&row, "account_id")?,
                parse_id::<uuid::Uuid>(&row, "person_id")?,
            );
            let result = self
                .bus
                .execute::<Person>(key, PersonCommand::ExpireAccess, &metadata)
                .await;
            recorded.access_expired += counted(result)?;
        }
        for row in self
            .due(
                "SELECT account_id, workgroup_id, person_id FROM workgroup_members
                   WHERE expires_at <= $1 LIMIT $2",
                now.0,
            )
            .await?
        {
            let key = AggregateKey::new(
                parse_id(&row, "account_id")?,
                parse_id::<uuid::Uuid>(&row, "workgroup_id")?,
            );
            let person = parse_id(&row, "person_id")?;
            let result = self
                .bus
                .execute::<Workgroup>(
                    key,
                    WorkgroupCommand::ExpireMembership { person },
                    &metadata,
                )
                .await;
            recorded.memberships_expired += counted(result)?;
        }
        self.sweep_holds(now, &metadata, &mut recorded).await?;
        Ok(recorded)
    }

    /// Gives back the places and addresses taken for flows that never finished. A
    /// place whose hold the reactor has not opened yet is left for a later run.
    async fn sweep_holds(
        &self,
        now: domain::Timestamp,
        metadata: &Metadata,
        recorded: &mut Recorded,
    ) -> Result<(), StoreError> {
        let deadline = i64::try_from(self.hold_deadline.as_millis()).unwrap_or(i64::MAX);
        let taken_before = now.0.saturating_sub(deadline);
        for stale in holds::stale(&self.db.any, Hold::Seat, taken_before, BATCH).await? {
            let give_back = SeatHoldCommand::GiveBack {
                person: stale.person,
                cause: None,
            };
            let key = SeatHold::key(stale.account, stale.person);
            let result = self.bus.execute::<SeatHold>(key, give_back, metadata).await;
            // No event at all on the hold: the reactor never opened it. Behind, or a
            // place taken before holds were recorded; either way, later.
            if matches!(result, Ok(LogPosition::START)) {
                holds::postpone(&self.db.any, Hold::Seat, &stale, now.0).await?;
                continue;
            }
            recorded.seats_given_back += counted(result)?;
        }
        for stale in holds::stale(&self.db.any, Hold::Claim, taken_before, BATCH).await? {
            let release = EmailClaimCommand::Release {
                person: stale.person,
            };
            let key = AggregateKey::new(stale.account, stale.key);
            let result = self.bus.execute::<EmailClaim>(key, release, metadata).await;
            recorded.claims_given_back += counted(result)?;
        }
        Ok(())
    }

    async fn due(&self, sql: &str, at: i64) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        Ok(sqlx::query(sql)
            .bind(at)
            .bind(BATCH)
            .fetch_all(&self.db.any)
            .await?)
    }

    /// Runs every `every` until `shutdown` fires.
    pub async fn run(self, every: Duration, mut shutdown: watch::Receiver<bool>) {
        loop {
            // `scheduler.tick=panic`: a worker that dies while the server runs
            // (`tests/tests/fail_closed.rs`: the process must exit, saying why).
            fail::fail_point!("scheduler.tick");
            match self.run_once().await {
                Ok(r) if r != Recorded::default() => {
                    tracing::info!(?r, "scheduled changes recorded")
                }
                Ok(_) => {}
                Err(error) => tracing::error!(%error, "scheduler run failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => break,
            }
            if *shutdown.borrow() {
                break;
            }
        }
    }
}
