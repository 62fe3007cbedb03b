use serde::{Deserialize, Serialize};

/// A moment in time, as milliseconds since the Unix epoch (UTC).
///
/// The domain never reads a clock; it receives `Timestamp`s from a
/// [`Clock`](crate::services::Clock), so a plain integer is all it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const MILLIS_PER_DAY: i64 = 24 * 60 * 60 * 1000;
    pub const MILLIS_PER_MINUTE: i64 = 60 * 1000;

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn plus_days(self, days: i64) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(days.saturating_mul(Self::MILLIS_PER_DAY)),
        )
    }

    pub fn plus_minutes(self, minutes: i64) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(minutes.saturating_mul(Self::MILLIS_PER_MINUTE)),
        )
    }
}
