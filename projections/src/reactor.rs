//! Processes: what an event calls for on other aggregates.
//!
//! - The trial ended unpaid: external people are suspended; a paid plan lifts exactly
//!   those suspensions (`domain::trial`).
//! - Someone was dismissed: their email address is released, so it can be invited
//!   again, and their place under the plan's limit is given back.
//! - An invitation ended unused (declined, revoked, expired, rejected): its place
//!   under the plan's limit is given back.
//! - Places under the plan's limit: a place the account recorded opens the person's
//!   `SeatHold`; a place given back there (or taken twice) lowers the account's count
//!   once, for the log position of that event, which the account remembers, so a
//!   follow-up sent again is ignored (see `domain::seat`).
//! - An employee became an extranet user: they leave the groups that take no external
//!   users; the memberships that still apply stay.
//!
//! The reactor follows the log behind the read models (it reads them to find who is
//! concerned). Unlike a projection it writes through commands, which on SQLite cannot
//! run inside the reactor's own transaction, so it reacts first and moves its
//! checkpoint after: at least once. Every follow-up is safe to repeat: a repeat is
//! refused as already done, or changes nothing, and a follow-up that depends on how
//! things stand is only sent while they still stand that way.
//!
//! Several processes may share one PostgreSQL database: a batch is claimed first, by
//! the reactor's advisory lock held in a transaction until its checkpoint has moved
//! (by compare-and-set, like a projector's), and read from the shared checkpoint. A
//! second process waits on the lock, then finds the checkpoint past the batch and
//! follows it: no two processes act from one batch. The claiming transaction writes
//! nothing until the checkpoint, so it holds no transaction id and does not hold the
//! log back while the follow-ups run.

use crate::applied::Events;
use crate::commands::{CommandBus, CommandError};
use crate::health::{self, EventRef, HealthWatch, ProjectionError, Vitals};
use crate::log::Metadata;
use crate::projector::ProjectorHandle;
use crate::{accounts, checkpoint, directory, invitations, workgroups};
use crate::{Backend, Database, EventLog, LogPosition, StoreError, StoredEvent};
use cqrs_es::Aggregate;
use domain::account::{Account, AccountCommand, AccountEvent, Plan};
use domain::email_claim::{EmailClaim, EmailClaimCommand};
use domain::invitation::{Invitation, InvitationEvent, InvitationState};
use domain::person::{Person, PersonEvent, PersonKind};
use domain::seat::{SeatHold, SeatHoldCommand, SeatHoldEvent};
use domain::workgroup::{Workgroup, WorkgroupCommand};
use domain::{AccountId, AggregateKey, Email, InvitationId, LogMark, PersonId};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const NAME: &str = "reactor";
const BATCH: i64 = 200;

pub struct Reactor {
    db: Database,
    log: EventLog,
    bus: Arc<CommandBus>,
    position: watch::Sender<LogPosition>,
    leader: watch::Receiver<LogPosition>,
    /// Woken after a batch: its follow-ups are commands nobody waits for, and the
    /// read models would otherwise see them only at their idle poll.
    read_models: ProjectorHandle,
    vitals: Arc<Vitals>,
    reacted: Arc<std::sync::atomic::AtomicU64>,
}

