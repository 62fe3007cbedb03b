use crate::person::PersonKind;
use crate::task::TaskRole;
use crate::{
    Address, DepartmentId, Email, InvitationId, PersonId, PersonName, Position, TaskId, Timestamp,
    WorkgroupId,
};
use serde::{Deserialize, Serialize};

/// What accepting the invitation makes of the person, and where it puts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationTarget {
    /// An employee, optionally into a department.
    Company { department: Option<DepartmentId> },
    /// A member of a workgroup: an employee, or an extranet user (the group must be
    /// an extranet group; that is checked when the membership is added).
    Workgroup {
        group: WorkgroupId,
        kind: PersonKind,
    },
    /// A guest with a role in one task.
    Task { task: TaskId, role: TaskRole },
}

impl InvitationTarget {
    /// The kind of person the invitation makes.
    pub fn person_kind(&self) -> PersonKind {
        match self {
            InvitationTarget::Company { .. } => PersonKind::Employee,
            InvitationTarget::Workgroup { kind, .. } => *kind,
            InvitationTarget::Task { .. } => PersonKind::Guest,
        }
    }
}

/// How the person comes in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// They get a link and choose their own password.
    #[default]
    Link,
    /// Added directly by an administrator, with a position; always an employee.
    /// Without confirmation they are in at once: a generated password is emailed,
    /// derived from the invitation's nonce and the server key like a link's secret
    /// (`SecretKey::initial_password`), so it is never stored. With confirmation they
    /// get a link and choose their own password, as with `Link`.
    Direct { position: Position, confirm: bool },
}

/// How a registration through the account's link was let in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// The account asks for an administrator's approval.
    Required,
    /// Approval is asked for, but the email's domain is on the list that skips it.
    BypassedByDomain { domain: String },
    /// The account does not ask for approval.
    NotRequired,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InvitationEvent {
    /// Version 2: `address` (email or phone) replaced `email`; `name` may be absent
    /// for a plain invitation by address; `delivery` was added.
    InvitationIssued {
        invitation: InvitationId,
        /// The id the person will have once they accept, known from the start so that
        /// a task or group can name them before they have joined.
        person: PersonId,
        address: Address,
        name: Option<PersonName>,
        target: InvitationTarget,
        sponsor: PersonId,
        /// Random; the link's secret is derived from it (see `SecretKey`).
        nonce: String,
        expires_at: Timestamp,
        #[serde(default)]
        delivery: Delivery,
    },
    InvitationResent {
        nonce: String,
        expires_at: Timestamp,
    },
    InvitationAccepted {
        person: PersonId,
        accepted_at: Timestamp,
    },
    /// The invited person said no, through their link.
    InvitationDeclined,
    /// The sponsor or an administrator took it back.
    InvitationRevoked,
    /// Its link ran out before it was used.
    InvitationExpired,
    /// Someone registered through the account's registration link.
    RegistrationRequested {
        invitation: InvitationId,
        person: PersonId,
        email: Email,
        name: PersonName,
        /// The argon2id hash of the password they chose, kept until they are let in.
        password_hash: String,
        approval: Approval,
    },
    /// Let in: by an administrator, or at once when no approval was needed.
    RegistrationApproved {
        by: Option<PersonId>,
    },
    RegistrationRejected {
        by: PersonId,
    },
}

crate::domain_event!(InvitationEvent {
    InvitationIssued: "2",
    InvitationResent: "1",
    InvitationAccepted: "1",
    InvitationDeclined: "1",
    InvitationRevoked: "1",
    InvitationExpired: "1",
    RegistrationRequested: "1",
    RegistrationApproved: "1",
    RegistrationRejected: "1",
});
