use super::{TaskRole, TaskStatus};
use crate::{
    CommentId, CommentText, PersonId, TaskDescription, TaskId, TaskTitle, Timestamp, WorkgroupId,
};

#[derive(Debug, Clone, PartialEq)]
pub enum TaskCommand {
    Create {
        task: TaskId,
        title: TaskTitle,
        description: TaskDescription,
        creator: PersonId,
        workgroup: Option<WorkgroupId>,
        deadline: Option<Timestamp>,
    },
    ChangeDescription {
        description: TaskDescription,
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
        text: CommentText,
    },
    Rename {
        title: TaskTitle,
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
