//! Invitations: the secret, single-use, expiring link that lets a person in, and
//! registrations through the account's own link, with or without approval.
//!
//! States: pending → accepted | declined | revoked | expired; a registration:
//! awaiting approval → accepted | rejected.

mod aggregate;
mod command;
mod error;
mod event;
mod secret;
pub mod upcast;

#[cfg(test)]
mod tests;

pub use aggregate::{Invitation, InvitationState, VALID_DAYS};
pub use command::InvitationCommand;
pub use error::InvitationError;
pub use event::{Approval, Delivery, InvitationEvent, InvitationTarget};
pub use secret::{Link, SecretKey};
