use super::{AccountCommand, AccountError, AccountEvent, Plan};
use crate::services::DomainServices;
use crate::{AccountId, Timestamp};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

const TRIAL_DAYS: i64 = 30;
const NAME_MAX_CHARS: usize = 200;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Account {
    id: Option<AccountId>,
    plan: Option<Plan>,
    trial_ends_at: Option<Timestamp>,
}

impl Aggregate for Account {
    const TYPE: &'static str = "account";
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Error = AccountError;
    type Services = DomainServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            AccountCommand::Create {
                account,
                name,
                plan,
            } => {
                if self.id.is_some() {
                    return Err(AccountError::AlreadyExists);
                }
                let name = name.trim().to_string();
                if name.is_empty() {
                    return Err(AccountError::NameEmpty);
                }
                if name.chars().count() > NAME_MAX_CHARS {
                    return Err(AccountError::NameTooLong {
                        max: NAME_MAX_CHARS,
                    });
                }
                let now = services.clock.now();
                let trial_ends_at = (plan == Plan::Trial).then(|| now.plus_days(TRIAL_DAYS));
                let event = AccountEvent::AccountCreated {
                    account,
                    name,
                    plan,
                    trial_ends_at,
                    created_at: now,
                };
                sink.write(event, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::services_at;
    use cqrs_es::test::TestFramework;

    type AccountTest = TestFramework<Account>;
    const NOW: Timestamp = Timestamp(1_700_000_000_000);

    fn created(account: AccountId) -> AccountEvent {
        AccountEvent::AccountCreated {
            account,
            name: "Acme".into(),
            plan: Plan::Trial,
            trial_ends_at: Some(NOW.plus_days(30)),
            created_at: NOW,
        }
    }

    #[test]
    fn a_trial_account_ends_in_thirty_days() {
        let account = AccountId::new_random();
        AccountTest::with(services_at(NOW))
            .given_no_previous_events()
            .when(AccountCommand::Create {
                account,
                name: " Acme ".into(),
                plan: Plan::Trial,
            })
            .then_expect_events(vec![created(account)]);
    }

    #[test]
    fn a_paid_account_has_no_trial_end() {
        let account = AccountId::new_random();
        AccountTest::with(services_at(NOW))
            .given_no_previous_events()
            .when(AccountCommand::Create {
                account,
                name: "Acme".into(),
                plan: Plan::Standard,
            })
            .then_expect_events(vec![AccountEvent::AccountCreated {
                account,
                name: "Acme".into(),
                plan: Plan::Standard,
                trial_ends_at: None,
                created_at: NOW,
            }]);
    }

    #[test]
    fn an_account_is_created_once() {
        let account = AccountId::new_random();
        AccountTest::with(services_at(NOW))
            .given(vec![created(account)])
            .when(AccountCommand::Create {
                account,
                name: "Acme".into(),
                plan: Plan::Trial,
            })
            .then_expect_error(AccountError::AlreadyExists);
    }

    #[test]
    fn the_name_is_required_and_bounded() {
        let account = AccountId::new_random();
        AccountTest::with(services_at(NOW))
            .given_no_previous_events()
            .when(AccountCommand::Create {
                account,
                name: "  ".into(),
                plan: Plan::Trial,
            })
            .then_expect_error(AccountError::NameEmpty);
        AccountTest::with(services_at(NOW))
            .given_no_previous_events()
            .when(AccountCommand::Create {
                account,
                name: "x".repeat(201),
                plan: Plan::Trial,
            })
            .then_expect_error(AccountError::NameTooLong { max: 200 });
    }
}
