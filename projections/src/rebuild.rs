//! Rebuilding the projections' tables from the log while the service keeps running.
//!
//! The projections that own tables (read models, history, activity) are replayed into
//! a copy of those tables beside the live ones, with checkpoints of their own, so a
//! rebuild that is stopped or killed resumes where it was on its next run. Once the
//! copy has caught up with the log, one transaction replaces the live tables' rows
//! with the copy's and moves the live checkpoints to the copy's positions. Readers see
//! the old rows until that commit and the new ones after it; a live projector whose
//! next batch finds its checkpoint moved drops that batch and follows (`projector.rs`).
//!
//! Where the copy lives: on PostgreSQL in a schema ([`COPY`]) put in front of the
//! live one on the copy's search path; on SQLite in a file beside the database, with
//! the live database attached (SQLite looks a table up in the main file first, then in
//! attached ones). Either way, the copy's projections read the log, the personal-data
//! keys and every other table they do not rebuild from the live database itself.

use crate::activity::Activity;
use crate::checkpoint;
use crate::health::ProjectionError;
use crate::history::History;
use crate::projector::{channel, lock_key, Projection, Projector};
use crate::read_model::ReadModels;
use crate::store::sqlite_path;
use crate::{Backend, Database, EventLog, LogPosition, StoreError};
use sqlx::Row;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The schema (PostgreSQL) or attached database (SQLite) that holds the copy.
pub const COPY: &str = "extranet_rebuild";

/// How often the switch may find the live projections ahead of the copy (new events
/// arrived between catching up and locking) before giving up.
const SWITCH_ATTEMPTS: u32 = 20;

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "{0}; the copy made so far is kept: repair or remove that event (or fix the \
         cause), then run the rebuild again to resume"
    )]
    Replay(#[from] ProjectionError),
    #[error("another rebuild is running on this database; let it finish, or stop it first")]
    AlreadyRunning,
    #[error("an in-memory SQLite database has nothing to rebuild beside")]
    InMemory,
    #[error("could not use the rebuild's file {path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "new events kept arriving faster than the copy could follow during the switch; \
         the copy is kept: run the rebuild again to resume and switch"
    )]
    NoQuietMoment,
}

/// How far one projection's replay has got.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub projection: &'static str,
    /// Events of the log this projection's copy has passed.
    pub applied: u64,
    /// Events in the log when the rebuild started.
    pub total: u64,
}

/// What a finished rebuild did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Whether it went on from an earlier, interrupted run's copy.
    pub resumed: bool,
    /// Events replayed in this run, summed over the projections.
    pub replayed: u64,
    pub elapsed: Duration,
    pub projections: Vec<&'static str>,
}

/// A rebuild of every projection that owns tables.
pub struct Rebuild {
    /// The live database's URL, as it was opened.
    pub url: String,
    /// Discard an interrupted run's copy instead of resuming it.
    pub fresh: bool,
    /// Events per transaction while replaying.
    pub batch: i64,
}

