/// A failure of the store itself: the database could not be reached, a migration
/// failed, or a stored row could not be read back. These are operator problems, never
/// a user's; the gateway logs them and answers with an internal error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database URL {0:?} is neither postgres:// nor sqlite://")]
    UnsupportedUrl(String),
    #[error("could not create the data folder {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("a stored {what} could not be read: {source}")]
    Corrupt {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("a stored {what} has an unknown value {value:?}")]
    UnknownValue { what: &'static str, value: String },
    /// An aggregate could not be loaded from the event store (a use case reading a
    /// fact it owns).
    #[error("the {aggregate} {key} could not be loaded: {message}")]
    Load {
        aggregate: &'static str,
        key: String,
        message: String,
    },
    /// The permission engine will not answer: what it would answer from is known to be
    /// stale. Nothing is broken in the store itself; the request may be tried again.
    #[error(transparent)]
    Unavailable(#[from] crate::permission::Unavailable),
}
