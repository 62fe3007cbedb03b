//! Starting the real binary on its own database and data directory, and talking to it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use crate::mail::SmtpSink;

/// The name of the cookie that carries a browser session.
pub const SESSION_COOKIE: &str = "extranet_session";

/// How long `serve` may take to print that it listens (migrations included).
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `create-account` may take (password hashing included).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a graceful stop may take: requests in flight, the projector and the notifier
/// finish, then the store closes.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Where the PostgreSQL tests create their databases, unless `EXTRANET_TEST_POSTGRES_URL`.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The storage the binary runs on: SQLite for the embedded edition, PostgreSQL for
/// production. Every test gets a fresh one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database made for one test.
enum Database {
    Sqlite {
        url: String,
    },
    Postgres {
        url: String,
        admin_url: String,
        name: String,
    },
}

impl Database {
    async fn create(backend: Backend, data_dir: &Path) -> Database {
        match backend {
            Backend::Sqlite => Database::Sqlite {
                url: format!("sqlite://{}", data_dir.join("extranet.db").display()),
            },
            Backend::Postgres => {
                let admin_url = std::env::var("EXTRANET_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
                let name = format!("extranet_test_{}", uuid::Uuid::new_v4().simple());
                let mut connection = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .unwrap_or_else(|error| {
                        panic!("connect to PostgreSQL at {admin_url} to create a test database: {error}")
                    });
                sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
                    .execute(&mut connection)
                    .await
                    .expect("create the test database");
                let url = database_url(&admin_url, &name);
                Database::Postgres {
                    url,
                    admin_url,
                    name,
                }
            }
        }
    }

    fn url(&self) -> &str {
        match self {
            Database::Sqlite { url } | Database::Postgres { url, .. } => url,
        }
    }

    fn postgres(&self) -> Option<PostgresDatabase<'_>> {
        match self {
            Database::Sqlite { .. } => None,
            Database::Postgres {
                url,
                admin_url,
                name,
            } => Some(PostgresDatabase {
                url,
                admin_url,
                name,
            }),
        }
    }

    /// Drops a PostgreSQL database; called from `Drop`, so it runs on its own runtime
    /// and thread rather than inside the test's (possibly single-threaded) one.
    fn drop_best_effort(&self) {
        let Database::Postgres {
            admin_url, name, ..
        } = self
        else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        let dropping = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut connection) = sqlx::PgConnection::connect(&admin_url).await {
                    // FORCE: the killed binary's connections may not have closed yet.
                    let _ =
                        sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
                            .execute(&mut connection)
                            .await;
                }
            });
        });
        let _ = dropping.join();
    }
}

/// `admin_url` with its database (the last path segment) replaced by `name`.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin_url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |at| at + 3);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    format!("{server}/{name}{query}")
}

/// A test's PostgreSQL database, for a test that acts on it from outside the binary
/// (locks a table, refuses connections) as an operator or an outage would.
#[derive(Debug, Clone, Copy)]
pub struct PostgresDatabase<'a> {
    /// The binary's own `EXTRANET_DATABASE_URL`.
    pub url: &'a str,
    /// A database of the same server to connect to while this one refuses connections.
    pub admin_url: &'a str,
    /// The database's name.
    pub name: &'a str,
}

/// Who a request is made as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// No credentials at all.
    Anonymous,
    /// `Authorization: Bearer <token>`, as an API client sends.
    Bearer(String),
    /// The `extranet_session` cookie, as a browser sends.
    Session(String),
}

/// A response read whole, with the headers a test looks at.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub set_cookies: Vec<String>,
    pub location: Option<String>,
    pub body: String,
}

