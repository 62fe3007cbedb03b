//! Inviting many addresses in one request (issue 14, aim 3), on PostgreSQL and SQLite.
//!
//!     cargo bench -p gateway --bench invitations
//!
//! The real gateway (`Application::build`, as `extranet serve` starts it, every setting
//! at its default) on a fresh database of the PostgreSQL server at
//! `EXTRANET_BENCH_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! then on a fresh SQLite file; an account on the professional plan (no user limit)
//! made by `create-account`, its administrator logged in. For each size, one
//! `invitePeople` request invites that many new addresses as extranet users into a new
//! extranet group, as an administrator pasting a supplier list would, and the time
//! from sending it to the whole answer is measured. The answer must hold one result
//! per address, each an invitation and no error, all invitations distinct; the account's
//! `seatsInUse` must have grown by exactly the number invited; and the administrator's
//! invitations list, read page by page, must hold every one.
//!
//! Beside each figure: the bench process's peak resident memory during that request
//! (the gateway runs in it; the client's share is the request and its answer), read from
//! `/proc/self/status` after resetting the peak through `/proc/self/clear_refs`.
//!
//! Settings (environment): `EXTRANET_BENCH_INVITES` the sizes, comma-separated
//! (`1000,10000`); `EXTRANET_BENCH_STORES` which stores (`postgres,sqlite`). A request
//! takes at most 256 KiB, about 12,000 addresses of this length.
//! `EXTRANET_BENCH_EVENTS` (issue 14, aim 6; none by default): sizes of the PostgreSQL
//! log, such as `10000,100000,1000000`, at each of which every size is invited again,
//! once the log is grown to it by copying a template story of a group and a task
//! (`support::growth`) and every follower has applied it.

mod support;

use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use support::growth::Growth;
use support::{Client, Store, Workspace};

const INVITE: &str = "mutation($input: InvitePeopleInput!) {
  invitePeople(input: $input) {
    workgroup { id }
    results { address invitation { id } error { code message } }
    userErrors { code message }
  }
}";

const SEATS: &str = "{ account { seatsInUse } }";

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("build the tokio runtime");
    runtime.block_on(run());
    runtime.shutdown_timeout(Duration::from_secs(5));
}

/// One measured request.
struct Measured {
    store: &'static str,
    addresses: usize,
    took: Duration,
    peak_kib: Option<u64>,
    /// The log's size, when it was grown before the request.
    events: Option<i64>,
}

