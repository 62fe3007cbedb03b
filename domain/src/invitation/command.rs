use super::InvitationTarget;
use crate::{Email, InvitationId, PersonId, PersonName};

#[derive(Debug, Clone, PartialEq)]
pub enum InvitationCommand {
    Issue {
        invitation: InvitationId,
        person: PersonId,
        email: Email,
        name: PersonName,
        target: InvitationTarget,
        sponsor: PersonId,
    },
    /// A new link for the same invitation; the old link stops working.
    Resend,
    /// The person followed the link and presented its secret.
    Accept { secret: String },
}
