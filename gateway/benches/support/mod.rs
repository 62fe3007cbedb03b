//! What the benches share: a store to run the real gateway on, the gateway started as
//! `extranet serve` starts it with an account and its administrator logged in, and
//! an HTTP client that sets a workspace up through the API.

#![allow(dead_code)] // each bench uses its own part of it

pub mod growth;

use clap::Parser;
use gateway::app::Application;
use gateway::config::{Cli, CreateAccount, Settings};
use serde_json::{json, Value};
use sqlx::Connection;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const ADMIN_EMAIL: &str = "ada@acme.test";
pub const ADMIN_PASSWORD: &str = "a long passphrase for ada";
pub const SESSION_COOKIE: &str = "extranet_session";
const MAIL_TIMEOUT: Duration = Duration::from_secs(30);

pub fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {value:?}")),
    )
}

/// A comma-separated list from the environment, or `default` when it is not set;
/// empty items are skipped, so an empty list is none.
pub fn env_list<T: std::str::FromStr>(name: &str, default: &str) -> Vec<T> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .filter(|item| !item.trim().is_empty())
        .map(|item| {
            item.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name}: {item:?} is not a number"))
        })
        .collect()
}

/// Logs warnings and worse to stderr (`RUST_LOG` for more).
pub fn log_warnings() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
}

pub enum Store {
    Sqlite,
    Postgres {
        /// The server's own database, where the bench's database is created and dropped.
        admin_url: String,
        name: String,
    },
}

impl Store {
    /// A new database of the bench's own on the server `admin_url` names.
    pub async fn postgres(admin_url: &str) -> Store {
        let name = format!("extranet_bench_{}", uuid::Uuid::new_v4().simple());
        let mut connection = sqlx::PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|e| panic!("connect to {admin_url}: {e}"));
        sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
            .execute(&mut connection)
            .await
            .expect("create the bench's PostgreSQL database");
        Store::Postgres {
            admin_url: admin_url.to_owned(),
            name,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Store::Sqlite => "SQLite",
            Store::Postgres { .. } => "PostgreSQL",
        }
    }

    pub fn url(&self, data_dir: &Path) -> String {
        match self {
            Store::Sqlite => format!("sqlite://{}", data_dir.join("extranet.db").display()),
            Store::Postgres { admin_url, name } => with_database(admin_url, name),
        }
    }
}

