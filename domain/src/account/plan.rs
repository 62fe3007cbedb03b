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

impl Plan {
    pub const TRIAL_DAYS: i64 = 30;

    /// Whether outsiders (extranet users, guests) may be let in.
    pub fn has_extranet(self) -> bool {
        self != Plan::Free
    }

    /// How many people (everyone current, and everyone invited and not yet in) the
    /// plan allows; `None` is no limit.
    pub fn user_limit(self) -> Option<u32> {
        match self {
            Plan::Free => Some(5),
            Plan::Trial => Some(100),
            Plan::Standard => Some(50),
            Plan::Professional => None,
        }
    }

    pub fn is_paid(self) -> bool {
        matches!(self, Plan::Standard | Plan::Professional)
    }
}
