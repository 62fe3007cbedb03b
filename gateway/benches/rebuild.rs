//! Catching up after downtime and rebuilding every projection (issue 14, aims 4 and 6),
//! on PostgreSQL, beside `COPY` of the same rows in the same run.
//!
//!     cargo bench -p gateway --bench rebuild
//!
//! The real binary (`extranet`, built with the bench) on a fresh database of the
//! PostgreSQL server at `EXTRANET_BENCH_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). `create-account` makes the account;
//! `serve` runs while its administrator, over GraphQL, creates an extranet workgroup and
//! a task in it and comments on, renames and moves the task on, as people do. Those
//! events are the template: the log is grown from them to each size by copying them in
//! SQL with every task and workgroup id replaced by a new one, as many tasks and groups
//! with the same story, so the events are the ones commands write and every
//! projection has real work in each.
//!
//! For each size (`EXTRANET_BENCH_EVENTS`, default `10000,100000,1000000` events in the
//! log), with `serve` stopped while the log grows, as after downtime:
//!
//! 1. `serve` is started: the time until it answers `/healthz` (it listens), until
//!    `/readyz` answers 200 (its read models have caught up with what was added), and
//!    until every follower's checkpoint (history, activity, notifier, reactor) is at
//!    the end of the log;
//! 2. `serve` is stopped and `extranet rebuild` replays the whole log into every
//!    projection and switches over; its time, and the count of tasks in the rebuilt
//!    read model, which must be one per task in the log;
//! 3. the anchor: `COPY (SELECT * FROM events ORDER BY tx_id, global_position) TO STDOUT`
//!    read to the end over one connection, the same rows in log order.
//!
//! `EXTRANET_BENCH_REBUILD_BATCH`, if set, is the rebuild's `--batch-size`.
//!
//! Each process's peak resident memory is read from `/proc/<pid>/status` while it
//! runs.

mod support;

use serde_json::json;
use sqlx::{Connection, PgConnection};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::growth::{count_events, make_template, Template};
use support::{Client, Store, ADMIN_EMAIL, ADMIN_PASSWORD};

/// How long a started `serve` may take to listen or to be ready before the bench
/// gives up.
const START_TIMEOUT: Duration = Duration::from_secs(1800);

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("build the tokio runtime");
    runtime.block_on(run());
}

struct Row {
    events: i64,
    copy: Duration,
    caught_up: i64,
    listened: Duration,
    ready: Duration,
    /// Until every follower's checkpoint (history, activity, notifier, reactor too)
    /// reached the end of the log.
    all_followers: Duration,
    serve_peak_kib: u64,
    rebuild: Duration,
    rebuild_peak_kib: u64,
}

