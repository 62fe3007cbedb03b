#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkgroupError {
    #[error("workgroup not found")]
    NotFound,
    #[error("this workgroup already exists")]
    AlreadyExists,
    #[error("external users can only join a group that allows access for external users; turn that on first")]
    NotAnExtranetGroup,
    #[error("{count} external member(s) are still in this group: remove them before turning external access off")]
    ExternalMembersInside { count: usize },
    #[error("guests work in tasks only: invite them as extranet users to join a group")]
    GuestsOnlyInTasks,
    #[error("this person is already a member")]
    AlreadyMember,
    #[error("this person is not a member of the group")]
    NotMember,
    #[error("an external user cannot own a workgroup")]
    ExternalCannotOwn,
    #[error("a group needs an owner: make someone else owner first")]
    LastOwner,
    #[error("this membership has no end date that has come")]
    NotYetExpired,
}
