#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("this account already exists")]
    AlreadyExists,
    #[error("the account name is empty")]
    NameEmpty,
    #[error("the account name may have at most {max} characters")]
    NameTooLong { max: usize },
}
