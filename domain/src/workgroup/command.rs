use super::{InvitePolicy, MemberRole};
use crate::person::PersonKind;
use crate::{PersonId, Timestamp, WorkgroupId, WorkgroupName};

#[derive(Debug, Clone, PartialEq)]
pub enum WorkgroupCommand {
    Create {
        group: WorkgroupId,
        name: WorkgroupName,
        extranet: bool,
        owner: PersonId,
    },
    Rename {
        name: WorkgroupName,
    },
    /// Turns "allow access for external users" on or off. Off is refused while
    /// external members are inside: remove them first, so nobody loses access by a
    /// settings change they did not see.
    SetExternalAccess {
        extranet: bool,
    },
    SetInvitePolicy {
        policy: InvitePolicy,
    },
    /// Adds a person of the given kind: employees to any group, extranet users to
    /// extranet groups only, guests to none (they work in tasks).
    AddMember {
        person: PersonId,
        role: MemberRole,
        kind: PersonKind,
        expires_at: Option<Timestamp>,
    },
    ChangeRole {
        person: PersonId,
        role: MemberRole,
    },
    /// Sets, extends or clears when a membership ends.
    SetMembershipExpiry {
        person: PersonId,
        expires_at: Option<Timestamp>,
    },
    RemoveMember {
        person: PersonId,
    },
    /// Ends a membership whose end date has come (the scheduler sends this).
    ExpireMembership {
        person: PersonId,
    },
    /// Ends a membership because the person may not be here any more.
    Evict {
        person: PersonId,
    },
}
