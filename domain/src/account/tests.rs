//! Given/when/then for every account command and refusal.

use super::*;
use crate::testing::{services_at, NONCE};
use crate::{AccountId, AccountName, DomainPattern, LogMark, PersonId, Timestamp};
use cqrs_es::test::TestFramework;

const NOW: Timestamp = Timestamp(1_700_000_000_000);

fn at(now: Timestamp) -> TestFramework<Account> {
    TestFramework::with(services_at(now))
}

fn created(account: AccountId, plan: Plan) -> Vec<AccountEvent> {
    vec![
        AccountEvent::AccountCreated {
            account,
            name: "Acme".into(),
            plan,
            trial_ends_at: (plan == Plan::Trial).then(|| NOW.plus_days(30)),
            created_at: NOW,
        },
        AccountEvent::RegistrationLinkRotated {
            nonce: NONCE.into(),
        },
    ]
}

fn with(
    mut events: Vec<AccountEvent>,
    more: impl IntoIterator<Item = AccountEvent>,
) -> Vec<AccountEvent> {
    events.extend(more);
    events
}

fn seats(n: usize) -> Vec<AccountEvent> {
    (0..n)
        .map(|_| AccountEvent::SeatTaken {
            person: PersonId::new_random(),
        })
        .collect()
}

#[test]
fn a_trial_account_ends_in_thirty_days_and_has_a_registration_link() {
    let account = AccountId::new_random();
    at(NOW)
        .given_no_previous_events()
        .when(AccountCommand::Create {
            account,
            name: AccountName::parse(" Acme ").unwrap(),
            plan: Plan::Trial,
        })
        .then_expect_events(created(account, Plan::Trial));
}

#[test]
fn creation_refusals() {
    let account = AccountId::new_random();
    let create = |name: &str| AccountCommand::Create {
        account,
        name: AccountName::parse(name).unwrap(),
        plan: Plan::Standard,
    };
    at(NOW)
        .given(created(account, Plan::Standard))
        .when(create("Acme"))
        .then_expect_error(AccountError::AlreadyExists);
    at(NOW)
        .given_no_previous_events()
        .when(AccountCommand::RotateRegistrationLink)
        .then_expect_error(AccountError::NotFound);
}

#[test]
fn plans_change_within_their_limits() {
    let account = AccountId::new_random();
    at(NOW)
        .given(created(account, Plan::Trial))
        .when(AccountCommand::ChangePlan {
            plan: Plan::Professional,
        })
        .then_expect_events(vec![AccountEvent::PlanChanged {
            from: Plan::Trial,
            to: Plan::Professional,
        }]);
    at(NOW)
        .given(created(account, Plan::Standard))
        .when(AccountCommand::ChangePlan {
            plan: Plan::Standard,
        })
        .then_expect_error(AccountError::SamePlan(Plan::Standard));
    at(NOW)
        .given(created(account, Plan::Standard))
        .when(AccountCommand::ChangePlan { plan: Plan::Trial })
        .then_expect_error(AccountError::TrialOnlyAtStart);
    at(NOW)
        .given(with(created(account, Plan::Standard), seats(6)))
        .when(AccountCommand::ChangePlan { plan: Plan::Free })
        .then_expect_error(AccountError::TooManyForPlan {
            plan: Plan::Free,
            limit: 5,
            in_use: 6,
        });
}

#[test]
fn seats_are_taken_up_to_the_plan_limit() {
    let account = AccountId::new_random();
    let person = PersonId::new_random();
    at(NOW)
        .given(created(account, Plan::Standard))
        .when(AccountCommand::TakeSeat {
            person,
            external: true,
            email: None,
        })
        .then_expect_events(vec![AccountEvent::SeatTaken { person }]);
    at(NOW)
        .given(with(created(account, Plan::Standard), seats(50)))
        .when(AccountCommand::TakeSeat {
            person,
            external: false,
            email: None,
        })
        .then_expect_error(AccountError::PlanLimitReached {
            limit: 50,
            in_use: 50,
        });
    at(NOW)
        .given(with(created(account, Plan::Professional), seats(500)))
        .when(AccountCommand::TakeSeat {
            person,
            external: false,
            email: None,
        })
        .then_expect_events(vec![AccountEvent::SeatTaken { person }]);
    // A released seat can be taken again.
    let mut full = with(created(account, Plan::Free), seats(3));
    full.push(AccountEvent::SeatTaken { person });
    full.push(AccountEvent::SeatReleased {
        person,
        cause: Some(mark(1)),
    });
    full.extend(seats(1));
    at(NOW)
        .given(full)
        .when(AccountCommand::TakeSeat {
            person,
            external: false,
            email: None,
        })
        .then_expect_events(vec![AccountEvent::SeatTaken { person }]);
}