/// `admin_url` with its database (the last path segment) replaced by `name`.
fn with_database(admin_url: &str, name: &str) -> String {
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

/// The real gateway, started in this process as `extranet serve` starts it, with an
/// account whose administrator has logged in.
pub struct Workspace {
    pub store: Store,
    pub address: SocketAddr,
    pub data_dir: PathBuf,
    pub settings: Settings,
    /// The administrator's `Authorization` header.
    pub admin: String,
}

impl Workspace {
    pub async fn start(store: Store) -> Workspace {
        let data_dir =
            std::env::temp_dir().join(format!("extranet-bench-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&data_dir).expect("create the bench's data directory");
        // Every other setting at its default, as an operator would run it.
        let database_url = store.url(&data_dir);
        let data_dir_arg = data_dir.display().to_string();
        let args = vec![
            "extranet",
            "--mode",
            "production",
            "--data-dir",
            &data_dir_arg,
            "--database-url",
            &database_url,
            "--listen",
            "127.0.0.1:0",
            "serve",
        ];
        let cli = Cli::try_parse_from(args).expect("the bench's settings parse");
        let settings: Settings = cli.settings;
        let created = gateway::cli::create_account(
            &settings,
            CreateAccount {
                name: "Acme".to_owned(),
                admin_email: ADMIN_EMAIL.to_owned(),
                admin_first_name: "Ada".to_owned(),
                admin_last_name: "Admin".to_owned(),
                admin_password: ADMIN_PASSWORD.to_owned(),
                plan: "professional".to_owned(),
            },
        )
        .await
        .expect("create the account and its administrator");
        let app = Application::build(settings.clone())
            .await
            .expect("start the gateway");
        let address = app.address();
        tokio::spawn(async move {
            // It stops only on Ctrl-C or SIGTERM; so does the bench.
            let _ = app.run_until_stopped().await;
            eprintln!("the gateway stopped; the bench ends");
            std::process::exit(130);
        });
        // `serve` listens before its read models have applied the account.
        let ready = Instant::now() + Duration::from_secs(60);
        while !Client::new(address).is_ready().await {
            assert!(Instant::now() < ready, "the gateway did not become ready");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let account = gateway::graphql::global_id::id_of(created.account).0;
        let login = Client::new(address)
            .graphql(
                None,
                "mutation($input: LoginInput!) { login(input: $input) { token userErrors { message } } }",
                json!({ "input": { "accountId": account, "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD } }),
            )
            .await;
        let admin = format!("Bearer {}", field(&login, "/data/login/token"));
        Workspace {
            store,
            address,
            data_dir,
            settings,
            admin,
        }
    }

    /// Creates a task as the administrator and returns its id.
    pub async fn create_task(&self, title: &str) -> String {
        let created = Client::new(self.address)
            .graphql(
                Some(("authorization", &self.admin)),
                "mutation($input: CreateTaskInput!) { createTask(input: $input) { task { id } userErrors { message } } }",
                json!({ "input": { "title": title, "description": "200 copies, A4." } }),
            )
            .await;
        field(&created, "/data/createTask/task/id")
    }

    /// Waits until `/metrics` shows no follower behind the log and the permission
    /// index level with the read models.
    pub async fn caught_up(&self) {
        let client = Client::new(self.address);
        let deadline = Instant::now() + Duration::from_secs(1800);
        loop {
            let metrics = client.get_text("/metrics").await;
            let behind = metrics
                .lines()
                .filter(|line| {
                    line.starts_with("extranet_projector_lag_events")
                        || line.starts_with("extranet_permission_index_behind_events")
                })
                .any(|line| !line.ends_with(" 0"));
            if !behind {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "followers still behind after 30 min:\n{metrics}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Removes the data directory and a PostgreSQL database the bench made.
    pub async fn remove(self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if let Store::Postgres { admin_url, name } = &self.store {
            if let Ok(mut connection) = sqlx::PgConnection::connect(admin_url).await {
                // FORCE: in case a connection of the stopped gateway lingers.
                let _ = sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
                    .execute(&mut connection)
                    .await;
            }
        }
    }
}

/// The string at `pointer` of a GraphQL response, or a panic that shows the response.
pub fn field(response: &Value, pointer: &str) -> String {
    response
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {response}"))
        .to_owned()
}

/// The invitation link in the first email written to `outbox`.
pub async fn invitation_link(outbox: &Path) -> String {
    let deadline = Instant::now() + MAIL_TIMEOUT;
    loop {
        let emails = std::fs::read_dir(outbox)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "eml"));
        for path in emails {
            let raw = std::fs::read(&path).expect("read an email from the outbox");
            let mail = mailparse::parse_mail(&raw).expect("the outbox holds emails");
            let text = mail.get_body().expect("the email has a text body");
            if let Some(link) = text
                .split_whitespace()
                .find(|word| word.starts_with("http") && word.contains("/invitations/"))
            {
                return link.trim_end_matches(['.', ',', '>', ')']).to_owned();
            }
        }
        assert!(
            Instant::now() < deadline,
            "no invitation email in {} after {MAIL_TIMEOUT:?}",
            outbox.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Just enough of a browser and an API client to set a workspace up and to send it
/// requests.
#[derive(Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(address: SocketAddr) -> Client {
        Client {
            base: format!("http://{address}"),
            http: reqwest::Client::builder()
                // The acceptance page answers with a redirect that sets the cookie.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("build the HTTP client"),
        }
    }

    /// Whether `/readyz` answers 200.
    pub async fn is_ready(&self) -> bool {
        self.answers("/readyz").await
    }

    /// Whether `path` answers with a success within five seconds.
    pub async fn answers(&self, path: &str) -> bool {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        response.is_ok_and(|r| r.status().is_success())
    }

    /// The body of a `GET` of `path`, whatever its status.
    pub async fn get_text(&self, path: &str) -> String {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a GraphQL request and returns its response, which must hold no error and
    /// no user error.
    pub async fn graphql(
        &self,
        header: Option<(&str, &str)>,
        query: &str,
        variables: Value,
    ) -> Value {
        let response = self.try_graphql(header, query, variables).await;
        assert!(succeeded(&response), "the request failed: {response}");
        response
    }

    /// Sends a GraphQL request and returns its response, whatever it says.
    pub async fn try_graphql(
        &self,
        header: Option<(&str, &str)>,
        query: &str,
        variables: Value,
    ) -> Value {
        let mut request = self
            .http
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("send a GraphQL request");
        response.json().await.expect("a GraphQL response")
    }

    /// Opens the invitation link, fills the form in as the guest would, submits it, and
    /// returns the session token the response sets in its cookie.
    pub async fn accept(&self, link: &str, password: &str) -> String {
        let page = self
            .http
            .get(link)
            .send()
            .await
            .expect("open the invitation link");
        assert_eq!(page.status(), 200, "the acceptance page opens");
        let (action, query) = link
            .split_once('?')
            .unwrap_or_else(|| panic!("the link {link} carries its secret"));
        let secret = query
            .strip_prefix("secret=")
            .unwrap_or_else(|| panic!("the link {link} carries its secret"));
        let accepted = self
            .http
            .post(action)
            .form(&[
                ("secret", secret),
                ("first_name", "Gus"),
                ("last_name", "Guest"),
                ("password", password),
            ])
            .send()
            .await
            .expect("submit the acceptance form");
        let status = accepted.status();
        let session = accepted
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(|cookie| cookie.split(';').next())
            .find_map(|pair| pair.trim().strip_prefix(&format!("{SESSION_COOKIE}=")))
            .map(str::to_owned);
        session.unwrap_or_else(|| panic!("accepting the invitation ({status}) sets no session"))
    }
}

/// Whether a GraphQL response holds no error and no user error.
pub fn succeeded(response: &Value) -> bool {
    let no_user_errors = |payload: &Value| {
        payload
            .get("userErrors")
            .is_none_or(|errors| errors.as_array().is_some_and(Vec::is_empty))
    };
    response.get("errors").is_none()
        && response["data"]
            .as_object()
            .is_some_and(|data| data.values().all(no_user_errors))
}

/// Linux: writing 5 to `clear_refs` resets the peak resident set size.
pub fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's peak resident memory since start or the last reset, in KiB.
pub fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
