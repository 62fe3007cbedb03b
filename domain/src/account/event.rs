use super::{InvitationSettings, Plan};
use crate::log_mark::LogMark;
use crate::{AccountId, PersonId, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccountEvent {
    AccountCreated {
        account: AccountId,
        name: String,
        plan: Plan,
        /// Set for a trial: when it ends unless a paid plan is chosen.
        trial_ends_at: Option<Timestamp>,
        created_at: Timestamp,
    },
    PlanChanged {
        from: Plan,
        to: Plan,
    },
    InvitationSettingsChanged {
        settings: InvitationSettings,
    },
    /// The account's registration link changed; the old one stops working.
    RegistrationLinkRotated {
        nonce: String,
    },
    /// A place under the plan's user limit is taken by a person, invited or current.
    SeatTaken {
        person: PersonId,
    },
    /// Version 2: `cause`, the `SeatHold` event that gave the place back (absent in
    /// version 1, when the account kept the set of holders).
    SeatReleased {
        person: PersonId,
        #[serde(default)]
        cause: Option<LogMark>,
    },
    /// Administrators are warned 7 days and 1 day before the trial ends.
    TrialEndingSoon {
        days_left: u32,
        ends_at: Timestamp,
    },
    /// The trial ended without a paid plan: external people are suspended until one
    /// is chosen.
    TrialExpired,
}

crate::domain_event!(AccountEvent {
    AccountCreated: "1",
    PlanChanged: "1",
    InvitationSettingsChanged: "1",
    RegistrationLinkRotated: "1",
    SeatTaken: "1",
    SeatReleased: "2",
    TrialEndingSoon: "1",
    TrialExpired: "1",
});