fn mark(position: i64) -> LogMark {
    LogMark { tx: 0, position }
}

#[test]
fn a_place_is_given_back_once_per_cause() {
    let account = AccountId::new_random();
    let person = PersonId::new_random();
    let released = |at: i64| AccountEvent::SeatReleased {
        person,
        cause: Some(mark(at)),
    };
    let holding = with(created(account, Plan::Free), seats(2));
    at(NOW)
        .given(holding.clone())
        .when(AccountCommand::ReleaseSeat {
            person,
            cause: mark(7),
        })
        .then_expect_events(vec![released(7)]);
    // The reactor sent it again after a crash, or sent an older one: already applied.
    for cause in [7, 5] {
        at(NOW)
            .given(with(holding.clone(), [released(7)]))
            .when(AccountCommand::ReleaseSeat {
                person,
                cause: mark(cause),
            })
            .then_expect_events(vec![]);
    }
    // Never below zero.
    at(NOW)
        .given(created(account, Plan::Free))
        .when(AccountCommand::ReleaseSeat {
            person,
            cause: mark(9),
        })
        .then_expect_events(vec![]);
}

#[test]
fn the_domain_lists_are_checked_when_a_place_is_taken_for_an_address() {
    let account = AccountId::new_random();
    let person = PersonId::new_random();
    let settings = InvitationSettings {
        blocked_domains: vec![DomainPattern::parse("rival.test").unwrap()],
        ..InvitationSettings::default()
    };
    let given = with(
        created(account, Plan::Standard),
        [AccountEvent::InvitationSettingsChanged { settings }],
    );
    let take = |email: &str| AccountCommand::TakeSeat {
        person,
        external: true,
        email: Some(crate::Email::parse(email).unwrap()),
    };
    at(NOW)
        .given(given.clone())
        .when(take("eve@rival.test"))
        .then_expect_error(AccountError::DomainNotAllowed(DomainRefusal::Blocked {
            domain: "rival.test".into(),
            pattern: "rival.test".into(),
        }));
    at(NOW)
        .given(given)
        .when(take("ann@client.test"))
        .then_expect_events(vec![AccountEvent::SeatTaken { person }]);
}

#[test]
fn an_old_log_and_an_old_snapshot_count_the_same_as_before() {
    let account = AccountId::new_random();
    let (a, b) = (PersonId::new_random(), PersonId::new_random());
    // Version 1 releases, as the set-keeping account wrote them.
    let v1 = serde_json::json!({"SeatReleased": {"person": a}});
    let (version, payload) = crate::upcast::upcast("SeatReleased", "1", v1);
    assert_eq!(version, "2");
    let old_release: AccountEvent = serde_json::from_value(payload).unwrap();
    let mut state = Account::default();
    for e in with(
        created(account, Plan::Free),
        [
            AccountEvent::SeatTaken { person: a },
            AccountEvent::SeatTaken { person: b },
            old_release,
        ],
    ) {
        cqrs_es::Aggregate::apply(&mut state, e);
    }
    assert_eq!(state.seats_in_use(), 1);
    let snapshot = serde_json::json!({
        "id": account, "plan": "free", "trial_ends_at": null,
        "seat_holders": [a, b],
    });
    let old: Account = serde_json::from_value(snapshot).unwrap();
    assert_eq!(old.seats_in_use(), 2);
    let again: Account = serde_json::from_value(serde_json::to_value(&old).unwrap()).unwrap();
    assert_eq!(again.seats_in_use(), 2, "a new snapshot keeps the count");
}

#[test]
fn the_free_plan_and_an_expired_trial_have_no_extranet() {
    let account = AccountId::new_random();
    let person = PersonId::new_random();
    at(NOW)
        .given(created(account, Plan::Free))
        .when(AccountCommand::TakeSeat {
            person,
            external: true,
            email: None,
        })
        .then_expect_error(AccountError::NoExtranetOnPlan);
    at(NOW)
        .given(created(account, Plan::Free))
        .when(AccountCommand::TakeSeat {
            person,
            external: false,
            email: None,
        })
        .then_expect_events(vec![AccountEvent::SeatTaken { person }]);
    at(NOW.plus_days(31))
        .given(with(
            created(account, Plan::Trial),
            [AccountEvent::TrialExpired],
        ))
        .when(AccountCommand::TakeSeat {
            person,
            external: true,
            email: None,
        })
        .then_expect_error(AccountError::TrialOver);
}

