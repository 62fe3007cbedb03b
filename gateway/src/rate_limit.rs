//! How often someone may try to get in: login, asking for a password reset,
//! registering, accepting an invitation.
//!
//! Each kind of attempt is counted in a sliding window twice: per address (the email
//! typed, or the link used, within an account) and per client (the connecting IP).
//! The first slows down guessing one person's password from many machines; the second
//! slows down one machine trying many people. An attempt over either limit is refused
//! before any work is done, and is not counted, so a client that waits as told gets
//! exactly the configured number of attempts per window.
//!
//! The counts live in this process's memory: several servers behind one address each
//! count their own share, and a restart forgets them. That is the usual trade for a
//! brake on guessing (the argon2id cost and 256-bit link secrets make each guess
//! worthless anyway); it keeps the database out of every login.
//!
//! Behind a reverse proxy every client has the proxy's address, so the per-client
//! limit then applies to all of them together: raise it there.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

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

/// An attempt refused: when the oldest counted attempt leaves the window.
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

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Address(Attempt, String),
    Client(Attempt, IpAddr),
}

/// Every key is swept of expired attempts after this many checks, so keys that are
/// never tried again do not stay in memory.
const SWEEP_EVERY: u32 = 1024;

#[derive(Default)]
struct Counts {
    attempts: HashMap<Key, VecDeque<Instant>>,
    since_sweep: u32,
}

/// Cheap to clone: clones share the counts.
#[derive(Clone)]
pub struct RateLimiter {
    limits: RateLimits,
    counts: Arc<Mutex<Counts>>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            counts: Arc::new(Mutex::new(Counts::default())),
        }
    }

    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    /// Counts an attempt at `attempt` for `address` (lower-cased here) from `client`,
    /// or refuses it. Either may be unknown; an unknown one is not limited.
    pub fn check(
        &self,
        attempt: Attempt,
        address: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<(), Limited> {
        self.check_at(Instant::now(), attempt, address, client)
    }

    fn check_at(
        &self,
        now: Instant,
        attempt: Attempt,
        address: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<(), Limited> {
        let window = self.limits.window;
        let mut keys = Vec::with_capacity(2);
        if let Some(address) = address {
            let address = address.trim().to_lowercase();
            keys.push((Key::Address(attempt, address), self.limits.per_address));
        }
        if let Some(client) = client {
            keys.push((Key::Client(attempt, client), self.limits.per_client));
        }
        // A poisoned lock only means another request panicked mid-count; the counts
        // are still counts.
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.since_sweep += 1;
        if counts.since_sweep >= SWEEP_EVERY {
            counts.since_sweep = 0;
            counts.attempts.retain(|_, times| {
                forget_before(times, now, window);
                !times.is_empty()
            });
        }
        let mut refused: Option<Duration> = None;
        for (key, limit) in &keys {
            let Some(times) = counts.attempts.get_mut(key) else {
                continue;
            };
            forget_before(times, now, window);
            if times.len() >= *limit as usize {
                let oldest = times.front().copied().unwrap_or(now);
                let wait = (oldest + window).saturating_duration_since(now);
                refused = Some(refused.map_or(wait, |w| w.max(wait)));
            }
        }
        if let Some(retry_after) = refused {
            return Err(Limited { retry_after });
        }
        for (key, _) in keys {
            counts.attempts.entry(key).or_default().push_back(now);
        }
        Ok(())
    }
}

/// Drops the attempts that have left the window ending at `now`.
fn forget_before(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

/// The connecting client's IP, when the server was started with connection info
/// (`into_make_service_with_connect_info`); unknown in unit tests that call a router
/// directly.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(address)| address.ip()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_address: u32, per_client: u32) -> RateLimiter {
        RateLimiter::new(RateLimits {
            per_address,
            per_client,
            window: Duration::from_secs(900),
        })
    }

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn an_address_over_its_limit_is_refused_while_another_goes_on() {
        let limiter = limiter(3, 100);
        let start = Instant::now();
        for i in 0..3 {
            let at = start + Duration::from_secs(i);
            assert!(limiter
                .check_at(at, Attempt::Login, Some("Ann@Example.com"), ip(1))
                .is_ok());
        }
        let refused = limiter
            .check_at(
                start + Duration::from_secs(10),
                Attempt::Login,
                Some("ann@example.com "),
                ip(2),
            )
            .expect_err("the fourth try for one address is refused, from anywhere");
        assert_eq!(refused.retry_after, Duration::from_secs(890));
        assert_eq!(refused.seconds(), 890);
        assert!(refused.message().contains("try again in 890 seconds"));
        assert!(limiter
            .check_at(start, Attempt::Login, Some("bob@example.com"), ip(1))
            .is_ok());
        // Other kinds of attempt are counted apart.
        assert!(limiter
            .check_at(
                start,
                Attempt::PasswordReset,
                Some("ann@example.com"),
                ip(1)
            )
            .is_ok());
    }

    #[test]
    fn the_window_slides() {
        let limiter = limiter(2, 100);
        let start = Instant::now();
        let try_at = |secs: u64| {
            limiter.check_at(
                start + Duration::from_secs(secs),
                Attempt::Registration,
                Some("a@b.c"),
                None,
            )
        };
        assert!(try_at(0).is_ok());
        assert!(try_at(100).is_ok());
        assert_eq!(
            try_at(200).unwrap_err().retry_after,
            Duration::from_secs(700)
        );
        // Refused attempts are not counted: after the first leaves, one more fits.
        assert!(try_at(900).is_ok());
        assert!(try_at(901).is_err());
        assert!(try_at(1000).is_ok());
    }

    #[test]
    fn a_client_over_its_limit_is_refused_whatever_the_address() {
        let limiter = limiter(100, 2);
        let now = Instant::now();
        assert!(limiter
            .check_at(now, Attempt::Acceptance, Some("a"), ip(1))
            .is_ok());
        assert!(limiter
            .check_at(now, Attempt::Acceptance, Some("b"), ip(1))
            .is_ok());
        assert!(limiter
            .check_at(now, Attempt::Acceptance, Some("c"), ip(1))
            .is_err());
        assert!(limiter
            .check_at(now, Attempt::Acceptance, Some("c"), ip(2))
            .is_ok());
        // Unknown address and client: nothing to count by.
        for _ in 0..10 {
            assert!(limiter.check_at(now, Attempt::Login, None, None).is_ok());
        }
    }

    #[test]
    fn idle_keys_are_swept() {
        let limiter = limiter(5, 5);
        let start = Instant::now();
        assert!(limiter
            .check_at(start, Attempt::Login, Some("once"), ip(9))
            .is_ok());
        let later = start + Duration::from_secs(1000);
        for _ in 0..SWEEP_EVERY {
            let _ = limiter.check_at(later, Attempt::Login, None, None);
        }
        let counts = limiter.counts.lock().unwrap();
        assert!(counts.attempts.is_empty(), "{:?}", counts.attempts.keys());
    }
}
