//! Subscriptions over WebSocket (graphql-transport-ws, at `/graphql/ws`): the viewer's
//! activity stream and changes to one task, as they happen. Every update is judged
//! again by the permission engine, with the session looked up afresh: a person who is
//! dismissed, suspended or loses access stops receiving at once, and the stream ends.

use super::activity::ActivityEntry;
use super::context::{auth, state, RequestAuth};
use super::error::ApiError;
use super::global_id::parse_id;
use super::types::Task;
use crate::app::Shared;
use crate::auth as session;
use crate::state::AppState;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Context, Data, Subscription as SubscriptionRoot, ID};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::stream::{self, Stream};
use projections::permission::Viewer;
use projections::{activity, tasks, LogPosition};
use std::time::Duration;
use tokio::sync::watch;

/// How often a stream looks again even when no change was announced: the activity
/// stream's projection follows the read models a moment behind.
const RECHECK: Duration = Duration::from_millis(500);

#[derive(Default)]
pub struct Subscription;

/// What a client can follow as it happens, over WebSocket (graphql-transport-ws) at
/// `/graphql/ws`; the session is the cookie, the `Authorization` header, or
/// `{"token": …}` in `connection_init`.
#[SubscriptionRoot]
impl Subscription {
    /// New entries of the viewer's activity stream, oldest first, from now on.
    async fn activity(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<ActivityEntry, async_graphql::Error>>, ApiError> {
        let (state, token, _) = follower(ctx).await?;
        // The stream starts after everything the read models hold now: what a client
        // did just before subscribing is not news, and what comes after is, however
        // far behind the read models the activity projection is when it arrives.
        let seen = state.read_models.position();
        let changes = state.read_models.subscribe();
        Ok(stream::unfold(
            (state, token, seen, changes, Vec::new()),
            |(state, token, mut seen, mut changes, mut pending)| async move {
                loop {
                    if let Some(entry) = pending.pop() {
                        return Some((Ok(entry), (state, token, seen, changes, pending)));
                    }
                    wait(&mut changes).await;
                    let viewer = match current_viewer(&state, &token).await {
                        Ok(viewer) => viewer,
                        Err(error) => {
                            return Some((
                                Err(error.into()),
                                (state, token, seen, changes, pending),
                            ))
                        }
                    }?;
                    // Newest first from the store, and kept so: `pop` yields the
                    // oldest first.
                    let fresh: Vec<_> = activity::stream_for(&state.db, &viewer, None, 100)
                        .await
                        .ok()?
                        .into_iter()
                        .filter(|e| e.position > seen)
                        .collect();
                    if let Some(newest) = fresh.first() {
                        seen = newest.position;
                    }
                    pending = fresh.into_iter().map(ActivityEntry::from).collect();
                }
            },
        ))
    }

    /// The task each time it changes, while the viewer may see it; the stream ends
    /// with "not found" when they may no longer, and with `UNAVAILABLE` when the
    /// service cannot check that now (follow again later).
    async fn task_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The task to follow.")] task_id: ID,
    ) -> Result<impl Stream<Item = Result<Task, async_graphql::Error>>, ApiError> {
        let (state, token, viewer) = follower(ctx).await?;
        let task: domain::TaskId = parse_id(&task_id)?;
        if !state.permissions.may_see_task(&viewer, task).await? {
            return Err(ApiError::NotFound);
        }
        let last = tasks::by_id(&state.db, viewer.account, task).await?;
        let changes = state.read_models.subscribe();
        Ok(stream::unfold(
            (state, token, last, changes, false),
            move |(state, token, mut last, mut changes, ended)| async move {
                if ended {
                    return None;
                }
                loop {
                    wait(&mut changes).await;
                    let allowed = match current_viewer(&state, &token).await {
                        Ok(Some(viewer)) => {
                            match state.permissions.may_see_task(&viewer, task).await {
                                Ok(allowed) => allowed.then_some(viewer),
                                // Not "not found": the client may follow again once
                                // the service can check (`UNAVAILABLE`).
                                Err(error) => {
                                    tracing::warn!(%error, "permission check in a subscription");
                                    let error: async_graphql::Error = ApiError::from(error).into();
                                    return Some((Err(error), (state, token, last, changes, true)));
                                }
                            }
                        }
                        Ok(None) => None,
                        Err(error) => {
                            return Some((Err(error.into()), (state, token, last, changes, true)))
                        }
                    };
                    let Some(viewer) = allowed else {
                        let gone: async_graphql::Error = ApiError::NotFound.into();
                        return Some((Err(gone), (state, token, last, changes, true)));
                    };
                    let now = tasks::by_id(&state.db, viewer.account, task).await.ok()?;
                    if now != last {
                        last = now.clone();
                        if let Some(record) = now {
                            return Some((
                                Ok(Task::from(record)),
                                (state, token, last, changes, false),
                            ));
                        }
                    }
                }
            },
        ))
    }
}

/// The state, the session token and the viewer a subscription starts with.
async fn follower(ctx: &Context<'_>) -> Result<(AppState, String, Viewer), ApiError> {
    let auth = auth(ctx);
    let (Some(token), Some(viewer)) = (auth.token.clone(), auth.viewer.clone()) else {
        return Err(ApiError::Unauthenticated);
    };
    Ok((state(ctx).clone(), token, viewer))
}

/// The viewer the token stands for now: none once they may no longer log in.
async fn current_viewer(state: &AppState, token: &str) -> Result<Option<Viewer>, ApiError> {
    Ok(state.viewer(token).await?)
}

/// Returns when the read models move, or after [`RECHECK`].
async fn wait(changes: &mut watch::Receiver<LogPosition>) {
    let _ = tokio::time::timeout(RECHECK, changes.changed()).await;
}

/// `GET /graphql/ws`: the WebSocket endpoint. The session comes from the upgrade
/// request (cookie or `Authorization`) or from `connection_init`'s `{"token": …}`.
pub async fn handle(
    State(app): State<Shared>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let from_headers = session::session_token(&headers);
    let schema = app.schema.clone();
    let state = app.state.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let token = payload
                        .get("token")
                        .and_then(|t| t.as_str())
                        .map(str::to_owned)
                        .or(from_headers);
                    let viewer = match &token {
                        Some(token) => state.viewer(token).await.map_err(ApiError::from)?,
                        None => None,
                    };
                    let mut data = Data::default();
                    data.insert(RequestAuth { viewer, token });
                    Ok(data)
                })
                .serve()
        })
}
