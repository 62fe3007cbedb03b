//! One module per thing a person (or the CLI) asks for: a typed input, a typed
//! outcome and a typed error, knowing neither HTTP nor GraphQL. The doors (GraphQL
//! resolvers, HTML pages, CLI subcommands) parse what came in, call one use case and
//! show its outcome; only use cases run commands (`gateway/tests/doors.rs` keeps it so).
//!
//! A use case that needs several commands runs them here, in one place, whichever
//! door it was asked through. What every use case can meet besides its own refusals
//! (a race, a store that failed, read models that cannot show the change) is one
//! [`Failure`], so every door shows those the same way.

pub mod accept_invitation;
pub mod add_person;
pub mod change_email;
pub mod change_password;
pub mod command;
pub mod create_account;
pub mod decide_registration;
pub mod flow_step;
pub mod invite_guest;
pub mod invite_people;
pub mod joining;
pub mod register;
pub mod reinstate_person;
pub mod request_password_reset;
pub mod resend_invitation;
pub mod reset_password;
pub mod update_task;

use projections::commands::CommandError;
use projections::health::Stall;
use projections::StoreError;

/// What went wrong that is no refusal of the domain's: the same for every use case.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Another command changed the same thing at the same moment; sending it again is
    /// safe.
    #[error("someone else changed this at the same moment; try again")]
    Busy,
    /// The change is stored, but the read models are stalled short of it: it is
    /// recorded, not yet shown, and must not be sent again.
    #[error("the change was recorded but cannot be shown yet: {0}")]
    NotYetShown(Box<Stall>),
    /// The change is stored, but the read models did not confirm it within the wait:
    /// it takes effect when the service catches up, and must not be sent again.
    #[error("the change was recorded but is not yet in force (waited {waited:?})")]
    NotYetInForce { waited: std::time::Duration },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the event store failed: {0}")]
    EventStore(String),
    /// A refusal the use case did not expect at this step: a fault to log, not
    /// something the person can fix.
    #[error("{0}")]
    Internal(String),
}

/// Splits a command's failure into the aggregate's refusal, which the use case
/// decides about, and a [`Failure`], which it passes on.
pub fn refusal_of<E: std::error::Error>(error: CommandError<E>) -> Result<E, Failure> {
    match error {
        CommandError::Refused(e) => Ok(e),
        CommandError::Conflict => Err(Failure::Busy),
        CommandError::Store(e) => Err(Failure::Store(e)),
        CommandError::EventStore(message) => Err(Failure::EventStore(message)),
        CommandError::ReadModelsStalled(stall) => Err(Failure::NotYetShown(stall)),
        CommandError::NotYetInForce { waited } => Err(Failure::NotYetInForce { waited }),
    }
}

/// A command's failure at a step where no refusal is expected: every refusal is then
/// a [`Failure::Internal`].
pub fn failure<E: std::error::Error>(error: CommandError<E>) -> Failure {
    match refusal_of(error) {
        Ok(refusal) => Failure::Internal(refusal.to_string()),
        Err(failure) => failure,
    }
}
