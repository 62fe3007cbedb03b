use super::PersonKind;
use crate::{Email, InvitationId, PersonId, PersonName};

#[derive(Debug, Clone, PartialEq)]
pub enum PersonCommand {
    Join {
        person: PersonId,
        kind: PersonKind,
        email: Email,
        name: PersonName,
        administrator: bool,
        password_hash: String,
        invitation: Option<InvitationId>,
        sponsor: Option<PersonId>,
    },
}
