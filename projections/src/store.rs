use crate::StoreError;
use sqlx::any::AnyPoolOptions;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AnyPool, PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// How long a pooled PostgreSQL connection may idle before it is tested on its next
/// use (see [`Database::open`]).
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(5);

/// Tests a connection that has idled long enough to have been closed by the server;
/// a failed test makes the pool drop it and hand out another.
async fn ping_if_idle<C: sqlx::Connection>(
    connection: &mut C,
    meta: sqlx::pool::PoolConnectionMetadata,
) -> Result<bool, sqlx::Error> {
    if meta.idle_for >= PING_AFTER_IDLE {
        connection.ping().await?;
    }
    Ok(true)
}

/// Which database holds the log and the read models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// The one database of a deployment: the event log, the read models, checkpoints,
/// sessions and the mail outbox all live in it, so a projection can move its checkpoint
/// in the same transaction as its changes.
///
/// Two pools reach it: the native one that postgres-es or sqlite-es needs, and an
/// `AnyPool` through which everything else runs the same SQL on both backends (both
/// accept `$1` placeholders).
#[derive(Clone)]
pub struct Database {
    pub backend: Backend,
    pub any: AnyPool,
    native: Native,
}

#[derive(Clone)]
pub(crate) enum Native {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

impl Database {
    /// Connects to `url` (`postgres://…` or `sqlite://…`; a SQLite file is created if
    /// missing) and brings the schema up to date.
    ///
    /// A SQLite connection is not tested before each use: it is a file opened in this
    /// process, which does not hang up, and sqlx's test is a round trip to the
    /// connection's own thread, as dear as the query it precedes. A PostgreSQL
    /// connection is tested only after it has idled [`PING_AFTER_IDLE`]: the server
    /// may have closed it meanwhile, but testing a busy one doubled every statement's
    /// round trips (issue 14's profile: a ping before each of a command's dozen).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, native) =
            if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .test_before_acquire(false)
                    .before_acquire(|connection, meta| {
                        Box::pin(async move { ping_if_idle(connection, meta).await })
                    })
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await?;
                sqlx::migrate!("./migrations/postgres").run(&pool).await?;
                (Backend::Postgres, Native::Postgres(pool))
            } else if url.starts_with("sqlite:") {
                create_parent_dir(url)?;
                let options = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .max_connections(8)
                    .test_before_acquire(false)
                    .connect_with(options)
                    .await?;
                sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
                (Backend::Sqlite, Native::Sqlite(pool))
            } else {
                return Err(StoreError::UnsupportedUrl(url.to_string()));
            };
        let any = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Postgres => 16,
                Backend::Sqlite => 8,
            })
            .test_before_acquire(false)
            .before_acquire(move |connection, meta| {
                Box::pin(async move {
                    match backend {
                        Backend::Postgres => ping_if_idle(connection, meta).await,
                        Backend::Sqlite => Ok(true),
                    }
                })
            })
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(Self {
            backend,
            any,
            native,
        })
    }

    /// Another view of a database, whose every connection first runs `setup` (with
    /// `argument` bound to `$1`, if any): how a rebuild sees its copy of the read models
    /// in front of the live database (`rebuild.rs`). Runs no migrations. Its native
    /// pool is never connected: a view is for projections, not for commands.
    pub(crate) async fn open_view(
        url: &str,
        setup: &'static str,
        argument: Option<String>,
    ) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let native = match backend {
            Backend::Postgres => Native::Postgres(PgPoolOptions::new().connect_lazy(url)?),
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10));
                // Creates the file, so the `AnyPool` below finds it.
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await?;
                Native::Sqlite(pool)
            }
        };
        let any = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |connection, _| {
                let argument = argument.clone();
                Box::pin(async move {
                    let mut query = sqlx::query(setup);
                    if let Some(argument) = argument {
                        query = query.bind(argument);
                    }
                    query.execute(&mut *connection).await?;
                    if backend == Backend::Sqlite {
                        sqlx::query("PRAGMA busy_timeout = 10000")
                            .execute(&mut *connection)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        Ok(Self {
            backend,
            any,
            native,
        })
    }

    pub(crate) fn native(&self) -> &Native {
        &self.native
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a transaction that reads first and writes later could
    /// otherwise fail with "database is locked" when another writer got in between.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        let begin = match self.backend {
            Backend::Postgres => "BEGIN",
            Backend::Sqlite => "BEGIN IMMEDIATE",
        };
        Ok(self.any.begin_with(begin).await?)
    }

    /// A connection that receives PostgreSQL notifications; none on SQLite.
    pub async fn listener(&self) -> Option<sqlx::postgres::PgListener> {
        match &self.native {
            Native::Postgres(pool) => match sqlx::postgres::PgListener::connect_with(pool).await {
                Ok(listener) => Some(listener),
                Err(error) => {
                    tracing::error!(%error, "cannot open a notification connection");
                    None
                }
            },
            Native::Sqlite(_) => None,
        }
    }

    /// Starts a read-only transaction that sees one snapshot of the whole database.
    pub async fn begin_snapshot(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        let begin = match self.backend {
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            // A SQLite read transaction sees one snapshot from its first read on.
            Backend::Sqlite => "BEGIN",
        };
        Ok(self.any.begin_with(begin).await?)
    }

    pub async fn close(&self) {
        self.any.close().await;
        match &self.native {
            Native::Postgres(pool) => pool.close().await,
            Native::Sqlite(pool) => pool.close().await,
        }
    }
}

/// The file of a `sqlite://` URL; `None` for an in-memory database.
pub(crate) fn sqlite_path(url: &str) -> Option<&str> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// SQLite creates a missing file but not its folder; a fresh checkout has no `data/`.
fn create_parent_dir(url: &str) -> Result<(), StoreError> {
    let Some(path) = sqlite_path(url) else {
        return Ok(());
    };
    if let Some(dir) = std::path::Path::new(path).parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
    }
    Ok(())
}