impl HttpResponse {
    async fn read(response: reqwest::Response) -> HttpResponse {
        let status = response.status();
        let header = |name: reqwest::header::HeaderName| -> Vec<String> {
            response
                .headers()
                .get_all(name)
                .iter()
                .filter_map(|value| value.to_str().ok().map(str::to_owned))
                .collect()
        };
        let set_cookies = header(reqwest::header::SET_COOKIE);
        let location = header(reqwest::header::LOCATION).into_iter().next();
        let headers = response.headers().clone();
        let body = response.text().await.expect("read the response body");
        HttpResponse {
            status,
            headers,
            set_cookies,
            location,
            body,
        }
    }

    /// The first value of header `name`, if it has one that is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The whole `Set-Cookie` header that sets cookie `name`, if any.
    pub fn set_cookie_header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}=");
        self.set_cookies
            .iter()
            .map(String::as_str)
            .find(|cookie| cookie.trim_start().starts_with(&prefix))
    }

    /// The value that cookie `name` is set to, if this response sets it.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let header = self.set_cookie_header(name)?;
        let pair = header.split(';').next()?.trim();
        pair.split_once('=').map(|(_, value)| value.to_owned())
    }
}

/// The `extranet` binary serving on a free port, with one account and its administrator
/// created through the command line. Dropping it kills the process.
///
/// It can be stopped, crashed and started again: what survives is what survives in
/// production, its data directory and its database.
pub struct App {
    /// `http://127.0.0.1:<port>`, as the binary announced it.
    pub base_url: String,
    /// The account's id as the API takes it (`login`'s `accountId`), as
    /// `create-account` printed it.
    pub account_id: String,
    /// The account as the paths of its links name it: `/register/{this}`,
    /// `/password-reset/{this}`, `/invitations/{this}/…`.
    pub account_in_links: String,
    /// The administrator's person id as the API gives it out (`viewer { id }`), as
    /// `create-account` printed it: the binary's own encoding, so comparing it with
    /// what GraphQL answers is meaningful.
    pub admin_id: String,
    pub admin_email: String,
    pub admin_password: String,
    /// This test's `EXTRANET_DATA_DIR`; the binary's log is `extranet.log` in it.
    pub data_dir: PathBuf,
    client: reqwest::Client,
    child: Child,
    database: Database,
    binary: PathBuf,
    smtp_url: String,
    /// Settings this test gives the binary on top of the harness's, kept across restarts.
    settings: Vec<(String, String)>,
}

impl App {
    /// Creates an account named "Acme" with administrator Ada Admin, then starts `serve`
    /// and waits until it is ready (or names a stall a test's failpoint caused).
    pub async fn spawn(backend: Backend, smtp: &SmtpSink) -> App {
        Self::spawn_on_plan(backend, smtp, "trial").await
    }

    /// Like [`App::spawn`], with the account on `plan` (trial, free, standard or
    /// professional).
    pub async fn spawn_on_plan(backend: Backend, smtp: &SmtpSink, plan: &str) -> App {
        Self::spawn_with(backend, smtp, plan, &[]).await
    }

    /// Like [`App::spawn`], with extra environment `settings` for every run of the
    /// binary, such as `("EXTRANET_MODE", "production")`.
    pub async fn spawn_with_settings(
        backend: Backend,
        smtp: &SmtpSink,
        settings: &[(&str, &str)],
    ) -> App {
        Self::spawn_with(backend, smtp, "trial", settings).await
    }

