use super::{AccountCommand, AccountError, AccountEvent, InvitationSettings, Plan};
use crate::services::DomainServices;
use crate::{AccountId, PersonId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Debug, Default, Serialize, Deserialize)]
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
    /// Who holds a place under the plan's limit: everyone registered or invited. A set
    /// rather than a count, so taking and giving back are safe to repeat, which the
    /// processes that release places rely on.
    #[serde(default)]
    seat_holders: BTreeSet<PersonId>,
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

    fn seats_in_use(&self) -> u32 {
        u32::try_from(self.seat_holders.len()).unwrap_or(u32::MAX)
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
            AccountCommand::TakeSeat { person, external } => {
                if self.seat_holders.contains(&person) {
                    return Ok(Vec::new());
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
            AccountCommand::ReleaseSeat { person } => {
                if self.seat_holders.contains(&person) {
                    vec![AccountEvent::SeatReleased { person }]
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
            AccountEvent::SeatTaken { person } => {
                self.seat_holders.insert(person);
            }
            AccountEvent::SeatReleased { person } => {
                self.seat_holders.remove(&person);
            }
            AccountEvent::TrialEndingSoon { days_left, .. } => self.warned_days.push(days_left),
            AccountEvent::TrialExpired => self.trial_expired = true,
        }
    }
}
