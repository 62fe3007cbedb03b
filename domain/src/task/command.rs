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
    /// Changes any of the task's own fields at once; `None` leaves a field as it is
    /// (`deadline: Some(None)` removes the deadline). Either every change is stored,
    /// as one event, or none.
    Update {
        title: Option<TaskTitle>,
        status: Option<TaskStatus>,
        description: Option<TaskDescription>,
        deadline: Option<Option<Timestamp>>,
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
