use super::{TaskRole, TaskStatus};
use crate::{PersonId, TaskId};

#[derive(Debug, Clone, PartialEq)]
pub enum TaskCommand {
    Create {
        task: TaskId,
        title: String,
        description: String,
        creator: PersonId,
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
