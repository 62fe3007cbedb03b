//! What a resolver knows about its request.

use super::error::ApiError;
use crate::state::AppState;
use async_graphql::Context;
use projections::permission::Viewer;

/// Who is asking: set by the HTTP handler from the session token, if any.
#[derive(Clone, Default)]
pub struct RequestAuth {
    pub viewer: Option<Viewer>,
    pub token: Option<String>,
}

pub fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

pub fn auth<'a>(ctx: &Context<'a>) -> &'a RequestAuth {
    ctx.data_unchecked::<RequestAuth>()
}

pub fn viewer<'a>(ctx: &Context<'a>) -> Result<&'a Viewer, ApiError> {
    auth(ctx).viewer.as_ref().ok_or(ApiError::Unauthenticated)
}

/// Before a resolver reads `projection` (one that follows the read models, such as
/// history or activity): waits until it has caught up (see [`wait_for_follower`]).
pub async fn follower_caught_up(ctx: &Context<'_>, projection: &str) -> Result<(), ApiError> {
    wait_for_follower(state(ctx), projection).await
}

/// Waits, five seconds at most, until `projection` includes everything the read
/// models do, so a read right after a change shows it.
async fn wait_for_follower(state: &AppState, projection: &str) -> Result<(), ApiError> {
    let target = state.read_models.position();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while projections::checkpoint::load(&state.db.any, projection).await? < target {
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                projection,
                ?target,
                "a follower of the read models is behind; answering anyway"
            );
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Ok(())
}

/// The site the schema serves (public address, rate limits).
pub fn site<'a>(ctx: &Context<'a>) -> Result<&'a crate::graphql::Site, ApiError> {
    ctx.data::<crate::graphql::Site>().map_err(|_| {
        tracing::error!("the schema was built without its site");
        ApiError::Internal
    })
}

/// The IP the request came from, when the server knows it.
pub fn client_ip(ctx: &Context<'_>) -> Option<std::net::IpAddr> {
    ctx.data_opt::<crate::rate_limit::ClientIp>()
        .and_then(|client| client.0)
}