    /// Like [`App::spawn`], with the account on `plan` and extra environment
    /// `settings` for every run of the binary.
    pub async fn spawn_with(
        backend: Backend,
        smtp: &SmtpSink,
        plan: &str,
        settings: &[(&str, &str)],
    ) -> App {
        let settings: Vec<(String, String)> = settings
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        // Looked up first, so a missing binary leaves no directory or database behind.
        let binary = binary();
        let data_dir = std::env::temp_dir().join(format!("extranet-e2e-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&data_dir).expect("create the test's data directory");
        let database = Database::create(backend, &data_dir).await;
        let admin_email = "admin@acme.test".to_owned();
        let admin_password = "correct horse battery staple".to_owned();

        let created = run_with_timeout(
            extranet(&binary, &data_dir, &database, &smtp.url(), &settings)
                .args(["create-account", "--name", "Acme", "--plan", plan])
                .args(["--admin-email", &admin_email])
                .args(["--admin-first-name", "Ada", "--admin-last-name", "Admin"])
                .env("EXTRANET_ADMIN_PASSWORD", &admin_password),
        )
        .await;
        let stdout = String::from_utf8_lossy(&created.stdout);
        let printed = |label: &str| -> String {
            stdout
                .lines()
                .find_map(|line| line.strip_prefix(label)?.strip_prefix(' '))
                .map(|id| id.trim().to_owned())
                .unwrap_or_else(|| {
                    panic!("create-account printed no `{label} <id>` line:\n{stdout}")
                })
        };
        let account_id = printed("account");
        let admin_id = printed("administrator");
        let account_in_links = printed("account-in-links");

        let (child, base_url) = serve(
            &binary,
            &data_dir,
            &database,
            &smtp.url(),
            &settings,
            "127.0.0.1:0",
        )
        .await;

        let app = App {
            base_url,
            account_id,
            account_in_links,
            admin_id,
            admin_email,
            admin_password,
            data_dir,
            client: http_client(),
            child,
            database,
            binary,
            smtp_url: smtp.url(),
            settings,
        };
        // `serve` listens before its read models have applied the account just made;
        // a new workspace is ready moments later, unless a test's failpoint stalls it.
        app.readiness_until("ready after start", |status, body| {
            status == 200 || body["stalled"].as_array().is_some_and(|s| !s.is_empty())
        })
        .await;
        app
    }

    /// Stops the binary as a service manager does, with SIGTERM, and waits until it has
    /// exited; a graceful stop must end in success. The data directory and the database
    /// stay for [`App::start`].
    pub async fn stop(&mut self) {
        let pid = self
            .child
            .id()
            .expect("only a running app can be stopped")
            .to_string();
        let signalled = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("run `kill -TERM`");
        assert!(
            signalled.success(),
            "`kill -TERM {pid}` failed: {signalled}"
        );
        let exited = tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "`extranet serve` did not stop within {STOP_TIMEOUT:?} of SIGTERM:\n{}",
                    read_log(&self.data_dir)
                )
            })
            .expect("wait for `extranet serve` to exit");
        assert!(
            exited.success(),
            "`extranet serve` stopped by SIGTERM exited with {exited}:\n{}",
            read_log(&self.data_dir)
        );
    }

    /// Kills the binary with SIGKILL, as a crash or a power cut would: it gets no chance
    /// to finish anything. The data directory and the database stay for [`App::start`].
    pub async fn crash(&mut self) {
        self.child
            .kill()
            .await
            .expect("kill `extranet serve` with SIGKILL");
    }

    /// Starts `serve` again after [`App::stop`] or [`App::crash`], with the same data
    /// directory, database, settings and port (so links already emailed keep working),
    /// and waits until it listens.
    pub async fn start(&mut self) {
        assert!(
            matches!(self.child.try_wait(), Ok(Some(_))),
            "start the app again only once it has stopped"
        );
        let address = self
            .base_url
            .strip_prefix("http://")
            .expect("the app announced an http:// URL")
            .to_owned();
        let (child, base_url) = serve(
            &self.binary,
            &self.data_dir,
            &self.database,
            &self.smtp_url,
            &self.settings,
            &address,
        )
        .await;
        self.child = child;
        self.base_url = base_url;
        // Connections kept alive to the old process are dead; start with none.
        self.client = http_client();
    }

    /// Waits up to `within` for the binary to exit by itself, and returns how it
    /// exited; `None` if it still runs.
    pub async fn exited_within(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(within, self.child.wait())
            .await
            .ok()
            .map(|status| status.expect("wait for `extranet serve`"))
    }

    /// [`App::stop`], then [`App::start`]: a restart for maintenance or an upgrade.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    /// The database this deployment runs on.
    pub fn database_url(&self) -> &str {
        self.database.url()
    }

    /// Runs another subcommand of the binary (`rebuild`, …) against this deployment,
    /// beside the running server; it must succeed. Returns its output.
    pub async fn run_command(&self, args: &[&str]) -> std::process::Output {
        run_with_timeout(
            extranet(
                &self.binary,
                &self.data_dir,
                &self.database,
                &self.smtp_url,
                &self.settings,
            )
            .args(args),
        )
        .await
    }

    /// Runs another subcommand of the binary against this deployment and returns its
    /// output whether it succeeded or not: for a test that it is refused.
    pub async fn try_command(&self, args: &[&str]) -> std::process::Output {
        output_with_timeout(
            extranet(
                &self.binary,
                &self.data_dir,
                &self.database,
                &self.smtp_url,
                &self.settings,
            )
            .args(args),
        )
        .await
    }

    /// The process id of the running `serve`.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the app is running")
    }

    /// Like [`App::run_command`], with extra environment variables (a password).
    pub async fn run_command_with_env(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> std::process::Output {
        let mut command = extranet(
            &self.binary,
            &self.data_dir,
            &self.database,
            &self.smtp_url,
            &self.settings,
        );
        command.args(args);
        for (key, value) in env {
            command.env(key, value);
        }
        run_with_timeout(&mut command).await
    }

    /// Starts another subcommand of the binary against this deployment and returns it
    /// running, for a test that stops or kills it midway; its stderr is appended to
    /// `<name>.log` in the data directory.
    pub fn spawn_command(&self, args: &[&str], name: &str) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.join(format!("{name}.log")))
            .expect("open the command's log file");
        extranet(
            &self.binary,
            &self.data_dir,
            &self.database,
            &self.smtp_url,
            &self.settings,
        )
        .args(args)
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("start `extranet {}`: {error}", args.join(" ")))
    }

    /// [`App::restart`] with `settings` changed (or added) from now on, as an operator
    /// changes the configuration and restarts.
    pub async fn restart_with_settings(&mut self, settings: &[(&str, &str)]) {
        self.change_settings(settings);
        self.restart().await;
    }

    /// [`App::start`] with `settings` changed (or added) from now on: after a
    /// [`App::crash`], the operator starts the server with a new configuration.
    pub async fn start_with_settings(&mut self, settings: &[(&str, &str)]) {
        self.change_settings(settings);
        self.start().await;
    }

    /// Sets (or adds) each of `settings` for every later start.
    fn change_settings(&mut self, settings: &[(&str, &str)]) {
        for (key, value) in settings {
            self.settings.retain(|(existing, _)| existing != key);
            self.settings.push(((*key).to_owned(), (*value).to_owned()));
        }
    }

    /// What the binary has logged so far (its stderr, across restarts).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("extranet.log")).unwrap_or_default()
    }

    /// Waits until the binary's log contains `text`; panics with the log if it does not
    /// within `timeout`. The log is a file, so this reads it again every 20 ms.
    pub async fn wait_for_log(&self, text: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.log().contains(text) {
            assert!(
                Instant::now() < deadline,
                "the log did not say {text:?} within {timeout:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Posts a GraphQL request and returns the whole JSON response (`data`, `errors`).
    pub async fn graphql(&self, auth: &Auth, query: &str, variables: Value) -> Value {
        post_graphql(&self.client, &self.base_url, auth, query, variables).await
    }

    /// Another `serve` process on the same database, mail server and secret key, as a
    /// second server of one deployment would be. It stops when dropped.
    pub async fn peer(&self) -> Peer {
        let (child, base_url) = serve(
            &self.binary,
            &self.data_dir,
            &self.database,
            &self.smtp_url,
            &self.settings,
            "127.0.0.1:0",
        )
        .await;
        Peer {
            base_url,
            client: http_client(),
            _child: child,
        }
    }

    /// Logs in to this app's account with the `login` mutation and returns the token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let response = self.try_login(email, password).await;
        response
            .pointer("/data/login/token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{email} could not log in: {response}"))
    }

    /// Logs in as a client does after a restart: `serve` listens before its read
    /// models have caught up, and answers `UNAVAILABLE` until they have, so that answer
    /// is tried again (for up to `READY_TIMEOUT`); any other is returned.
    async fn try_login(&self, email: &str, password: &str) -> Value {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let response = self
                .graphql(
                    &Auth::Anonymous,
                    "mutation Login($input: LoginInput!) {
                        login(input: $input) { token userErrors { field message code } }
                    }",
                    json!({ "input": {
                        "accountId": self.account_id, "email": email, "password": password,
                    }}),
                )
                .await;
            let unavailable =
                response.pointer("/errors/0/extensions/code") == Some(&json!("UNAVAILABLE"));
            if !unavailable || Instant::now() >= deadline {
                return response;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// GETs `url` (absolute, or a path on this app) without following redirects.
    pub async fn get(&self, url: &str, auth: &Auth) -> HttpResponse {
        let request = self.client.get(self.absolute(url));
        HttpResponse::read(
            with_auth(request, auth)
                .send()
                .await
                .expect("send the GET request"),
        )
        .await
    }

    /// GETs `url` with extra request `headers`, without following redirects.
    pub async fn get_with_headers(
        &self,
        url: &str,
        auth: &Auth,
        headers: &[(&str, &str)],
    ) -> HttpResponse {
        let mut request = with_auth(self.client.get(self.absolute(url)), auth);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        HttpResponse::read(request.send().await.expect("send the GET request")).await
    }

    /// POSTs `body` as JSON and returns the response whatever its status, for a test
    /// that looks at more than [`App::graphql`] shows (a batch, a status, a header).
    pub async fn post_json(&self, url: &str, body: &Value, auth: &Auth) -> HttpResponse {
        let request = self.client.post(self.absolute(url)).json(body);
        HttpResponse::read(
            with_auth(request, auth)
                .send()
                .await
                .expect("send the JSON request"),
        )
        .await
    }

    /// POSTs `body` as it is, declared as `content_type` (no `Content-Type` at all with
    /// `None`), for a test of what the server makes of a body it did not ask for.
    pub async fn post_bytes(
        &self,
        url: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
        auth: &Auth,
    ) -> HttpResponse {
        let mut request = self.client.post(self.absolute(url)).body(body);
        if let Some(content_type) = content_type {
            request = request.header(reqwest::header::CONTENT_TYPE, content_type);
        }
        HttpResponse::read(
            with_auth(request, auth)
                .send()
                .await
                .expect("send the request"),
        )
        .await
    }

    /// The test's PostgreSQL database; `None` on SQLite.
    pub fn postgres(&self) -> Option<PostgresDatabase<'_>> {
        self.database.postgres()
    }

    /// POSTs `fields` as `application/x-www-form-urlencoded`, as a browser submits a form.
    pub async fn post_form(
        &self,
        url: &str,
        fields: &[(String, String)],
        auth: &Auth,
    ) -> HttpResponse {
        let request = self.client.post(self.absolute(url)).form(fields);
        HttpResponse::read(
            with_auth(request, auth)
                .send()
                .await
                .expect("send the form"),
        )
        .await
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http://") || url.starts_with("https://") {
            url.to_owned()
        } else {
            format!("{}{url}", self.base_url)
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        // Give the process a moment to go, so its database connections close.
        for _ in 0..50 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if std::thread::panicking() {
            // Keep everything for the post-mortem, and show why the binary misbehaved.
            eprintln!(
                "kept for the post-mortem: data dir {}, database {}\n{}",
                self.data_dir.display(),
                self.database.url(),
                read_log(&self.data_dir)
            );
        } else {
            self.database.drop_best_effort();
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

fn with_auth(request: reqwest::RequestBuilder, auth: &Auth) -> reqwest::RequestBuilder {
    match auth {
        Auth::Anonymous => request,
        Auth::Bearer(token) => request.bearer_auth(token),
        Auth::Session(cookie) => request.header(
            reqwest::header::COOKIE,
            format!("{SESSION_COOKIE}={cookie}"),
        ),
    }
}

/// The binary under test; see the crate documentation for where it is looked for.
fn binary() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the e2e crate lives inside the workspace")
        .to_path_buf();
    let path = match (
        std::env::var_os("EXTRANET_BIN"),
        std::env::var_os("CARGO_TARGET_DIR"),
    ) {
        (Some(bin), _) => PathBuf::from(bin),
        (None, Some(target)) => workspace
            .join(target)
            .join("debug")
            .join(format!("extranet{}", std::env::consts::EXE_SUFFIX)),
        (None, None) => workspace
            .join("target")
            .join("debug")
            .join(format!("extranet{}", std::env::consts::EXE_SUFFIX)),
    };
    assert!(
        path.is_file(),
        "no extranet binary at {}; build it first: cargo build -p gateway --bin extranet \
         (or point EXTRANET_BIN at one)",
        path.display()
    );
    path
}

/// Starts `serve` on `listen` and waits until it announces its URL; returns the process
/// and that URL. Its stderr goes to `extranet.log`, appended to across restarts.
async fn serve(
    binary: &Path,
    data_dir: &Path,
    database: &Database,
    smtp_url: &str,
    settings: &[(String, String)],
    listen: &str,
) -> (Child, String) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.join("extranet.log"))
        .expect("open the log file");
    let mut child = extranet(binary, data_dir, database, smtp_url, settings)
        .arg("serve")
        .env("EXTRANET_LISTEN", listen)
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("start `extranet serve`");
    let stdout = child.stdout.take().expect("serve's stdout is piped");
    let base_url =
        match tokio::time::timeout(READY_TIMEOUT, wait_until_listening(stdout, data_dir)).await {
            Ok(Some(base_url)) => base_url,
            Ok(None) => panic!(
                "`extranet serve` ended its output without `listening on …`:\n{}",
                read_log(data_dir)
            ),
            Err(_) => panic!(
                "`extranet serve` did not print `listening on …` within {READY_TIMEOUT:?}:\n{}",
                read_log(data_dir)
            ),
        };
    (child, base_url)
}

