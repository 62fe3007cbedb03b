//! Faults a GraphQL client cannot fix by changing its input travel as GraphQL errors
//! with a stable `extensions.code`; refusals it can act on are `userErrors` in the
//! payload (see `types::UserError`).

use async_graphql::ErrorExtensions;
use projections::StoreError;

///
/// Deliberately not `Display`: async-graphql turns any `Display` error into a plain
/// GraphQL error, which would drop the code. The conversion below keeps it.
#[derive(Debug)]
pub enum ApiError {
    Unauthenticated,
    /// Also what a viewer gets for something that exists but is not theirs to see,
    /// so an answer never tells which.
    NotFound,
    /// Something the viewer may know exists but may not read (an administrator's list).
    Forbidden(&'static str),
    BadInput(String),
    Internal,
    /// A change was recorded, but the read models cannot be brought up to it.
    ReadModelsStalled,
}

impl ApiError {
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated => "log in first: this needs a session".into(),
            ApiError::NotFound => "not found".into(),
            ApiError::Forbidden(why) => (*why).to_string(),
            ApiError::BadInput(message) => message.clone(),
            ApiError::Internal => "something went wrong on our side; it has been logged".into(),
            ApiError::ReadModelsStalled => {
                "your change was recorded, but it cannot be shown yet: the service cannot \
                 bring what it shows up to date and is not ready. Do not send the change \
                 again; it shows once the service is ready"
                    .into()
            }
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "UNAUTHENTICATED",
            ApiError::NotFound => "NOT_FOUND",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::BadInput(_) => "BAD_USER_INPUT",
            ApiError::Internal => "INTERNAL",
            ApiError::ReadModelsStalled => "READ_MODELS_STALLED",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "store failure during a GraphQL request");
        ApiError::Internal
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        async_graphql::Error::new(error.message()).extend_with(|_, e| e.set("code", error.code()))
    }
}
