//! What async-graphql itself spends on a guest's `task` query, step by step, on one
//! thread: reading the JSON body, parsing the query text, and validating, running and
//! serializing it from the text or from a parsed document kept from before (what
//! `gateway/src/graphql/parsed.rs` does). No HTTP, store or permission.
//!
//!     cargo run --release -p gateway --example engine_costs

use async_graphql::{
    EmptyMutation, EmptySubscription, Object, Request, Schema, SimpleObject, ValidationMode, ID,
};
use std::time::Instant;

const ROUNDS: u32 = 200_000;
const BODY: &str =
    r#"{"query":"{ task(id: \"5b0c9a4e-3f1e-4a53-9d0e-8b1f2b3c4d5e\") { id title } }"}"#;

struct Query;

#[derive(SimpleObject)]
struct Task {
    id: ID,
    title: String,
}

#[Object]
impl Query {
    async fn task(&self, id: ID) -> Task {
        Task {
            id,
            title: "Print the catalogue".into(),
        }
    }
}

fn per_round(name: &str, started: Instant) {
    let micros = started.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
    println!("{name:<44} {micros:>6.2} µs");
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let schema = |mode| {
        Schema::build(Query, EmptyMutation, EmptySubscription)
            .limit_depth(12)
            .limit_complexity(500)
            .validation_mode(mode)
            .finish()
    };
    let strict = schema(ValidationMode::Strict);
    let fast = schema(ValidationMode::Fast);

    let started = Instant::now();
    for _ in 0..ROUNDS {
        let request: async_graphql::BatchRequest = serde_json::from_str(BODY).expect("json");
        std::hint::black_box(request);
    }
    per_round("JSON body to a request", started);

    let request: Request = serde_json::from_str(BODY).expect("json");
    let started = Instant::now();
    for _ in 0..ROUNDS {
        std::hint::black_box(async_graphql::parser::parse_query(&request.query).expect("parse"));
    }
    per_round("parse the query text", started);

    let document = async_graphql::parser::parse_query(&request.query).expect("parse");
    let started = Instant::now();
    for _ in 0..ROUNDS {
        std::hint::black_box(document.clone());
    }
    per_round("clone a parsed document", started);

    runtime.block_on(async {
        for (name, schema, kept) in [
            ("validate+run+serialize, from text", &strict, false),
            ("validate+run+serialize, parsed kept", &strict, true),
            ("fast validation, from text", &fast, false),
            ("fast validation, parsed kept", &fast, true),
        ] {
            let started = Instant::now();
            for _ in 0..ROUNDS {
                let mut next = Request::new(request.query.clone());
                if kept {
                    next.set_parsed_query(document.clone());
                }
                let response = schema.execute(next).await;
                std::hint::black_box(serde_json::to_vec(&response).expect("serialize"));
            }
            per_round(name, started);
        }
    });
}
