//! What every process on one SQLite file must know before it answers a request, kept
//! in a small shared-memory file beside the database (`extranet.db-beacon`, like
//! SQLite's own `-shm`): how far the read models have been applied, and how many times
//! sessions have been ended.
//!
//! A request must see every revocation that was in force when it arrived, whichever
//! process made it: a logout, a dismissal, a removal. On PostgreSQL the session read
//! that every request makes also reads the shared checkpoint (`session.rs`). On SQLite
//! that read is a read transaction, and most of its cost is SQLite's own locking of the
//! WAL (`fcntl` calls on the `-shm` file), on every request. The beacon answers the
//! same question with two atomic loads from memory the processes share, so a session
//! already read can be trusted until one of the two numbers moves:
//!
//! - **the read models' position**, published by whoever learns of it (the projector
//!   that applied a batch, a process that found the shared checkpoint moved) before
//!   anything in that process acts on it: a mutation returns only once its events are
//!   applied, and by then the position is here;
//! - **sessions ended**, counted after a session row is deleted (logout, password
//!   change or reset) and before the call returns.
//!
//! Both only grow. A beacon that is ahead of the database it sits beside (a database
//! restored from a backup with the old beacon left in place) is put back when the
//! database is opened.

use crate::{LogPosition, StoreError};
use memmap2::MmapMut;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The file's layout: a format mark, then the two numbers, each in its own 8 bytes.
const MARK: u64 = u64::from_le_bytes(*b"xnbeacn1");
const MARK_AT: usize = 0;
const POSITION_AT: usize = 8;
const SESSIONS_AT: usize = 16;
const SIZE: u64 = 64;

pub struct Beacon {
    map: MmapMut,
}

impl std::fmt::Debug for Beacon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Beacon")
            .field("position", &self.position())
            .field("sessions_ended", &self.sessions_ended())
            .finish()
    }
}

/// Where the beacon of the SQLite database at `database` lives.
pub fn path_of(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-beacon");
    PathBuf::from(name)
}

impl Beacon {
    /// Opens the beacon beside the SQLite database at `database`, making it if missing.
    pub(crate) fn open(database: &Path) -> Result<Self, StoreError> {
        let path = path_of(database);
        let error = |source| StoreError::Beacon {
            path: path.display().to_string(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(error)?;
        if file.metadata().map_err(error)?.len() < SIZE {
            file.set_len(SIZE).map_err(error)?;
        }
        // SAFETY: the map is only ever read and written through the atomics below, by
        // this and other processes alike, so no reference sees a torn or changing value
        // behind the compiler's back; the file is never shrunk while mapped.
        let map = unsafe { MmapMut::map_mut(&file) }.map_err(error)?;
        let beacon = Self { map };
        // A new file is all zeros: zero is where a fresh database starts too.
        beacon.word(MARK_AT).store(MARK, Ordering::Release);
        Ok(beacon)
    }

    fn word(&self, at: usize) -> &AtomicU64 {
        debug_assert!(at + 8 <= SIZE as usize && at.is_multiple_of(8));
        // SAFETY: `at` is within the map and 8-aligned (the map starts on a page), and
        // AtomicU64 has the size and alignment of u64; the map lives as long as `self`.
        unsafe { &*(self.map.as_ptr().add(at) as *const AtomicU64) }
    }

    fn signed(&self, at: usize) -> &AtomicI64 {
        // SAFETY: as in `word`.
        unsafe { &*(self.map.as_ptr().add(at) as *const AtomicI64) }
    }

    /// How far the read models have been applied, as far as any process has said.
    pub fn position(&self) -> LogPosition {
        LogPosition {
            tx: 0,
            position: self.signed(POSITION_AT).load(Ordering::Acquire),
        }
    }

    /// Records that the read models have reached `at` (never moves back).
    pub fn publish(&self, at: LogPosition) {
        self.signed(POSITION_AT)
            .fetch_max(at.position, Ordering::AcqRel);
    }

    /// Puts the position back to `at` if it is ahead of it: for a database that is
    /// behind its beacon, which only a restore from a backup makes.
    pub(crate) fn not_ahead_of(&self, at: LogPosition) {
        self.signed(POSITION_AT)
            .fetch_min(at.position, Ordering::AcqRel);
    }

    /// How many times sessions have been ended.
    pub fn sessions_ended(&self) -> u64 {
        self.word(SESSIONS_AT).load(Ordering::Acquire)
    }

    /// Records that sessions were ended: every session read before is read again.
    pub fn session_ended(&self) {
        self.word(SESSIONS_AT).fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(position: i64) -> LogPosition {
        LogPosition { tx: 0, position }
    }

    #[test]
    fn two_openings_of_one_beacon_see_each_other_and_numbers_only_grow() {
        let dir = std::env::temp_dir().join(format!("beacon-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("a folder");
        let database = dir.join("extranet.db");
        let one = Beacon::open(&database).expect("open");
        let other = Beacon::open(&database).expect("open again");
        assert_eq!((one.position(), one.sessions_ended()), (at(0), 0));

        one.publish(at(7));
        other.publish(at(5));
        assert_eq!(other.position(), at(7), "never back");
        other.session_ended();
        other.session_ended();
        assert_eq!(one.sessions_ended(), 2);

        one.not_ahead_of(at(9));
        assert_eq!(other.position(), at(7));
        one.not_ahead_of(at(3));
        assert_eq!(other.position(), at(3));
        drop((one, other));
        assert_eq!(Beacon::open(&database).expect("reopen").position(), at(3));
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
