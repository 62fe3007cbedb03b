//! The one mechanism by which anything follows the log: a [`Projection`] is fed the
//! events after its checkpoint, a batch at a time, and each batch's changes commit in
//! one transaction with the moved checkpoint. A crash rolls back the whole batch, and
//! the next start repeats it from the old checkpoint: no event is applied twice, none
//! is lost. The read models and the notifier are both projections.

use crate::applied::{Applied, Events};
use crate::checkpoint;
use crate::health::{self, EventRef, Health, HealthWatch, ProjectionError, Stall, Vitals};
use crate::{Backend, Database, EventLog, LogPosition, StoreError, StoredEvent};
use sqlx::{Any, Transaction};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Events per transaction unless a projector is given another size.
pub const BATCH: i64 = 500;
const IDLE_POLL: Duration = Duration::from_millis(50);
/// How often a request waiting for a projector wakes it again (see
/// [`ProjectorHandle::caught_up_to`]).
const HELD_RETRY: Duration = Duration::from_millis(2);
/// How often at most a follower (a projector behind another, the reactor) starts a
/// batch. No request waits for a follower, so under load it gathers many commands'
/// events into one read and one commit instead of one each; when the log is quiet
/// it still starts at once.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(25);
/// How long [`listen`] waits before reconnecting.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

#[async_trait::async_trait]
pub trait Projection: Send + Sync + 'static {
    /// The checkpoint's name; unique among projections.
    fn name(&self) -> &'static str;

    /// The tables this projection alone writes, which a rebuild replaces. Empty for a
    /// projection whose effects leave the database (mail) and must not be repeated.
    fn tables(&self) -> &'static [&'static str] {
        &[]
    }

    /// Those of its tables it only ever adds rows to and never reads while applying
    /// events, nor has two equal rows for: a rebuild fills their copies without keys
    /// or indexes and builds those once the replay is done, which costs the database
    /// about half as much as keeping them up row by row.
    fn added_to_only(&self) -> &'static [&'static str] {
        &[]
    }

    /// Applies one event inside the batch's transaction.
    async fn apply(
        &self,
        tx: &mut Transaction<'static, Any>,
        event: &StoredEvent,
    ) -> Result<(), StoreError>;

    /// Applies a batch's events in order, inside its transaction; on failure, the
    /// index of the event it failed at. One at a time unless the projection knows
    /// how to apply several in one statement.
    async fn apply_all(
        &self,
        tx: &mut Transaction<'static, Any>,
        events: &[StoredEvent],
    ) -> Result<(), (usize, StoreError)> {
        for (at, event) in events.iter().enumerate() {
            self.apply(tx, event).await.map_err(|e| (at, e))?;
        }
        Ok(())
    }
}

/// Runs a projection: tails the log, applies, publishes how far it got.
pub struct Projector<P: Projection> {
    projection: P,
    db: Database,
    log: EventLog,
    position: Arc<watch::Sender<LogPosition>>,
    wake: Arc<Notify>,
    /// Never read past this: a projection that reads another one's tables (the
    /// notifier reads the read models) follows behind it.
    behind: Option<watch::Receiver<LogPosition>>,
    /// The batches that leader applied lately, taken instead of reading the log again.
    leader_applied: Option<Applied>,
    batch: i64,
    /// False for a projection being rebuilt beside the live one (`rebuild.rs`): it
    /// neither serializes with the live projector nor announces its progress.
    live: bool,
    vitals: Arc<Vitals>,
    /// Its last batches, for its followers in this process; kept by a leader only.
    applied: Applied,
    /// The batch after the last one, read while that one committed, and where it
    /// starts after.
    ahead: Mutex<Option<(LogPosition, Events)>>,
}

/// A handle to a running projector: where it is, and a way to wait for it.
#[derive(Clone)]
pub struct ProjectorHandle {
    position: watch::Receiver<LogPosition>,
    wake: Arc<Notify>,
    /// To learn of progress made by the same projection in another process.
    advance: Arc<watch::Sender<LogPosition>>,
    health: HealthWatch,
    applied: Applied,
}