async fn run() {
    support::log_warnings();
    let sizes: Vec<usize> = support::env_list("EXTRANET_BENCH_INVITES", "1000,10000");
    let stores =
        std::env::var("EXTRANET_BENCH_STORES").unwrap_or_else(|_| "postgres,sqlite".into());
    let server = std::env::var("EXTRANET_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    println!(
        "sizes {sizes:?}; {} cores",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    let mut rows = Vec::new();
    for name in stores.split(',').map(str::trim) {
        let store = match name {
            "postgres" => Store::postgres(&server).await,
            "sqlite" => Store::Sqlite,
            other => panic!("EXTRANET_BENCH_STORES: unknown store {other:?}"),
        };
        let workspace = Workspace::start(store).await;
        let mut growth = Growth::of(&workspace).await;
        let mut log_sizes: Vec<Option<i64>> = match growth {
            Some(_) => support::env_list("EXTRANET_BENCH_EVENTS", "")
                .into_iter()
                .map(Some)
                .collect(),
            None => Vec::new(),
        };
        if log_sizes.is_empty() {
            log_sizes.push(None);
        }
        let mut round = 0;
        for log_size in log_sizes {
            let mut events = None;
            if let (Some(growth), Some(log_size)) = (&mut growth, log_size) {
                events = Some(growth.grow_to(log_size).await);
                workspace.caught_up().await;
            }
            for &size in &sizes {
                let mut measured = invite(&workspace, round, size).await;
                measured.events = events;
                rows.push(measured);
                round += 1;
            }
        }
        workspace.remove().await;
    }
    println!();
    println!("| store | events in the log | addresses in one request | seconds | addresses/s | peak memory |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for m in &rows {
        println!(
            "| {} | {} | {} | {:.2} | {:.0} | {} |",
            m.store,
            m.events
                .map_or("as made".to_owned(), |events| events.to_string()),
            m.addresses,
            m.took.as_secs_f64(),
            m.addresses as f64 / m.took.as_secs_f64(),
            m.peak_kib
                .map_or("?".to_owned(), |kib| format!("{} MiB", kib / 1024)),
        );
    }
}

/// Invites `size` new addresses in one request, then checks the answer, the seats and
/// the invitations list.
async fn invite(workspace: &Workspace, round: usize, size: usize) -> Measured {
    let client = Client::new(workspace.address);
    let admin = Some(("authorization", workspace.admin.as_str()));
    let addresses: Vec<String> = (0..size)
        .map(|n| format!("s{round}-{n}@supplier{}.test", n % 50))
        .collect();
    let seats_before = seats(&client, admin).await;
    let variables = json!({ "input": {
        "addresses": addresses.join("\n"),
        "kind": "EXTRANET",
        "newWorkgroupName": format!("Suppliers, round {round}"),
    }});
    support::reset_peak_memory();
    let sent = Instant::now();
    let response = client.try_graphql(admin, INVITE, variables).await;
    let took = sent.elapsed();
    let peak_kib = support::peak_memory_kib();
    assert!(
        support::succeeded(&response),
        "the request failed: {}",
        short(&response)
    );
    let results = response["data"]["invitePeople"]["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {}", short(&response)));
    assert_eq!(results.len(), size, "one result per address");
    let mut invitations = HashSet::new();
    for (result, address) in results.iter().zip(&addresses) {
        assert_eq!(
            result["address"],
            json!(address),
            "results in the order given"
        );
        let id = result
            .pointer("/invitation/id")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{address} was not invited: {result}"));
        assert!(invitations.insert(id.to_owned()), "{id} given twice");
    }
    let seats_after = seats(&client, admin).await;
    assert_eq!(
        seats_after,
        seats_before + size as u64,
        "every invitation took one place"
    );
    // The invitations list (the read models) holds every one of them.
    let listed = listed_invitations(&client, admin).await;
    let missing = invitations.difference(&listed).count();
    assert_eq!(missing, 0, "{missing} invitations missing from the list");
    println!(
        "{}: {size} addresses in {:.2} s",
        workspace.store.name(),
        took.as_secs_f64()
    );
    Measured {
        store: workspace.store.name(),
        addresses: size,
        took,
        peak_kib,
        events: None,
    }
}

/// Every invitation the administrator's list shows, page by page.
async fn listed_invitations(client: &Client, admin: Option<(&str, &str)>) -> HashSet<String> {
    let mut listed = HashSet::new();
    let mut after: Option<String> = None;
    loop {
        let page = client
            .graphql(
                admin,
                "query($after: String) { invitations(first: 100, after: $after) {
                   nodes { id } pageInfo { hasNextPage endCursor } } }",
                json!({ "after": after }),
            )
            .await;
        let connection = &page["data"]["invitations"];
        for node in connection["nodes"].as_array().into_iter().flatten() {
            listed.insert(node["id"].as_str().unwrap_or_default().to_owned());
        }
        if connection.pointer("/pageInfo/hasNextPage") != Some(&json!(true)) {
            return listed;
        }
        after = connection
            .pointer("/pageInfo/endCursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
}

async fn seats(client: &Client, admin: Option<(&str, &str)>) -> u64 {
    let response = client.graphql(admin, SEATS, json!({})).await;
    response
        .pointer("/data/account/seatsInUse")
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no seatsInUse: {response}"))
}

/// The start of a response, enough to see what went wrong without 10,000 results.
fn short(response: &Value) -> String {
    let text = response.to_string();
    text.chars().take(2000).collect()
}
