//! The GraphQL API: one schema, served at `/graphql`.

mod account;
mod activity;
mod context;
mod direct_add;
mod error;
pub mod global_id;
mod invitation;
mod mutation;
mod node;
mod page;
mod parsed;
mod people;
mod query;
mod refusal;
mod registration;
mod session;
pub mod subscription;
mod types;
mod workgroup;

pub use context::RequestAuth;
pub use error::ApiError;
pub use parsed::ParsedDocuments;

use crate::auth;
use crate::config::Mode;
use crate::rate_limit::{ClientIp, RateLimiter};
use crate::state::AppState;
use async_graphql::http::GraphiQLSource;
use async_graphql::{BatchRequest, BatchResponse, MergedObject, Schema};
use async_graphql_axum::{GraphQLBatchRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;

/// Every mutation, grouped by what it changes.
#[derive(MergedObject, Default)]
pub struct Mutation(
    session::SessionMutation,
    registration::RegistrationMutation,
    mutation::TaskMutation,
    people::PeopleMutation,
    invitation::InvitationMutation,
    direct_add::DirectAddMutation,
    account::AccountMutation,
    workgroup::WorkgroupMutation,
);

/// Every query, grouped by what it reads.
#[derive(MergedObject, Default)]
pub struct Query(
    query::TaskQuery,
    node::NodeQuery,
    people::PeopleQuery,
    invitation::InvitationQuery,
    activity::ActivityQuery,
    account::AccountQuery,
    registration::RegistrationQuery,
    workgroup::WorkgroupQuery,
);

pub type ExtranetSchema = Schema<Query, Mutation, subscription::Subscription>;

/// What resolvers need of the site beyond the state: where people reach it, for the
/// links it hands out, and the counts of attempts to get in.
#[derive(Clone)]
pub struct Site {
    pub public_url: String,
    pub limiter: RateLimiter,
}

/// Deep or wide queries are refused before they run.
const MAX_DEPTH: usize = 12;
const MAX_COMPLEXITY: usize = 500;

/// The schema without its data, for printing the SDL.
pub fn schema_builder() -> async_graphql::SchemaBuilder<Query, Mutation, subscription::Subscription>
{
    Schema::build(
        Query::default(),
        Mutation::default(),
        subscription::Subscription,
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
}

pub fn sdl() -> String {
    schema_builder().finish().sdl()
}

/// The served schema. In production nobody explores it live: introspection and
/// "did you mean" suggestions (which leak field names to someone guessing) are off,
/// and clients build against the published `schema.graphql`.
pub fn schema(state: AppState, mode: Mode, site: Site) -> ExtranetSchema {
    let builder = schema_builder().data(state).data(site);
    match mode {
        Mode::Development => builder.finish(),
        Mode::Production => builder
            .disable_introspection()
            .disable_suggestions()
            .finish(),
    }
}

/// At most this many operations in one JSON batch. Each operation is already bounded
/// (depth, complexity); this bounds how many one request may carry, so a request costs
/// at most ten ordinary ones. Clients that batch (Apollo's batch link) send a handful.
pub const MAX_BATCH: usize = 10;

/// A single operation or a batch of at most [`MAX_BATCH`]. A larger batch is refused
/// whole, before any of it runs.
pub async fn handle(
    State(app): State<crate::app::Shared>,
    client: ClientIp,
    headers: HeaderMap,
    request: GraphQLBatchRequest,
) -> Response {
    let request = request.into_inner();
    let operations = match &request {
        BatchRequest::Single(_) => 1,
        BatchRequest::Batch(requests) => requests.len(),
    };
    if operations > MAX_BATCH {
        return batch_too_large(operations);
    }
    let token = auth::session_token(&headers);
    let viewer = match &token {
        Some(token) => match app.state.viewer(token).await {
            Ok(viewer) => viewer,
            Err(error) => {
                tracing::error!(%error, "session lookup failed");
                None
            }
        },
        None => None,
    };
    let auth = RequestAuth { viewer, token };
    let response = match request {
        BatchRequest::Single(request) => {
            let request = app.documents.prepare(request).data(auth).data(client);
            BatchResponse::Single(app.schema.execute(request).await)
        }
        // One after another, as if sent in separate requests: async-graphql's
        // `execute_batch` would run them all at once, so the mutations of a batch would
        // interleave and one request would weigh as many concurrent ones.
        BatchRequest::Batch(requests) => {
            let mut responses = Vec::with_capacity(requests.len());
            for request in requests {
                let request = app
                    .documents
                    .prepare(request)
                    .data(auth.clone())
                    .data(client);
                responses.push(app.schema.execute(request).await);
            }
            BatchResponse::Batch(responses)
        }
    };
    GraphQLResponse::from(response).into_response()
}

/// 400 with a body shaped as a GraphQL response, so a client reads it as it reads any
/// other error.
fn batch_too_large(operations: usize) -> Response {
    let body = serde_json::json!({
        "errors": [{
            "message": format!(
                "a batch may hold at most {MAX_BATCH} operations and this one holds \
                 {operations}; nothing was run. Send them in several requests."
            ),
            "extensions": { "code": "BATCH_TOO_LARGE" },
        }]
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// GraphiQL, for developers only: [`crate::app`] does not route GET /graphql here in
/// production.
pub async fn graphiql() -> impl IntoResponse {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
}
