//! Workgroups and projects: members with roles, and whether outsiders (extranet
//! users) may be let in. A group that allows external access is an "extranet group";
//! only those take extranet users.

mod aggregate;
mod command;
mod error;
mod event;

#[cfg(test)]
mod tests;

pub use aggregate::Workgroup;
pub use command::WorkgroupCommand;
pub use error::WorkgroupError;
pub use event::{InvitePolicy, MemberRole, RemovalReason, WorkgroupEvent};
