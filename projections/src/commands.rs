//! Runs domain commands on whichever store is configured: aggregates are loaded
//! through cqrs-es's event stores (snapshots, upcasters, personal data opened), decided
//! in memory, and appended through one mechanism, a [`Batch`], whether one command or
//! thousands (`batch.rs`).
//!
//! No cqrs-es query sees committed events in process (a crash between commit and
//! dispatch would lose that dispatch): every read model follows the stored log
//! instead (see `projector`).

use crate::batch::{AppendError, Batch, DecideError};
use crate::health::Stall;
use crate::hot::Memory;
use crate::log::Metadata;
use crate::personal_data::{Personal, PersonalData};
use crate::store::Native;
use crate::{Database, EventLog, LogPosition, StoreError};
use cqrs_es::persist::{
    EventStoreAggregateContext, EventUpcaster, PersistedEventRepository, PersistedEventStore,
    PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::{Aggregate, AggregateError, EventStore};
use domain::account::Account;
use domain::email_claim::EmailClaim;
use domain::invitation::Invitation;
use domain::invitation::SecretKey;
use domain::person::Person;
use domain::seat::SeatHold;
use domain::services::DomainServices;
use domain::task::Task;
use domain::workgroup::Workgroup;
use domain::AggregateKey;
use postgres_es::PostgresEventRepository;
use sqlite_es::SqliteEventRepository;

/// One aggregate type's command handler on the configured store.
pub enum Cqrs<A: Aggregate + Clone> {
    Postgres(Handler<PostgresEventRepository, A>),
    Sqlite(Handler<SqliteEventRepository, A>),
}

/// One aggregate type's store (snapshots, upcasters and sealing over the repository),
/// the states kept in memory for it (none for a type holding personal data,
/// `hot.rs`), and the services its commands are decided with.
pub struct Handler<R: PersistedEventRepository, A: Aggregate + Clone> {
    memory: Memory<A>,
    store: PersistedEventStore<Sealing<R>, A>,
    services: A::Services,
}

impl<R: PersistedEventRepository, A: Aggregate + Clone> Handler<R, A>
where
    A::Services: Clone,
{
    fn new(
        repo: impl Fn() -> R,
        personal: &PersonalData,
        services: A::Services,
        keep: bool,
    ) -> Self {
        Self {
            memory: Memory::new(keep),
            store: store(repo(), personal.clone()),
            services,
        }
    }
}

impl<R: PersistedEventRepository, A: Aggregate + Clone> Handler<R, A> {
    async fn load(
        &self,
        key: &str,
    ) -> Result<EventStoreAggregateContext<A>, AggregateError<A::Error>> {
        self.store.load_aggregate(key).await
    }
}

/// How often a command is decided again after losing a race for its aggregate.
const CONFLICT_RETRIES: u32 = 8;

/// Deciding again after losing a race: a command here, a whole batch (`batch.rs`).
pub struct Retry {
    attempt: u32,
}

impl Retry {
    pub fn new() -> Self {
        Self { attempt: 1 }
    }

    /// After a conflict: false once [`CONFLICT_RETRIES`] attempts have lost; else
    /// true, after a pause. Racers that all retry at once meet again; a random pause,
    /// longer each time, lets them through one by one.
    pub async fn again(&mut self) -> bool {
        if self.attempt >= CONFLICT_RETRIES {
            return false;
        }
        let cap = 1u64 << (self.attempt - 1).min(4);
        let pause = rand::random::<u64>() % (cap * 1000);
        tokio::time::sleep(std::time::Duration::from_micros(pause)).await;
        self.attempt += 1;
        true
    }
}

impl Default for Retry {
    fn default() -> Self {
        Self::new()
    }
}

/// An aggregate is stored as a snapshot every this many events, so loading it reads
/// the snapshot and at most this many events, however long its history.
pub const SNAPSHOT_EVERY: usize = 100;

/// The domain's upcasters (`domain::upcast`) as cqrs-es wants them: one mechanism for
/// loading aggregates and for reading the log.
struct DomainUpcasters;

impl EventUpcaster for DomainUpcasters {
    /// Every event: besides the versioned upcasters, `upcast` makes the text of any
    /// event storable.
    fn can_upcast(&self, _event_type: &str, _event_version: &str) -> bool {
        true
    }

    fn upcast(&self, event: SerializedEvent) -> SerializedEvent {
        let (event_version, payload) =
            domain::upcast::upcast(&event.event_type, &event.event_version, event.payload);
        SerializedEvent {
            event_version,
            payload,
            ..event
        }
    }
}

/// The event repository with personal data sealed on the way in and opened on the way
/// out (see `personal_data`). Snapshots pass through as they are: the only aggregate
/// state holding personal data is a person's, and erasure deletes its snapshots.
pub struct Sealing<R> {
    inner: R,
    personal: PersonalData,
}

/// What of a serialized event personal data sealing reads and changes.
fn serialized_personal(e: &mut SerializedEvent) -> Personal<'_> {
    (&e.aggregate_id, &e.event_type, &mut e.payload)
}

