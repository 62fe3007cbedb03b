//! People of an account: employees, extranet users and guests.

mod aggregate;
mod command;
mod error;
mod event;

pub use aggregate::Person;
pub use command::PersonCommand;
pub use error::PersonError;
pub use event::{PersonEvent, PersonKind};
