//! The domain of Extranet: who may work inside a company's workspace.
//!
//! Every change is an event of one aggregate. This crate holds the aggregates, their
//! commands, events and invariants, and nothing else: no I/O, no clock, no randomness.
//! Time and secrets come in through the small traits in [`services`], so the
//! given/when/then tests are deterministic.

pub mod account;
pub mod address;
pub mod domain_pattern;
pub mod email;
pub mod email_claim;
pub mod ids;
pub mod invitation;
pub mod name;
pub mod person;
pub mod phone;
pub mod services;
pub mod task;
pub mod time;
pub mod trial;
pub mod upcast;
pub mod workgroup;

pub use address::{Address, AddressError};
pub use domain_pattern::{DomainPattern, DomainPatternError};
pub use email::{Email, EmailError};
pub use ids::{
    AccountId, AggregateKey, CommentId, DepartmentId, InvitationId, PersonId, TaskId, WorkgroupId,
};
pub use name::{NameError, PersonName};
pub use phone::{Phone, PhoneError};
pub use time::Timestamp;

/// Implements [`cqrs_es::DomainEvent`] for an event enum: the event type is the
/// variant's name, as serde writes it, and each variant names its version. A variant's
/// version goes up when its stored shape changes; [`upcast`] reads the older shapes.
macro_rules! domain_event {
    ($ty:ident { $($variant:ident : $version:literal),* $(,)? }) => {
        impl cqrs_es::DomainEvent for $ty {
            fn event_type(&self) -> String {
                match self {
                    $(Self::$variant { .. } => stringify!($variant).to_string(),)*
                }
            }
            fn event_version(&self) -> String {
                match self {
                    $(Self::$variant { .. } => $version.to_string(),)*
                }
            }
        }
    };
}
pub(crate) use domain_event;

#[cfg(test)]
pub(crate) mod testing {
    use crate::invitation::SecretKey;
    use crate::services::{DomainServices, FixedClock, FixedNonce};
    use crate::Timestamp;
    use std::sync::Arc;

    pub const NONCE: &str = "00112233445566778899aabbccddeeff";

    pub fn services_at(now: Timestamp) -> DomainServices {
        DomainServices {
            clock: Arc::new(FixedClock(now)),
            nonces: Arc::new(FixedNonce(NONCE.to_string())),
            secrets: SecretKey::from_bytes([7; 32]),
        }
    }
}
