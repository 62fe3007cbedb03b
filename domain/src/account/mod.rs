//! The account: one company's workspace, its plan, its user limit, its invitation
//! settings and its trial.

mod aggregate;
mod command;
mod error;
mod event;
mod plan;
mod settings;
pub(crate) mod upcast;

#[cfg(test)]
mod tests;

pub use aggregate::Account;
pub use command::AccountCommand;
pub use error::AccountError;
pub use event::AccountEvent;
pub use plan::Plan;
pub use settings::{DomainRefusal, InvitationSettings};
