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
pub mod log_mark;
pub mod name;
pub mod person;
pub mod phone;
pub mod position;
pub mod seat;
pub mod services;
pub mod task;
pub mod text;
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
pub use log_mark::LogMark;
pub use name::PersonName;
pub use phone::{Phone, PhoneError};
pub use position::Position;
pub use text::{
    AccountName, CommentText, Field, TaskDescription, TaskTitle, TextError, WorkgroupName,
};
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

/// Implements [`cqrs_es::Aggregate`] the same way for every aggregate: `decide` (a pure
/// function of the state, the command and the services, giving zero or more events)
/// and `evolve` (folding one event into the state) are the aggregate's own; writing
/// the decided events to the sink is the same everywhere.
macro_rules! aggregate {
    ($ty:ident, $name:literal, $command:ty, $event:ty, $error:ty) => {
        impl cqrs_es::Aggregate for $ty {
            const TYPE: &'static str = $name;
            type Command = $command;
            type Event = $event;
            type Error = $error;
            type Services = crate::services::DomainServices;

            async fn handle(
                &mut self,
                command: Self::Command,
                services: &Self::Services,
                sink: &cqrs_es::event_sink::EventSink<Self>,
            ) -> Result<(), Self::Error> {
                // `decide` gives an Option or a Vec: zero or more events either way.
                for event in IntoIterator::into_iter(self.decide(command, services)?) {
                    sink.write(event, self).await;
                }
                Ok(())
            }

            fn apply(&mut self, event: Self::Event) {
                self.evolve(event)
            }
        }
    };
}
pub(crate) use aggregate;

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
