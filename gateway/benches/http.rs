//! Throughput of a guest's `task` query over HTTP, side by side with a plain axum
//! handler in the same run (issue 6).
//!
//!     cargo bench -p gateway --bench http
//!
//! The real gateway (`Application::build`, the same composition root as
//! `extranet serve`) starts in this process on a fresh data directory with the
//! embedded SQLite store. Its workspace is made the way people make it: an account and
//! its administrator (`create-account`), then through the HTTP API the administrator
//! logs in, creates a task and invites a guest; the guest's invitation email is read
//! from the outbox folder, its link opened and the form submitted, which gives the
//! guest a real `extranet_session` cookie. One request checks that the guest sees the
//! task; then `wrk` POSTs `{ task(id: "…") { id title } }` with that cookie. Every
//! request runs the query: the session read, the permission check, the task's row and
//! the engine. Each store is measured twice: alone, and while the administrator
//! renames the task, so that mutations share the cores.
//!
//! The plain handler is an axum route in the same process and the same tokio runtime,
//! on its own port, that reads the request body and answers the gateway's own response
//! bytes. A third server shows what the GraphQL engine costs by itself: async-graphql
//! on axum resolving the same query to the same answer from constants, once parsing
//! every request's text and once with each text's parse kept, as the gateway does.
//! All are driven
//! by the same `wrk` command (same request, cookie included) over HTTP/1.1 keep-alive on
//! loopback, one after the other, each after a short warm-up. `wrk`'s Lua script checks
//! every response (status 200 and the task's title in the body); the bench fails if any
//! request failed.
//!
//! Settings (environment):
//! - `EXTRANET_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres` also
//!   measures the gateway on PostgreSQL: the bench creates a database of its own on
//!   that server and drops it at the end;
//! - `EXTRANET_BENCH_DURATION` seconds per measured run (10), `EXTRANET_BENCH_WARMUP`
//!   seconds of warm-up before each (2);
//! - `EXTRANET_BENCH_CONNECTIONS` (64) and `EXTRANET_BENCH_THREADS` (2): `wrk`'s
//!   connections and threads;
//! - `EXTRANET_BENCH_WORKERS`: tokio worker threads of the servers (one per core);
//! - `EXTRANET_BENCH_CHANGES_PER_SEC` (10): how often the administrator renames the
//!   task during one more run of each gateway (0: no such run);
//! - `EXTRANET_BENCH_EVENTS` (issue 14, aim 6): sizes of the PostgreSQL gateway's log,
//!   such as `10000,100000,1000000`, each measured once the log is grown to it by
//!   copying a template story of a group and a task (`support::growth`; the guest is
//!   in none of the copies) and every follower has applied it, with the bench
//!   process's peak memory during the run; none by default (the log as the workspace
//!   left it).
//!
//! Needs `wrk` on the PATH (Debian: `apt-get install wrk`).

use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::growth::Growth;
use support::{
    env_list, env_number, field, invitation_link, Client, Store, Workspace, SESSION_COOKIE,
};

mod support;

const TASK_TITLE: &str = "Print the catalogue";
const GUEST_EMAIL: &str = "gus@client.test";
const GUEST_PASSWORD: &str = "gus's own long passphrase";

