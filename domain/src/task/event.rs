use crate::{CommentId, PersonId, TaskId, Timestamp, WorkgroupId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    New,
    InProgress,
    AwaitingReview,
    Completed,
    Deferred,
}

impl TaskStatus {
    pub fn label(self) -> &'static str {
        match self {
            TaskStatus::New => "new",
            TaskStatus::InProgress => "in progress",
            TaskStatus::AwaitingReview => "awaiting review",
            TaskStatus::Completed => "completed",
            TaskStatus::Deferred => "deferred",
        }
    }
}

/// The role a person holds in a task besides its creator. A task has at most one
/// responsible person; assigning a new one takes the role from the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskRole {
    Responsible,
    Participant,
    Observer,
}

impl TaskRole {
    pub fn label(self) -> &'static str {
        match self {
            TaskRole::Responsible => "responsible person",
            TaskRole::Participant => "participant",
            TaskRole::Observer => "observer",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TaskEvent {
    /// Version 2 added `workgroup` and `deadline`; a version 1 event has neither.
    TaskCreated {
        task: TaskId,
        title: String,
        description: String,
        creator: PersonId,
        #[serde(default)]
        workgroup: Option<WorkgroupId>,
        #[serde(default)]
        deadline: Option<Timestamp>,
    },
    TaskRenamed {
        title: String,
    },
    TaskStatusChanged {
        status: TaskStatus,
    },
    TaskDescriptionChanged {
        description: String,
    },
    /// `None` removes the deadline.
    TaskDeadlineChanged {
        deadline: Option<Timestamp>,
    },
    /// `person` no longer holds a role in the task.
    PersonUnassigned {
        person: PersonId,
    },
    CommentAdded {
        comment: CommentId,
        author: PersonId,
        text: String,
    },
    /// `person` now holds `role`. When the role is responsible, `replaces` names the
    /// person who held it before and holds no role any more.
    PersonAssigned {
        person: PersonId,
        role: TaskRole,
        replaces: Option<PersonId>,
    },
    /// Several of the task's own fields changed at once, by one `updateTask`: one
    /// event, so they are stored together or not at all and watchers hear of them in
    /// one message. Only the fields that changed, in the order the request names them.
    TaskUpdated {
        changes: Vec<TaskChange>,
    },
}

/// One field of a task changed by [`TaskEvent::TaskUpdated`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskChange {
    Title(String),
    Status(TaskStatus),
    Description(String),
    /// `None` removes the deadline.
    Deadline(Option<Timestamp>),
}

impl TaskChange {
    /// The single-field event that means the same change.
    pub fn into_event(self) -> TaskEvent {
        match self {
            TaskChange::Title(title) => TaskEvent::TaskRenamed { title },
            TaskChange::Status(status) => TaskEvent::TaskStatusChanged { status },
            TaskChange::Description(description) => {
                TaskEvent::TaskDescriptionChanged { description }
            }
            TaskChange::Deadline(deadline) => TaskEvent::TaskDeadlineChanged { deadline },
        }
    }
}

impl TaskEvent {
    /// The event as single-field events: a [`TaskEvent::TaskUpdated`] as one per
    /// change, in order; any other event as itself. Lets a projection apply an update
    /// the way it applies each of its changes alone.
    pub fn one_by_one(self) -> Vec<TaskEvent> {
        match self {
            TaskEvent::TaskUpdated { changes } => {
                changes.into_iter().map(TaskChange::into_event).collect()
            }
            other => vec![other],
        }
    }
}

crate::domain_event!(TaskEvent {
    TaskCreated: "2",
    TaskRenamed: "1",
    TaskStatusChanged: "1",
    PersonAssigned: "1",
    TaskDescriptionChanged: "1",
    TaskDeadlineChanged: "1",
    PersonUnassigned: "1",
    CommentAdded: "1",
    TaskUpdated: "1",
});
