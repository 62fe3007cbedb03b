use super::{InvitationSettings, Plan};
use crate::log_mark::LogMark;
use crate::{AccountId, AccountName, Email, PersonId};

#[derive(Debug, Clone, PartialEq)]
pub enum AccountCommand {
    Create {
        account: AccountId,
        name: AccountName,
        plan: Plan,
    },
    ChangePlan {
        plan: Plan,
    },
    ChangeInvitationSettings {
        settings: InvitationSettings,
    },
    RotateRegistrationLink,
    /// Reserves a place under the plan's limit for someone being invited, added or
    /// registering at `email` (which the domain lists must admit), or coming back.
    /// Every take counts; a second take for someone who holds a place is given back
    /// by their `SeatHold`.
    TakeSeat {
        person: PersonId,
        external: bool,
        email: Option<Email>,
    },
    /// Gives one place back, for the `SeatHold` event at `cause` that recorded it
    /// (only the reactor sends this). A cause at or before the last one applied was
    /// applied already and changes nothing.
    ReleaseSeat {
        person: PersonId,
        cause: LogMark,
    },
    /// Records what is due about the trial now: warnings, then expiry (the scheduler
    /// sends this; it is safe to send often).
    CheckTrial,
}
