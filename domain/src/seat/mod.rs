//! One person's place under the plan's limit: whether it is held, and the one fact
//! that it was given back.
//!
//! The account counts places (it must not grow with its people), so it cannot tell
//! which person a place is for, nor whether a place was already given back. That is
//! this aggregate's job, one per (account, person). The account takes a place at
//! once, under its limit (`AccountCommand::TakeSeat`); the reactor, reading the log in
//! order, opens the person's hold here. Whatever ends the hold (an invitation that
//! ended unused, a dismissal, the sweeper for a place nobody took up) asks this
//! aggregate to give it back, and only the first ask records `SeatGivenBack`; the
//! reactor then lowers the account's count once for that event. A second take for a
//! person who already holds a place records `SeatTakenTwice`, and the extra place is
//! given back the same way.

use crate::log_mark::{is_new, LogMark};
use crate::services::DomainServices;
use crate::{AccountId, AggregateKey, PersonId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatHoldCommand {
    /// The account recorded a place taken for this person at `cause` (the reactor).
    Open { person: PersonId, cause: LogMark },
    /// The place is no longer needed. `cause` is the event that ended it when the
    /// reactor asks; `None` when the sweeper gives back a place nobody took up.
    GiveBack {
        person: PersonId,
        cause: Option<LogMark>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SeatHoldEvent {
    SeatHeld {
        person: PersonId,
        cause: LogMark,
    },
    /// The account took a second place for someone who holds one: it is one too many.
    SeatTakenTwice {
        person: PersonId,
        cause: LogMark,
    },
    /// The place is free again; the account's count goes down once for this event.
    SeatGivenBack {
        person: PersonId,
        cause: Option<LogMark>,
    },
}

crate::domain_event!(SeatHoldEvent {
    SeatHeld: "1",
    SeatTakenTwice: "1",
    SeatGivenBack: "1",
});

/// Never refused: every command either records its fact or finds it already recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeatHoldError {}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SeatHold {
    held: bool,
    /// Whether anything was ever recorded here.
    opened: bool,
    /// The last cause from the log this hold applied.
    through: Option<LogMark>,
}

impl SeatHold {
    pub fn key(account: AccountId, person: PersonId) -> AggregateKey {
        AggregateKey::new(account, person.0)
    }

    pub fn is_held(&self) -> bool {
        self.held
    }
}

crate::aggregate!(
    SeatHold,
    "seat_hold",
    SeatHoldCommand,
    SeatHoldEvent,
    SeatHoldError
);

impl SeatHold {
    fn decide(
        &self,
        command: SeatHoldCommand,
        _services: &DomainServices,
    ) -> Result<Option<SeatHoldEvent>, SeatHoldError> {
        Ok(match command {
            SeatHoldCommand::Open { person, cause } if is_new(cause, self.through) => {
                Some(if self.held {
                    SeatHoldEvent::SeatTakenTwice { person, cause }
                } else {
                    SeatHoldEvent::SeatHeld { person, cause }
                })
            }
            SeatHoldCommand::Open { .. } => None,
            SeatHoldCommand::GiveBack {
                person,
                cause: Some(cause),
            } => {
                // The reactor reads the log in order, so a hold it never opened was
                // taken before holds were recorded (a log from before this aggregate)
                // and is held.
                let held = self.held || !self.opened;
                (is_new(cause, self.through) && held).then_some(SeatHoldEvent::SeatGivenBack {
                    person,
                    cause: Some(cause),
                })
            }
            // The sweeper only gives back what the reactor has opened.
            SeatHoldCommand::GiveBack {
                person,
                cause: None,
            } => self.held.then_some(SeatHoldEvent::SeatGivenBack {
                person,
                cause: None,
            }),
        })
    }

    fn evolve(&mut self, event: SeatHoldEvent) {
        self.opened = true;
        match event {
            SeatHoldEvent::SeatHeld { cause, .. } => {
                self.held = true;
                self.through = Some(cause);
            }
            SeatHoldEvent::SeatTakenTwice { cause, .. } => {
                self.through = Some(cause);
            }
            SeatHoldEvent::SeatGivenBack { cause, .. } => {
                self.held = false;
                if cause.is_some() {
                    self.through = cause;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::services_at;
    use crate::Timestamp;
    use cqrs_es::test::TestFramework;

    fn test() -> TestFramework<SeatHold> {
        TestFramework::with(services_at(Timestamp(0)))
    }

    fn mark(position: i64) -> LogMark {
        LogMark { tx: 0, position }
    }

    #[test]
    fn a_place_is_given_back_once_whoever_asks_and_however_often() {
        let person = PersonId::new_random();
        let held = SeatHoldEvent::SeatHeld {
            person,
            cause: mark(1),
        };
        let back = |cause| SeatHoldEvent::SeatGivenBack { person, cause };
        test()
            .given(vec![held.clone()])
            .when(SeatHoldCommand::GiveBack {
                person,
                cause: Some(mark(4)),
            })
            .then_expect_events(vec![back(Some(mark(4)))]);
        for cause in [Some(mark(4)), Some(mark(9)), None] {
            test()
                .given(vec![held.clone(), back(Some(mark(4)))])
                .when(SeatHoldCommand::GiveBack { person, cause })
                .then_expect_events(vec![]);
        }
        test()
            .given(vec![held.clone()])
            .when(SeatHoldCommand::GiveBack {
                person,
                cause: None,
            })
            .then_expect_events(vec![back(None)]);
    }

    #[test]
    fn a_second_take_is_one_too_many_and_a_repeated_open_changes_nothing() {
        let person = PersonId::new_random();
        let held = SeatHoldEvent::SeatHeld {
            person,
            cause: mark(1),
        };
        test()
            .given(vec![held.clone()])
            .when(SeatHoldCommand::Open {
                person,
                cause: mark(1),
            })
            .then_expect_events(vec![]);
        test()
            .given(vec![held])
            .when(SeatHoldCommand::Open {
                person,
                cause: mark(2),
            })
            .then_expect_events(vec![SeatHoldEvent::SeatTakenTwice {
                person,
                cause: mark(2),
            }]);
    }

    #[test]
    fn a_hold_from_before_holds_were_recorded_is_given_back_by_the_reactor_only() {
        let person = PersonId::new_random();
        test()
            .given_no_previous_events()
            .when(SeatHoldCommand::GiveBack {
                person,
                cause: Some(mark(3)),
            })
            .then_expect_events(vec![SeatHoldEvent::SeatGivenBack {
                person,
                cause: Some(mark(3)),
            }]);
        test()
            .given_no_previous_events()
            .when(SeatHoldCommand::GiveBack {
                person,
                cause: None,
            })
            .then_expect_events(vec![]);
    }
}