fn main() {
    // `cargo bench` passes `--bench`; a filter or `--list` from cargo's harness
    // conventions means nothing here.
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    let wrk = Wrk::from_env();
    if let Err(message) = wrk.check_installed() {
        eprintln!("{message}");
        std::process::exit(2);
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = env_number("EXTRANET_BENCH_WORKERS") {
        runtime.worker_threads(workers as usize);
    }
    let runtime = runtime
        .enable_all()
        .build()
        .expect("build the tokio runtime");
    let (gateways, failed) = runtime.block_on(run(wrk));
    // The gateways' projectors and senders stop with their runtime, before their
    // PostgreSQL databases are dropped under them.
    runtime.shutdown_timeout(Duration::from_secs(5));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a runtime to clean up")
        .block_on(async {
            for gateway in gateways {
                gateway.remove().await;
            }
        });
    if failed {
        std::process::exit(1);
    }
}

/// Measures every server; returns the gateways, to be removed once they have stopped,
/// and whether any request failed.
async fn run(wrk: Wrk) -> (Vec<Gateway>, bool) {
    support::log_warnings();
    let mut gateways = vec![Gateway::start(Store::Sqlite).await];
    if let Ok(server) = std::env::var("EXTRANET_BENCH_DATABASE_URL") {
        gateways.push(Gateway::start(Store::postgres(&server).await).await);
    }
    // Every gateway answered the same bytes (ids aside, same length); the plain
    // handler answers the first one's.
    let plain = start_plain(gateways[0].answer.clone()).await;
    let bare_graphql = start_bare_graphql(false).await;
    let kept_graphql = start_bare_graphql(true).await;

    println!(
        "wrk: {} connections, {} threads, {} s per run after {} s of warm-up; {} cores",
        wrk.connections,
        wrk.threads,
        wrk.duration.as_secs(),
        wrk.warmup.as_secs(),
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    let mut results = Vec::new();
    // The same request everywhere, cookie included.
    let plain_script = wrk.script(
        &gateways[0].data_dir,
        &gateways[0].body,
        &gateways[0].cookie(),
    );
    results.push(wrk.measure("plain axum handler", plain, &plain_script));
    results.push(wrk.measure(
        "async-graphql alone, same query",
        bare_graphql,
        &plain_script,
    ));
    results.push(wrk.measure(
        "async-graphql alone, parsed query kept",
        kept_graphql,
        &plain_script,
    ));
    let changes_per_second = env_number("EXTRANET_BENCH_CHANGES_PER_SEC").unwrap_or(10);
    for gateway in &mut gateways {
        let script = wrk.script(&gateway.data_dir, &gateway.body, &gateway.cookie());
        let store = gateway.store;
        let name = format!("gateway, guest's task ({store})");
        results.push(wrk.measure(&name, gateway.address, &script));
        if let Some(growth) = &mut gateway.growth {
            for size in env_list::<i64>("EXTRANET_BENCH_EVENTS", "") {
                let events = growth.grow_to(size).await;
                gateway.workspace.caught_up().await;
                // The permission index follows the log on the request path: the first
                // request after the growth brings it up, however long that takes.
                let client = Client::new(gateway.address);
                let first = std::time::Instant::now();
                while guest_answer(&client, &gateway.session, &gateway.body).await
                    != Some(gateway.answer.clone())
                {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                println!(
                    "log at {events} events: the guest's first answer after the growth took {:.2} s",
                    first.elapsed().as_secs_f64()
                );
                support::reset_peak_memory();
                let mut measured = wrk.measure(
                    &format!("{name}, log at {events} events"),
                    gateway.address,
                    &script,
                );
                let peak = support::peak_memory_kib().map_or(0, |kib| kib / 1024);
                measured.name = format!("{}, peak {peak} MiB", measured.name);
                results.push(measured);
            }
        }
        if changes_per_second > 0 {
            // The same, while the administrator renames the task all along: the
            // mutations and their projection share the cores with the queries.
            let renaming = tokio::spawn(
                gateway.rename_task_every(Duration::from_secs(1) / changes_per_second as u32),
            );
            let name = format!(
                "gateway, guest's task ({store}), renamed {changes_per_second} times a second"
            );
            results.push(wrk.measure(&name, gateway.address, &script));
            renaming.abort();
        }
    }

    print_table(&results);
    let mut failed = false;
    for result in results.iter().filter(|r| r.failures() > 0) {
        eprintln!(
            "FAILED: {}: {} responses not 200, {} without the task, {} socket errors",
            result.name, result.not_ok, result.wrong_body, result.socket_errors
        );
        failed = true;
    }
    (gateways, failed)
}

// ---------------------------------------------------------------------------------------
// The gateway and its workspace

/// The real gateway serving a workspace in which a guest has accepted an invitation
/// into one task.
struct Gateway {
    workspace: Workspace,
    store: &'static str,
    address: SocketAddr,
    data_dir: PathBuf,
    /// The guest's session token, as the acceptance page set it in a cookie.
    session: String,
    /// The guest's task.
    task: String,
    /// The GraphQL request `wrk` sends.
    body: String,
    /// The gateway's answer to it.
    answer: Bytes,
    /// On PostgreSQL, how its log is grown.
    growth: Option<Growth>,
}

impl Gateway {
    async fn start(store: Store) -> Gateway {
        let workspace = Workspace::start(store).await;
        let client = Client::new(workspace.address);
        // The template is told before the guest's task exists, so that no copy of it
        // holds the guest.
        let growth = Growth::of(&workspace).await;
        let task = workspace.create_task(TASK_TITLE).await;
        let invited = client
            .graphql(
                Some(("authorization", &workspace.admin)),
                "mutation($input: InviteGuestToTaskInput!) {
                    inviteGuestToTask(input: $input) { invitation { id } userErrors { message } }
                }",
                json!({ "input": {
                    "taskId": task, "email": GUEST_EMAIL,
                    "firstName": "Gus", "lastName": "Guest", "role": "OBSERVER",
                }}),
            )
            .await;
        field(&invited, "/data/inviteGuestToTask/invitation/id");

        let link = invitation_link(&workspace.settings.outbox_dir()).await;
        let session = client.accept(&link, GUEST_PASSWORD).await;

        let body =
            json!({ "query": format!(r#"{{ task(id: "{task}") {{ id title }} }}"#) }).to_string();
        let answer = guest_query(&client, &session, &body).await;
        let parsed: Value = serde_json::from_slice(&answer).expect("the answer is JSON");
        assert_eq!(
            parsed,
            json!({ "data": { "task": { "id": task, "title": TASK_TITLE } } }),
            "the guest sees the task they were invited into"
        );
        let address = workspace.address;
        println!(
            "gateway ({}) at http://{address}: guest session, task {task}; request {} bytes, answer {} bytes",
            workspace.store.name(),
            body.len(),
            answer.len()
        );
        Gateway {
            store: workspace.store.name(),
            address,
            data_dir: workspace.data_dir.clone(),
            session,
            task,
            body,
            answer,
            workspace,
            growth,
        }
    }

    /// Renames the task every `period`, for ever: "Print the catalogue, edition N",
    /// which still holds the title `wrk`'s script looks for.
    fn rename_task_every(&self, period: Duration) -> impl Future<Output = ()> + 'static {
        let client = Client::new(self.address);
        let (admin, task) = (self.workspace.admin.clone(), self.task.clone());
        async move {
            let mut ticks = tokio::time::interval(period);
            for edition in 1.. {
                ticks.tick().await;
                client
                    .graphql(
                        Some(("authorization", &admin)),
                        "mutation($input: UpdateTaskInput!) { updateTask(input: $input) { task { id } userErrors { message } } }",
                        json!({ "input": { "taskId": task, "title": format!("{TASK_TITLE}, edition {edition}") } }),
                    )
                    .await;
            }
        }
    }

    /// The `Cookie` header a browser of the guest sends.
    fn cookie(&self) -> String {
        format!("{SESSION_COOKIE}={}", self.session)
    }

    /// Removes the data directory and a PostgreSQL database the bench made.
    async fn remove(self) {
        self.workspace.remove().await;
    }
}

/// The answer to the guest's query if it was a 200; `None` otherwise (a refusal while
/// the service catches up, a timeout).
async fn guest_answer(client: &Client, session: &str, body: &str) -> Option<Bytes> {
    let response = client
        .http()
        .post(format!("{}/graphql", client.base()))
        .header("content-type", "application/json")
        .header("cookie", format!("{SESSION_COOKIE}={session}"))
        .body(body.to_owned())
        .send()
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    response.bytes().await.ok()
}

/// What `wrk` will send, once: the whole answer, which must be a 200.
async fn guest_query(client: &Client, session: &str, body: &str) -> Bytes {
    guest_answer(client, session, body)
        .await
        .expect("the guest's query answers 200")
}

// ---------------------------------------------------------------------------------------
// The plain handler

/// An axum server in this process whose one route reads the request and answers
/// `answer`, as fast as axum goes.
async fn start_plain(answer: Bytes) -> SocketAddr {
    let router = Router::new().route(
        "/graphql",
        post(move |_request: Bytes| {
            let answer = answer.clone();
            async move { ([(CONTENT_TYPE, "application/json")], answer) }
        }),
    );
    serve(router).await
}

/// The GraphQL engine without the gateway: async-graphql on axum, as the gateway mounts
/// it, resolving the same query to the same answer from constants. It shows what the
/// engine costs by itself, apart from sessions, permissions and the store.
/// async-graphql resolving the query from constants; with `keep_parsed`, each text's
/// parse kept as the gateway keeps it (`gateway::graphql::ParsedDocuments`).
async fn start_bare_graphql(keep_parsed: bool) -> SocketAddr {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SimpleObject, ID};
    use async_graphql_axum::{GraphQLRequest, GraphQLResponse};

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
                title: TASK_TITLE.to_owned(),
            }
        }
    }
    let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
    let documents = gateway::graphql::ParsedDocuments::default();
    let router = Router::new().route(
        "/graphql",
        post(move |request: GraphQLRequest| {
            let schema = schema.clone();
            let documents = documents.clone();
            async move {
                let mut request = request.into_inner();
                if keep_parsed {
                    request = documents.prepare(request);
                }
                GraphQLResponse::from(schema.execute(request).await)
            }
        }),
    );
    serve(router).await
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a comparison server");
    let address = listener
        .local_addr()
        .expect("a comparison server's address");
    tokio::spawn(async move {
        axum::serve(listener, router)
            .await
            .expect("serve a comparison server");
    });
    address
}

