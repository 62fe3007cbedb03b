//! What the end of a trial, and a later upgrade, mean for the people of an account.
//!
//! Bitrix24 dismisses every extranet-only user when a trial ends unpaid, and upgrading
//! later does not bring them back. Here they are suspended instead (locked out, not
//! emailed, nothing lost), and a paid plan lifts exactly those suspensions: the reason
//! travels with the suspension, so someone an administrator locked out stays out.
//!
//! This is a pure policy; the process that follows the log feeds it each account event
//! and the people of the account, and sends the commands it returns.

use crate::account::AccountEvent;
use crate::person::{PersonCommand, PersonKind, PersonStatus, SuspensionReason};
use crate::PersonId;

pub fn commands_for(
    event: &AccountEvent,
    people: impl IntoIterator<Item = (PersonId, PersonKind, PersonStatus)>,
) -> Vec<(PersonId, PersonCommand)> {
    let reason = SuspensionReason::TrialExpired;
    match event {
        AccountEvent::TrialExpired => people
            .into_iter()
            .filter(|(_, kind, status)| kind.is_external() && *status == PersonStatus::Active)
            .map(|(person, _, _)| (person, PersonCommand::Suspend { reason }))
            .collect(),
        AccountEvent::PlanChanged { to, .. } if to.is_paid() => people
            .into_iter()
            .filter(|(_, _, status)| *status == PersonStatus::Suspended(reason))
            .map(|(person, _, _)| (person, PersonCommand::LiftSuspension { reason }))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Plan;

    #[test]
    fn expiry_suspends_active_external_people_and_an_upgrade_lifts_exactly_those() {
        let (employee, guest, extranet, locked, gone) = (
            PersonId::new_random(),
            PersonId::new_random(),
            PersonId::new_random(),
            PersonId::new_random(),
            PersonId::new_random(),
        );
        let before = vec![
            (employee, PersonKind::Employee, PersonStatus::Active),
            (guest, PersonKind::Guest, PersonStatus::Active),
            (extranet, PersonKind::Extranet, PersonStatus::Active),
            (
                locked,
                PersonKind::Extranet,
                PersonStatus::Suspended(SuspensionReason::Administrative),
            ),
            (gone, PersonKind::Guest, PersonStatus::Dismissed),
        ];
        let suspend = PersonCommand::Suspend {
            reason: SuspensionReason::TrialExpired,
        };
        assert_eq!(
            commands_for(&AccountEvent::TrialExpired, before),
            vec![(guest, suspend.clone()), (extranet, suspend)]
        );

        let after = vec![
            (employee, PersonKind::Employee, PersonStatus::Active),
            (
                guest,
                PersonKind::Guest,
                PersonStatus::Suspended(SuspensionReason::TrialExpired),
            ),
            (
                extranet,
                PersonKind::Extranet,
                PersonStatus::Suspended(SuspensionReason::TrialExpired),
            ),
            (
                locked,
                PersonKind::Extranet,
                PersonStatus::Suspended(SuspensionReason::Administrative),
            ),
        ];
        let lift = PersonCommand::LiftSuspension {
            reason: SuspensionReason::TrialExpired,
        };
        let upgrade = AccountEvent::PlanChanged {
            from: Plan::Trial,
            to: Plan::Standard,
        };
        assert_eq!(
            commands_for(&upgrade, after.clone()),
            vec![(guest, lift.clone()), (extranet, lift)]
        );
        let to_free = AccountEvent::PlanChanged {
            from: Plan::Trial,
            to: Plan::Free,
        };
        assert!(
            commands_for(&to_free, after).is_empty(),
            "the free plan has no extranet to return to"
        );
    }
}
