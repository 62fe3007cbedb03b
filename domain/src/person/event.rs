use crate::{Email, InvitationId, PersonId, PersonName, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonKind {
    /// A full member of the company (intranet).
    Employee,
    /// An external person limited to the extranet workgroups they belong to.
    Extranet,
    /// An external person invited into tasks only.
    Guest,
}

impl PersonKind {
    pub fn is_external(self) -> bool {
        self != PersonKind::Employee
    }
}

/// Why someone is locked out for now. Nothing of theirs is lost, and lifting the
/// suspension lets them back in as they were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuspensionReason {
    /// The account's trial ended without a paid plan; a paid plan lifts it.
    TrialExpired,
    /// Their own access had an end date, and it came; extending it lifts it.
    AccessExpired,
    /// An administrator locked them out.
    Administrative,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PersonEvent {
    /// The person can now log in. `password_hash` is an argon2id PHC string, never a
    /// password; audit views leave it out. Version 2 added `previous`.
    PersonJoined {
        person: PersonId,
        kind: PersonKind,
        email: Email,
        name: PersonName,
        administrator: bool,
        password_hash: String,
        /// The invitation they accepted, if they came in through one.
        invitation: Option<InvitationId>,
        /// Who let them in: the inviter, or none for the account's founder.
        sponsor: Option<PersonId>,
        /// The same human's earlier, dismissed person in this account, when they were
        /// invited again: an audit follows both periods through this link.
        #[serde(default)]
        previous: Option<PersonId>,
    },
    ProfileChanged {
        name: PersonName,
    },
    EmailChanged {
        from: Email,
        to: Email,
    },
    PasswordChanged {
        password_hash: String,
    },
    /// A password reset link was sent. The event holds only a nonce: the link's secret
    /// is `HMAC(server key, person : nonce)` (see `invitation::Link`), so the log alone
    /// resets nobody's password, and the notifier writes the link from this event.
    PasswordResetRequested {
        nonce: String,
        expires_at: Timestamp,
    },
    /// The person used the link: their password is now `password_hash` (argon2id),
    /// and the link is spent.
    PasswordResetCompleted {
        password_hash: String,
    },
    /// An extranet user or guest became an employee; everything else stays.
    TransferredToEmployee {
        from: PersonKind,
    },
    /// An employee became an extranet user, keeping their id and history.
    ConvertedToExtranet,
    /// They leave the account; their email is free for someone else.
    PersonDismissed,
    PersonReinstated,
    PersonSuspended {
        reason: SuspensionReason,
    },
    SuspensionLifted {
        reason: SuspensionReason,
    },
    /// `None`: their access no longer ends by itself.
    AccessExpirySet {
        expires_at: Option<Timestamp>,
    },
    /// Name, email and phone are gone on request; the id and the record of who did
    /// what, and when, remain.
    PersonalDataErased,
}

crate::domain_event!(PersonEvent {
    PersonJoined: "2",
    ProfileChanged: "1",
    EmailChanged: "1",
    PasswordChanged: "1",
    PasswordResetRequested: "1",
    PasswordResetCompleted: "1",
    TransferredToEmployee: "1",
    ConvertedToExtranet: "1",
    PersonDismissed: "1",
    PersonReinstated: "1",
    PersonSuspended: "1",
    SuspensionLifted: "1",
    AccessExpirySet: "1",
    PersonalDataErased: "1",
});