/// The fail point `reactor.slow`, argument milliseconds: the reactor waits that long
/// after claiming a batch and before acting on it, so a test can have two processes
/// reach for the same batch at once (`tests/tests/fail_closed.rs`).
async fn slow_down_for_a_test() {
    let Some(millis) = fail::eval("reactor.slow", |arg| arg.and_then(|a| a.parse().ok())) else {
        return;
    };
    if let Some(millis) = millis {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
}

/// A follow-up that was refused: already done, or no longer applicable. Logged, never
/// retried.
fn settled<E: std::error::Error>(
    what: &str,
    result: Result<LogPosition, CommandError<E>>,
) -> Result<(), StoreError> {
    match result {
        Ok(_) => Ok(()),
        Err(CommandError::Refused(reason)) => {
            tracing::debug!(what, %reason, "follow-up not needed");
            Ok(())
        }
        Err(CommandError::Store(e)) => Err(e),
        // `CommandBus::execute` does not wait for the read models; recorded is done.
        Err(CommandError::ReadModelsStalled(_) | CommandError::NotYetInForce { .. }) => Ok(()),
        Err(other) => Err(StoreError::UnknownValue {
            what: "follow-up command",
            value: other.to_string(),
        }),
    }
}

/// Whether the reactor (of any process sharing the store) has reacted to everything
/// up to `at`, waiting at most `within` for it. A change whose follow-ups must not
/// overtake it asks this first: a reinstatement waits for its dismissal's release of
/// the address, which would otherwise land after the reinstatement took the address
/// back and leave an active person without it.
pub async fn reacted_through(
    db: &Database,
    at: LogPosition,
    within: Duration,
) -> Result<bool, StoreError> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if checkpoint::load(&db.any, NAME).await? >= at {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Reactor {
    pub async fn new(
        db: Database,
        bus: Arc<CommandBus>,
        leader: &ProjectorHandle,
    ) -> Result<Self, StoreError> {
        let start = checkpoint::load(&db.any, NAME).await?;
        Ok(Self {
            log: EventLog::new(db.clone()),
            db,
            bus,
            position: watch::channel(start).0,
            leader: leader.subscribe(),
            read_models: leader.clone(),
            vitals: Vitals::new(NAME),
            reacted: Arc::default(),
        })
    }

    pub fn position(&self) -> LogPosition {
        *self.position.borrow()
    }

    pub fn health(&self) -> HealthWatch {
        self.vitals.watch()
    }

    /// Reacts to everything the read models have applied; returns how many events.
    pub async fn catch_up(&self) -> Result<u64, ProjectionError> {
        let mut done = 0;
        loop {
            match self.step().await {
                Ok(0) => {
                    self.vitals.succeeded();
                    return Ok(done);
                }
                Ok(n) => {
                    self.vitals.succeeded();
                    done += n;
                    // A short batch took everything readable.
                    if n < BATCH as u64 {
                        return Ok(done);
                    }
                }
                Err(error) => {
                    self.vitals.failed(&error);
                    return Err(error);
                }
            }
        }
    }

    async fn step(&self) -> Result<u64, ProjectionError> {
        let after = self.position();
        let failed = |event: Option<&StoredEvent>, cause: StoreError| ProjectionError {
            follower: NAME,
            after,
            event: event.map(EventRef::of),
            cause,
        };
        let until = *self.leader.borrow();
        // Read first: claiming takes a transaction, wasted when there is nothing new.
        // The read models' own batch when this process applied it, else the log.
        let events: Events = match self.read_models.applied_after(after) {
            Some(events) => events,
            None => self
                .log
                .read(after, until, BATCH)
                .await
                .map_err(|cause| failed(None, cause))?
                .into(),
        };
        let Some(last) = events.last().map(|e| e.position) else {
            return Ok(0);
        };
        let claim = match self.db.backend {
            Backend::Postgres => {
                let claimed = self.claim(after).await.map_err(|c| failed(None, c))?;
                match claimed {
                    Some(tx) => Some(tx),
                    // Another process reacted past `after`: follow it.
                    None => return Ok(0),
                }
            }
            // One process owns a SQLite file.
            Backend::Sqlite => None,
        };
        slow_down_for_a_test().await;
        for event in events.iter() {
            self.react(event)
                .await
                .map_err(|cause| failed(Some(event), cause))?;
        }
        // Counted as acted on, whether or not the checkpoint then moves.
        self.reacted
            .fetch_add(events.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let saved = async {
            let mut tx = match claim {
                Some(tx) => tx,
                None => self.db.begin_write().await?,
            };
            let moved = checkpoint::advance(&mut tx, NAME, after, last).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(moved)
        };
        let moved = saved.await.map_err(|cause| failed(None, cause))?;
        if !moved {
            // Only a checkpoint changed by hand gets here: the claim keeps other
            // processes out. Go on from wherever it was put.
            let shared = checkpoint::load(&self.db.any, NAME)
                .await
                .map_err(|cause| failed(None, cause))?;
            tracing::warn!(
                ?after,
                ?shared,
                "the reactor's checkpoint was moved by hand; following it"
            );
            self.position.send_replace(shared);
            return Ok(0);
        }
        self.position.send_replace(last);
        self.read_models.wake();
        Ok(events.len() as u64)
    }

    /// Claims the batch after `after` for this process (PostgreSQL): the reactor's
    /// advisory lock, in a transaction that ends with the checkpoint's move. None
    /// when the shared checkpoint is already past `after`; this process then follows.
    async fn claim(
        &self,
        after: LogPosition,
    ) -> Result<Option<sqlx::Transaction<'static, sqlx::Any>>, StoreError> {
        let mut tx = self.db.any.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(crate::projector::lock_key(NAME))
            .execute(&mut *tx)
            .await?;
        let shared = checkpoint::load_in(&mut tx, NAME).await?;
        if shared > after {
            self.position.send_replace(shared);
            return Ok(None);
        }
        Ok(Some(tx))
    }

    /// Events this process has reacted to since it started, for `/metrics`: across
    /// processes sharing a database the counts add up to the log, never more.
    pub fn reacted(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.reacted.clone()
    }

    async fn react(&self, event: &StoredEvent) -> Result<(), StoreError> {
        let Ok(account) = event.account_id.parse::<AccountId>() else {
            return Ok(());
        };
        // Follow-ups are recorded as the system's doing, at the time of the cause.
        let metadata = Metadata {
            actor: None,
            at: event.metadata.at,
            request_id: event.metadata.request_id.clone(),
        };
        match event.aggregate_type.as_str() {
            Account::TYPE => {
                let account_event: AccountEvent = event.decode()?;
                if let AccountEvent::SeatTaken { person } = account_event {
                    let open = SeatHoldCommand::Open {
                        person,
                        cause: event.position.mark(),
                    };
                    return settled(
                        "open seat hold",
                        self.bus
                            .execute::<SeatHold>(SeatHold::key(account, person), open, &metadata)
                            .await,
                    );
                }
                if !matches!(
                    account_event,
                    AccountEvent::TrialExpired | AccountEvent::PlanChanged { .. }
                ) {
                    return Ok(());
                }
                // Reacting again to an old event must not undo what came after it (a
                // replayed expiry must not suspend people an upgrade let back in), so
                // act only while the account still stands where the event left it.
                let Some(now) = accounts::get(&self.db, account).await? else {
                    return Ok(());
                };
                let still = match &account_event {
                    AccountEvent::TrialExpired => now.plan == Plan::Trial && now.trial_expired,
                    _ => now.plan.is_paid(),
                };
                if !still {
                    return Ok(());
                }
                let people = directory::standing_of_all(&self.db, account).await?;
                for (person, command) in domain::trial::commands_for(&account_event, people) {
                    let key = AggregateKey::new(account, person.0);
                    settled(
                        "trial",
                        self.bus.execute::<Person>(key, command, &metadata).await,
                    )?;
                }
            }
            Invitation::TYPE => {
                let ended = matches!(
                    event.decode::<InvitationEvent>()?,
                    InvitationEvent::InvitationDeclined
                        | InvitationEvent::InvitationRevoked
                        | InvitationEvent::InvitationExpired
                        | InvitationEvent::RegistrationRejected { .. }
                );
                let Ok(id) = event.entity_id().parse::<InvitationId>() else {
                    return Ok(());
                };
                if !ended {
                    return Ok(());
                }
                let Some(record) = invitations::get(&self.db.any, account, id).await? else {
                    return Ok(());
                };
                // Resent since (an expired link sent again): the place is still needed.
                let still_ended = matches!(
                    record.state,
                    InvitationState::Declined
                        | InvitationState::Revoked
                        | InvitationState::Expired
                        | InvitationState::Rejected
                );
                if still_ended {
                    self.give_back_seat(account, record.person, event, &metadata)
                        .await?;
                }
                // A registration claimed its address when it was made; a rejected one
                // gives it back, so the person may register again or be invited.
                if record.state == InvitationState::Rejected {
                    if let Ok(email) = Email::parse(&record.address) {
                        let release = EmailClaimCommand::Release {
                            person: record.person,
                        };
                        let key = EmailClaim::key(account, &email, self.bus.secrets());
                        settled(
                            "release email",
                            self.bus
                                .execute::<EmailClaim>(key, release, &metadata)
                                .await,
                        )?;
                    }
                }
            }
            Person::TYPE => {
                let Ok(person) = event.entity_id().parse::<PersonId>() else {
                    return Ok(());
                };
                match event.decode::<PersonEvent>()? {
                    // The new address was claimed before the change; the old one is
                    // free from now on.
                    PersonEvent::EmailChanged { from, .. } => {
                        let release = EmailClaimCommand::Release { person };
                        let key = EmailClaim::key(account, &from, self.bus.secrets());
                        settled(
                            "release the old email",
                            self.bus
                                .execute::<EmailClaim>(key, release, &metadata)
                                .await,
                        )?;
                    }
                    PersonEvent::PersonDismissed => {
                        // The place is given back whatever came since: a reinstatement
                        // takes a new one, and its hold counts a second take as one
                        // too many.
                        self.give_back_seat(account, person, event, &metadata)
                            .await?;
                        let Some(record) = directory::by_id(&self.db, account, person).await?
                        else {
                            return Ok(());
                        };
                        if !record.dismissed {
                            return Ok(()); // reinstated since: their address is theirs again
                        }
                        let Ok(email) = Email::parse(&record.email) else {
                            return Ok(());
                        };
                        let release = EmailClaimCommand::Release { person };
                        let key = EmailClaim::key(account, &email, self.bus.secrets());
                        settled(
                            "release email",
                            self.bus
                                .execute::<EmailClaim>(key, release, &metadata)
                                .await,
                        )?;
                    }
                    PersonEvent::ConvertedToExtranet => {
                        let still_external = directory::by_id(&self.db, account, person)
                            .await?
                            .is_some_and(|p| p.kind == PersonKind::Extranet);
                        if !still_external {
                            return Ok(());
                        }
                        for group in
                            workgroups::internal_groups_of(&self.db, account, person).await?
                        {
                            let key = AggregateKey::new(account, group.0);
                            let evict = WorkgroupCommand::Evict { person };
                            settled(
                                "evict",
                                self.bus.execute::<Workgroup>(key, evict, &metadata).await,
                            )?;
                        }
                    }
                    _ => {}
                }
            }
            SeatHold::TYPE => {
                let person = match event.decode::<SeatHoldEvent>()? {
                    SeatHoldEvent::SeatGivenBack { person, .. }
                    | SeatHoldEvent::SeatTakenTwice { person, .. } => person,
                    SeatHoldEvent::SeatHeld { .. } => return Ok(()),
                };
                self.release_seat(account, person, event.position.mark(), &metadata)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Asks `person`'s hold to give back their place, for `cause`; only the first ask
    /// gives it back.
    async fn give_back_seat(
        &self,
        account: AccountId,
        person: PersonId,
        cause: &StoredEvent,
        metadata: &Metadata,
    ) -> Result<(), StoreError> {
        let give_back = SeatHoldCommand::GiveBack {
            person,
            cause: Some(cause.position.mark()),
        };
        settled(
            "give back seat",
            self.bus
                .execute::<SeatHold>(SeatHold::key(account, person), give_back, metadata)
                .await,
        )
    }

    /// Lowers the account's count for the hold event at `cause`.
    async fn release_seat(
        &self,
        account: AccountId,
        person: PersonId,
        cause: LogMark,
        metadata: &Metadata,
    ) -> Result<(), StoreError> {
        let release = AccountCommand::ReleaseSeat { person, cause };
        settled(
            "release seat",
            self.bus
                .execute::<Account>(AggregateKey::account(account), release, metadata)
                .await,
        )
    }

    /// Follows the read models until `shutdown` fires; a failure is retried, backing
    /// off, and told through [`Reactor::health`].
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(at = ?self.position(), "reactor started");
        let mut failures = 0;
        let mut pace = crate::projector::Pace::new(true);
        loop {
            if !pace.wait(&mut shutdown).await {
                break;
            }
            if self.catch_up().await.is_err() {
                failures += 1;
                if !health::back_off(failures, &mut shutdown).await {
                    break;
                }
                continue;
            }
            failures = 0;
            tokio::select! {
                changed = self.leader.changed() => if changed.is_err() { break },
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = shutdown.changed() => break,
            }
            if *shutdown.borrow() {
                break;
            }
        }
        tracing::info!("reactor stopped");
    }
}