async fn run() {
    support::log_warnings();
    let sizes: Vec<i64> = support::env_list("EXTRANET_BENCH_EVENTS", "10000,100000,1000000");
    let server = std::env::var("EXTRANET_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let store = Store::postgres(&server).await;
    let data_dir = std::env::temp_dir().join(format!("extranet-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&data_dir).expect("create the bench's data directory");
    let binary = Binary {
        database_url: store.url(&data_dir),
        data_dir: data_dir.display().to_string(),
    };
    println!(
        "sizes {sizes:?}; {} cores",
        std::thread::available_parallelism().map_or(0, usize::from)
    );

    let account = binary.create_account();
    let (mut serve, address) = binary.serve();
    wait_until_ready(address).await;
    let client = Client::new(address);
    let login = client
        .graphql(
            None,
            "mutation($input: LoginInput!) { login(input: $input) { token userErrors { message } } }",
            json!({ "input": { "accountId": account, "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD } }),
        )
        .await;
    let admin = format!("Bearer {}", support::field(&login, "/data/login/token"));
    make_template(&client, &admin).await;
    binary.stop(&mut serve);

    let mut db = PgConnection::connect(&binary.database_url)
        .await
        .expect("connect to the bench's database");
    let template = Template::of(&mut db).await;
    let checkpoints = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&binary.database_url)
        .await
        .expect("connect to read the checkpoints");
    println!(
        "template: {} events, {} tasks",
        template.events, template.tasks
    );
    let mut rows = Vec::new();
    for &size in &sizes {
        let before = count_events(&mut db).await;
        let grown = Instant::now();
        template.grow_to(&mut db, size).await;
        let events = count_events(&mut db).await;
        println!(
            "log grown from {before} to {events} events in {:.1} s",
            grown.elapsed().as_secs_f64()
        );

        let started = Instant::now();
        let (mut serve, address) = binary.serve();
        let mut peak = Peak::default();
        wait_for(&mut peak, &serve, || healthz(address)).await;
        let listened = started.elapsed();
        wait_for(&mut peak, &serve, || readyz(address)).await;
        let ready = started.elapsed();
        wait_for(&mut peak, &serve, || {
            every_follower_at_the_end(&checkpoints)
        })
        .await;
        let all_followers = started.elapsed();
        peak.sample(&serve);
        binary.stop(&mut serve);
        println!(
            "serve listened after {:.2} s, ready after {:.2} s, every follower at the end after {:.2} s",
            listened.as_secs_f64(),
            ready.as_secs_f64(),
            all_followers.as_secs_f64()
        );

        let started = Instant::now();
        let rebuild_peak = binary.rebuild();
        let rebuild = started.elapsed();
        let tasks: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks")
            .fetch_one(&mut db)
            .await
            .expect("count the rebuilt tasks");
        let in_log: i64 =
            sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'TaskCreated'")
                .fetch_one(&mut db)
                .await
                .expect("count the tasks in the log");
        assert_eq!(
            tasks, in_log,
            "the rebuilt read model has every task of the log"
        );

        let copy = copy_out(&mut db).await;
        rows.push(Row {
            events,
            copy,
            caught_up: events - before,
            listened,
            ready,
            all_followers,
            serve_peak_kib: peak.kib,
            rebuild,
            rebuild_peak_kib: rebuild_peak,
        });
    }
    drop(db);

    println!();
    println!("| events in the log | `COPY` in log order | rebuild, every projection | rebuild ÷ `COPY` | rebuild peak memory |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    for r in &rows {
        let copy_rate = r.events as f64 / r.copy.as_secs_f64();
        let rebuild_rate = r.events as f64 / r.rebuild.as_secs_f64();
        println!(
            "| {} | {:.2} s ({:.0} events/s) | {:.2} s ({:.0} events/s) | {:.3} | {} MiB |",
            r.events,
            r.copy.as_secs_f64(),
            copy_rate,
            r.rebuild.as_secs_f64(),
            rebuild_rate,
            rebuild_rate / copy_rate,
            r.rebuild_peak_kib / 1024,
        );
    }
    println!();
    println!("| events in the log | added while stopped | `serve` listens after | ready after | catch-up events/s | ÷ `COPY` | every follower at the end after | events/s | ÷ `COPY` | `serve` peak memory |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &rows {
        let copy_rate = r.events as f64 / r.copy.as_secs_f64();
        let catch_up_rate = r.caught_up as f64 / r.ready.as_secs_f64();
        let all_rate = r.caught_up as f64 / r.all_followers.as_secs_f64();
        println!(
            "| {} | {} | {:.2} s | {:.2} s | {:.0} | {:.3} | {:.2} s | {:.0} | {:.3} | {} MiB |",
            r.events,
            r.caught_up,
            r.listened.as_secs_f64(),
            r.ready.as_secs_f64(),
            catch_up_rate,
            catch_up_rate / copy_rate,
            r.all_followers.as_secs_f64(),
            all_rate,
            all_rate / copy_rate,
            r.serve_peak_kib / 1024,
        );
    }
    let _ = std::fs::remove_dir_all(&data_dir);
    if let Store::Postgres { admin_url, name } = &store {
        if let Ok(mut connection) = PgConnection::connect(admin_url).await {
            let _ = sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
                .execute(&mut connection)
                .await;
        }
    }
}

/// The `extranet` binary on the bench's database.
struct Binary {
    database_url: String,
    data_dir: String,
}

impl Binary {
    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_extranet"));
        command
            .args(["--mode", "production", "--data-dir", &self.data_dir])
            .args(["--database-url", &self.database_url])
            .env("RUST_LOG", "warn");
        command
    }

    /// Runs `create-account` and returns the account's id as the API names it.
    fn create_account(&self) -> String {
        let output = self
            .command()
            .args(["create-account", "--name", "Acme", "--plan", "professional"])
            .args(["--admin-email", ADMIN_EMAIL])
            .args(["--admin-first-name", "Ada", "--admin-last-name", "Admin"])
            .env("EXTRANET_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdin(Stdio::null())
            .output()
            .expect("run create-account");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "create-account failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
            .lines()
            .find_map(|line| line.strip_prefix("account ").map(str::to_owned))
            .unwrap_or_else(|| panic!("create-account printed no account: {stdout}"))
    }

    /// Starts `serve` on a free port of loopback.
    fn serve(&self) -> (Child, std::net::SocketAddr) {
        let address = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("find a free port");
        let child = self
            .command()
            .args(["--listen", &address.to_string(), "serve"])
            .stdin(Stdio::null())
            .spawn()
            .expect("start serve");
        (child, address)
    }

    /// Stops `serve` as a service manager does, with SIGTERM, and waits for it.
    fn stop(&self, child: &mut Child) {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = child.wait().expect("wait for serve");
        assert!(status.success(), "serve ended with {status}");
    }

    /// Runs `rebuild` to the end; returns its peak memory in KiB.
    fn rebuild(&self) -> u64 {
        let mut command = self.command();
        command.arg("rebuild");
        if let Ok(batch) = std::env::var("EXTRANET_BENCH_REBUILD_BATCH") {
            command.args(["--batch-size", &batch]);
        }
        let mut child = command
            // Each projection's replay and the switch, timed (on stderr).
            .env("RUST_LOG", "warn,projections::rebuild=info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start rebuild");
        let mut peak = Peak::default();
        let status = loop {
            peak.sample(&child);
            if let Some(status) = child.try_wait().expect("wait for rebuild") {
                break status;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut said = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            use std::io::Read;
            let _ = stdout.read_to_string(&mut said);
        }
        assert!(status.success(), "rebuild failed: {said}");
        println!("{}", said.trim());
        peak.kib
    }
}

/// The highest resident memory seen of a process.
#[derive(Default)]
struct Peak {
    kib: u64,
}

impl Peak {
    fn sample(&mut self, child: &Child) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()));
        let hwm = status.ok().and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        });
        self.kib = self.kib.max(hwm.unwrap_or(0));
    }
}

/// Polls `probe` until it holds, sampling the process's memory meanwhile.
async fn wait_for<F, Fut>(peak: &mut Peak, child: &Child, probe: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + START_TIMEOUT;
    while !probe().await {
        peak.sample(child);
        assert!(Instant::now() < deadline, "serve did not get there in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn healthz(address: std::net::SocketAddr) -> bool {
    Client::new(address).answers("/healthz").await
}

async fn readyz(address: std::net::SocketAddr) -> bool {
    Client::new(address).is_ready().await
}

/// Whether every follower's checkpoint is at the last event of the log.
async fn every_follower_at_the_end(db: &sqlx::PgPool) -> bool {
    let behind: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM checkpoints c
          WHERE (c.tx, c.position) < (SELECT tx_id::text::bigint, global_position FROM events
                                       ORDER BY tx_id DESC, global_position DESC LIMIT 1)",
    )
    .fetch_one(db)
    .await
    .expect("read the checkpoints");
    behind == 0
}

async fn wait_until_ready(address: std::net::SocketAddr) {
    let deadline = Instant::now() + START_TIMEOUT;
    while !readyz(address).await {
        assert!(Instant::now() < deadline, "serve did not become ready");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Reads the whole log in its order through `COPY … TO STDOUT`; returns the time.
async fn copy_out(db: &mut PgConnection) -> Duration {
    use futures_util::TryStreamExt;
    let started = Instant::now();
    let mut stream = db
        .copy_out_raw("COPY (SELECT * FROM events ORDER BY tx_id, global_position) TO STDOUT")
        .await
        .expect("start COPY");
    let mut bytes = 0usize;
    while let Some(chunk) = stream.try_next().await.expect("read COPY") {
        bytes += chunk.len();
    }
    let took = started.elapsed();
    println!(
        "COPY read {:.1} MB in {:.2} s",
        bytes as f64 / 1e6,
        took.as_secs_f64()
    );
    took
}