impl ProjectorHandle {
    pub fn position(&self) -> LogPosition {
        *self.position.borrow()
    }

    pub fn subscribe(&self) -> watch::Receiver<LogPosition> {
        self.position.clone()
    }

    /// Asks the projector to look at the log now rather than at its next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Records that the projection, applied by another process sharing the database,
    /// has reached `at`: the shared checkpoint is there, so this process is too.
    pub fn observe(&self, at: LogPosition) {
        move_forward(&self.advance, at);
    }

    /// Returns once the projection has applied every event up to `target`.
    ///
    /// On PostgreSQL a committed event may not be readable yet: any transaction that
    /// began before it and is still open holds the log (`log.rs`), and its commit
    /// wakes nobody. So while waiting, this wakes the projector again every
    /// [`HELD_RETRY`]; before, such a wait lasted until the projector's idle poll.
    pub async fn caught_up_to(&self, target: LogPosition) {
        let mut rx = self.position.clone();
        loop {
            self.wake();
            tokio::select! {
                // An error means the projector stopped (shutdown): nothing to wait for.
                _ = rx.wait_for(|at| *at >= target) => return,
                () = tokio::time::sleep(HELD_RETRY) => {}
            }
        }
    }

    /// Like [`ProjectorHandle::caught_up_to`], but gives up as soon as the projection
    /// is stalled short of `target`: waiting longer would not bring it there.
    pub async fn caught_up_or_stalled(&self, target: LogPosition) -> Result<(), Stall> {
        let mut health = self.health.subscribe();
        let reached = self.caught_up_to(target);
        let stalled = health.wait_for(|h| matches!(h, Health::Stalled(_)));
        tokio::select! {
            () = reached => Ok(()),
            stalled = stalled => match stalled {
                // Its last batch may have reached `target` just before the stall.
                Ok(health) if self.position() < target => {
                    health.stall().cloned().map_or(Ok(()), Err)
                }
                // Passed it, or the projector stopped (shutdown).
                _ => Ok(()),
            },
        }
    }

    pub fn health(&self) -> Health {
        self.health.health()
    }

    pub fn health_watch(&self) -> HealthWatch {
        self.health.clone()
    }

    /// The events of the log right after `at`, if this process's projector applied a
    /// batch holding them lately (`applied.rs`).
    pub fn applied_after(&self, at: LogPosition) -> Option<Events> {
        self.applied.after(at)
    }
}

impl<P: Projection> Projector<P> {
    pub async fn new(projection: P, db: Database) -> Result<(Self, ProjectorHandle), StoreError> {
        let start = checkpoint::load(&db.any, projection.name()).await?;
        let (tx, rx) = watch::channel(start);
        let tx = Arc::new(tx);
        let wake = Arc::new(Notify::new());
        let vitals = Vitals::new(projection.name());
        let applied = Applied::default();
        let handle = ProjectorHandle {
            advance: tx.clone(),
            position: rx,
            wake: wake.clone(),
            health: vitals.watch(),
            applied: applied.clone(),
        };
        let projector = Self {
            projection,
            log: EventLog::new(db.clone()),
            db,
            position: tx,
            wake,
            behind: None,
            leader_applied: None,
            batch: BATCH,
            live: true,
            vitals,
            applied,
            ahead: Mutex::new(None),
        };
        Ok((projector, handle))
    }

    /// Makes this projector follow another one.
    pub fn behind(mut self, leader: &ProjectorHandle) -> Self {
        self.behind = Some(leader.subscribe());
        self.leader_applied = Some(leader.applied.clone());
        self
    }

    /// Events per transaction: fewer hold locks and memory for less time.
    pub fn batch_size(mut self, events: i64) -> Self {
        self.batch = events.max(1);
        self
    }

