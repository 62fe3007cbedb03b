use crate::{Email, InvitationId, PersonId, PersonName};
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PersonEvent {
    /// The person can now log in. `password_hash` is an argon2id PHC string, never a
    /// password; audit views leave it out.
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
    },
}

crate::domain_event!(PersonEvent { PersonJoined: "1" });
