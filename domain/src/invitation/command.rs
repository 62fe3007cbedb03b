use super::{Approval, Delivery, InvitationTarget};
use crate::{Address, Email, InvitationId, PersonId, PersonName};

#[derive(Debug, Clone, PartialEq)]
pub enum InvitationCommand {
    Issue {
        invitation: InvitationId,
        person: PersonId,
        address: Address,
        name: Option<PersonName>,
        target: InvitationTarget,
        sponsor: PersonId,
        delivery: Delivery,
    },
    /// A new link for the same invitation; the old link stops working.
    Resend,
    /// The person followed the link and presented its secret.
    Accept {
        secret: String,
    },
    /// The person followed the link and said no.
    Decline {
        secret: String,
    },
    /// The sponsor or an administrator takes the invitation back.
    Revoke,
    /// Marks a pending invitation whose link has run out (the scheduler sends this).
    Expire,
    /// Someone registered through the account's registration link. The caller has
    /// checked the link and worked out from the account's settings whether approval
    /// is needed.
    Register {
        invitation: InvitationId,
        person: PersonId,
        email: Email,
        name: PersonName,
        password_hash: String,
        approval: Approval,
    },
    Approve {
        by: PersonId,
    },
    Reject {
        by: PersonId,
    },
}
