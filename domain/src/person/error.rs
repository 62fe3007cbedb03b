#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonError {
    #[error("this person has already joined")]
    AlreadyJoined,
    #[error("only employees can be administrators")]
    AdministratorMustBeEmployee,
}
