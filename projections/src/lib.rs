//! The read side of Extranet, and the store both sides share.
//!
//! - [`store`] opens the embedded SQLite or the production PostgreSQL store and runs
//!   the migrations;
//! - [`commands`] runs domain commands through cqrs-es against that store;
//! - [`log`] reads the one global, ordered event log that every consumer follows;
//! - [`projector`] tails the log from a checkpoint and feeds a [`projector::Projection`];
//! - [`read_model`] is the projection that keeps the tables the gateway reads;
//! - [`permission`] answers "may this person see that" from those tables;
//! - [`session`] keeps login sessions;
//! - [`server_lock`] keeps a SQLite file to one serving process.

pub mod accounts;
pub mod activity;
pub mod applied;
pub mod attempts;
pub mod batch;
mod bulk;
pub mod checkpoint;
pub mod commands;
mod created;
pub mod directory;
pub mod error;
pub mod freshness;
pub mod health;
pub mod history;
pub mod holds;
pub mod hot;
pub mod invitations;
pub mod log;
pub mod permission;
pub mod personal_data;
pub mod projector;
pub mod reactor;
pub mod read_model;
pub mod rebuild;
pub mod scheduler;
pub mod server_lock;
pub mod session;
pub mod store;
pub mod tasks;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod workgroups;

pub use error::StoreError;
pub use log::{EventLog, LogPosition, StoredEvent};
pub use store::{Backend, Database};
