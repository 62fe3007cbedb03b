use super::{PersonKind, SuspensionReason};
use crate::{Email, InvitationId, PersonId, PersonName, Timestamp};

#[derive(Debug, Clone, PartialEq)]
pub enum PersonCommand {
    Join {
        person: PersonId,
        kind: PersonKind,
        email: Email,
        name: PersonName,
        administrator: bool,
        password_hash: String,
        invitation: Option<InvitationId>,
        sponsor: Option<PersonId>,
        previous: Option<PersonId>,
    },
    ChangeProfile {
        name: PersonName,
    },
    /// The new address must have been claimed for this person first (see
    /// `email_claim`); the old one is released after.
    ChangeEmail {
        email: Email,
    },
    ChangePassword {
        password_hash: String,
    },
    /// Someone asked for a link to set a new password. Only an active person gets one;
    /// a new request makes the previous link worthless.
    RequestPasswordReset,
    /// The person followed the reset link and chose a new password. `secret` is the
    /// link's, checked here in constant time against the outstanding request.
    ResetPassword {
        secret: String,
        password_hash: String,
    },
    TransferToEmployee,
    ConvertToExtranet,
    Dismiss,
    Reinstate,
    Suspend {
        reason: SuspensionReason,
    },
    /// Lifts a suspension, but only one made for `reason`: a plan upgrade does not
    /// let in someone an administrator locked out.
    LiftSuspension {
        reason: SuspensionReason,
    },
    /// Sets, extends or clears when an external person's access ends.
    SetAccessExpiry {
        expires_at: Option<Timestamp>,
    },
    /// Suspends someone whose access end date has come (the scheduler sends this).
    ExpireAccess,
    ErasePersonalData,
}
