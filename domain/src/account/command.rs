use super::{InvitationSettings, Plan};
use crate::{AccountId, AccountName, PersonId};

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
    /// Reserves a place under the plan's limit for someone being invited or added.
    /// Taking a place one already holds changes nothing.
    TakeSeat {
        person: PersonId,
        external: bool,
    },
    /// Gives the place back: the invitation ended unused, or the person left. Giving
    /// back a place one does not hold changes nothing.
    ReleaseSeat {
        person: PersonId,
    },
    /// Records what is due about the trial now: warnings, then expiry (the scheduler
    /// sends this; it is safe to send often).
    CheckTrial,
}
