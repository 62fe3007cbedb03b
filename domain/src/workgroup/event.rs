use crate::{PersonId, Timestamp, WorkgroupId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    Owner,
    Moderator,
    Member,
}

/// Who among the members may invite others into the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitePolicy {
    #[default]
    Owner,
    Moderators,
    Members,
}

impl InvitePolicy {
    /// Whether a member with `role` may invite under this policy.
    pub fn allows(self, role: MemberRole) -> bool {
        match self {
            InvitePolicy::Owner => role == MemberRole::Owner,
            InvitePolicy::Moderators => role <= MemberRole::Moderator,
            InvitePolicy::Members => true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalReason {
    /// Taken out by an owner, a moderator or an administrator.
    Removed,
    /// Their membership had an end date, and it came.
    Expired,
    /// The person is no longer with the account (dismissed, or converted and no
    /// longer allowed here).
    NoLongerAllowed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WorkgroupEvent {
    WorkgroupCreated {
        group: WorkgroupId,
        name: String,
        /// "Allow access for external users".
        extranet: bool,
        owner: PersonId,
    },
    WorkgroupRenamed {
        name: String,
    },
    ExternalAccessChanged {
        extranet: bool,
    },
    InvitePolicyChanged {
        policy: InvitePolicy,
    },
    MemberAdded {
        person: PersonId,
        role: MemberRole,
        /// An extranet user: only allowed while the group is an extranet group.
        external: bool,
        /// The membership ends by itself at this moment, if set.
        expires_at: Option<Timestamp>,
    },
    MemberRoleChanged {
        person: PersonId,
        role: MemberRole,
    },
    MembershipExpiryChanged {
        person: PersonId,
        expires_at: Option<Timestamp>,
    },
    MemberRemoved {
        person: PersonId,
        reason: RemovalReason,
    },
}

crate::domain_event!(WorkgroupEvent {
    WorkgroupCreated: "1",
    WorkgroupRenamed: "1",
    ExternalAccessChanged: "1",
    InvitePolicyChanged: "1",
    MemberAdded: "1",
    MemberRoleChanged: "1",
    MembershipExpiryChanged: "1",
    MemberRemoved: "1",
});