impl Rebuild {
    pub async fn run(
        &self,
        live: &Database,
        report: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Outcome, RebuildError> {
        let started = Instant::now();
        let _alone = Exclusive::take(live, &self.url).await?;
        let place = Place::of(live, &self.url).await?;
        let version = schema_version(live).await?;
        if self.fresh {
            place.remove(live).await?;
        }
        let mut setup = place.open(&self.url).await?;
        let resumed = match place.copy_version(live, &setup).await? {
            Some(made_under) if made_under == version => true,
            Some(made_under) => {
                tracing::info!(
                    made_under,
                    now = version,
                    "the copy left by an earlier rebuild predates a migration; starting afresh"
                );
                setup.close().await;
                place.remove(live).await?;
                setup = place.open(&self.url).await?;
                false
            }
            None => false,
        };
        if !resumed {
            place.create(live, &setup, version).await?;
        }
        setup.close().await;
        // The keys the replay reads by, now; those of the tables it only adds rows to
        // once it is done (`Projection::added_to_only`).
        let later = added_to_only();
        let read: Vec<&str> = copied_tables()
            .into_iter()
            .filter(|table| !later.contains(table))
            .collect();
        place.build_indexes(live, &read).await?;
        // Connected only now that the copy's tables exist: SQLite and PostgreSQL both
        // keep a prepared statement pointed at the table its name first resolved to,
        // which would be the live one on a connection opened before.
        let copy = place.open(&self.url).await?;
        let (read_models, leader) = Projector::new(ReadModels, copy.clone()).await?;
        let read_models = read_models.rebuilding().batch_size(self.batch);
        let (history, _) = Projector::new(History, copy.clone()).await?;
        let history = history.rebuilding().batch_size(self.batch).behind(&leader);
        let (activity, _) = Projector::new(Activity, copy.clone()).await?;
        let activity = activity.rebuilding().batch_size(self.batch).behind(&leader);
        let log = EventLog::new(live.clone());
        let total = u64::try_from(log.count_after(LogPosition::START).await?).unwrap_or(0);
        let tally = Tally::new(report, total);
        // The read models first: the other two read their tables.
        let copies: [&dyn Copy; 3] = [&read_models, &history, &activity];
        for copy in copies {
            let behind = u64::try_from(log.count_after(copy.position()).await?).unwrap_or(0);
            tally.tell(copy.name(), total.saturating_sub(behind));
        }
        let began = Instant::now();
        let mut replayed = if copy.backend == Backend::Postgres {
            side_by_side(
                &log,
                self.batch,
                &read_models,
                [&history, &activity],
                &tally,
            )
            .await?
        } else {
            in_turn(&log, self.batch, &copies, &tally).await?
        };
        tracing::info!(
            events = replayed,
            seconds = began.elapsed().as_secs_f64(),
            "the log replayed into the copy"
        );
        place.build_indexes(live, &later).await?;
        let began = Instant::now();
        replayed += switch(live, &place, &self.url, &copies).await?;
        tracing::info!(
            seconds = began.elapsed().as_secs_f64(),
            "the copy switched into the live tables"
        );
        copy.close().await;
        place.remove(live).await?;
        Ok(Outcome {
            resumed,
            replayed,
            elapsed: started.elapsed(),
            projections: copies.iter().map(|c| c.name()).collect(),
        })
    }
}

/// Where a rebuild tells its progress.
type Report<'r> = &'r mut (dyn FnMut(Progress) + Send);

/// How far each projection's replay has got, told to the caller's `report`.
struct Tally<'r> {
    /// The report, and each projection's count so far.
    told: std::sync::Mutex<(Report<'r>, Vec<(&'static str, u64)>)>,
    total: u64,
}

impl<'r> Tally<'r> {
    fn new(report: Report<'r>, total: u64) -> Self {
        Self {
            told: std::sync::Mutex::new((report, Vec::new())),
            total,
        }
    }

    /// Sets how far `projection` stands.
    fn tell(&self, projection: &'static str, applied: u64) {
        self.update(projection, |count| *count = applied);
    }

    /// Counts `events` more applied by `projection`.
    fn add(&self, projection: &'static str, events: u64) {
        self.update(projection, |count| *count += events);
    }

    fn update(&self, projection: &'static str, change: impl FnOnce(&mut u64)) {
        let mut guard = self
            .told
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (report, counts) = &mut *guard;
        let count = match counts.iter_mut().find(|(name, _)| *name == projection) {
            Some((_, count)) => count,
            None => {
                counts.push((projection, 0));
                &mut counts.last_mut().expect("just pushed").1
            }
        };
        change(count);
        report(Progress {
            projection,
            applied: *count,
            total: self.total.max(*count),
        });
    }
}

/// Where a replay starts reading: the least advanced copy's position (the others pass
/// over what they already hold).
fn start(copies: &[&dyn Copy]) -> LogPosition {
    copies
        .iter()
        .map(|c| c.position())
        .min()
        .unwrap_or(LogPosition::START)
}

/// A batch of the log as it passes from one stage of a replay to the next.
type Batch = std::sync::Arc<[crate::StoredEvent]>;

/// Reads the log once and applies each batch to every copy, one after the other: a
/// SQLite file takes one writer at a time. Returns the events applied, summed.
async fn in_turn(
    log: &EventLog,
    batch: i64,
    copies: &[&dyn Copy],
    tally: &Tally<'_>,
) -> Result<u64, RebuildError> {
    let mut after = start(copies);
    let mut replayed = 0;
    loop {
        let events = log.read(after, LogPosition::END, batch).await?;
        let Some(last) = events.last() else {
            return Ok(replayed);
        };
        after = last.position;
        for copy in copies {
            let applied = copy.apply_read(&events).await?;
            tally.add(copy.name(), applied);
            replayed += applied;
        }
    }
}

