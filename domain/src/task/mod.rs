//! Tasks: title, description, status, and the people who hold a role in them. Any role
//! but the creator's may be held by a guest.

mod aggregate;
mod command;
mod error;
mod event;

pub use aggregate::Task;
pub use command::TaskCommand;
pub use error::TaskError;
pub use event::{TaskChange, TaskEvent, TaskRole, TaskStatus};