#[test]
fn invitation_settings_refuse_a_domain_on_both_lists() {
    let account = AccountId::new_random();
    let p = DomainPattern::parse("*.partner.com").unwrap();
    let settings = InvitationSettings {
        everyone_may_invite: true,
        registration_link: true,
        approval_required: true,
        approval_free_domains: vec![DomainPattern::parse("acme.com").unwrap()],
        allowed_domains: vec![p.clone()],
        blocked_domains: vec![],
    };
    at(NOW)
        .given(created(account, Plan::Standard))
        .when(AccountCommand::ChangeInvitationSettings {
            settings: settings.clone(),
        })
        .then_expect_events(vec![AccountEvent::InvitationSettingsChanged {
            settings: settings.clone(),
        }]);
    at(NOW)
        .given(with(
            created(account, Plan::Standard),
            [AccountEvent::InvitationSettingsChanged {
                settings: settings.clone(),
            }],
        ))
        .when(AccountCommand::ChangeInvitationSettings {
            settings: settings.clone(),
        })
        .then_expect_events(vec![]);
    let contradictory = InvitationSettings {
        blocked_domains: vec![p],
        ..settings
    };
    at(NOW)
        .given(created(account, Plan::Standard))
        .when(AccountCommand::ChangeInvitationSettings {
            settings: contradictory,
        })
        .then_expect_error(AccountError::DomainOnBothLists("*.partner.com".into()));
}

#[test]
fn rotating_the_registration_link_draws_a_new_nonce() {
    let account = AccountId::new_random();
    at(NOW)
        .given(created(account, Plan::Standard))
        .when(AccountCommand::RotateRegistrationLink)
        .then_expect_events(vec![AccountEvent::RegistrationLinkRotated {
            nonce: NONCE.into(),
        }]);
}

#[test]
fn the_trial_warns_seven_days_and_one_day_before_then_expires() {
    let account = AccountId::new_random();
    let ends_at = NOW.plus_days(30);
    let trial = created(account, Plan::Trial);
    at(NOW.plus_days(10))
        .given(trial.clone())
        .when(AccountCommand::CheckTrial)
        .then_expect_events(vec![]);
    let seven = AccountEvent::TrialEndingSoon {
        days_left: 7,
        ends_at,
    };
    at(NOW.plus_days(23))
        .given(trial.clone())
        .when(AccountCommand::CheckTrial)
        .then_expect_events(vec![seven.clone()]);
    at(NOW.plus_days(24))
        .given(with(trial.clone(), [seven.clone()]))
        .when(AccountCommand::CheckTrial)
        .then_expect_events(vec![]);
    let one = AccountEvent::TrialEndingSoon {
        days_left: 1,
        ends_at,
    };
    at(NOW.plus_days(29))
        .given(with(trial.clone(), [seven.clone()]))
        .when(AccountCommand::CheckTrial)
        .then_expect_events(vec![one.clone()]);
    // A scheduler that was down sends only the most urgent warning.
    at(NOW.plus_days(29))
        .given(trial.clone())
        .when(AccountCommand::CheckTrial)
        .then_expect_events(vec![one.clone()]);
    at(NOW.plus_days(30))
        .given(with(trial.clone(), [seven.clone(), one.clone()]))
        .when(AccountCommand::CheckTrial)
        .then_expect_events(vec![AccountEvent::TrialExpired]);
    at(NOW.plus_days(31))
        .given(with(trial, [seven, one, AccountEvent::TrialExpired]))
        .when(AccountCommand::CheckTrial)
        .then_expect_events(vec![]);
    // A paid account has no trial to check.
    at(NOW.plus_days(31))
        .given(created(account, Plan::Standard))
        .when(AccountCommand::CheckTrial)
        .then_expect_events(vec![]);
}

#[test]
fn upgrading_ends_the_trial_checks() {
    let account = AccountId::new_random();
    at(NOW.plus_days(40))
        .given(with(
            created(account, Plan::Trial),
            [AccountEvent::PlanChanged {
                from: Plan::Trial,
                to: Plan::Standard,
            }],
        ))
        .when(AccountCommand::CheckTrial)
        .then_expect_events(vec![]);
}
