//! The reads every request makes (its session, the record it asks for), on SQLite,
//! done on the calling thread.
//!
//! sqlx runs each SQLite connection on a thread of its own: a query is handed to that
//! thread and its rows handed back, two thread switches per query. For the one-row
//! reads of an ordinary request those switches cost many times the read itself
//! (profiled under `cargo bench -p gateway --bench http`: most of the gateway's CPU
//! went to futex wake-ups and the kernel's scheduler). Here the same reads run on a
//! few connections of this process's own, on the thread that asks, from statements
//! prepared once. A read of an indexed row in WAL mode takes microseconds and never
//! waits for a writer, so doing it on an async worker does not hold the worker up.
//!
//! Only reads go through here, and only on SQLite: PostgreSQL is across a socket,
//! where a round trip is a round trip whoever makes it.

use crate::StoreError;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Params};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// One connection per core is enough: a read holds its connection for microseconds.
const CONNECTIONS: usize = 4;
/// A reader waits this long for a lock only while SQLite recovers the WAL after a crash.
const BUSY_TIMEOUT: Duration = Duration::from_secs(1);

pub struct InlineReader {
    connections: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for InlineReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineReader")
            .field("connections", &self.connections.len())
            .finish()
    }
}

impl InlineReader {
    /// Read-only connections to the SQLite file at `path`, which sqlx has already
    /// opened in WAL mode and migrated.
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        let connections = (0..CONNECTIONS)
            .map(|_| {
                let connection = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                connection.busy_timeout(BUSY_TIMEOUT)?;
                Ok(Mutex::new(connection))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Self {
            connections,
            next: AtomicUsize::new(0),
        })
    }

    /// The first row `sql` gives with `params`, decoded by `decode`; `None` without one.
    pub(crate) fn row<T>(
        &self,
        sql: &str,
        params: impl Params,
        decode: impl FnOnce(&rusqlite::Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(sql)?;
        let mut decoded = None;
        let row = statement
            .query_row(params, |row| {
                decoded = Some(decode(row));
                Ok(())
            })
            .optional()?;
        match (row, decoded) {
            (Some(()), Some(record)) => record.map(Some),
            _ => Ok(None),
        }
    }

    /// A free connection if there is one, else the next in turn once it is free.
    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for offset in 0..self.connections.len() {
            let slot = &self.connections[(start + offset) % self.connections.len()];
            if let Ok(connection) = slot.try_lock() {
                return connection;
            }
        }
        // A connection only holds a statement's state: one that panicked mid-read is
        // still good for the next.
        self.connections[start % self.connections.len()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