// ---------------------------------------------------------------------------------------
// wrk

struct Wrk {
    connections: u64,
    threads: u64,
    duration: Duration,
    warmup: Duration,
}

/// One measured run, read from what the script's `done` printed.
struct Measured {
    name: String,
    requests: u64,
    seconds: f64,
    p50_us: f64,
    p99_us: f64,
    not_ok: u64,
    wrong_body: u64,
    socket_errors: u64,
    /// CPU time the servers' process used during the run.
    cpu: Option<Duration>,
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    /// Server CPU time per request, in microseconds: less sensitive than requests/s to
    /// whatever else the machine runs at the same time.
    fn cpu_per_request_us(&self) -> Option<f64> {
        self.cpu
            .map(|cpu| cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64)
    }

    fn failures(&self) -> u64 {
        self.not_ok + self.wrong_body + self.socket_errors
    }
}

impl Wrk {
    fn from_env() -> Wrk {
        Wrk {
            connections: env_number("EXTRANET_BENCH_CONNECTIONS").unwrap_or(64),
            threads: env_number("EXTRANET_BENCH_THREADS").unwrap_or(2),
            duration: Duration::from_secs(env_number("EXTRANET_BENCH_DURATION").unwrap_or(10)),
            warmup: Duration::from_secs(env_number("EXTRANET_BENCH_WARMUP").unwrap_or(2)),
        }
    }

