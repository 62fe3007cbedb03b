//! Commands over HTTP on PostgreSQL (issue 14), beside what PostgreSQL itself does with
//! the same clients in the same run.
//!
//!     cargo bench -p gateway --bench commands
//!
//! The real gateway (`Application::build`, as `extranet serve` starts it, every setting
//! at its default) on a fresh database of the PostgreSQL server at
//! `EXTRANET_BENCH_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! an account and its administrator made by `create-account`, the administrator logged
//! in, and one task per connection. Then, for each number of connections (8, then 1),
//! every connection sends `commentOnTask` on its own task, one after another, each
//! request waiting for the answer before the next; every answer must be a 200 with the
//! task and no error. The client runs on a thread of its own with its own runtime
//! (HTTP/1.1 keep-alive over loopback), as `wrk` would; the server keeps the others.
//!
//! The anchor, in the same run against the same server: `pgbench` with as many
//! clients, each transaction inserting one row of about 230 bytes into a copy of the
//! events table (its columns, defaults, identity and indexes), so what the database
//! does for one command's event alone.
//!
//! Both are measured with the log grown to each size of `EXTRANET_BENCH_EVENTS`
//! (`10000,100000,1000000` events; issue 14, aim 6) by copying a template story of a
//! group and a task in SQL (`support::growth`), once every follower has applied it;
//! a size the log already holds measures it as it is (`0`: no growth). Peak memory is
//! the bench process's (the gateway runs in it) while each size is measured.
//!
//! Then issue 14's aim 2: one connection commenting on a task with 10,000 earlier
//! comments (`EXTRANET_BENCH_HISTORY`), beside one on a new task, in the same run:
//! once every follower has applied the seeding (`/metrics` shows no lag), in
//! alternating rounds (`EXTRANET_BENCH_ROUNDS`, 3) that share the run's duration.
//!
//! Settings (environment): `EXTRANET_BENCH_DURATION` seconds per measured run (10),
//! `EXTRANET_BENCH_WARMUP` seconds of warm-up before each (2), and
//! `EXTRANET_BENCH_CONNECTIONS` the connection counts of the first part (`8,1`). Needs
//! `pgbench` on the PATH (Debian: `postgresql-client`).

mod support;

use serde_json::{json, Value};
use sqlx::Connection;
use std::process::Command;
use std::time::{Duration, Instant};
use support::growth::Growth;
use support::{env_list, env_number, Client, Store, Workspace};

const COMMENT: &str = "mutation($input: CommentOnTaskInput!) {
  commentOnTask(input: $input) { task { id } userErrors { code message } }
}";

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    if let Err(error) = Command::new("pgbench").arg("--version").output() {
        eprintln!("this bench's anchor is `pgbench`, which is not on the PATH ({error})");
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("build the tokio runtime");
    let workspace = runtime.block_on(run());
    runtime.shutdown_timeout(Duration::from_secs(5));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a runtime to clean up")
        .block_on(workspace.remove());
}

struct Run {
    duration: Duration,
    warmup: Duration,
}

/// One measured run of the gateway.
struct Measured {
    connections: usize,
    commands: usize,
    seconds: f64,
    p50: Duration,
    p99: Duration,
    /// The machine's CPU time per command.
    cpu: Duration,
}

