//! One server per SQLite file.
//!
//! A revocation is in force on the next request because the process that answers it
//! is the process that applied it, or (on PostgreSQL) reads the shared checkpoint and
//! hears the others' `NOTIFY`. SQLite has neither, so the embedded store serves one
//! process: `serve` holds a lock on a file beside the database (`extranet.db-serve.lock`)
//! for as long as it runs, and a second `serve` on the same file is refused at start.
//!
//! The lock is the operating system's (`flock`, through [`File::try_lock`]): it goes
//! with the process however it ends, a crash or SIGKILL included, so a file left
//! behind is harmless and never needs deleting. The file holds the server's process
//! id, for the refusal to name it.
//!
//! `rebuild` and `create-account` take no lock and may run beside the server: neither
//! answers requests. A rebuild switches the tables in one transaction that the live
//! projector sees and follows; `create-account` appends the events of a new account,
//! which the server's projector reads from the log like any other.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// What `serve` holds while it runs on a SQLite file; dropping it lets the lock go.
#[derive(Debug)]
pub struct ServerLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerLockError {
    #[error(
        "another `extranet serve`{holder} is already serving the SQLite database {database} \
         (it holds {lock}). The embedded SQLite store serves one process: stop that \
         server first, or run several servers on one PostgreSQL database \
         (EXTRANET_DATABASE_URL=postgres://…). `rebuild` and `create-account` may run \
         beside it."
    )]
    Held {
        database: String,
        lock: String,
        /// " (process 1234)" when the file names it, else empty.
        holder: String,
    },
    #[error("could not take the lock file {lock} beside the SQLite database: {source}")]
    Io {
        lock: String,
        #[source]
        source: std::io::Error,
    },
}

/// Where the server lock of the SQLite database at `database` is.
pub fn path_of(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-serve.lock");
    PathBuf::from(name)
}

impl ServerLock {
    /// Takes the lock of the SQLite file `url` names; `None` for PostgreSQL and for an
    /// in-memory SQLite database, which no other process can open.
    pub fn take(url: &str) -> Result<Option<Self>, ServerLockError> {
        let file = url
            .starts_with("sqlite:")
            .then(|| crate::store::sqlite_path(url))
            .flatten();
        let database = match file {
            Some(path) if !url.contains("mode=memory") => Path::new(path),
            _ => return Ok(None),
        };
        let lock = path_of(database);
        let io = |source| ServerLockError::Io {
            lock: lock.display().to_string(),
            source,
        };
        // A fresh checkout has no `data/` yet; the database is created in it next.
        if let Some(dir) = lock.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        // Not truncated on opening: until the lock is ours, the file names its holder.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut named = String::new();
                let holder = match file.read_to_string(&mut named) {
                    Ok(_) if named.trim().parse::<u32>().is_ok() => {
                        format!(" (process {})", named.trim())
                    }
                    _ => String::new(),
                };
                return Err(ServerLockError::Held {
                    database: database.display().to_string(),
                    lock: lock.display().to_string(),
                    holder,
                });
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Some(Self { _file: file }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_is_refused_until_the_first_lets_go() {
        let dir = std::env::temp_dir().join(format!("server-lock-{}", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}/data/extranet.db", dir.display());
        let first = ServerLock::take(&url)
            .expect("the first takes it")
            .expect("a SQLite file is locked");
        // `flock` locks an open file, so a second opening in this process stands for
        // a second process.
        let refused = ServerLock::take(&url).expect_err("the second is refused");
        let message = refused.to_string();
        let expected = format!("(process {})", std::process::id());
        assert!(
            message.contains(&expected) && message.contains("extranet.db"),
            "{message}"
        );
        drop(first);
        let again = ServerLock::take(&url).expect("free again");
        assert!(again.is_some());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn postgres_and_memory_take_no_lock() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/extranet",
            "sqlite::memory:",
            "sqlite://shared?mode=memory&cache=shared",
        ] {
            assert!(ServerLock::take(url).expect(url).is_none(), "{url}");
        }
    }
}
