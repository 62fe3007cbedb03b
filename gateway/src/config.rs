//! Every setting, read in one place: command-line flags, each with an environment
//! variable of the same name. Nothing else reads the environment.

use crate::client_ip::{ForwardedHeader, IpNet, TrustedProxies};
use crate::rate_limit::RateLimits;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "extranet",
    version,
    about = "Who may work inside a company's workspace, and how outsiders get in."
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway, the projector and the notifier in one process.
    Serve,
    /// Create an account and its first administrator. The password is read from
    /// EXTRANET_ADMIN_PASSWORD, never from the command line.
    CreateAccount(CreateAccount),
    /// Replay the whole log into fresh copies of the read models, history and activity,
    /// then switch the live tables over in one transaction. Safe while `serve` runs;
    /// an interrupted rebuild resumes where it stopped.
    Rebuild(RebuildArgs),
    /// Print the GraphQL schema the gateway serves.
    Schema,
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// Discard what an interrupted rebuild left and start from the first event.
    #[arg(long)]
    pub fresh: bool,
    /// Events per transaction while replaying.
    #[arg(long, default_value_t = projections::projector::BATCH, value_parser = clap::value_parser!(i64).range(1..=100_000))]
    pub batch_size: i64,
}

#[derive(Debug, Args)]
pub struct CreateAccount {
    /// The company's name, as people will see it.
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub admin_email: String,
    #[arg(long)]
    pub admin_first_name: String,
    #[arg(long)]
    pub admin_last_name: String,
    #[arg(long, env = "EXTRANET_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: String,
    /// trial (30 days), free, standard or professional.
    #[arg(long, default_value = "trial")]
    pub plan: String,
}

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Where the defaults below live.
    #[arg(long, env = "EXTRANET_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// `sqlite://path` (the default, under the data dir) or `postgres://…`.
    #[arg(long, env = "EXTRANET_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// `smtp://host:port`. Unset: emails are written as .eml files to the outbox dir.
    #[arg(long, env = "EXTRANET_SMTP_URL", global = true)]
    pub smtp_url: Option<String>,
    /// Default: `<data dir>/outbox`.
    #[arg(long, env = "EXTRANET_OUTBOX_DIR", global = true)]
    pub outbox_dir: Option<PathBuf>,
    /// The key invitation links are signed with; created on first start.
    /// Default: `<data dir>/secret.key`.
    #[arg(long, env = "EXTRANET_SECRET_KEY_FILE", global = true)]
    pub secret_key_file: Option<PathBuf>,
    #[arg(
        long,
        env = "EXTRANET_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,
    /// The address people reach the gateway at, for links in emails.
    /// Default: `http://<the address actually bound>`.
    #[arg(long, env = "EXTRANET_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    #[arg(
        long,
        env = "EXTRANET_MAIL_FROM",
        default_value = "Extranet <no-reply@extranet.localhost>",
        global = true
    )]
    pub mail_from: String,
    /// How often to record what is due by the clock (trial warnings and expiry,
    /// expired links, access and memberships), in seconds.
    #[arg(
        long,
        env = "EXTRANET_SCHEDULE_EVERY_SECS",
        default_value_t = 30,
        global = true
    )]
    pub schedule_every_secs: u64,
    /// A place under the plan's limit or an email address taken by a flow (inviting,
    /// registering, joining) that has not finished after this many seconds is given
    /// back: the flow failed or crashed midway. Far longer than a request may take.
    #[arg(
        long,
        env = "EXTRANET_HOLD_DEADLINE_SECS",
        default_value_t = 600,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub hold_deadline_secs: u64,
    /// `production` turns off what helps a developer and helps an attacker as much:
    /// GraphQL introspection, "did you mean" suggestions, and GraphiQL at GET /graphql.
    #[arg(
        long,
        env = "EXTRANET_MODE",
        value_enum,
        default_value_t = Mode::Development,
        global = true
    )]
    pub mode: Mode,
    /// A request still unanswered after this many seconds is answered 503; its work is
    /// abandoned (a mutation may still have been stored: read before retrying).
    #[arg(
        long,
        env = "EXTRANET_REQUEST_TIMEOUT_SECS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub request_timeout_secs: u64,
    /// Attempts to log in, ask for a password reset, register or accept an invitation
    /// allowed for one address (an account's email, or one link) per window.
    #[arg(
        long,
        env = "EXTRANET_RATE_LIMIT_PER_ADDRESS",
        default_value_t = RateLimits::default().per_address,
        value_parser = clap::value_parser!(u32).range(1..),
        global = true
    )]
    pub rate_limit_per_address: u32,
    /// The same attempts allowed from one client IP per window, whatever the address.
    /// Behind a reverse proxy, name it in `--trusted-proxies`, or every client shares
    /// the proxy's IP.
    #[arg(
        long,
        env = "EXTRANET_RATE_LIMIT_PER_CLIENT",
        default_value_t = RateLimits::default().per_client,
        value_parser = clap::value_parser!(u32).range(1..),
        global = true
    )]
    pub rate_limit_per_client: u32,
    /// The window the two limits above count in, in seconds: it opens at an address's
    /// (or client's) first attempt.
    #[arg(
        long,
        env = "EXTRANET_RATE_LIMIT_WINDOW_SECS",
        default_value_t = RateLimits::default().window.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub rate_limit_window_secs: u64,
    /// Reverse proxies whose `X-Forwarded-For` names the client, comma-separated IPs
    /// or CIDR blocks (`10.0.0.0/8,192.0.2.1`). A request from one of them is counted
    /// against the right-most address in the header that is not itself a trusted
    /// proxy; from anyone else the header is ignored. Default: none.
    #[arg(
        long,
        env = "EXTRANET_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<IpNet>,
    /// The header the trusted proxies name the client in: `x-forwarded-for`, or
    /// `forwarded` (RFC 7239). Only that one is read; the other, if a request carries
    /// it, came from the client.
    #[arg(
        long,
        env = "EXTRANET_FORWARDED_HEADER",
        value_enum,
        default_value_t = ForwardedHeader::XForwardedFor,
        global = true
    )]
    pub forwarded_header: ForwardedHeader,
    /// How long, in milliseconds, a change waits for the read models to put it in
    /// force before it answers `NOT_YET_IN_FORCE` (stored, takes effect once the
    /// service catches up) instead of success.
    #[arg(
        long,
        env = "EXTRANET_COMMAND_WAIT_MS",
        default_value_t = crate::state::COMMAND_WAIT.as_millis() as u64,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub command_wait_ms: u64,
    /// How far behind the log, in milliseconds, the read models may fall before the
    /// process reports not ready and permission checks answer `UNAVAILABLE`: behind
    /// means an event that was the log's newest this long ago is not applied yet.
    #[arg(
        long,
        env = "EXTRANET_MAX_READ_MODEL_LAG_MS",
        default_value_t = 5000,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub max_read_model_lag_ms: u64,
    /// `text` for people reading a terminal, `json` (one object a line) for a log
    /// collector.
    #[arg(
        long,
        env = "EXTRANET_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        global = true
    )]
    pub log_format: LogFormat,
}

