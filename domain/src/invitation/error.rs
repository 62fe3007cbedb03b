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
}
