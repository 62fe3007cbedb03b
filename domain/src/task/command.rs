use super::{TaskRole, TaskStatus};
use crate::{CommentId, PersonId, TaskId, Timestamp, WorkgroupId};

#[derive(Debug, Clone, PartialEq)]
pub enum TaskCommand {
    Create {
        task: TaskId,
        title: String,
        description: String,
        creator: PersonId,
        workgroup: Option<WorkgroupId>,
        deadline: Option<Timestamp>,
    },
    ChangeDescription {
        description: String,
    },
    SetDeadline {
        deadline: Option<Timestamp>,
    },
    /// Takes the person's role in the task away.
    Unassign {
        person: PersonId,
    },
    Comment {
        comment: CommentId,
        author: PersonId,
        text: String,
    },
    Rename {
        title: String,
    },
    ChangeStatus {
        status: TaskStatus,
    },
    /// Gives `person` the `role`; assigning the role they already hold changes nothing,
    /// so the command can be repeated safely.
    Assign {
        person: PersonId,
        role: TaskRole,
    },
}
