//! The GraphQL API: one schema, served at `/graphql`.

mod context;
mod error;
mod mutation;
mod people;
mod query;
mod refusal;
mod types;
mod workgroup;

pub use context::RequestAuth;
pub use error::ApiError;

use crate::auth;
use crate::state::AppState;
use async_graphql::http::GraphiQLSource;
use async_graphql::{EmptySubscription, MergedObject, Schema};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse};

/// Every mutation, grouped by what it changes.
#[derive(MergedObject, Default)]
pub struct Mutation(
    mutation::TaskMutation,
    people::PeopleMutation,
    workgroup::WorkgroupMutation,
);

pub type ExtranetSchema = Schema<query::Query, Mutation, EmptySubscription>;

/// Deep or wide queries are refused before they run.
const MAX_DEPTH: usize = 12;
const MAX_COMPLEXITY: usize = 500;

/// The schema without its data, for printing the SDL.
pub fn schema_builder() -> async_graphql::SchemaBuilder<query::Query, Mutation, EmptySubscription> {
    Schema::build(query::Query, Mutation::default(), EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
}

pub fn sdl() -> String {
    schema_builder().finish().sdl()
}

pub fn schema(state: AppState) -> ExtranetSchema {
    schema_builder().data(state).finish()
}

/// One operation per request: `GraphQLRequest` refuses a JSON batch, which
/// async-graphql-axum would otherwise run whole, however long.
pub async fn handle(
    State(app): State<crate::app::Shared>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse {
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
    let request = request.into_inner().data(RequestAuth { viewer, token });
    app.schema.execute(request).await.into()
}

pub async fn graphiql() -> impl IntoResponse {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
}
