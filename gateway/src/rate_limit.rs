//! How often someone may try to get in: login, asking for a password reset,
//! registering, accepting an invitation.
//!
//! Each kind of attempt is counted twice: per address (the email typed, or the link
//! used, within an account) and per client (the IP the request comes from: see
//! `client_ip`). The first slows down guessing one person's password from many
//! machines; the second slows down one machine trying many people. An attempt over
//! either limit is refused before any work is done, and is not counted, so a client
//! that waits as told gets exactly the configured number of attempts per window.
//!
//! The counts live in the database (`projections::attempts`), so every server of a
//! deployment draws on one budget and a restart forgets nothing. A key's window opens
//! at its first attempt and lasts the configured time. Keys are HMACs under the
//! server's secret key: the table holds no email address or IP in clear.

use domain::invitation::SecretKey;
use projections::attempts::{self, Counted};
use projections::{Database, StoreError};
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

pub use crate::client_ip::ClientIp;

/// What is being tried. Each has its own counts, so that asking for a reset link does
/// not use up someone's logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attempt {
    Login,
    PasswordReset,
    Registration,
    Acceptance,
}

/// How many attempts a window allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Attempts per address (account and email, or one link) per window.
    pub per_address: u32,
    /// Attempts per client IP per window.
    pub per_client: u32,
    pub window: Duration,
}