async fn run() -> Workspace {
    support::log_warnings();
    let server = std::env::var("EXTRANET_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let workspace = Workspace::start(Store::postgres(&server).await).await;
    let database_url = workspace.store.url(&workspace.data_dir);
    let run = Run {
        duration: Duration::from_secs(env_number("EXTRANET_BENCH_DURATION").unwrap_or(10)),
        warmup: Duration::from_secs(env_number("EXTRANET_BENCH_WARMUP").unwrap_or(2)),
    };
    let mut growth = Growth::of(&workspace)
        .await
        .expect("the commands bench runs on PostgreSQL");
    let mut tasks = Vec::new();
    for n in 0..8 {
        tasks.push(workspace.create_task(&format!("Task {n}")).await);
    }
    println!(
        "{} s per run after {} s of warm-up; {} cores",
        run.duration.as_secs(),
        run.warmup.as_secs(),
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    let anchor_table = make_anchor_table(&database_url).await;
    let mut rows = Vec::new();
    for size in env_list::<i64>("EXTRANET_BENCH_EVENTS", "10000,100000,1000000") {
        let grown = Instant::now();
        let events = growth.grow_to(size).await;
        workspace.caught_up().await;
        println!(
            "log at {events} events, followers caught up, in {:.1} s",
            grown.elapsed().as_secs_f64()
        );
        support::reset_peak_memory();
        for connections in env_list::<usize>("EXTRANET_BENCH_CONNECTIONS", "8,1") {
            let measured = measure(&workspace, &tasks[..connections], &run).await;
            let anchor = pgbench(&database_url, &anchor_table, connections, &run);
            rows.push((events, measured, anchor, support::peak_memory_kib()));
        }
    }
    let history = env_number("EXTRANET_BENCH_HISTORY").unwrap_or(10_000);
    let long = workspace.create_task("A long history").await;
    let fresh = workspace.create_task("A new task").await;
    let seeding = Instant::now();
    seed(&workspace, &long, history).await;
    println!(
        "{history} comments on one task in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    // Measured once every follower has applied the seeding, in alternating rounds, so
    // that neither task pays alone for the seeding's aftermath (a follower's backlog,
    // autovacuum, a checkpoint) or profits alone from a warmer machine.
    workspace.caught_up().await;
    let rounds = env_number("EXTRANET_BENCH_ROUNDS").unwrap_or(3).max(1) as u32;
    let round = Run {
        duration: run.duration / rounds,
        warmup: run.warmup / rounds,
    };
    let (mut on_long, mut on_fresh) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        on_fresh.push(sample(&workspace, std::slice::from_ref(&fresh), &round).await);
        on_long.push(sample(&workspace, std::slice::from_ref(&long), &round).await);
    }
    let (on_long, on_fresh) = (Measured::of(1, on_long), Measured::of(1, on_fresh));
    println!();
    println!("| events in the log | connections | gateway commands/s | p50 | p99 | machine CPU per command | pgbench one-row inserts/s | its CPU per insert | gateway ÷ pgbench | peak memory |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (events, m, (anchor, anchor_cpu), peak) in &rows {
        let rate = m.commands as f64 / m.seconds;
        println!(
            "| {events} | {} | {:.0} | {:.2} ms | {:.2} ms | {:.0} µs | {:.0} | {:.0} µs | {:.3} | {} MiB |",
            m.connections,
            rate,
            m.p50.as_secs_f64() * 1e3,
            m.p99.as_secs_f64() * 1e3,
            m.cpu.as_secs_f64() * 1e6,
            anchor,
            anchor_cpu.as_secs_f64() * 1e6,
            rate / anchor,
            peak.map_or(0, |kib| kib / 1024)
        );
    }
    println!();
    println!("| task | events before | commands/s | p50 | p99 |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, before, m) in [("new", 1, &on_fresh), ("long", history + 1, &on_long)] {
        println!(
            "| {name} | {before} | {:.0} | {:.2} ms | {:.2} ms |",
            m.commands as f64 / m.seconds,
            m.p50.as_secs_f64() * 1e3,
            m.p99.as_secs_f64() * 1e3,
        );
    }
    println!(
        "long ÷ new: p50 {:.2}, p99 {:.2}",
        on_long.p50.as_secs_f64() / on_fresh.p50.as_secs_f64(),
        on_long.p99.as_secs_f64() / on_fresh.p99.as_secs_f64(),
    );
    workspace
}

/// Puts `comments` comments on `task`, one after another: from several connections
/// at once, some lose the race for the task more often than the bus retries.
async fn seed(workspace: &Workspace, task: &str, comments: u64) {
    let client = Client::new(workspace.address);
    for n in 0..comments {
        let variables =
            json!({ "input": { "taskId": task, "text": format!("Earlier note {n}.") } });
        let response: Value = client
            .try_graphql(
                Some(("authorization", &workspace.admin)),
                COMMENT,
                variables,
            )
            .await;
        assert!(support::succeeded(&response), "seeding failed: {response}");
    }
}

/// Every request's latency in one measured run, and how long the run took.
struct Sample {
    latencies: Vec<Duration>,
    elapsed: Duration,
    /// CPU time the whole machine spent meanwhile (gateway, PostgreSQL, client).
    busy: Duration,
}

impl Measured {
    /// The runs' requests taken together.
    fn of(connections: usize, samples: Vec<Sample>) -> Measured {
        let seconds = samples.iter().map(|s| s.elapsed.as_secs_f64()).sum();
        let busy: Duration = samples.iter().map(|s| s.busy).sum();
        let mut latencies: Vec<Duration> = samples.into_iter().flat_map(|s| s.latencies).collect();
        latencies.sort();
        let at = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize];
        Measured {
            connections,
            commands: latencies.len(),
            seconds,
            p50: at(0.50),
            p99: at(0.99),
            cpu: busy / latencies.len().max(1) as u32,
        }
    }
}

async fn measure(workspace: &Workspace, tasks: &[String], run: &Run) -> Measured {
    Measured::of(tasks.len(), vec![sample(workspace, tasks, run).await])
}

/// Sends comments from `tasks.len()` connections, one task each, for the warm-up and
/// then the measured run, on a thread and a runtime of the client's own.
async fn sample(workspace: &Workspace, tasks: &[String], run: &Run) -> Sample {
    let address = workspace.address;
    let admin = workspace.admin.clone();
    let tasks = tasks.to_vec();
    let (warmup, duration) = (run.warmup, run.duration);
    let (latencies, elapsed, busy) = tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build the client's runtime")
            .block_on(async move {
                let send = |deadline: Instant| {
                    let tasks = tasks.clone();
                    let admin = admin.clone();
                    async move {
                        let senders = tasks.into_iter().map(|task| {
                            let client = Client::new(address);
                            let admin = admin.clone();
                            async move { comment_until(&client, &admin, &task, deadline).await }
                        });
                        futures_util::future::join_all(senders).await.concat()
                    }
                };
                send(Instant::now() + warmup).await;
                let started = Instant::now();
                let busy_before = machine_busy();
                let latencies = send(started + duration).await;
                (latencies, started.elapsed(), machine_busy() - busy_before)
            })
    })
    .await
    .expect("the client's thread");
    Sample {
        latencies,
        elapsed,
        busy,
    }
}

