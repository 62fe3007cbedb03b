//! A place in the event log, as the domain sees it: a cause that a process (the
//! reactor) read there. The reactor reads the log in order, so the causes it sends to
//! one aggregate only ever grow; an aggregate that remembers the last cause it applied
//! recognises a follow-up sent again after a crash, with one number instead of a list.

use serde::{Deserialize, Serialize};

/// Ordered as the log is read: by writing transaction, then by position (the store's
/// `LogPosition`; on SQLite `tx` is always 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LogMark {
    pub tx: i64,
    pub position: i64,
}

/// Whether `cause` is new to an aggregate that last applied `through`.
pub fn is_new(cause: LogMark, through: Option<LogMark>) -> bool {
    through.is_none_or(|t| cause > t)
}
