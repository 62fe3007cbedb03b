//! The account: one company's workspace, its plan and its settings.

mod aggregate;
mod command;
mod error;
mod event;

pub use aggregate::Account;
pub use command::AccountCommand;
pub use error::AccountError;
pub use event::{AccountEvent, Plan};