fn persistence(error: StoreError) -> PersistenceError {
    PersistenceError::UnknownError(Box::new(error))
}

impl<R: PersistedEventRepository> Sealing<R> {
    async fn opened(
        &self,
        mut events: Vec<SerializedEvent>,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.personal
            .open_all(events.iter_mut().map(serialized_personal).collect())
            .await
            .map_err(persistence)?;
        Ok(events)
    }
}

impl<R: PersistedEventRepository> PersistedEventRepository for Sealing<R> {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let events = self.inner.get_events::<A>(aggregate_id).await?;
        self.opened(events).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let events = self
            .inner
            .get_last_events::<A>(aggregate_id, last_sequence)
            .await?;
        self.opened(events).await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        self.inner.get_snapshot::<A>(aggregate_id).await
    }

    /// Never called by this service (every append goes through `batch.rs`, which
    /// seals the same way); here because the trait asks for it.
    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, serde_json::Value, usize)>,
    ) -> Result<(), PersistenceError> {
        let mut sealed = events.to_vec();
        self.personal
            .seal_all(sealed.iter_mut().map(serialized_personal).collect())
            .await
            .map_err(persistence)?;
        self.inner.persist::<A>(&sealed, snapshot_update).await
    }

    /// Streams are not used here (projections follow `log.rs`); they pass events on
    /// sealed.
    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        self.inner.stream_events::<A>(aggregate_id).await
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        self.inner.stream_all_events::<A>().await
    }
}

fn store<R, A>(repo: R, personal: PersonalData) -> PersistedEventStore<Sealing<R>, A>
where
    R: PersistedEventRepository,
    A: Aggregate,
{
    PersistedEventStore::new_snapshot_store(
        Sealing {
            inner: repo,
            personal,
        },
        SNAPSHOT_EVERY,
    )
    .with_upcasters(vec![Box::new(DomainUpcasters)])
}

impl<A: Aggregate + Clone> Cqrs<A> {
    /// `keep`: whether the aggregate's states are kept in memory; never for one that
    /// holds personal data.
    fn new(db: &Database, services: DomainServices, keep: bool) -> Self
    where
        A: Aggregate<Services = DomainServices>,
    {
        let personal = PersonalData::new(db.clone());
        match db.native() {
            Native::Postgres(pool) => Cqrs::Postgres(Handler::new(
                || PostgresEventRepository::new(pool.clone()),
                &personal,
                services,
                keep,
            )),
            Native::Sqlite(pool) => Cqrs::Sqlite(Handler::new(
                || SqliteEventRepository::new(pool.clone()),
                &personal,
                services,
                keep,
            )),
        }
    }

    /// The aggregate at `key` as stored now, with the sequence and snapshot number it
    /// was found at; never from the states kept in memory.
    pub(crate) async fn load_context(
        &self,
        key: &str,
    ) -> Result<EventStoreAggregateContext<A>, StoreError> {
        let loaded = match self {
            Cqrs::Postgres(handler) => handler.load(key).await,
            Cqrs::Sqlite(handler) => handler.load(key).await,
        };
        loaded.map_err(|e| StoreError::Load {
            aggregate: A::TYPE,
            message: e.to_string(),
            key: key.to_string(),
        })
    }

