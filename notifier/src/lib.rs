//! The notifier: follows the event log and emails people about what concerns them.
//!
//! It works in two halves, so that a crash neither loses nor doubles a message:
//! - [`outbox::Outbox`] is a projection. For each event it decides which emails to
//!   send and writes them to the `outbox` table, in the same transaction as its
//!   checkpoint. It runs behind the read-model projector, whose tables it reads.
//! - [`sender`] delivers what the outbox holds and marks each row sent. A crash after
//!   delivery and before marking would deliver that one message again; its
//!   Message-ID is derived from the event, so mail clients show it once.
//!
//! A generated password is the one thing an email carries that the outbox never holds:
//! the sender makes it as it sends the message ([`withheld`]).

pub mod mailer;
pub mod outbox;
pub mod render;
pub mod sender;
pub mod withheld;

pub use mailer::{Mailer, MailerError};
pub use outbox::Outbox;
