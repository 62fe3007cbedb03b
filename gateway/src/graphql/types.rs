//! The GraphQL object types and enums, and how the read models map onto them.

use super::global_id::id_of;
use async_graphql::{Enum, SimpleObject, ID};
use chrono::{DateTime, Utc};
use domain::invitation::{Delivery, InvitationState};
use domain::person::{
    PersonKind as DomainPersonKind, PersonStatus as DomainPersonStatus, SuspensionReason,
};
use domain::task::{TaskRole as DomainTaskRole, TaskStatus as DomainTaskStatus};
use domain::WorkgroupId;
use projections::directory::PersonRecord;
use projections::invitations::InvitationRecord;
use projections::tasks::TaskRecord;
use projections::workgroups::WorkgroupRecord;

/// Where a task stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum TaskStatus {
    /// Created, not started.
    New,
    /// Being worked on.
    InProgress,
    /// Done by the responsible person, waiting for the creator to accept.
    AwaitingReview,
    /// Finished.
    Completed,
    /// Put off for later.
    Deferred,
}

impl From<DomainTaskStatus> for TaskStatus {
    fn from(s: DomainTaskStatus) -> Self {
        match s {
            DomainTaskStatus::New => TaskStatus::New,
            DomainTaskStatus::InProgress => TaskStatus::InProgress,
            DomainTaskStatus::AwaitingReview => TaskStatus::AwaitingReview,
            DomainTaskStatus::Completed => TaskStatus::Completed,
            DomainTaskStatus::Deferred => TaskStatus::Deferred,
        }
    }
}

impl From<TaskStatus> for DomainTaskStatus {
    fn from(s: TaskStatus) -> Self {
        match s {
            TaskStatus::New => DomainTaskStatus::New,
            TaskStatus::InProgress => DomainTaskStatus::InProgress,
            TaskStatus::AwaitingReview => DomainTaskStatus::AwaitingReview,
            TaskStatus::Completed => DomainTaskStatus::Completed,
            TaskStatus::Deferred => DomainTaskStatus::Deferred,
        }
    }
}

/// The role a person holds in a task, besides its creator.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum TaskRole {
    /// The one person who answers for the task.
    Responsible,
    /// Works on the task with the responsible person.
    Participant,
    /// Follows the task and is told of every change.
    Observer,
}

impl From<TaskRole> for DomainTaskRole {
    fn from(r: TaskRole) -> Self {
        match r {
            TaskRole::Responsible => DomainTaskRole::Responsible,
            TaskRole::Participant => DomainTaskRole::Participant,
            TaskRole::Observer => DomainTaskRole::Observer,
        }
    }
}

/// What kind of member of the account a person is.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum PersonKind {
    /// A full member of the company.
    Employee,
    /// An outsider limited to the extranet workgroups they belong to.
    Extranet,
    /// An outsider invited into tasks only.
    Guest,
}

impl From<DomainPersonKind> for PersonKind {
    fn from(k: DomainPersonKind) -> Self {
        match k {
            DomainPersonKind::Employee => PersonKind::Employee,
            DomainPersonKind::Extranet => PersonKind::Extranet,
            DomainPersonKind::Guest => PersonKind::Guest,
        }
    }
}

/// A task of the account.
#[derive(SimpleObject, Clone, Debug)]
pub struct Task {
    /// Stable and opaque.
    pub id: ID,
    /// What the task is called.
    pub title: String,
    /// What is to be done.
    pub description: String,
    /// Where the task stands.
    pub status: TaskStatus,
}

impl From<TaskRecord> for Task {
    fn from(t: TaskRecord) -> Self {
        Self {
            id: id_of(t.id),
            title: t.title,
            description: t.description,
            status: t.status.into(),
        }
    }
}

/// A person of the account.
#[derive(SimpleObject, Clone, Debug)]
pub struct Person {
    /// Stable for the person's whole life in the account.
    pub id: ID,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Their login and where they are emailed.
    pub email: Option<String>,
    /// Employee, extranet user or guest.
    pub kind: PersonKind,
    /// Whether they can log in, and if not, why.
    pub status: PersonStatus,
    /// Whether they administer the account.
    pub administrator: bool,
    /// When an external person's access ends; null when it does not.
    pub access_expires_at: Option<DateTime<Utc>>,
    /// Who invited them; null for the first administrator and for registrations.
    pub sponsor_id: Option<ID>,
    /// When they joined.
    pub joined_at: Option<DateTime<Utc>>,
}

impl From<PersonRecord> for Person {
    fn from(p: PersonRecord) -> Self {
        Self {
            id: id_of(p.id),
            first_name: p.first_name,
            last_name: p.last_name,
            email: Some(p.email).filter(|e| !e.is_empty()),
            kind: p.kind.into(),
            status: PersonStatus::from_record(&p.status, p.suspension_reason.as_deref()),
            administrator: p.administrator,
            access_expires_at: p.access_expires_at.and_then(time),
            sponsor_id: p.sponsor.map(id_of),
            joined_at: time(p.joined_at),
        }
    }
}

/// A moment as the API shows it (RFC 3339, UTC), from milliseconds since the epoch.
pub fn time(millis: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis)
}

/// Whether a person can log in, and if not, why.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum PersonStatus {
    /// Can log in and work.
    Active,
    /// Locked out by an administrator; they can lift it.
    SuspendedByAdministrator,
    /// Locked out because the account's trial ended; a paid plan lets them back.
    SuspendedTrialExpired,
    /// Locked out because their own access end date came; extending it lets them back.
    SuspendedAccessExpired,
    /// Left the company; can be reinstated.
    Dismissed,
    /// Dismissed and their personal data erased for good.
    Erased,
}

