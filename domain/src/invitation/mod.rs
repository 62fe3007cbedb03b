//! Invitations: the secret, single-use, expiring link that lets a person in.

mod aggregate;
mod command;
mod error;
mod event;
mod secret;

pub use aggregate::Invitation;
pub use command::InvitationCommand;
pub use error::InvitationError;
pub use event::{InvitationEvent, InvitationTarget};
pub use secret::SecretKey;
