//! Changing a task's own fields (title, status, description, deadline), any number at
//! once: one command, so either every change is stored or none, and everyone on the
//! task hears of them in one email.

use super::{refusal_of, Failure};
use crate::state::AppState;
use domain::task::{Task, TaskCommand, TaskError, TaskStatus};
use domain::{AggregateKey, TaskDescription, TaskId, TaskTitle, Timestamp};
use projections::permission::Viewer;

/// The changes, every text already parsed; `None` leaves a field as it is.
#[derive(Debug, Clone)]
pub struct UpdateTask {
    pub task: TaskId,
    pub title: Option<TaskTitle>,
    pub status: Option<TaskStatus>,
    pub description: Option<TaskDescription>,
    /// `Some(None)` removes the deadline.
    pub deadline: Option<Option<Timestamp>>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateTaskError {
    /// The task does not exist, or the viewer may not see it: the same answer.
    #[error("task not found")]
    NotFound,
    #[error("only an administrator, the task's creator or its responsible person can change it")]
    Forbidden,
    #[error(transparent)]
    Refused(TaskError),
    #[error(transparent)]
    Failed(#[from] Failure),
}

pub async fn update_task(
    state: &AppState,
    viewer: &Viewer,
    request: UpdateTask,
) -> Result<(), UpdateTaskError> {
    let task = request.task;
    let permissions = &state.permissions;
    if !permissions
        .may_see_task(viewer, task)
        .await
        .map_err(Failure::from)?
    {
        return Err(UpdateTaskError::NotFound);
    }
    if !permissions
        .may_change_task(viewer, task)
        .await
        .map_err(Failure::from)?
    {
        return Err(UpdateTaskError::Forbidden);
    }
    let command = TaskCommand::Update {
        title: request.title,
        status: request.status,
        description: request.description,
        deadline: request.deadline,
    };
    let key = AggregateKey::new(viewer.account, task.0);
    if let Err(e) = state
        .execute::<Task>(key, command, Some(viewer.person))
        .await
    {
        return Err(UpdateTaskError::Refused(refusal_of(e)?));
    }
    Ok(())
}