    /// Marks this projector as building a copy of the projection (see `rebuild.rs`).
    pub fn rebuilding(mut self) -> Self {
        self.live = false;
        self
    }

    pub fn name(&self) -> &'static str {
        self.projection.name()
    }

    pub fn tables(&self) -> &'static [&'static str] {
        self.projection.tables()
    }

    pub fn position(&self) -> LogPosition {
        *self.position.borrow()
    }

    /// Applies every event currently readable; returns how many.
    pub async fn catch_up(&self) -> Result<u64, ProjectionError> {
        self.catch_up_reporting(&mut |_| {}).await
    }

    /// Like [`Projector::catch_up`], telling `report` how many events each batch
    /// applied, for progress. Every outcome goes to the projector's health, whoever
    /// called: start-up, the run loop and a rebuild alike.
    pub async fn catch_up_reporting(
        &self,
        report: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, ProjectionError> {
        let mut applied = 0;
        loop {
            match self.step().await {
                Ok(0) => {
                    self.vitals.succeeded();
                    return Ok(applied);
                }
                Ok(n) => {
                    self.vitals.succeeded();
                    report(n);
                    applied += n;
                    // A short batch took everything readable: reading again would
                    // find nothing, and a wake that came meanwhile is kept (`run`).
                    if n < self.batch as u64 {
                        return Ok(applied);
                    }
                }
                Err(error) => {
                    self.vitals.failed(&error);
                    return Err(error);
                }
            }
        }
    }

    /// Applies events until the projection has passed `target`, which must be a
    /// committed event. On PostgreSQL that can take a moment longer than reading: the
    /// log is readable only below the oldest transaction still open in the whole
    /// cluster (see `log.rs`), so this waits for such transactions to finish.
    pub async fn catch_up_to(&self, target: LogPosition) -> Result<u64, ProjectionError> {
        let mut applied = self.catch_up().await?;
        let mut waited = Duration::ZERO;
        while *self.position.borrow() < target {
            if waited >= Duration::from_secs(5) && waited.as_millis() % 5000 < 20 {
                tracing::warn!(projection = self.projection.name(), ?target, "still waiting for open transactions to finish before the log can be read further");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            waited += Duration::from_millis(20);
            applied += self.catch_up().await?;
        }
        Ok(applied)
    }

    /// Applies everything committed before this call.
    pub async fn catch_up_to_head(&self) -> Result<u64, ProjectionError> {
        let head = self.log.head().await.map_err(|cause| ProjectionError {
            follower: self.projection.name(),
            after: self.position(),
            event: None,
            cause,
        })?;
        self.catch_up_to(head).await
    }

    /// Applies one batch read from the log; a failure names the event whose apply
    /// failed, if it was one.
    async fn step(&self) -> Result<u64, ProjectionError> {
        let after = *self.position.borrow();
        let until = match &self.behind {
            Some(leader) => *leader.borrow(),
            None => LogPosition::END,
        };
        let read_failed = |cause| ProjectionError {
            follower: self.projection.name(),
            after,
            event: None,
            cause,
        };
        // The leader's own batch when this process applied it, else what the last
        // batch read ahead, else the log.
        let kept = self.leader_applied.as_ref().and_then(|a| a.after(after));
        let events: Events = match kept.or_else(|| self.read_ahead(after)) {
            Some(events) => events,
            None => self
                .log
                .read(after, until, self.batch)
                .await
                .map_err(read_failed)?
                .into(),
        };
        let Some(last) = events.last().map(|e| e.position) else {
            return Ok(0);
        };
        if self.live {
            slow_down_for_a_test(self.projection.name(), &events).await;
        }
        // A full batch read from the log means more is waiting (a catch-up): the next
        // batch is read while this one commits, so the database and this process work
        // at once instead of in turn.
        let more = self.leader_applied.is_none() && events.len() as i64 >= self.batch;
        let (committed, ahead) = tokio::join!(self.commit(after, &events), async {
            if more {
                // A failed read here is only a lost head start: the next step reads.
                self.log.read(last, until, self.batch).await.ok()
            } else {
                None
            }
        });
        match committed? {
            Some(last) => {
                let applied = events.len() as u64;
                if let Some(ahead) = ahead {
                    *self.ahead.lock().unwrap_or_else(PoisonError::into_inner) =
                        Some((last, ahead.into()));
                }
                if self.live && self.behind.is_none() {
                    // Kept before the position moves, so a follower that sees the
                    // new position finds the batch.
                    self.applied.record(after, events);
                }
                self.advance_to(last);
                Ok(applied)
            }
            None => Ok(0),
        }
    }

    /// The batch read ahead after `after`, if the last step read one from there.
    fn read_ahead(&self, after: LogPosition) -> Option<Events> {
        let mut ahead = self.ahead.lock().unwrap_or_else(PoisonError::into_inner);
        match ahead.take() {
            Some((from, events)) if from == after => Some(events),
            _ => None,
        }
    }

    /// Applies, as one batch, the events of `events` past this projector's position;
    /// returns how many. For a caller that reads the log once for several projectors
    /// (a rebuild): `events` must be the log's events in order from at most one past
    /// this projector's position, so that none between is missed. Its outcome goes to
    /// the projector's health, as a batch it read itself would.
    pub async fn apply_read(&self, events: &[StoredEvent]) -> Result<u64, ProjectionError> {
        let after = self.position();
        let new = &events[events.partition_point(|e| e.position <= after)..];
        if new.is_empty() {
            return Ok(0);
        }
        match self.commit(after, new).await {
            Ok(committed) => {
                self.vitals.succeeded();
                match committed {
                    Some(last) => {
                        self.advance_to(last);
                        Ok(new.len() as u64)
                    }
                    None => Ok(0),
                }
            }
            Err(error) => {
                self.vitals.failed(&error);
                Err(error)
            }
        }
    }

    /// Applies `events`, the log's next events after `after`, in one transaction with
    /// the moved checkpoint; returns the last one's position once committed, or `None`
    /// when another process had applied them first (the position then follows it).
    async fn commit(
        &self,
        after: LogPosition,
        events: &[StoredEvent],
    ) -> Result<Option<LogPosition>, ProjectionError> {
        let failed = |event: Option<&StoredEvent>, cause: StoreError| ProjectionError {
            follower: self.projection.name(),
            after,
            event: event.map(EventRef::of),
            cause,
        };
        let whole_batch = |cause: sqlx::Error| failed(None, cause.into());
        let Some(last) = events.last().map(|e| e.position) else {
            return Ok(None);
        };
        let mut tx = if self.live {
            self.db.begin_write().await.map_err(|e| failed(None, e))?
        } else {
            // A copy's writes go to its own tables; on SQLite, `BEGIN IMMEDIATE` would
            // also lock the live database it reads the log from.
            self.db.any.begin().await.map_err(whole_batch)?
        };
        if self.db.backend == Backend::Postgres {
            // One batch of a projection at a time across processes, so a rebuild's
            // switch (which takes the same lock) never meets a batch half done.
            let lock = self.live.then_some("pg_advisory_xact_lock($1)");
            // A projection whose tables the log makes again need not wait for its
            // commit to reach the disk: a crash can lose only whole batches, rows and
            // checkpoint together, and the projector applies them again from the
            // durable log (ARCHITECTURE.md, step 4). Mail and other effects that leave
            // the database are not repeatable, so those batches wait.
            let lazy = (!self.projection.tables().is_empty())
                .then_some("set_config('synchronous_commit', 'off', true)");
            let settings: Vec<&str> = lock.into_iter().chain(lazy).collect();
            if !settings.is_empty() {
                let sql = format!("SELECT {}", settings.join(", "));
                let mut query = sqlx::query(&sql);
                if lock.is_some() {
                    query = query.bind(lock_key(self.projection.name()));
                }
                query.execute(&mut *tx).await.map_err(whole_batch)?;
            }
        }
        let applied = async {
            if self.live {
                for event in events {
                    fail_for_a_test(self.projection.name(), event)
                        .map_err(|cause| failed(Some(event), cause))?;
                }
            }
            self.projection
                .apply_all(&mut tx, events)
                .await
                .map_err(|(at, cause)| failed(events.get(at), cause))?;
            checkpoint::advance(&mut tx, self.projection.name(), after, last)
                .await
                .map_err(|cause| failed(None, cause))
        }
        .await;
        match applied {
            Ok(true) => {
                if self.live && self.db.backend == Backend::Postgres {
                    // Delivered at commit to every process listening (`listen`), so
                    // their permission checks and waits move on at once.
                    sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(channel(self.projection.name()))
                        .bind(format!("{}:{}", last.tx, last.position))
                        .execute(&mut *tx)
                        .await
                        .map_err(whole_batch)?;
                }
                tx.commit().await.map_err(whole_batch)?;
                Ok(Some(last))
            }
            // Another process sharing the database applied these events first (it
            // moved the checkpoint, or its rows made ours collide): drop ours and go
            // on from where the shared checkpoint is.
            Ok(false) | Err(_)
                if self
                    .overtaken(after)
                    .await
                    .map_err(|cause| failed(None, cause))? =>
            {
                drop(tx);
                Ok(None)
            }
            Ok(false) => {
                tracing::warn!(
                    projection = self.projection.name(),
                    ?after,
                    "the checkpoint is not where this projector left it, nor past it; was it reset by hand?"
                );
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Moves the published position forward, never back: another process's progress
    /// may have been heard (`ProjectorHandle::observe`) while this batch ran.
    fn advance_to(&self, at: LogPosition) {
        move_forward(&self.position, at);
    }

    /// Whether the shared checkpoint has moved past `after`; if so, follows it.
    async fn overtaken(&self, after: LogPosition) -> Result<bool, StoreError> {
        let shared = checkpoint::load(&self.db.any, self.projection.name()).await?;
        if shared > after {
            tracing::debug!(
                projection = self.projection.name(),
                ?shared,
                "another process applied these events; following it"
            );
            self.advance_to(shared);
            return Ok(true);
        }
        Ok(false)
    }

    /// Tails the log until `shutdown` fires. A failure is retried, backing off (see
    /// `health.rs`, which also tells of it); a stall ends when a batch goes through.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let name = self.projection.name();
        let mut leader = self.behind.clone();
        let mut failures = 0;
        let mut pace = Pace::new(self.behind.is_some());
        tracing::info!(projection = name, at = ?*self.position.borrow(), "projector started");
        loop {
            if !pace.wait(&mut shutdown).await {
                break;
            }
            match self.catch_up().await {
                Ok(n) => {
                    failures = 0;
                    if n > 0 {
                        tracing::debug!(projection = name, events = n, at = ?*self.position.borrow(), "applied");
                    }
                }
                Err(_) => failures += 1,
            }
            if failures > 0 {
                if !health::back_off(failures, &mut shutdown).await {
                    break;
                }
                continue;
            }
            let leader_moved = async {
                match leader.as_mut() {
                    Some(rx) => {
                        if rx.changed().await.is_err() {
                            std::future::pending::<()>().await
                        }
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(IDLE_POLL) => {}
                _ = self.wake.notified() => {}
                _ = leader_moved => {}
                _ = shutdown.changed() => break,
            }
            if *shutdown.borrow() {
                break;
            }
        }
        tracing::info!(projection = name, "projector stopped");
    }
}

/// Keeps a follower's batches [`FOLLOW_EVERY`] apart; a leader is not paced.
pub(crate) struct Pace {
    every: Duration,
    last: Option<tokio::time::Instant>,
}

impl Pace {
    pub(crate) fn new(follower: bool) -> Self {
        let every = if follower {
            FOLLOW_EVERY
        } else {
            Duration::ZERO
        };
        Self { every, last: None }
    }

    /// Waits until the next batch may start; false if `shutdown` fired meanwhile.
    pub(crate) async fn wait(&mut self, shutdown: &mut watch::Receiver<bool>) -> bool {
        if let Some(last) = self.last {
            tokio::select! {
                () = tokio::time::sleep_until(last + self.every) => {}
                _ = shutdown.changed() => return false,
            }
        }
        self.last = Some(tokio::time::Instant::now());
        !*shutdown.borrow()
    }
}

/// The fail point `<projection>.slow`, argument `<event type>:<milliseconds>`: before
/// applying a batch that holds an event of that type, the live projector waits that
/// long, as a slow database or a huge batch would make it (`tests/tests/fail_closed.rs`).
/// Waits without blocking the runtime, so the rest of the process goes on serving.
async fn slow_down_for_a_test(projection: &str, events: &[StoredEvent]) {
    let Some(arg) = fail::eval(&format!("{projection}.slow"), |arg| arg) else {
        return;
    };
    let Some((event_type, millis)) = arg.as_deref().and_then(|arg| arg.split_once(':')) else {
        return;
    };
    if events.iter().any(|event| event.event_type == event_type) {
        let millis = millis.parse().unwrap_or(0);
        tracing::warn!(
            projection,
            event_type,
            millis,
            "fail point: slowing this batch down"
        );
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
}

/// The fail point `<projection>.fail`, argument an event type: the live projector
/// cannot apply an event of that type, as if its code could not read it, and stalls
/// there until the point is switched off (`tests/tests/fail_closed.rs`).
fn fail_for_a_test(projection: &str, event: &StoredEvent) -> Result<(), StoreError> {
    match fail::eval(&format!("{projection}.fail"), |arg| arg) {
        Some(Some(event_type)) if event_type == event.event_type => Err(StoreError::UnknownValue {
            what: "event type (fail point <projection>.fail)",
            value: event_type,
        }),
        _ => Ok(()),
    }
}

/// Publishes `at` if it is past the current position; a position never goes back.
fn move_forward(position: &watch::Sender<LogPosition>, at: LogPosition) {
    position.send_if_modified(|current| {
        let ahead = at > *current;
        if ahead {
            *current = at;
        }
        ahead
    });
}

/// The PostgreSQL notification channel on which a projection announces its progress.
pub(crate) fn channel(projection: &str) -> String {
    format!("extranet_{projection}")
}

/// The PostgreSQL advisory lock a projection's batches hold: a stable 64-bit hash
/// (FNV-1a) of its channel name.
pub(crate) fn lock_key(projection: &str) -> i64 {
    let hash = channel(projection)
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// Listens, on PostgreSQL, for the progress other processes make with `projection`,
/// and passes it to `handle` (see [`ProjectorHandle::observe`]). Returns at once on
/// SQLite, which one process owns.
pub async fn listen(
    db: Database,
    projection: &'static str,
    handle: ProjectorHandle,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some(mut listener) = db.listener().await else {
        return;
    };
    if let Err(error) = listener.listen(&channel(projection)).await {
        tracing::error!(%error, projection, "cannot listen for other processes' progress");
        return;
    }
    loop {
        tokio::select! {
            received = listener.recv() => match received {
                Ok(note) => {
                    let parsed = note.payload().split_once(':').and_then(|(tx, position)| {
                        Some(LogPosition { tx: tx.parse().ok()?, position: position.parse().ok()? })
                    });
                    if let Some(at) = parsed {
                        handle.observe(at);
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, projection, "lost the notification connection; reconnecting");
                    tokio::time::sleep(RECONNECT_AFTER).await;
                }
            },
            _ = shutdown.changed() => break,
        }
    }
}
