use super::{AccountCommand, AccountError, AccountEvent, InvitationSettings, Plan};
use crate::log_mark::{is_new, LogMark};
use crate::services::DomainServices;
use crate::{AccountId, Timestamp};
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Account {
    id: Option<AccountId>,
    plan: Option<Plan>,
    trial_ends_at: Option<Timestamp>,
    #[serde(default)]
    trial_expired: bool,
    #[serde(default)]
    warned_days: Vec<u32>,
    #[serde(default)]
    settings: InvitationSettings,
    #[serde(default)]
    registration_nonce: String,
    /// How many places under the plan's limit are held: everyone registered or
    /// invited. A count, so the account stays small however many people it has; who
    /// holds a place, and whether it was given back, is each person's `SeatHold`.
    /// Snapshots from before the count held the set of holders (`seat_holders`);
    /// they load as its size.
    #[serde(default, alias = "seat_holders", deserialize_with = "count_or_holders")]
    seats_in_use: u32,
    /// The log position of the last give-back the reactor applied: it reads the log in
    /// order, so a give-back sent again after a crash is at or before it and ignored.
    #[serde(default)]
    seats_released_through: Option<LogMark>,
}

/// A count, or the set of holders an older snapshot stored (counted, not kept).
fn count_or_holders<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = u32;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a count of seats or a list of seat holders")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u32, E> {
            u32::try_from(v).map_err(E::custom)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<u32, A::Error> {
            let mut n = 0u32;
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                n = n.saturating_add(1);
            }
            Ok(n)
        }
    }
    deserializer.deserialize_any(Visitor)
}

/// Days before the trial's end at which administrators are warned.
const WARNINGS: [u32; 2] = [7, 1];

impl Account {
    pub fn settings(&self) -> &InvitationSettings {
        &self.settings
    }

    pub fn registration_nonce(&self) -> &str {
        &self.registration_nonce
    }

    pub fn seats_in_use(&self) -> u32 {
        self.seats_in_use
    }

    fn plan(&self) -> Result<Plan, AccountError> {
        self.plan.ok_or(AccountError::NotFound)
    }

    fn decide(
        &self,
        command: AccountCommand,
        services: &DomainServices,
    ) -> Result<Vec<AccountEvent>, AccountError> {
        let now = services.clock.now();
        if let AccountCommand::Create {
            account,
            name,
            plan,
        } = command
        {
            if self.id.is_some() {
                return Err(AccountError::AlreadyExists);
            }
            let name = name.into_string();
            let trial_ends_at = (plan == Plan::Trial).then(|| now.plus_days(Plan::TRIAL_DAYS));
            return Ok(vec![
                AccountEvent::AccountCreated {
                    account,
                    name,
                    plan,
                    trial_ends_at,
                    created_at: now,
                },
                AccountEvent::RegistrationLinkRotated {
                    nonce: services.nonces.nonce(),
                },
            ]);
        }
        let plan = self.plan()?;
        Ok(match command {
            AccountCommand::Create { .. } => Vec::new(),
            AccountCommand::ChangePlan { plan: to } => {
                if to == plan {
                    return Err(AccountError::SamePlan(to));
                }
                if to == Plan::Trial {
                    return Err(AccountError::TrialOnlyAtStart);
                }
                if let Some(limit) = to.user_limit() {
                    if self.seats_in_use() > limit {
                        return Err(AccountError::TooManyForPlan {
                            plan: to,
                            limit,
                            in_use: self.seats_in_use(),
                        });
                    }
                }
                vec![AccountEvent::PlanChanged { from: plan, to }]
            }
            AccountCommand::ChangeInvitationSettings { settings } => {
                if let Some(p) = settings.contradiction() {
                    return Err(AccountError::DomainOnBothLists(p.to_string()));
                }
                if settings == self.settings {
                    Vec::new()
                } else {
                    vec![AccountEvent::InvitationSettingsChanged { settings }]
                }
            }
            AccountCommand::RotateRegistrationLink => vec![AccountEvent::RegistrationLinkRotated {
                nonce: services.nonces.nonce(),
            }],
            AccountCommand::TakeSeat {
                person,
                external,
                email,
            } => {
                // Here rather than in the flow, so that a settings change and an
                // invitation cannot race: both are decided on this aggregate.
                if let Some(email) = &email {
                    self.settings
                        .admits(email)
                        .map_err(AccountError::DomainNotAllowed)?;
                }
                if external && !plan.has_extranet() {
                    return Err(AccountError::NoExtranetOnPlan);
                }
                if external && self.trial_expired && plan == Plan::Trial {
                    return Err(AccountError::TrialOver);
                }
                if let Some(limit) = plan.user_limit() {
                    if self.seats_in_use() >= limit {
                        return Err(AccountError::PlanLimitReached {
                            limit,
                            in_use: self.seats_in_use(),
                        });
                    }
                }
                vec![AccountEvent::SeatTaken { person }]
            }
            AccountCommand::ReleaseSeat { person, cause } => {
                if is_new(cause, self.seats_released_through) && self.seats_in_use > 0 {
                    vec![AccountEvent::SeatReleased {
                        person,
                        cause: Some(cause),
                    }]
                } else {
                    Vec::new()
                }
            }
            AccountCommand::CheckTrial => {
                let (Plan::Trial, Some(ends_at)) = (plan, self.trial_ends_at) else {
                    return Ok(Vec::new());
                };
                if self.trial_expired {
                    return Ok(Vec::new());
                }
                let mut due = Vec::new();
                for days_left in WARNINGS {
                    if now >= ends_at.plus_days(-i64::from(days_left))
                        && now < ends_at
                        && !self.warned_days.contains(&days_left)
                        && !self.warned_days.iter().any(|w| *w < days_left)
                    {
                        due.push(AccountEvent::TrialEndingSoon { days_left, ends_at });
                    }
                }
                // Only the most urgent warning, when a scheduler that was down for a
                // week wakes up a day before the end.
                if due.len() > 1 {
                    due.drain(..due.len() - 1);
                }
                if now >= ends_at {
                    due = vec![AccountEvent::TrialExpired];
                }
                due
            }
        })
    }
}

crate::aggregate!(
    Account,
    "account",
    AccountCommand,
    AccountEvent,
    AccountError
);

impl Account {
    fn evolve(&mut self, event: AccountEvent) {
        match event {
            AccountEvent::AccountCreated {
                account,
                plan,
                trial_ends_at,
                ..
            } => {
                self.id = Some(account);
                self.plan = Some(plan);
                self.trial_ends_at = trial_ends_at;
            }
            AccountEvent::PlanChanged { to, .. } => {
                self.plan = Some(to);
                if to != Plan::Trial {
                    self.trial_ends_at = None;
                }
            }
            AccountEvent::InvitationSettingsChanged { settings } => self.settings = settings,
            AccountEvent::RegistrationLinkRotated { nonce } => self.registration_nonce = nonce,
            // Logs from before the count hold only takes that added a holder and
            // releases that removed one, so counting them gives the same number.
            AccountEvent::SeatTaken { .. } => {
                self.seats_in_use = self.seats_in_use.saturating_add(1);
            }
            AccountEvent::SeatReleased { cause, .. } => {
                self.seats_in_use = self.seats_in_use.saturating_sub(1);
                if cause.is_some() {
                    self.seats_released_through = cause;
                }
            }
            AccountEvent::TrialEndingSoon { days_left, .. } => self.warned_days.push(days_left),
            AccountEvent::TrialExpired => self.trial_expired = true,
        }
    }
}