fn http_client() -> reqwest::Client {
    // Redirects stay visible: the acceptance page answers with a 303 and a cookie.
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("build the HTTP client")
}

/// The binary with this test's configuration and nothing inherited from the shell's.
fn extranet(
    binary: &Path,
    data_dir: &Path,
    database: &Database,
    smtp_url: &str,
    settings: &[(String, String)],
) -> Command {
    let mut command = Command::new(binary);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("EXTRANET_") {
            command.env_remove(key);
        }
    }
    command
        .current_dir(data_dir)
        .env("EXTRANET_DATA_DIR", data_dir)
        .env("EXTRANET_DATABASE_URL", database.url())
        .env("EXTRANET_SMTP_URL", smtp_url)
        .env("EXTRANET_OUTBOX_DIR", data_dir.join("outbox"))
        .env("EXTRANET_SECRET_KEY_FILE", data_dir.join("secret.key"))
        .env("EXTRANET_LISTEN", "127.0.0.1:0")
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
        )
        .stdin(Stdio::null());
    command.envs(settings.iter().map(|(key, value)| (key, value)));
    command
}

/// Runs `command` to its end and requires it to succeed.
async fn run_with_timeout(command: &mut Command) -> std::process::Output {
    let output = output_with_timeout(command).await;
    assert!(
        output.status.success(),
        "{command:?} failed with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    output
}

/// Runs `command` to its end, succeeding or not, within [`COMMAND_TIMEOUT`].
async fn output_with_timeout(command: &mut Command) -> std::process::Output {
    let running = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(COMMAND_TIMEOUT, running)
        .await
        .unwrap_or_else(|_| panic!("{command:?} did not finish within {COMMAND_TIMEOUT:?}"))
        .expect("run the extranet binary")
}

/// Reads `serve`'s stdout up to its `listening on <url>` line and returns the URL; the
/// rest of stdout keeps being copied to `stdout.log`, so the pipe never fills and blocks
/// the server. `None` if stdout ends first.
async fn wait_until_listening(
    stdout: tokio::process::ChildStdout,
    data_dir: &Path,
) -> Option<String> {
    let mut lines = BufReader::new(stdout).lines();
    let mut before = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(url) = line.trim().strip_prefix("listening on ") {
            let url = url.trim_end_matches('/').to_owned();
            let mut copy = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(data_dir.join("stdout.log"))
                .await
                .ok();
            tokio::spawn(async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(file) = copy.as_mut() {
                        let _ = file.write_all(format!("{line}\n").as_bytes()).await;
                    }
                }
            });
            return Some(url);
        }
        before.push(line);
    }
    eprintln!("--- extranet stdout ---\n{}", before.join("\n"));
    None
}

