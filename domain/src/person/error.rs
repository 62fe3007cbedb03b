use super::SuspensionReason;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonError {
    #[error("person not found")]
    NotFound,
    #[error("this person has already joined")]
    AlreadyJoined,
    #[error("only employees can be administrators")]
    AdministratorMustBeEmployee,
    #[error("this person is already an employee")]
    AlreadyEmployee,
    #[error("only employees can be converted to extranet users")]
    NotAnEmployee,
    #[error(
        "an administrator cannot become an external user: take away the administrator role first"
    )]
    AdministratorCannotBeExternal,
    #[error("this person has been dismissed")]
    Dismissed,
    #[error("this person's personal data has been erased")]
    Erased,
    #[error("this person is not dismissed")]
    NotDismissed,
    #[error("dismiss this person before erasing their personal data")]
    EraseNeedsDismissal,
    #[error("this person is already suspended")]
    AlreadySuspended,
    #[error("this person is not suspended for {0:?}")]
    NotSuspendedFor(SuspensionReason),
    #[error("only extranet users and guests can be suspended when the trial ends or their access expires")]
    NotExternal,
    #[error("this person's access has no end date that has come")]
    AccessNotExpired,
    #[error("the new email address is the current one")]
    SameEmail,
    #[error("this person is suspended")]
    Suspended,
    /// Also the answer for a link of someone who asked for none, so a guessed link
    /// learns nothing.
    #[error("this password reset link is not valid: ask for a new one")]
    ResetLinkInvalid,
    #[error("this password reset link has expired: ask for a new one")]
    ResetLinkExpired,
    #[error("this password reset link was already used: log in, or ask for a new one")]
    ResetLinkUsed,
}
