use crate::{AccountId, Timestamp};
use serde::{Deserialize, Serialize};

/// The plan an account is on. Extranet exists on every plan but `Free`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Trial,
    Free,
    Standard,
    Professional,
}

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
}

crate::domain_event!(AccountEvent {
    AccountCreated: "1"
});