impl PersonStatus {
    /// A status from the domain's fold of a person's events; null before they joined.
    pub fn at(status: DomainPersonStatus) -> Option<Self> {
        Some(match status {
            DomainPersonStatus::None => return None,
            DomainPersonStatus::Active => PersonStatus::Active,
            DomainPersonStatus::Suspended(SuspensionReason::TrialExpired) => {
                PersonStatus::SuspendedTrialExpired
            }
            DomainPersonStatus::Suspended(SuspensionReason::AccessExpired) => {
                PersonStatus::SuspendedAccessExpired
            }
            DomainPersonStatus::Suspended(SuspensionReason::Administrative) => {
                PersonStatus::SuspendedByAdministrator
            }
            DomainPersonStatus::Dismissed => PersonStatus::Dismissed,
            DomainPersonStatus::Erased => PersonStatus::Erased,
        })
    }

    fn from_record(status: &str, reason: Option<&str>) -> Self {
        match (status, reason) {
            ("active", _) => PersonStatus::Active,
            ("suspended", Some("trial_expired")) => PersonStatus::SuspendedTrialExpired,
            ("suspended", Some("access_expired")) => PersonStatus::SuspendedAccessExpired,
            ("suspended", _) => PersonStatus::SuspendedByAdministrator,
            ("erased", _) => PersonStatus::Erased,
            _ => PersonStatus::Dismissed,
        }
    }
}

/// Where an invitation stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum InvitationStatus {
    /// Sent; the link has not been used yet.
    Pending,
    /// Registered through the account's link; an administrator has to approve.
    AwaitingApproval,
    /// The person followed the link and joined.
    Accepted,
    /// The person said no.
    Declined,
    /// Taken back by the inviter or an administrator.
    Revoked,
    /// The link ran out before it was used.
    Expired,
    /// An administrator turned the registration down.
    Rejected,
}

impl From<InvitationState> for InvitationStatus {
    fn from(state: InvitationState) -> Self {
        match state {
            InvitationState::None | InvitationState::Pending => InvitationStatus::Pending,
            InvitationState::AwaitingApproval => InvitationStatus::AwaitingApproval,
            InvitationState::Accepted => InvitationStatus::Accepted,
            InvitationState::Declined => InvitationStatus::Declined,
            InvitationState::Revoked => InvitationStatus::Revoked,
            InvitationState::Expired => InvitationStatus::Expired,
            InvitationState::Rejected => InvitationStatus::Rejected,
        }
    }
}

/// An invitation sent to someone by email.
#[derive(SimpleObject, Clone, Debug)]
pub struct Invitation {
    /// Stable and opaque.
    pub id: ID,
    /// The id the person has once they accept.
    pub person_id: ID,
    /// Where the invitation was sent: an email address, or a phone number starting
    /// with +.
    pub email: String,
    /// Where it stands.
    pub status: InvitationStatus,
    /// What accepting makes of the person.
    pub kind: Option<PersonKind>,
    /// When it was sent.
    pub issued_at: Option<DateTime<Utc>>,
    /// When its link stops working; null for a registration awaiting approval.
    pub expires_at: Option<DateTime<Utc>>,
    /// The position an administrator gave when adding the person directly
    /// (`addPersonDirectly`); null for an invitation by link.
    pub position: Option<String>,
}

impl From<InvitationRecord> for Invitation {
    fn from(i: InvitationRecord) -> Self {
        Self {
            id: id_of(i.id),
            person_id: id_of(i.person),
            email: i.address,
            status: i.state.into(),
            kind: Some(i.kind.into()),
            issued_at: time(i.issued_at),
            expires_at: i.expires_at.and_then(|t| time(t.0)),
            position: match i.delivery {
                Delivery::Link => None,
                Delivery::Direct { position, .. } => Some(position.to_string()),
            },
        }
    }
}

/// A refusal the user can act on: which input field it concerns, a message for
/// people, and a stable code for programs.
#[derive(SimpleObject, Clone, Debug, PartialEq)]
pub struct UserError {
    /// The path to the input field at fault, e.g. `["input", "email"]`; empty when the
    /// refusal is about the request as a whole.
    pub field: Vec<String>,
    /// What went wrong and what to do about it, for people.
    pub message: String,
    /// Stable: `INVALID_EMAIL`, `INVALID_NAME`, `INVALID_TITLE`, `FORBIDDEN`,
    /// `INVALID_CREDENTIALS`, `EMAIL_TAKEN`, `CONFLICT`, ...
    pub code: String,
}

impl UserError {
    pub fn new(field: &[&str], message: impl ToString, code: &str) -> Self {
        Self {
            field: field.iter().map(|f| f.to_string()).collect(),
            message: message.to_string(),
            code: code.to_string(),
        }
    }
}

/// A workgroup or project of the account.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct Workgroup {
    /// Stable and opaque.
    pub id: ID,
    /// What `id` names, for the group's own fields.
    #[graphql(skip)]
    pub group: WorkgroupId,
    /// What the group is called.
    pub name: String,
    /// Whether the group allows access for external users (an extranet group).
    pub extranet: bool,
}

impl From<WorkgroupRecord> for Workgroup {
    fn from(w: WorkgroupRecord) -> Self {
        Self {
            id: id_of(w.id),
            group: w.id,
            name: w.name,
            extranet: w.extranet,
        }
    }
}