    fn check_installed(&self) -> Result<(), String> {
        match Command::new("wrk").arg("--version").output() {
            Ok(_) => Ok(()),
            Err(error) => Err(format!(
                "this bench drives the servers with `wrk`, which is not on the PATH ({error}).\n\
                 Install it: `apt-get install wrk` (Debian, Ubuntu), `brew install wrk` (macOS),\n\
                 or build it from https://github.com/wg/wrk."
            )),
        }
    }

    /// Writes the Lua script that POSTs `body` with `cookie`, checks every answer
    /// (status 200 and the task's title in it) and prints its findings in `done`.
    fn script(&self, dir: &Path, body: &str, cookie: &str) -> PathBuf {
        let path = dir.join(format!("wrk-{}.lua", uuid::Uuid::new_v4().simple()));
        let lua_string = |s: &str| format!("{s:?}");
        let script = format!(
            r#"wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = {cookie}
local threads = {{}}
function setup(thread)
  table.insert(threads, thread)
end
not_ok = 0
wrong_body = 0
function response(status, headers, body)
  if status ~= 200 then
    not_ok = not_ok + 1
  elseif not string.find(body, {title}, 1, true) then
    wrong_body = wrong_body + 1
  end
end
function done(summary, latency, requests)
  local not_ok, wrong_body = 0, 0
  for _, thread in ipairs(threads) do
    not_ok = not_ok + thread:get("not_ok")
    wrong_body = wrong_body + thread:get("wrong_body")
  end
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%.1f p99_us=%.1f not_ok=%d wrong_body=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    not_ok, wrong_body, e.connect + e.read + e.write + e.timeout))
end
"#,
            body = lua_string(body),
            cookie = lua_string(cookie),
            title = lua_string(TASK_TITLE),
        );
        std::fs::write(&path, script).expect("write the wrk script");
        path
    }

    fn run(&self, address: SocketAddr, script: &Path, duration: Duration) -> String {
        let output = Command::new("wrk")
            .arg("--latency")
            .args(["-t", &self.threads.to_string()])
            .args(["-c", &self.connections.to_string()])
            .args(["-d", &format!("{}s", duration.as_secs().max(1))])
            .arg("-s")
            .arg(script)
            .arg(format!("http://{address}/graphql"))
            .output()
            .expect("run wrk");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "wrk failed ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// A warm-up run, then the measured one; prints wrk's own report of the latter.
    /// wrk runs on a blocking thread, so the servers keep every tokio worker.
    fn measure(&self, name: &str, address: SocketAddr, script: &Path) -> Measured {
        let (report, cpu) = tokio::task::block_in_place(|| {
            if !self.warmup.is_zero() {
                self.run(address, script, self.warmup);
            }
            let before = process_cpu();
            let report = self.run(address, script, self.duration);
            (
                report,
                process_cpu()
                    .zip(before)
                    .map(|(after, before)| after - before),
            )
        });
        println!("\n== {name} (http://{address}/graphql)");
        print!("{report}");
        let line = report
            .lines()
            .find_map(|line| line.strip_prefix("RESULT "))
            .unwrap_or_else(|| panic!("wrk printed no RESULT line:\n{report}"));
        let value = |key: &str| -> f64 {
            line.split_whitespace()
                .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
                .and_then(|value| value.parse().ok())
                .unwrap_or_else(|| panic!("no {key} in wrk's RESULT line: {line}"))
        };
        Measured {
            name: name.to_owned(),
            requests: value("requests") as u64,
            seconds: value("duration_us") / 1e6,
            p50_us: value("p50_us"),
            p99_us: value("p99_us"),
            not_ok: value("not_ok") as u64,
            wrong_body: value("wrong_body") as u64,
            socket_errors: value("socket_errors") as u64,
            cpu,
        }
    }
}

/// CPU time this process (every server in it, not `wrk`) has used so far, from
/// `/proc/self/stat` on Linux (in clock ticks, 100 a second); `None` elsewhere.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses: utime and stime are
    // the 14th and 15th fields of the line, so the 12th and 13th of these.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn print_table(results: &[Measured]) {
    let plain = results[0].per_second();
    println!("\n| server | requests/s | p50 | p99 | × plain | server CPU per request |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for result in results {
        let cpu = result
            .cpu_per_request_us()
            .map_or_else(|| "n/a".to_owned(), |us| format!("{us:.1} µs"));
        println!(
            "| {} | {} | {:.2} ms | {:.2} ms | {:.2} | {cpu} |",
            result.name,
            thousands(result.per_second()),
            result.p50_us / 1000.0,
            result.p99_us / 1000.0,
            result.per_second() / plain,
        );
    }
    println!();
}

/// `12345.6` as `12,346`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