/// Reads the log once and passes each batch along a pipeline: the read models apply
/// it while the reader fetches the next, and history and activity, which read the read
/// models' tables but nothing of each other's, apply it side by side once the read
/// models have. Each stage has its own connection, so on PostgreSQL all of them work
/// at once. Returns the events applied, summed.
async fn side_by_side(
    log: &EventLog,
    batch: i64,
    leader: &dyn Copy,
    followers: [&dyn Copy; 2],
    tally: &Tally<'_>,
) -> Result<u64, RebuildError> {
    // One batch waiting at each stage: enough to keep every stage busy, little memory.
    let (to_leader, mut for_leader) = mpsc::channel::<Batch>(1);
    let (to_first, for_first) = mpsc::channel::<Batch>(1);
    let (to_second, for_second) = mpsc::channel::<Batch>(1);
    let from = start(&[leader, followers[0], followers[1]]);
    let read = async move {
        let mut after = from;
        loop {
            let events = log.read(after, LogPosition::END, batch).await?;
            let Some(last) = events.last() else {
                return Ok::<u64, RebuildError>(0);
            };
            after = last.position;
            // A closed channel means the stage after failed; its error is the answer.
            if to_leader.send(events.into()).await.is_err() {
                return Ok(0);
            }
        }
    };
    let lead = async move {
        let mut replayed = 0;
        while let Some(events) = for_leader.recv().await {
            let applied = leader.apply_read(&events).await?;
            tally.add(leader.name(), applied);
            replayed += applied;
            if to_first.send(events.clone()).await.is_err() || to_second.send(events).await.is_err()
            {
                break;
            }
        }
        Ok::<u64, RebuildError>(replayed)
    };
    let (_, lead, first, second) = tokio::try_join!(
        read,
        lead,
        follow(followers[0], for_first, tally),
        follow(followers[1], for_second, tally)
    )?;
    Ok(lead + first + second)
}

/// A pipeline's last stage: applies each batch the read models have applied.
async fn follow(
    follower: &dyn Copy,
    mut batches: mpsc::Receiver<Batch>,
    tally: &Tally<'_>,
) -> Result<u64, RebuildError> {
    let mut replayed = 0;
    while let Some(events) = batches.recv().await {
        let applied = follower.apply_read(&events).await?;
        tally.add(follower.name(), applied);
        replayed += applied;
    }
    Ok(replayed)
}

/// Replaces the live tables' rows with the copy's, once the copy is at least as far
/// along as every live projector; returns the events the copy applied meanwhile.
async fn switch(
    live: &Database,
    place: &Place,
    url: &str,
    copies: &[&dyn Copy],
) -> Result<u64, RebuildError> {
    let view = place.switch_view(live, url).await?;
    let mut applied = 0;
    for attempt in 1..=SWITCH_ATTEMPTS {
        for projection in copies {
            applied += projection.catch_up(&mut |_| {}).await?;
        }
        let mut tx = view.begin_write().await?;
        if view.backend == Backend::Postgres {
            // The live projectors hold these for each batch: once we have them, no
            // batch is half done and none starts until we commit.
            let mut keys: Vec<i64> = copies.iter().map(|c| lock_key(c.name())).collect();
            keys.sort_unstable();
            for key in keys {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
            }
        }
        let mut ahead = false;
        for projection in copies {
            let at = checkpoint::load_in(&mut tx, projection.name()).await?;
            ahead |= at > projection.position();
        }
        if ahead {
            tracing::debug!(attempt, "the live projections moved on; catching up again");
            tx.rollback().await.map_err(StoreError::from)?;
            continue;
        }
        for projection in copies {
            for table in projection.tables() {
                for sql in place.replace(table) {
                    sqlx::query(&sql)
                        .persistent(false)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from)?;
                }
            }
            let at = projection.position();
            checkpoint::save(&mut tx, projection.name(), at).await?;
            if view.backend == Backend::Postgres {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(channel(projection.name()))
                    .bind(format!("{}:{}", at.tx, at.position))
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
            }
        }
        tx.commit().await.map_err(StoreError::from)?;
        if view.backend == Backend::Sqlite {
            view.close().await;
        } else {
            // Tables moved into place come without the planner's statistics.
            for table in copies.iter().flat_map(|c| c.tables()) {
                sqlx::query(&format!("ANALYZE {table}"))
                    .persistent(false)
                    .execute(&view.any)
                    .await
                    .map_err(StoreError::from)?;
            }
        }
        return Ok(applied);
    }
    Err(RebuildError::NoQuietMoment)
}