/// Who the server is run for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Introspection, suggestions and GraphiQL on: for building against the API.
    Development,
    /// Introspection, suggestions and GraphiQL off: clients use the published
    /// schema.graphql.
    Production,
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Settings {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("extranet.db").display()))
    }

    pub fn schedule_every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.schedule_every_secs.max(1))
    }

    pub fn hold_deadline(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.hold_deadline_secs)
    }

    pub fn request_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.request_timeout_secs)
    }

    pub fn command_wait(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.command_wait_ms)
    }

    pub fn max_read_model_lag(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.max_read_model_lag_ms)
    }

    pub fn rate_limits(&self) -> RateLimits {
        RateLimits {
            per_address: self.rate_limit_per_address,
            per_client: self.rate_limit_per_client,
            window: std::time::Duration::from_secs(self.rate_limit_window_secs),
        }
    }

    pub fn trusted_proxies(&self) -> TrustedProxies {
        TrustedProxies::new(self.trusted_proxies.clone(), self.forwarded_header)
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.outbox_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("outbox"))
    }

    pub fn secret_key_file(&self) -> PathBuf {
        self.secret_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secret.key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_settings_default_to_a_developer_at_a_terminal() {
        let cli = Cli::try_parse_from(["extranet", "serve"]).expect("parse");
        assert_eq!(cli.settings.mode, Mode::Development);
        assert_eq!(cli.settings.log_format, LogFormat::Text);
        assert_eq!(cli.settings.request_timeout_secs, 30);
        // Fail closed, with room for a busy database.
        assert_eq!(
            cli.settings.command_wait(),
            std::time::Duration::from_secs(10)
        );
        assert_eq!(
            cli.settings.max_read_model_lag(),
            std::time::Duration::from_secs(5)
        );
        assert_eq!(
            cli.settings.rate_limits(),
            RateLimits {
                per_address: 10,
                per_client: 100,
                window: std::time::Duration::from_secs(900),
            }
        );
    }

    #[test]
    fn rate_limits_are_read_from_flags_and_none_may_be_zero() {
        let cli = Cli::try_parse_from([
            "extranet",
            "serve",
            "--rate-limit-per-address",
            "3",
            "--rate-limit-per-client",
            "7",
            "--rate-limit-window-secs",
            "60",
        ])
        .expect("parse");
        assert_eq!(cli.settings.rate_limits().per_address, 3);
        assert_eq!(cli.settings.rate_limits().per_client, 7);
        assert_eq!(
            cli.settings.rate_limits().window,
            std::time::Duration::from_secs(60)
        );
        for flag in [
            "--rate-limit-per-address",
            "--rate-limit-per-client",
            "--rate-limit-window-secs",
        ] {
            assert!(Cli::try_parse_from(["extranet", "serve", flag, "0"]).is_err());
        }
    }

    #[test]
    fn trusted_proxies_are_a_list_of_ips_and_blocks_and_none_by_default() {
        let cli = Cli::try_parse_from(["extranet", "serve"]).expect("parse");
        assert!(cli.settings.trusted_proxies.is_empty());
        let cli = Cli::try_parse_from([
            "extranet",
            "serve",
            "--trusted-proxies",
            "10.0.0.0/8, 192.0.2.1,fd00::/8",
        ])
        .expect("parse");
        assert_eq!(cli.settings.trusted_proxies.len(), 3);
        let refused = Cli::try_parse_from(["extranet", "serve", "--trusted-proxies", "proxy.lan"])
            .expect_err("a host name is refused");
        assert!(refused.to_string().contains("CIDR"), "{refused}");
    }

    #[test]
    fn the_forwarding_header_is_x_forwarded_for_unless_told() {
        let cli = Cli::try_parse_from(["extranet", "serve"]).expect("parse");
        assert_eq!(
            cli.settings.forwarded_header,
            ForwardedHeader::XForwardedFor
        );
        let cli = Cli::try_parse_from(["extranet", "serve", "--forwarded-header", "forwarded"])
            .expect("parse");
        assert_eq!(cli.settings.forwarded_header, ForwardedHeader::Forwarded);
        assert!(
            Cli::try_parse_from(["extranet", "serve", "--forwarded-header", "x-real-ip"]).is_err()
        );
    }

    #[test]
    fn operations_settings_are_read_from_flags() {
        let cli = Cli::try_parse_from([
            "extranet",
            "serve",
            "--mode",
            "production",
            "--log-format",
            "json",
            "--request-timeout-secs",
            "5",
        ])
        .expect("parse");
        assert_eq!(cli.settings.mode, Mode::Production);
        assert_eq!(cli.settings.log_format, LogFormat::Json);
        assert_eq!(
            cli.settings.request_timeout(),
            std::time::Duration::from_secs(5)
        );
    }

    #[test]
    fn a_zero_timeout_is_refused_rather_than_refusing_every_request() {
        let refused = Cli::try_parse_from(["extranet", "serve", "--request-timeout-secs", "0"]);
        assert!(refused.is_err());
        let refused = Cli::try_parse_from(["extranet", "serve", "--mode", "prod"]);
        assert!(refused.is_err());
    }
}
