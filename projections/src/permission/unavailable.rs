//! Why the permission engine will not answer. It answers from facts that follow the
//! log; when it knows those facts are stale it refuses rather than say "may" to
//! someone a stored revocation has shut out. Each reason is also what `/readyz` and
//! `/metrics` report, so the operator sees the same cause the client was refused for.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// The read models cannot apply an event; the index follows them, so it cannot
    /// get past it either.
    #[error("the read models are stalled at an event they cannot apply")]
    ReadModelsStalled,
    /// The read models have not reached a head of the log noted this long ago.
    #[error("the read models are {}s behind the log", lag.as_secs())]
    ReadModelsBehind { lag: Duration },
    /// The index is this many events behind the read models: a check would wait for
    /// it to read them from the log, so it is refused while the index catches up.
    #[error("the permission index is {events} events behind the read models")]
    IndexBehind { events: i64 },
    /// The index itself could not apply an event the read models applied.
    #[error("the permission index cannot apply an event of the log")]
    IndexStalled,
}

impl Unavailable {
    /// The name `/readyz` lists it under in `not_ready`.
    pub fn label(&self) -> &'static str {
        match self {
            Unavailable::ReadModelsStalled => "read_models",
            Unavailable::ReadModelsBehind { .. } => "read_models_behind",
            Unavailable::IndexBehind { .. } => "permission_index_behind",
            Unavailable::IndexStalled => "permission_index",
        }
    }
}