/// The parts of a projector the rebuild drives, whatever its projection.
#[async_trait::async_trait]
trait Copy: Send + Sync {
    fn name(&self) -> &'static str;
    fn tables(&self) -> &'static [&'static str];
    fn position(&self) -> LogPosition;
    async fn catch_up(&self, report: &mut (dyn FnMut(u64) + Send)) -> Result<u64, ProjectionError>;
    /// See [`Projector::apply_read`].
    async fn apply_read(&self, events: &[crate::StoredEvent]) -> Result<u64, ProjectionError>;
}

#[async_trait::async_trait]
impl<P: Projection> Copy for Projector<P> {
    fn name(&self) -> &'static str {
        Projector::name(self)
    }
    fn tables(&self) -> &'static [&'static str] {
        Projector::tables(self)
    }
    fn position(&self) -> LogPosition {
        Projector::position(self)
    }
    async fn catch_up(&self, report: &mut (dyn FnMut(u64) + Send)) -> Result<u64, ProjectionError> {
        self.catch_up_reporting(report).await
    }
    async fn apply_read(&self, events: &[crate::StoredEvent]) -> Result<u64, ProjectionError> {
        Projector::apply_read(self, events).await
    }
}

/// The tables whose copies are filled without keys or indexes, built after the
/// replay ([`Projection::added_to_only`]).
fn added_to_only() -> Vec<&'static str> {
    let mut tables = Vec::new();
    tables.extend(ReadModels.added_to_only());
    tables.extend(History.added_to_only());
    tables.extend(Activity.added_to_only());
    tables
}

/// Every table a rebuild replaces, and the checkpoints beside them.
fn copied_tables() -> Vec<&'static str> {
    let mut tables = vec!["checkpoints"];
    tables.extend(ReadModels.tables());
    tables.extend(History.tables());
    tables.extend(Activity.tables());
    tables
}

/// The newest migration applied to the live database: a copy made under another
/// schema is not resumed.
async fn schema_version(live: &Database) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT max(version) AS version FROM _sqlx_migrations")
        .fetch_one(&live.any)
        .await?;
    Ok(row.try_get::<Option<i64>, _>("version")?.unwrap_or(0))
}

/// Where the copy is kept.
enum Place {
    /// A schema of the live PostgreSQL database, in front of `live_schema`.
    Schema { live_schema: String },
    /// A SQLite file beside the live one.
    File { live: PathBuf, copy: PathBuf },
}

impl Place {
    async fn of(live: &Database, url: &str) -> Result<Self, RebuildError> {
        match live.backend {
            Backend::Postgres => {
                let row = sqlx::query("SELECT current_schema()::text AS schema")
                    .fetch_one(&live.any)
                    .await
                    .map_err(StoreError::from)?;
                Ok(Place::Schema {
                    live_schema: row.try_get("schema").map_err(StoreError::from)?,
                })
            }
            Backend::Sqlite => {
                let path = sqlite_path(url).ok_or(RebuildError::InMemory)?;
                Ok(Place::File {
                    live: PathBuf::from(path),
                    copy: PathBuf::from(format!("{path}-{COPY}")),
                })
            }
        }
    }

    /// The database as the copy's projections see it: the copy's tables first, the
    /// live database behind them.
    async fn open(&self, url: &str) -> Result<Database, StoreError> {
        match self {
            Place::Schema { live_schema } => {
                Database::open_view(
                    url,
                    "SELECT set_config('search_path', $1, false)",
                    Some(format!("{COPY}, {live_schema}")),
                )
                .await
            }
            Place::File { live, copy } => {
                Database::open_view(
                    &format!("sqlite://{}", copy.display()),
                    "ATTACH DATABASE $1 AS extranet_live",
                    Some(live.display().to_string()),
                )
                .await
            }
        }
    }

    /// The statements, run in the switch's transaction, that put the copy's `table`
    /// in place of the live one. On PostgreSQL the copy's table is moved into the live
    /// schema in place of the live table, whatever its size (its keys and indexes go
    /// with it; statements prepared on the old table are planned again on the new
    /// one, as after any change of a table's definition). A SQLite file cannot take
    /// another file's table, so its rows are copied.
    fn replace(&self, table: &str) -> [String; 2] {
        match self {
            Place::Schema { live_schema } => [
                format!("DROP TABLE \"{live_schema}\".{table}"),
                format!("ALTER TABLE {COPY}.{table} SET SCHEMA \"{live_schema}\""),
            ],
            Place::File { .. } => [
                format!("DELETE FROM {table}"),
                format!("INSERT INTO {table} SELECT * FROM {COPY}.{table}"),
            ],
        }
    }

