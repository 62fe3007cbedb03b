#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    #[error("task not found")]
    NotFound,
    #[error("this task already exists")]
    AlreadyExists,
    #[error("the title is empty")]
    TitleEmpty,
    #[error("the title may have at most {max} characters")]
    TitleTooLong { max: usize },
    #[error("the description may have at most {max} characters")]
    DescriptionTooLong { max: usize },
    #[error("the creator of a task cannot be given another role in it")]
    CreatorHasRole,
    #[error("this person holds no role in the task")]
    NotOnTask,
    #[error("the comment is empty")]
    CommentEmpty,
    #[error("a comment may have at most {max} characters")]
    CommentTooLong { max: usize },
    #[error("this comment already exists")]
    CommentExists,
}