    pub(crate) fn services(&self) -> &A::Services {
        match self {
            Cqrs::Postgres(handler) => &handler.services,
            Cqrs::Sqlite(handler) => &handler.services,
        }
    }

    /// The states kept in memory for this type (`hot.rs`).
    pub(crate) fn memory(&self) -> &Memory<A> {
        match self {
            Cqrs::Postgres(handler) => &handler.memory,
            Cqrs::Sqlite(handler) => &handler.memory,
        }
    }
}

/// Dropping a kept state, whatever the aggregate's type.
trait Forget {
    /// Drops the kept state at `key`; true if there was one.
    fn forget(&self, key: &str) -> bool;
}

impl<A: Aggregate + Clone> Forget for Cqrs<A> {
    fn forget(&self, key: &str) -> bool {
        self.memory().forget(key)
    }
}

/// Why a command did not take effect, or could not be shown to have.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    /// The domain refused: the user can act on the message.
    #[error(transparent)]
    Refused(E),
    /// Another command changed the same aggregate at the same moment; retrying is safe.
    #[error("someone else changed this at the same moment; try again")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the event store failed: {0}")]
    EventStore(String),
    /// The change is recorded, but the read models are stalled short of it, so it
    /// cannot be read back: only from a caller that waits for them (the gateway's
    /// `AppState::execute`), never from [`CommandBus::execute`].
    #[error("the change was recorded but cannot be shown yet: {0}")]
    ReadModelsStalled(Box<Stall>),
    /// The change is recorded, but the read models did not reach it within `waited`,
    /// so the next request may not see it yet: it takes effect once they catch up.
    /// Like `ReadModelsStalled`, only from a caller that waits for them.
    #[error(
        "the change was recorded but is not yet in force: the service did not catch up \
         within {waited:?}; it takes effect once it does, so do not send it again"
    )]
    NotYetInForce { waited: std::time::Duration },
}

impl<E: std::error::Error> From<AggregateError<E>> for CommandError<E> {
    fn from(error: AggregateError<E>) -> Self {
        match error {
            AggregateError::UserError(e) => CommandError::Refused(e),
            AggregateError::AggregateConflict => CommandError::Conflict,
            other => CommandError::EventStore(other.to_string()),
        }
    }
}

/// Every aggregate's command handler, and the log to tell where a command's events
/// landed.
pub struct CommandBus {
    pub accounts: Cqrs<Account>,
    pub people: Cqrs<Person>,
    pub invitations: Cqrs<Invitation>,
    pub tasks: Cqrs<Task>,
    pub workgroups: Cqrs<Workgroup>,
    pub email_claims: Cqrs<EmailClaim>,
    pub seat_holds: Cqrs<SeatHold>,
    log: EventLog,
    secrets: SecretKey,
    db: Database,
    personal: PersonalData,
}

/// Lets [`CommandBus::execute`] pick the handler from the aggregate type.
pub trait Handles<A: Aggregate + Clone> {
    fn handler(&self) -> &Cqrs<A>;
}

macro_rules! handles {
    ($aggregate:ty, $field:ident) => {
        impl Handles<$aggregate> for CommandBus {
            fn handler(&self) -> &Cqrs<$aggregate> {
                &self.$field
            }
        }
    };
}
handles!(Account, accounts);
handles!(Person, people);
handles!(Invitation, invitations);
handles!(Task, tasks);
handles!(Workgroup, workgroups);
handles!(EmailClaim, email_claims);
handles!(SeatHold, seat_holds);

impl CommandBus {
    pub fn new(db: &Database, services: DomainServices) -> Self {
        Self {
            // Kept in memory: the aggregates many commands meet (an account's seats,
            // a busy task or group), none holding personal data. People, invitations
            // and address claims hold addresses and names, which erasure must reach.
            accounts: Cqrs::new(db, services.clone(), true),
            people: Cqrs::new(db, services.clone(), false),
            invitations: Cqrs::new(db, services.clone(), false),
            tasks: Cqrs::new(db, services.clone(), true),
            workgroups: Cqrs::new(db, services.clone(), true),
            seat_holds: Cqrs::new(db, services.clone(), false),
            secrets: services.secrets.clone(),
            email_claims: Cqrs::new(db, services, false),
            log: EventLog::new(db.clone()),
            personal: PersonalData::new(db.clone()),
            db: db.clone(),
        }
    }

