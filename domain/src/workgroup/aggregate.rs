use super::{
    InvitePolicy, MemberRole, RemovalReason, WorkgroupCommand, WorkgroupError, WorkgroupEvent,
};
use crate::person::PersonKind;
use crate::services::DomainServices;
use crate::{PersonId, Timestamp, WorkgroupId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Member {
    role: MemberRole,
    external: bool,
    expires_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Workgroup {
    id: Option<WorkgroupId>,
    name: String,
    extranet: bool,
    policy: InvitePolicy,
    members: BTreeMap<PersonId, Member>,
}

impl Workgroup {
    fn member(&self, person: PersonId) -> Result<&Member, WorkgroupError> {
        self.members.get(&person).ok_or(WorkgroupError::NotMember)
    }

    /// Refuses a change that would leave the group without an owner.
    fn keeps_an_owner(&self, leaving: PersonId) -> Result<(), WorkgroupError> {
        let other_owner = self
            .members
            .iter()
            .any(|(p, m)| *p != leaving && m.role == MemberRole::Owner);
        if self.member(leaving)?.role == MemberRole::Owner && !other_owner {
            return Err(WorkgroupError::LastOwner);
        }
        Ok(())
    }

    /// Whether `person` may invite into this group under its policy.
    pub fn may_invite(&self, person: PersonId) -> bool {
        self.members
            .get(&person)
            .is_some_and(|m| self.policy.allows(m.role))
    }

    /// Whether the group was created (an unknown id loads an empty group).
    pub fn exists(&self) -> bool {
        self.id.is_some()
    }

    /// Whether a person of `kind` may become a member: guests never (they work in
    /// tasks), external users only while the group allows external access. Asked by
    /// `AddMember`, and by an invitation into the group before it is issued, so the
    /// invitee is not promised a group that would refuse them on acceptance.
    pub fn admits(&self, kind: PersonKind) -> Result<(), WorkgroupError> {
        if self.id.is_none() {
            return Err(WorkgroupError::NotFound);
        }
        if kind == PersonKind::Guest {
            return Err(WorkgroupError::GuestsOnlyInTasks);
        }
        if kind.is_external() && !self.extranet {
            return Err(WorkgroupError::NotAnExtranetGroup);
        }
        Ok(())
    }

    fn decide(
        &self,
        command: WorkgroupCommand,
        services: &DomainServices,
    ) -> Result<Option<WorkgroupEvent>, WorkgroupError> {
        if let WorkgroupCommand::Create {
            group,
            name,
            extranet,
            owner,
        } = command
        {
            if self.id.is_some() {
                return Err(WorkgroupError::AlreadyExists);
            }
            return Ok(Some(WorkgroupEvent::WorkgroupCreated {
                group,
                name: name.into_string(),
                extranet,
                owner,
            }));
        }
        if self.id.is_none() {
            return Err(WorkgroupError::NotFound);
        }
        Ok(match command {
            WorkgroupCommand::Create { .. } => None,
            WorkgroupCommand::Rename { name } => {
                let name = name.into_string();
                (name != self.name).then_some(WorkgroupEvent::WorkgroupRenamed { name })
            }
            WorkgroupCommand::SetExternalAccess { extranet } => {
                if !extranet {
                    let count = self.members.values().filter(|m| m.external).count();
                    if count > 0 {
                        return Err(WorkgroupError::ExternalMembersInside { count });
                    }
                }
                (extranet != self.extranet)
                    .then_some(WorkgroupEvent::ExternalAccessChanged { extranet })
            }
            WorkgroupCommand::SetInvitePolicy { policy } => {
                (policy != self.policy).then_some(WorkgroupEvent::InvitePolicyChanged { policy })
            }
            WorkgroupCommand::AddMember {
                person,
                role,
                kind,
                expires_at,
            } => {
                if self.members.contains_key(&person) {
                    return Err(WorkgroupError::AlreadyMember);
                }
                self.admits(kind)?;
                let external = kind.is_external();
                if external && role == MemberRole::Owner {
                    return Err(WorkgroupError::ExternalCannotOwn);
                }
                Some(WorkgroupEvent::MemberAdded {
                    person,
                    role,
                    external,
                    expires_at,
                })
            }
            WorkgroupCommand::ChangeRole { person, role } => {
                let member = self.member(person)?;
                if member.external && role == MemberRole::Owner {
                    return Err(WorkgroupError::ExternalCannotOwn);
                }
                if role != MemberRole::Owner {
                    self.keeps_an_owner(person)?;
                }
                (role != member.role).then_some(WorkgroupEvent::MemberRoleChanged { person, role })
            }
            WorkgroupCommand::SetMembershipExpiry { person, expires_at } => {
                let member = self.member(person)?;
                (expires_at != member.expires_at)
                    .then_some(WorkgroupEvent::MembershipExpiryChanged { person, expires_at })
            }
            WorkgroupCommand::RemoveMember { person } => {
                self.keeps_an_owner(person)?;
                Some(WorkgroupEvent::MemberRemoved {
                    person,
                    reason: RemovalReason::Removed,
                })
            }
            WorkgroupCommand::ExpireMembership { person } => {
                let member = self.member(person)?;
                let due = member
                    .expires_at
                    .is_some_and(|at| services.clock.now() >= at);
                if !due {
                    return Err(WorkgroupError::NotYetExpired);
                }
                Some(WorkgroupEvent::MemberRemoved {
                    person,
                    reason: RemovalReason::Expired,
                })
            }
            WorkgroupCommand::Evict { person } => {
                self.member(person)?;
                Some(WorkgroupEvent::MemberRemoved {
                    person,
                    reason: RemovalReason::NoLongerAllowed,
                })
            }
        })
    }
}

crate::aggregate!(
    Workgroup,
    "workgroup",
    WorkgroupCommand,
    WorkgroupEvent,
    WorkgroupError
);

impl Workgroup {
    fn evolve(&mut self, event: WorkgroupEvent) {
        match event {
            WorkgroupEvent::WorkgroupCreated {
                group,
                name,
                extranet,
                owner,
            } => {
                self.id = Some(group);
                self.name = name;
                self.extranet = extranet;
                self.members.insert(
                    owner,
                    Member {
                        role: MemberRole::Owner,
                        external: false,
                        expires_at: None,
                    },
                );
            }
            WorkgroupEvent::WorkgroupRenamed { name } => self.name = name,
            WorkgroupEvent::ExternalAccessChanged { extranet } => self.extranet = extranet,
            WorkgroupEvent::InvitePolicyChanged { policy } => self.policy = policy,
            WorkgroupEvent::MemberAdded {
                person,
                role,
                external,
                expires_at,
            } => {
                self.members.insert(
                    person,
                    Member {
                        role,
                        external,
                        expires_at,
                    },
                );
            }
            WorkgroupEvent::MemberRoleChanged { person, role } => {
                if let Some(m) = self.members.get_mut(&person) {
                    m.role = role;
                }
            }
            WorkgroupEvent::MembershipExpiryChanged { person, expires_at } => {
                if let Some(m) = self.members.get_mut(&person) {
                    m.expires_at = expires_at;
                }
            }
            WorkgroupEvent::MemberRemoved { person, .. } => {
                self.members.remove(&person);
            }
        }
    }
}