/// CPU time every core has spent busy since boot, from the first line of `/proc/stat`
/// (every state but idle and iowait; clock ticks of 10 ms); zero where there is none.
fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    let busy: u64 = ticks
        .iter()
        .enumerate()
        .filter(|(state, _)| *state != 3 && *state != 4)
        .map(|(_, t)| t)
        .sum();
    Duration::from_millis(busy * 10)
}

/// Comments on `task` one request after another until `deadline`; each answer is
/// checked. Returns each request's latency.
async fn comment_until(
    client: &Client,
    admin: &str,
    task: &str,
    deadline: Instant,
) -> Vec<Duration> {
    let mut latencies = Vec::new();
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        let variables = json!({ "input": { "taskId": task, "text": format!("Proofs checked, round {n}: page 3 needs a new photo.") } });
        let sent = Instant::now();
        let response: Value = client
            .try_graphql(Some(("authorization", admin)), COMMENT, variables)
            .await;
        latencies.push(sent.elapsed());
        assert!(
            support::succeeded(&response)
                && response.pointer("/data/commentOnTask/task/id") == Some(&json!(task)),
            "a comment failed: {response}"
        );
    }
    latencies
}

/// A copy of the events table (columns, defaults, identity, indexes) for pgbench to
/// insert into; returns its name.
async fn make_anchor_table(database_url: &str) -> String {
    let mut connection = sqlx::PgConnection::connect(database_url)
        .await
        .expect("connect to the bench's database");
    sqlx::query("CREATE TABLE anchor_events (LIKE events INCLUDING ALL)")
        .execute(&mut connection)
        .await
        .expect("copy the events table");
    "anchor_events".to_owned()
}

/// pgbench's transactions per second with `clients` clients, each transaction one
/// insert of about 230 bytes into `table`, and the machine's CPU time per insert.
fn pgbench(database_url: &str, table: &str, clients: usize, run: &Run) -> (f64, Duration) {
    let script = std::env::temp_dir().join(format!(
        "extranet-bench-{}.sql",
        uuid::Uuid::new_v4().simple()
    ));
    // An event as a comment stores it: the aggregate's key, a sequence, the payload and
    // the metadata (about 230 bytes in all). The key is drawn from 10^15 so that two
    // transactions of a run (some 10^5) practically never collide on the primary key:
    // from 10^9, a few did in every run, and a failed transaction ends pgbench.
    std::fs::write(
        &script,
        format!(
            "\\set n random(1, 1000000000000000)\n\
             INSERT INTO {table} (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
             VALUES ('task', '0f8e2c1a-5b7d-4e6f-9a3b-2c1d0e9f8a7b:' || :n, :n, 'TaskCommented', '1', \
             '{{\"TaskCommented\":{{\"author\":\"8c1b2a3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\",\"text\":\"Proofs checked: page 3 needs a new photo.\"}}}}', \
             '{{\"at\":\"1700000000000\",\"actor\":\"8c1b2a3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\"}}');\n"
        ),
    )
    .expect("write pgbench's script");
    let threads = clients.min(2).to_string();
    let clients = clients.to_string();
    let seconds = |d: Duration| d.as_secs().max(1).to_string();
    let run_pgbench = |duration: Duration| {
        let output = Command::new("pgbench")
            .args([
                "-n",
                "-c",
                &clients,
                "-j",
                &threads,
                "-T",
                &seconds(duration),
                "-f",
            ])
            .arg(&script)
            .arg(database_url)
            .output()
            .expect("run pgbench");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "pgbench failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        text
    };
    run_pgbench(run.warmup);
    let busy_before = machine_busy();
    let text = run_pgbench(run.duration);
    let busy = machine_busy() - busy_before;
    let _ = std::fs::remove_file(&script);
    let tps: f64 = text
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix("tps = ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no tps in pgbench's output: {text}"));
    let per_insert = busy.as_secs_f64() / (tps * run.duration.as_secs_f64()).max(1.0);
    (tps, Duration::from_secs_f64(per_insert))
}
