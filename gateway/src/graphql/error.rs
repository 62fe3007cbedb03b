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
    /// A change was recorded, but the read models did not reach it within the wait:
    /// it takes effect when they do.
    NotYetInForce,
    /// The permission engine cannot be sure its facts are current (the read models or
    /// its index are stalled or behind the log), so it answers nothing: try again
    /// later. Answered with HTTP 503 and `Retry-After`.
    Unavailable,
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
            ApiError::NotYetInForce => {
                "your change was recorded but is not yet in force: the service is behind and \
                 it takes effect as soon as the service catches up. Do not send the change \
                 again"
                    .into()
            }
            ApiError::Unavailable => {
                "temporarily unavailable: the service cannot be sure who may see what right \
                 now, so it answers nothing rather than something stale. Try again shortly"
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
            ApiError::NotYetInForce => "NOT_YET_IN_FORCE",
            ApiError::Unavailable => "UNAVAILABLE",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            // Already told at `/readyz`, `/metrics` and in the log by what is stale.
            StoreError::Unavailable(why) => {
                tracing::debug!(%why, "a permission check was refused");
                ApiError::Unavailable
            }
            error => {
                tracing::error!(%error, "store failure during a GraphQL request");
                ApiError::Internal
            }
        }
    }
}

/// Seconds a client refused with `UNAVAILABLE` is told to wait (`Retry-After`): about
/// a projector's retry.
pub const RETRY_AFTER_SECS: u64 = 5;

/// Whether an error of the response is [`ApiError::Unavailable`]: then the whole
/// answer is a 503, so clients and proxies that look only at the status retry too.
pub fn any_unavailable(errors: &[async_graphql::ServerError]) -> bool {
    let code = ApiError::Unavailable.code();
    errors.iter().any(|error| {
        error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            .is_some_and(|value| *value == async_graphql::Value::String(code.to_owned()))
    })
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        async_graphql::Error::new(error.message()).extend_with(|_, e| e.set("code", error.code()))
    }
}