impl Default for RateLimits {
    /// Ten tries for one address in a quarter of an hour is more than a person who
    /// forgot which password they used needs; a hundred for one address of a network
    /// leaves room for an office behind one NAT.
    fn default() -> Self {
        Self {
            per_address: 10,
            per_client: 100,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// An attempt refused: how long until the window that refused it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

impl Limited {
    /// Whole seconds, rounded up, and at least one: "try again in 0 seconds" would be
    /// a lie.
    pub fn seconds(&self) -> u64 {
        let secs = self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
        secs.max(1)
    }

    /// For people, pages and `userErrors` alike.
    pub fn message(&self) -> String {
        format!(
            "too many attempts; for your security, try again in {} seconds",
            self.seconds()
        )
    }
}

impl Attempt {
    /// Part of every key: each kind of attempt has its own counts.
    fn label(self) -> &'static str {
        match self {
            Attempt::Login => "login",
            Attempt::PasswordReset => "password reset",
            Attempt::Registration => "registration",
            Attempt::Acceptance => "acceptance",
        }
    }
}

/// Why an attempt may not go on.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{}", .0.message())]
    Limited(Limited),
    /// The attempt is refused rather than let through uncounted: a database that
    /// cannot count cannot check a password either.
    #[error("could not count an attempt to get in: {0}")]
    Store(#[from] StoreError),
}

/// Cheap to clone: clones count in the same database.
#[derive(Clone)]
pub struct RateLimiter {
    limits: RateLimits,
    db: Database,
    secrets: SecretKey,
}

impl RateLimiter {
    pub fn new(limits: RateLimits, db: Database, secrets: SecretKey) -> Self {
        Self {
            limits,
            db,
            secrets,
        }
    }

    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    /// Counts an attempt at `attempt` for `address` (lower-cased here) from `client`,
    /// or refuses it. Either may be unknown; an unknown one is not limited.
    pub async fn check(
        &self,
        attempt: Attempt,
        address: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<(), CheckError> {
        self.check_at(now_ms(), attempt, address, client).await
    }

    async fn check_at(
        &self,
        now_ms: i64,
        attempt: Attempt,
        address: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<(), CheckError> {
        // Address before client, always: see `attempts::count`.
        let mut keys = Vec::with_capacity(2);
        if let Some(address) = address {
            let address = address.trim().to_lowercase();
            keys.push(Counted {
                key: self.key(attempt, "address", &address),
                limit: self.limits.per_address,
            });
        }
        if let Some(client) = client {
            keys.push(Counted {
                key: self.key(attempt, "client", &client.to_canonical().to_string()),
                limit: self.limits.per_client,
            });
        }
        match attempts::count(&self.db, &keys, now_ms, self.window_ms()).await? {
            Ok(()) => Ok(()),
            Err(wait_ms) => Err(CheckError::Limited(Limited {
                retry_after: Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0)),
            })),
        }
    }

    /// The stored key of one address or client: an HMAC, so that a copy of the
    /// database does not list who tried to log in, nor from where.
    fn key(&self, attempt: Attempt, kind: &str, value: &str) -> String {
        let data = format!("{}\0{kind}\0{value}", attempt.label());
        self.secrets
            .pseudonym("rate limit", &data)
            .simple()
            .to_string()
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.limits.window.as_millis()).unwrap_or(i64::MAX / 2)
    }

    /// Deletes the counts whose window has ended, every `every` until shut down. Any
    /// number of servers may run this at once.
    pub async fn sweep(self, every: Duration, mut shutdown: watch::Receiver<bool>) {
        loop {
            match attempts::sweep(&self.db, now_ms(), self.window_ms()).await {
                Ok(0) => {}
                Ok(swept) => tracing::debug!(swept, "ended attempt windows swept"),
                Err(error) => tracing::error!(%error, "sweeping attempt counts failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => break,
            }
        }
    }
}

/// Milliseconds since the epoch by this machine's clock. Servers of one deployment
/// should agree on the time; a skew between them only moves when a window ends.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use projections::testing::fresh_sqlite;

    async fn limiter(per_address: u32, per_client: u32) -> RateLimiter {
        RateLimiter::new(
            RateLimits {
                per_address,
                per_client,
                window: Duration::from_secs(900),
            },
            fresh_sqlite().await,
            SecretKey::from_bytes([7; 32]),
        )
    }

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    fn limited(result: Result<(), CheckError>) -> Limited {
        match result {
            Err(CheckError::Limited(limited)) => limited,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    const START: i64 = 1_700_000_000_000;

    fn at(secs: i64) -> i64 {
        START + secs * 1000
    }

    #[tokio::test]
    async fn an_address_over_its_limit_is_refused_while_another_goes_on() {
        let limiter = limiter(3, 100).await;
        for i in 0..3 {
            limiter
                .check_at(at(i), Attempt::Login, Some("Ann@Example.com"), ip(1))
                .await
                .expect("within the limit");
        }
        let refused = limited(
            limiter
                .check_at(at(10), Attempt::Login, Some("ann@example.com "), ip(2))
                .await,
        );
        assert_eq!(refused.retry_after, Duration::from_secs(890));
        assert_eq!(refused.seconds(), 890);
        assert!(refused.message().contains("try again in 890 seconds"));
        limiter
            .check_at(at(10), Attempt::Login, Some("bob@example.com"), ip(1))
            .await
            .expect("another address");
        // Other kinds of attempt are counted apart.
        limiter
            .check_at(
                at(10),
                Attempt::PasswordReset,
                Some("ann@example.com"),
                ip(1),
            )
            .await
            .expect("another kind");
    }

    #[tokio::test]
    async fn a_window_ends_and_refused_attempts_are_not_counted() {
        let limiter = limiter(2, 100).await;
        let try_at = |secs| limiter.check_at(at(secs), Attempt::Registration, Some("a@b.c"), None);
        try_at(0).await.expect("first");
        try_at(100).await.expect("second");
        assert_eq!(
            limited(try_at(200).await).retry_after,
            Duration::from_secs(700)
        );
        try_at(900).await.expect("a new window");
        try_at(901).await.expect("its second");
        assert!(try_at(902).await.is_err());
    }

    #[tokio::test]
    async fn a_client_over_its_limit_is_refused_whatever_the_address() {
        let limiter = limiter(100, 2).await;
        for address in ["a", "b"] {
            limiter
                .check_at(START, Attempt::Acceptance, Some(address), ip(1))
                .await
                .expect("within the limit");
        }
        limited(
            limiter
                .check_at(START, Attempt::Acceptance, Some("c"), ip(1))
                .await,
        );
        limiter
            .check_at(START, Attempt::Acceptance, Some("c"), ip(2))
            .await
            .expect("another client");
        // Unknown address and client: nothing to count by.
        for _ in 0..10 {
            limiter
                .check_at(START, Attempt::Login, None, None)
                .await
                .expect("not limited");
        }
    }

    #[tokio::test]
    async fn keys_hold_no_address_or_ip_in_clear() {
        let limiter = limiter(5, 5).await;
        limiter
            .check_at(START, Attempt::Login, Some("ann@example.com"), ip(9))
            .await
            .expect("within the limit");
        let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM attempt_counts")
            .fetch_all(&limiter.db.any)
            .await
            .expect("keys");
        assert_eq!(keys.len(), 2);
        for key in keys {
            assert!(!key.contains("ann") && !key.contains("10.0.0"), "{key}");
        }
    }
}