    /// Gives the copies of `tables` the keys and indexes of the live tables, by the
    /// same names (PostgreSQL; SQLite's copies have them from the start). Each is made
    /// only if missing, so a rebuild stopped here makes the rest on its next run.
    async fn build_indexes(&self, live: &Database, tables: &[&str]) -> Result<(), StoreError> {
        let Place::Schema { live_schema } = self else {
            return Ok(());
        };
        for &table in tables {
            let began = Instant::now();
            let keys = sqlx::query(
                "SELECT c.conname::text AS name, pg_get_constraintdef(c.oid) AS definition,
                        EXISTS (SELECT 1 FROM pg_constraint k
                                  JOIN pg_namespace kn ON kn.oid = k.connamespace
                                 WHERE kn.nspname = $3 AND k.conname = c.conname) AS made
                   FROM pg_constraint c
                   JOIN pg_class t ON t.oid = c.conrelid
                   JOIN pg_namespace n ON n.oid = t.relnamespace
                  WHERE n.nspname = $1 AND t.relname = $2 AND c.contype IN ('p', 'u')",
            )
            .bind(live_schema)
            .bind(table)
            .bind(COPY)
            .fetch_all(&live.any)
            .await?;
            let mut statements = Vec::new();
            for key in keys {
                if key.try_get::<bool, _>("made")? {
                    continue;
                }
                let name: String = key.try_get("name")?;
                let definition: String = key.try_get("definition")?;
                statements.push(format!(
                    "ALTER TABLE {COPY}.{table} ADD CONSTRAINT \"{name}\" {definition}"
                ));
            }
            // The other indexes, as the live schema defines them, on the copy.
            let indexes = sqlx::query(
                "SELECT replace(i.indexdef,
                                ' ON ' || quote_ident(i.schemaname) || '.' || quote_ident(i.tablename) || ' ',
                                ' ON ' || $3 || '.' || quote_ident(i.tablename) || ' ') AS definition
                   FROM pg_indexes i
                  WHERE i.schemaname = $1 AND i.tablename = $2
                    AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                                      JOIN pg_namespace n ON n.oid = c.connamespace
                                     WHERE n.nspname = $1 AND c.conname = i.indexname)
                    AND NOT EXISTS (SELECT 1 FROM pg_indexes m
                                     WHERE m.schemaname = $3 AND m.indexname = i.indexname)",
            )
            .bind(live_schema)
            .bind(table)
            .bind(COPY)
            .fetch_all(&live.any)
            .await?;
            for index in indexes {
                statements.push(index.try_get("definition")?);
            }
            for statement in statements {
                sqlx::query(&statement)
                    .persistent(false)
                    .execute(&live.any)
                    .await?;
            }
            tracing::info!(
                table,
                seconds = began.elapsed().as_secs_f64(),
                "the copy's keys and indexes built"
            );
        }
        Ok(())
    }

    /// The live database with the copy reachable as [`COPY`], for the switch.
    async fn switch_view(&self, live: &Database, url: &str) -> Result<Database, StoreError> {
        match self {
            Place::Schema { .. } => Ok(live.clone()),
            Place::File { copy, .. } => {
                Database::open_view(
                    url,
                    // The copy's name is a constant, not user input.
                    "ATTACH DATABASE $1 AS extranet_rebuild",
                    Some(copy.display().to_string()),
                )
                .await
            }
        }
    }

    /// The schema version an earlier run's copy was made under, if one is there.
    async fn copy_version(
        &self,
        live: &Database,
        copy: &Database,
    ) -> Result<Option<i64>, StoreError> {
        // Only qualified names before the copy's tables exist: a PostgreSQL statement
        // planned while a name resolved to the live table would keep pointing there.
        let (db, sql) = match self {
            Place::Schema { .. } => (
                live,
                "SELECT count(*) AS n FROM information_schema.tables
                  WHERE table_schema = 'extranet_rebuild' AND table_name = 'rebuild_state'",
            ),
            Place::File { .. } => (
                copy,
                "SELECT count(*) AS n FROM main.sqlite_master WHERE name = 'rebuild_state'",
            ),
        };
        let present: i64 = sqlx::query(sql).fetch_one(&db.any).await?.try_get("n")?;
        if present == 0 {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "SELECT schema_version FROM {} LIMIT 1",
            self.state_table()
        ))
        .persistent(false)
        .fetch_optional(&db.any)
        .await?;
        Ok(match row {
            Some(row) => Some(row.try_get("schema_version")?),
            None => None,
        })
    }

    fn state_table(&self) -> &'static str {
        match self {
            Place::Schema { .. } => "extranet_rebuild.rebuild_state",
            Place::File { .. } => "main.rebuild_state",
        }
    }

    /// Makes empty copies of the tables, shaped like the live ones.
    async fn create(
        &self,
        live: &Database,
        copy: &Database,
        version: i64,
    ) -> Result<(), StoreError> {
        match self {
            Place::Schema { live_schema } => {
                let mut tx = live.begin_write().await?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {COPY} CASCADE"))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(&format!("CREATE SCHEMA {COPY}"))
                    .execute(&mut *tx)
                    .await?;
                for table in copied_tables() {
                    // Keys and indexes are made apart (`build_indexes`): `LIKE` would
                    // name them anew, and a migration finds an index by its name.
                    sqlx::query(&format!(
                        "CREATE TABLE {COPY}.{table} (LIKE \"{live_schema}\".{table} INCLUDING ALL EXCLUDING INDEXES)"
                    ))
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(&format!(
                    "CREATE TABLE {COPY}.rebuild_state (schema_version bigint NOT NULL)"
                ))
                .execute(&mut *tx)
                .await?;
                sqlx::query(&format!(
                    "INSERT INTO {COPY}.rebuild_state (schema_version) VALUES ($1)"
                ))
                .bind(version)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
            Place::File { .. } => {
                let mut tx = copy.any.begin().await?;
                for table in copied_tables() {
                    // The live database's own statements, so columns, keys and
                    // indexes match it exactly (indexes after their table).
                    let statements = sqlx::query(
                        "SELECT sql FROM extranet_live.sqlite_master
                          WHERE tbl_name = $1 AND sql IS NOT NULL
                          ORDER BY type = 'index'",
                    )
                    .bind(table)
                    .fetch_all(&mut *tx)
                    .await?;
                    for row in statements {
                        let sql: String = row.try_get("sql")?;
                        sqlx::query(&sql).execute(&mut *tx).await?;
                    }
                }
                sqlx::query("CREATE TABLE main.rebuild_state (schema_version bigint NOT NULL)")
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO main.rebuild_state (schema_version) VALUES ($1)")
                    .bind(version)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Removes the copy, if any.
    async fn remove(&self, live: &Database) -> Result<(), StoreError> {
        match self {
            Place::Schema { .. } => {
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {COPY} CASCADE"))
                    .execute(&live.any)
                    .await?;
            }
            Place::File { copy, .. } => {
                for suffix in ["", "-wal", "-shm"] {
                    let path = format!("{}{suffix}", copy.display());
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(source) => return Err(StoreError::DataDir { path, source }),
                    }
                }
            }
        }
        Ok(())
    }
}

/// Held for the whole rebuild, so two never work on one copy: a PostgreSQL session
/// lock, or a lock on a file beside the SQLite database. Both end with the process.
enum Exclusive {
    Postgres(sqlx::pool::PoolConnection<sqlx::Any>),
    /// Unlocked when closed, at drop.
    Sqlite {
        _locked: std::fs::File,
    },
}

impl Exclusive {
    async fn take(live: &Database, url: &str) -> Result<Self, RebuildError> {
        match live.backend {
            Backend::Postgres => {
                let mut connection = live.any.acquire().await.map_err(StoreError::from)?;
                let row = sqlx::query("SELECT pg_try_advisory_lock($1) AS taken")
                    .bind(lock_key("rebuild"))
                    .fetch_one(&mut *connection)
                    .await
                    .map_err(StoreError::from)?;
                let taken: bool = row.try_get("taken").map_err(StoreError::from)?;
                if !taken {
                    return Err(RebuildError::AlreadyRunning);
                }
                Ok(Exclusive::Postgres(connection))
            }
            Backend::Sqlite => {
                let path = sqlite_path(url).ok_or(RebuildError::InMemory)?;
                let path = format!("{path}-{COPY}.lock");
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .map_err(|source| RebuildError::File {
                        path: path.clone(),
                        source,
                    })?;
                match file.try_lock() {
                    Ok(()) => Ok(Exclusive::Sqlite { _locked: file }),
                    Err(std::fs::TryLockError::WouldBlock) => Err(RebuildError::AlreadyRunning),
                    Err(std::fs::TryLockError::Error(source)) => {
                        Err(RebuildError::File { path, source })
                    }
                }
            }
        }
    }
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        if let Exclusive::Postgres(connection) = self {
            // A pooled connection would keep the session lock; closing it ends it.
            connection.close_on_drop();
        }
    }
}
