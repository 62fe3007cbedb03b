#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvitationError {
    #[error("this invitation already exists")]
    AlreadyIssued,
    /// Also the answer for an invitation that does not exist, so a guessed link learns
    /// nothing.
    #[error("this invitation link is not valid: ask the person who invited you to send it again")]
    InvalidLink,
    #[error("this invitation has expired: ask the person who invited you to send it again")]
    Expired,
    #[error("this invitation has already been accepted: log in instead")]
    AlreadyAccepted,
    #[error("this invitation was declined")]
    Declined,
    #[error("this invitation was withdrawn by the person who sent it")]
    Revoked,
    #[error("this registration was rejected by an administrator")]
    Rejected,
    #[error("this invitation is still valid until it expires")]
    NotYetExpired,
    #[error("there is no registration waiting for approval here")]
    NotAwaitingApproval,
    #[error("a guest is invited by email: a phone number cannot receive the task")]
    GuestNeedsEmail,
    #[error("guests are invited into tasks only")]
    GuestsOnlyInTasks,
    #[error("give the person's first and last name")]
    NameRequired,
    #[error("someone added directly needs an email address: it becomes their login")]
    DirectNeedsEmail,
    /// Extranet users and guests are let in only where an invitation names (a group, a
    /// task), and they choose their own password there.
    #[error("only employees are added directly: invite extranet users and guests instead")]
    DirectOnlyForEmployees,
}
