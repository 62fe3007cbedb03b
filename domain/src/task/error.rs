#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    #[error("task not found")]
    NotFound,
    #[error("this task already exists")]
    AlreadyExists,
    #[error("the creator of a task cannot be given another role in it")]
    CreatorHasRole,
    #[error("this person holds no role in the task")]
    NotOnTask,
}
