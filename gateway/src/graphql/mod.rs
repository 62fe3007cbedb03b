//! The GraphQL API: one schema, served at `/graphql`.

mod account;
mod activity;
mod context;
mod direct_add;
mod engine_errors;
mod error;
pub mod global_id;
mod invitation;
mod mutation;
mod node;
mod page;
mod parsed;
mod people;
mod posted;
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
use async_graphql_axum::GraphQLResponse;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use projections::StoreError;

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
///
/// Every GraphQL error carries a stable `extensions.code`. From resolvers:
/// `UNAUTHENTICATED` (log in first), `NOT_FOUND` (also what is not the viewer's to
/// see), `FORBIDDEN`, `BAD_USER_INPUT` (also an argument the engine could not coerce,
/// such as a `DateTime` that is not RFC 3339), `INTERNAL`, `UNAVAILABLE` (the service
/// cannot be sure who may see what right now; HTTP 503 with `Retry-After`),
/// `READ_MODELS_STALLED` and `NOT_YET_IN_FORCE` (a change is stored but not yet shown
/// or in force; do not send it again). Before any field runs:
/// `GRAPHQL_PARSE_FAILED` (the text is not GraphQL), `GRAPHQL_VALIDATION_FAILED` (not
/// valid against this schema or its variables), `QUERY_TOO_DEEP` (fields nested more
/// than 12 deep, or selections more than 32), `QUERY_TOO_COMPLEX` (costs more than
/// 500: a field 1, a list its `first` times each item), `TOO_MANY_FIELDS` (more than
/// 1000 fields with fragments spread), `OPERATION_RESOLUTION_FAILURE` (no operation
/// to run: an unknown `operationName`, several operations and none named, or a
/// subscription over HTTP instead of `/graphql/ws`). Refusing the HTTP request
/// itself, with status 400: `BAD_REQUEST` (not a GraphQL request in JSON, or an empty
/// batch) and `BATCH_TOO_LARGE`.
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

/// The schema without its data, for printing the SDL. Deep, costly or large
/// operations are refused before they run, and every error the engine raises itself
/// is given its code (`engine_errors.rs`).
pub fn schema_builder() -> async_graphql::SchemaBuilder<Query, Mutation, subscription::Subscription>
{
    Schema::build(
        Query::default(),
        Mutation::default(),
        subscription::Subscription,
    )
    .extension(engine_errors::ErrorCodes::default())
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
    request: axum::extract::Request,
) -> Response {
    let token = auth::session_token(request.headers());
    let viewer = match &token {
        // A session that cannot be read is no reason to answer as if nobody had
        // logged in: the client is told to try again, with the code that says why.
        Some(token) => match app.state.viewer(token).await {
            Ok(viewer) => viewer,
            Err(error) => return session_unreadable(error),
        },
        None => None,
    };
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => return unreadable(error),
    };
    let request = match posted::read(&parts.headers, &body) {
        Ok(request) => request,
        Err(refused) => return refused.into_response(),
    };
    let operations = match &request {
        BatchRequest::Single(_) => 1,
        BatchRequest::Batch(requests) => requests.len(),
    };
    if operations > MAX_BATCH {
        return batch_too_large(operations);
    }
    let auth = RequestAuth { viewer, token };
    let response = match request {
        BatchRequest::Single(request) => {
            let request = app.documents.prepare(request).data(auth).data(client);
            let response = app.schema.execute(request).await;
            if error::any_unavailable(&response.errors) {
                return unavailable(BatchResponse::Single(response));
            }
            BatchResponse::Single(response)
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
    let refused = match &response {
        BatchResponse::Single(one) => error::any_unavailable(&one.errors),
        BatchResponse::Batch(all) => all.iter().any(|one| error::any_unavailable(&one.errors)),
    };
    if refused {
        return unavailable(response);
    }
    GraphQLResponse::from(response).into_response()
}

/// The answer with status 503 and `Retry-After`: a permission check was refused
/// because what it answers from is stale (`UNAVAILABLE`).
fn unavailable(response: BatchResponse) -> Response {
    let mut answer = GraphQLResponse::from(response).into_response();
    *answer.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    answer.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(error::RETRY_AFTER_SECS),
    );
    answer
}

/// The session could not be read: `UNAVAILABLE` while the read models are known to be
/// stale, `INTERNAL` when the store failed; a 503 with `Retry-After` either way, since
/// both pass.
fn session_unreadable(error: StoreError) -> Response {
    let mut error = async_graphql::Error::from(ApiError::from(error))
        .into_server_error(async_graphql::Pos::default());
    // About the request, not a place in its document.
    error.locations.clear();
    let response = async_graphql::Response::from_errors(vec![error]);
    unavailable(BatchResponse::Single(response))
}

/// A body that could not be read: too long (the body limit cut it off mid-stream, as
/// it refuses a declared length up front with the same 413), or broken off.
fn unreadable(error: axum::Error) -> Response {
    let too_large = std::iter::successors(
        Some(&error as &(dyn std::error::Error + 'static)),
        |error| error.source(),
    )
    .any(|error| error.is::<http_body_util::LengthLimitError>());
    if too_large {
        StatusCode::PAYLOAD_TOO_LARGE.into_response()
    } else {
        tracing::info!(%error, "a request's body could not be read");
        StatusCode::BAD_REQUEST.into_response()
    }
}

fn batch_too_large(operations: usize) -> Response {
    posted::refusal(
        StatusCode::BAD_REQUEST,
        "BATCH_TOO_LARGE",
        format!(
            "a batch may hold at most {MAX_BATCH} operations and this one holds \
             {operations}; nothing was run. Send them in several requests."
        ),
    )
}

/// GraphiQL, for developers only: [`crate::app`] does not route GET /graphql here in
/// production.
pub async fn graphiql() -> impl IntoResponse {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
}
