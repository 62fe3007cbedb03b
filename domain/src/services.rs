//! What the aggregates need from the outside world, as small traits: the current time
//! and fresh random nonces. Production passes the system clock and the OS random
//! source; tests pass fixed values.

use crate::Timestamp;
use std::sync::Arc;

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// Fresh, unguessable nonces (at least 128 bits of entropy, hex encoded).
pub trait NonceSource: Send + Sync {
    fn nonce(&self) -> String;
}

/// A clock that always answers the same moment, for tests and replays.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// A nonce source that answers the same nonce, for tests.
#[derive(Debug, Clone)]
pub struct FixedNonce(pub String);

impl NonceSource for FixedNonce {
    fn nonce(&self) -> String {
        self.0.clone()
    }
}

/// The services every aggregate receives. One struct for all, so the composition root
/// builds it once.
#[derive(Clone)]
pub struct DomainServices {
    pub clock: Arc<dyn Clock>,
    pub nonces: Arc<dyn NonceSource>,
    pub secrets: crate::invitation::SecretKey,
}
