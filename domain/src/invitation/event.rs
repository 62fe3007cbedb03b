use crate::task::TaskRole;
use crate::{Email, InvitationId, PersonId, PersonName, TaskId, Timestamp};
use serde::{Deserialize, Serialize};

/// What accepting the invitation gives the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationTarget {
    /// A guest with a role in one task.
    Task { task: TaskId, role: TaskRole },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InvitationEvent {
    InvitationIssued {
        invitation: InvitationId,
        /// The id the person will have once they accept, known from the start so that
        /// a task can name its guest before they have joined.
        person: PersonId,
        email: Email,
        name: PersonName,
        target: InvitationTarget,
        sponsor: PersonId,
        /// Random; the link's secret is derived from it (see `SecretKey`).
        nonce: String,
        expires_at: Timestamp,
    },
    InvitationResent {
        nonce: String,
        expires_at: Timestamp,
    },
    InvitationAccepted {
        person: PersonId,
        accepted_at: Timestamp,
    },
}

crate::domain_event!(
    InvitationEvent,
    "1",
    [InvitationIssued, InvitationResent, InvitationAccepted]
);
