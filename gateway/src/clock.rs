//! The real clock and random source the domain's traits stand for.

use domain::services::{Clock, NonceSource};
use domain::Timestamp;
use rand::RngCore;
use std::time::{SystemTime, UNIX_EPOCH};

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp(millis)
    }
}

/// 128 random bits from the operating system.
pub struct OsNonces;

impl NonceSource for OsNonces {
    fn nonce(&self) -> String {
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        hex::encode(bytes)
    }
}
