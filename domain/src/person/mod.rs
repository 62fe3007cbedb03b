//! People of an account: employees, extranet users and guests, and everything that
//! happens to them after they join: transfers both ways, dismissal and reinstatement,
//! suspension, access expiry, erasure.

mod aggregate;
mod command;
mod error;
mod event;

#[cfg(test)]
mod tests;

pub use aggregate::{Person, PersonStatus, RESET_VALID_MINUTES};
pub use command::PersonCommand;
pub use error::PersonError;
pub use event::{PersonEvent, PersonKind, SuspensionReason};
