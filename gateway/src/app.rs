//! The composition root: builds every part from the settings and runs them together.

use crate::client_ip::TrustedProxies;
use crate::config::{Mode, Settings};
use crate::graphql::{self, ExtranetSchema};
use crate::layers::{self, Limits};
use crate::metrics::{HttpMetrics, MetricsError};
use crate::pages;
use crate::rate_limit::RateLimiter;
use crate::state::AppState;
use crate::supervisor::{WorkerEnded, Workers};
use crate::{clock, readiness, secret_key};
use axum::extract::FromRef;
use axum::routing::{get, post};
use axum::Router;
use domain::services::{Clock, DomainServices};
use lettre::message::Mailbox;
use notifier::sender::Sender;
use notifier::{Mailer, Outbox};
use projections::activity::Activity;
use projections::freshness::{Freshness, FreshnessMonitor};
use projections::health::{HealthWatch, ProjectionError};
use projections::history::History;
use projections::projector::{Projector, ProjectorHandle};
use projections::reactor::Reactor;
use projections::scheduler::Scheduler;
use projections::server_lock::{ServerLock, ServerLockError};
use projections::{Backend, Database, EventLog, LogPosition, StoreError};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Requests larger than this are refused before they are read.
const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("could not open the database: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    ServerLock(#[from] ServerLockError),
    #[error("could not bring the read models up to date with the log: {0}")]
    CatchUp(#[from] ProjectionError),
    #[error(transparent)]
    SecretKey(#[from] secret_key::SecretKeyError),
    #[error("could not listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "EXTRANET_MAIL_FROM {0:?} is not a mailbox such as \"Extranet <no-reply@example.com>\""
    )]
    MailFrom(String),
    #[error(transparent)]
    Mailer(#[from] notifier::MailerError),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error("could not listen for the stop signals (SIGTERM, SIGINT): {0}")]
    Signals(#[source] std::io::Error),
}

/// Why `serve` stopped other than by a stop signal.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the HTTP server failed: {0}")]
    Serve(#[from] std::io::Error),
    #[error(transparent)]
    WorkerEnded(#[from] WorkerEnded),
}

/// What handlers share: the state, and the schema built over it. axum hands every
/// request its own clone of the router's state, so it is one `Arc`: a clone is one
/// count, not one for each of the many handles inside.
#[derive(Clone)]
pub struct Shared(Arc<SharedParts>);

impl std::ops::Deref for Shared {
    type Target = SharedParts;

    fn deref(&self) -> &SharedParts {
        &self.0
    }
}

pub struct SharedParts {
    pub state: AppState,
    pub schema: ExtranetSchema,
    /// Where the notifier has got to in the log, for `/metrics` and `/readyz`.
    pub notifier: ProjectorHandle,
    /// Every follower of the log, the read models first: their stalls are reported
    /// at `/metrics` and `/readyz`.
    pub followers: Vec<HealthWatch>,
    /// How far the read models lag the log, and how long the log has been held, as
    /// measured while serving.
    pub freshness: Freshness,
    /// Events this process's reactor has acted on.
    pub reacted: Arc<std::sync::atomic::AtomicU64>,
    /// The log's head when this process started; `/readyz` waits for the read models
    /// to have passed it.
    pub start_head: LogPosition,
    /// Requests counted by the HTTP layer, served at `/metrics`.
    pub http_metrics: HttpMetrics,
    /// Counts attempts to get in (logins, resets, registrations, acceptances).
    pub limiter: RateLimiter,
    /// Whose `X-Forwarded-For` names the client (see `client_ip`).
    pub trusted_proxies: TrustedProxies,
    /// Where people reach this gateway, for the links it hands out.
    pub public_url: String,
    /// The parse of each query text clients sent lately.
    pub documents: graphql::ParsedDocuments,
}

impl FromRef<Shared> for TrustedProxies {
    fn from_ref(shared: &Shared) -> Self {
        shared.trusted_proxies.clone()
    }
}

/// The store and the domain services: all a command needs.
pub async fn open_store(settings: &Settings) -> Result<(Database, DomainServices), StartError> {
    let db = Database::open(&settings.database_url()).await?;
    let services = DomainServices {
        clock: Arc::new(clock::SystemClock),
        nonces: Arc::new(clock::OsNonces),
        secrets: secret_key::load_or_create(&settings.secret_key_file())?,
    };
    Ok((db, services))
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    address: SocketAddr,
    workers: Workers,
    shutdown: watch::Sender<bool>,
    db: Database,
    stop: StopSignals,
    /// Held until the server has stopped: no second server on the same SQLite file.
    _lock: Option<ServerLock>,
}

impl Application {
    /// Opens the store, starts the projector and the notifier, and binds the listener
    /// (port 0 picks a free port: see [`Application::address`]).
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        // Before the database is touched: a second server on a SQLite file is refused.
        let lock = ServerLock::take(&settings.database_url())?;
        let (db, services) = open_store(&settings).await?;
        let listener =
            TcpListener::bind(settings.listen)
                .await
                .map_err(|source| StartError::Listen {
                    addr: settings.listen,
                    source,
                })?;
        let address = listener.local_addr().map_err(|source| StartError::Listen {
            addr: settings.listen,
            source,
        })?;
        let public_url = settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{address}"));
        let from: Mailbox = settings
            .mail_from
            .parse()
            .map_err(|_| StartError::MailFrom(settings.mail_from.clone()))?;
        let mailer = match &settings.smtp_url {
            Some(url) => Mailer::smtp(url)?,
            None => Mailer::files(settings.outbox_dir()),
        };

        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut workers = Workers::default();

        let (mut state, read_projector) = AppState::open(db.clone(), services.clone()).await?;
        let monitor = FreshnessMonitor::new(
            EventLog::new(db.clone()),
            state.read_models.clone(),
            settings.max_read_model_lag(),
        );
        let freshness = monitor.freshness();
        state.permissions = state.permissions.clone().watching(freshness.clone());
        let state = state.with_command_wait(settings.command_wait());
        // Listen at once however far behind the read models are (a day of downtime is
        // minutes of catching up): the freshness monitor counts what the log held at
        // start as behind, so until they reach it every check answers UNAVAILABLE and
        // `/readyz` says `read_models_behind`, while the projector catches up beside.
        let start_head = EventLog::new(db.clone()).head().await?;
        let behind = start_head
            .position
            .saturating_sub(read_projector.position().position);
        if behind > 0 {
            tracing::info!(
                events = behind,
                "the read models are behind the log: serving, not ready until they catch up"
            );
        }
        let outbox = Outbox {
            public_url: public_url.clone(),
            secrets: services.secrets.clone(),
            ids: notifier::outbox::ApiIds {
                registration: |id| graphql::global_id::id_of(id).0,
                account: |id| graphql::global_id::id_of(id).0,
            },
        };
        let (outbox_projector, outbox_handle) = Projector::new(outbox, db.clone()).await?;
        let outbox_projector = outbox_projector.behind(&state.read_models);
        let clock: Arc<dyn Clock> = services.clock.clone();
        let sender = Sender {
            db: db.clone(),
            mailer,
            from,
            clock: clock.clone(),
            secrets: services.secrets.clone(),
        };
        let bus = state.bus.clone();
        let reactor = Reactor::new(db.clone(), bus.clone(), &state.read_models).await?;
        let reactor_health = reactor.health();
        let reacted = reactor.reacted();
        let scheduler = Scheduler {
            db: db.clone(),
            bus: bus.clone(),
            clock: clock.clone(),
            hold_deadline: settings.hold_deadline(),
        };
        workers.spawn("read_models", read_projector.run(shutdown_rx.clone()));
        workers.spawn("freshness", monitor.run(shutdown_rx.clone()));
        workers.spawn(
            "permission_index",
            state.permissions.clone().follow(shutdown_rx.clone()),
        );
        // Other processes on the same database announce their progress; hearing it
        // keeps this one's waits and permission checks current at once. A SQLite
        // file has no such announcements.
        if db.backend == Backend::Postgres {
            let listening = projections::projector::listen(
                db.clone(),
                "read_models",
                state.read_models.clone(),
                shutdown_rx.clone(),
            );
            workers.spawn("listen", listening);
        }
        workers.spawn("reactor", reactor.run(shutdown_rx.clone()));
        let (history, history_handle) = Projector::new(History, db.clone()).await?;
        workers.spawn(
            "history",
            history.behind(&state.read_models).run(shutdown_rx.clone()),
        );
        let (activity, activity_handle) = Projector::new(Activity, db.clone()).await?;
        workers.spawn(
            "activity",
            activity.behind(&state.read_models).run(shutdown_rx.clone()),
        );
        workers.spawn(
            "scheduler",
            scheduler.run(settings.schedule_every(), shutdown_rx.clone()),
        );
        workers.spawn("notifier", outbox_projector.run(shutdown_rx.clone()));
        workers.spawn(
            "sender",
            sender.run(outbox_handle.subscribe(), shutdown_rx.clone()),
        );

        let http_metrics = HttpMetrics::new()?;
        let limiter =
            RateLimiter::new(settings.rate_limits(), db.clone(), services.secrets.clone());
        workers.spawn(
            "rate_limit_sweeper",
            limiter
                .clone()
                .sweep(settings.schedule_every(), shutdown_rx.clone()),
        );
        let site = graphql::Site {
            public_url: public_url.clone(),
            limiter: limiter.clone(),
        };
        let followers = vec![
            state.read_models.health_watch(),
            outbox_handle.health_watch(),
            history_handle.health_watch(),
            activity_handle.health_watch(),
            reactor_health,
            state.permissions.health_watch(),
        ];
        let shared = Shared(Arc::new(SharedParts {
            notifier: outbox_handle.clone(),
            followers,
            freshness,
            reacted,
            schema: graphql::schema(state.clone(), settings.mode, site),
            state,
            start_head,
            http_metrics: http_metrics.clone(),
            limiter,
            trusted_proxies: settings.trusted_proxies(),
            public_url,
            documents: graphql::ParsedDocuments::default(),
        }));
        let graphql_route = match settings.mode {
            Mode::Development => get(graphql::graphiql).post(graphql::handle),
            // No GraphiQL: GET /graphql is answered 405.
            Mode::Production => post(graphql::handle),
        };
        let router = Router::new()
            .route("/graphql", graphql_route)
            .route("/graphql/ws", get(graphql::subscription::handle))
            .route(
                "/invitations/{account}/{invitation}",
                get(pages::invitation::show).post(pages::invitation::accept),
            )
            .route(
                "/register/{account}",
                get(pages::registration::show).post(pages::registration::register),
            )
            .route(
                "/password-reset/{account}",
                get(pages::password_reset::ask).post(pages::password_reset::request),
            )
            .route(
                "/password-reset/{account}/{person}",
                get(pages::password_reset::show).post(pages::password_reset::reset),
            )
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(readiness::handle))
            .route("/metrics", get(crate::metrics::handle));
        let limits = Limits {
            max_body_bytes: MAX_BODY_BYTES,
            request_timeout: settings.request_timeout(),
        };
        let router = layers::around(router.with_state(shared), limits, http_metrics);
        Ok(Self {
            stop: StopSignals::install().map_err(StartError::Signals)?,
            listener,
            router,
            address,
            workers,
            shutdown,
            db,
            _lock: lock,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until Ctrl-C or SIGTERM, then stops accepting, lets requests in flight
    /// finish, stops the projector and notifier, and closes the store. A background
    /// worker that ends or panics first stops the server too, and is the error
    /// returned (see `supervisor.rs`).
    pub async fn run_until_stopped(mut self) -> Result<(), RunError> {
        // With each connection's address, for the per-client rate limits.
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let serving =
            axum::serve(self.listener, service).with_graceful_shutdown(self.stop.received());
        let outcome = tokio::select! {
            served = std::future::IntoFuture::into_future(serving) => served.map_err(RunError::from),
            ended = self.workers.first_to_end() => {
                tracing::error!(worker = ended.worker, reason = %ended.reason, "{ended}");
                Err(ended.into())
            }
        };
        let _ = self.shutdown.send(true);
        self.workers.join_all().await;
        self.db.close().await;
        tracing::info!("stopped");
        outcome
    }
}

/// SIGTERM (a service manager) and SIGINT (Ctrl-C), listened for from the moment the
/// application is built: a signal sent as soon as `serve` says it listens stops it
/// gracefully instead of killing it, as it would before a handler is installed.
struct StopSignals {
    term: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    async fn received(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.interrupt.recv() => {}
        }
        tracing::info!("stop requested; finishing requests in flight");
    }
}