fn read_log(data_dir: &Path) -> String {
    let path = data_dir.join("extranet.log");
    match std::fs::read_to_string(&path) {
        Ok(log) => format!("--- {} ---\n{log}", path.display()),
        Err(error) => format!("(no log at {}: {error})", path.display()),
    }
}

/// A second server process of the same deployment (see [`App::peer`]).
pub struct Peer {
    pub base_url: String,
    client: reqwest::Client,
    _child: Child,
}

impl Peer {
    /// Posts a GraphQL request to this process.
    pub async fn graphql(&self, auth: &Auth, query: &str, variables: Value) -> Value {
        post_graphql(&self.client, &self.base_url, auth, query, variables).await
    }

    /// Sends a GET for `url` (a path such as `/metrics`) to this process.
    pub async fn get(&self, url: &str) -> HttpResponse {
        let response = self
            .client
            .get(format!("{}{url}", self.base_url))
            .send()
            .await
            .expect("send the GET request");
        HttpResponse::read(response).await
    }
}

async fn post_graphql(
    client: &reqwest::Client,
    base_url: &str,
    auth: &Auth,
    query: &str,
    variables: Value,
) -> Value {
    let request = client
        .post(format!("{base_url}/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    let response = HttpResponse::read(
        with_auth(request, auth)
            .send()
            .await
            .expect("send the GraphQL request"),
    )
    .await;
    serde_json::from_str(&response.body).unwrap_or_else(|error| {
        panic!(
            "GraphQL answered {} with a body that is not JSON ({error}):\n{}",
            response.status, response.body
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_replaces_only_the_database() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            database_url("postgres://u:p@h/db?sslmode=disable", "t1"),
            "postgres://u:p@h/t1?sslmode=disable"
        );
        assert_eq!(
            database_url("postgres://h:5432", "t1"),
            "postgres://h:5432/t1"
        );
    }

    #[test]
    fn reads_the_session_cookie() {
        let response = HttpResponse {
            status: reqwest::StatusCode::SEE_OTHER,
            headers: reqwest::header::HeaderMap::new(),
            set_cookies: vec![
                "other=1; Path=/".to_owned(),
                "extranet_session=tok.en; HttpOnly; Path=/; SameSite=Lax".to_owned(),
            ],
            location: None,
            body: String::new(),
        };
        assert_eq!(response.cookie(SESSION_COOKIE).as_deref(), Some("tok.en"));
        assert_eq!(response.cookie("missing"), None);
    }
}