    /// The server's key, for the ids that must be derived from personal data.
    pub fn secrets(&self) -> &SecretKey {
        &self.secrets
    }

    /// The aggregate at `key` as a command on it would find it now, for a use case
    /// that decides from a fact the aggregate owns (is this group an extranet group,
    /// is this person dismissed) rather than from a read model that may lag. A key
    /// nothing was stored under loads the aggregate's default, empty state.
    pub async fn load<A>(&self, key: AggregateKey) -> Result<A, StoreError>
    where
        A: Aggregate + Clone,
        Self: Handles<A>,
    {
        Ok(self
            .handler()
            .load_context(&key.to_string())
            .await?
            .aggregate)
    }

    /// An empty batch of commands made on behalf of `metadata`'s actor (`batch.rs`).
    pub fn batch(&self, metadata: &Metadata) -> Batch<'_> {
        Batch::new(self, metadata)
    }

    pub(crate) fn database(&self) -> &Database {
        &self.db
    }

    pub(crate) fn personal(&self) -> &PersonalData {
        &self.personal
    }

    /// Drops the state kept in memory for the aggregate `aggregate_type` at `key`,
    /// if that type keeps any.
    pub(crate) fn forget_kept(&self, aggregate_type: &str, key: &str) {
        let kept = [
            (Account::TYPE, &self.accounts as &dyn Forget),
            (Task::TYPE, &self.tasks),
            (Workgroup::TYPE, &self.workgroups),
        ];
        for (name, handler) in kept {
            if name == aggregate_type {
                handler.forget(key);
            }
        }
    }

    /// Runs `command` against the aggregate at `key` and returns the log position of
    /// the aggregate's newest event: wait for a projection to pass it to read the
    /// command's effects.
    pub async fn execute<A>(
        &self,
        key: AggregateKey,
        command: A::Command,
        metadata: &Metadata,
    ) -> Result<LogPosition, CommandError<A::Error>>
    where
        A: Aggregate<Services = DomainServices> + Clone + 'static,
        A::Command: Clone,
        Self: Handles<A>,
    {
        let id = key.to_string();
        // A conflict means another command changed the aggregate between our load and
        // our append: decide again on the fresh state. The command may now be refused
        // or be a no-op, which is what a serial order would have given.
        let mut retry = Retry::new();
        let mut fresh_only = false;
        loop {
            let mut batch = self.batch(metadata);
            let kept = !fresh_only && batch.stage_kept::<A>(key);
            match batch.decide::<A>(key, command.clone()).await {
                Ok(()) => {}
                // Refused on a state kept in memory, which may be stale (`hot.rs`):
                // decide again on a fresh one before answering.
                Err(DecideError::Refused(_)) if kept => {
                    self.handler().memory().forget(&id);
                    fresh_only = true;
                    continue;
                }
                Err(DecideError::Refused(e)) => return Err(CommandError::Refused(e)),
                Err(DecideError::Store(e)) => return Err(e.into()),
            }
            if batch.is_empty() {
                // Nothing to append, so no lock tells whether a kept state was
                // current: a no-op is answered only from a fresh one.
                if kept {
                    self.handler().memory().forget(&id);
                    fresh_only = true;
                    continue;
                }
                return Ok(self
                    .log
                    .last_of_aggregate(A::TYPE, &id)
                    .await?
                    .unwrap_or(LogPosition::START));
            }
            let next = batch.kept_after::<A>(key);
            match batch.commit().await {
                Ok(position) => {
                    if let Some(next) = next {
                        self.handler().memory().keep(&id, next);
                    }
                    return Ok(position);
                }
                // The batch forgot the kept state: the next attempt loads afresh.
                Err(AppendError::Conflict) if retry.again().await => {}
                Err(AppendError::Conflict) => return Err(CommandError::Conflict),
                Err(AppendError::Store(e)) => return Err(e.into()),
                Err(stopped @ AppendError::StoppedForATest) => {
                    return Err(CommandError::EventStore(stopped.to_string()))
                }
            }
        }
    }
}
