//! Secrets an email carries that the outbox must not hold.
//!
//! The outbox keeps every message it decided to send in the database, sent ones too.
//! A link's secret may sit there: it works once and expires. A password may not: it is
//! what a person logs in with until they change it, and it is stored nowhere else
//! (see `SecretKey::initial_password`). So the outbox holds the message with
//! [`SLOT`] where the password goes, beside a [`Withheld`] naming what to make it
//! from; the sender makes it with the server key and fills it in on the way out.

use domain::invitation::SecretKey;
use domain::InvitationId;
use serde::{Deserialize, Serialize};

/// Where the withheld secret goes in a message's body. Control characters never come
/// from people's input into these messages (the renderer turns them into spaces), so
/// the slot cannot be forged or shifted by a name.
pub const SLOT: &str = "\u{1}withheld\u{1}";

/// What the sender makes a withheld secret from: nothing that opens anything without
/// the server key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Withheld {
    /// The first password of someone an administrator added without confirmation.
    InitialPassword {
        invitation: InvitationId,
        nonce: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum WithheldError {
    #[error("the outbox's note of a withheld secret cannot be read: {0}")]
    Unreadable(#[from] serde_json::Error),
    #[error("the message has {0} places for its withheld secret instead of one")]
    Slots(usize),
}

impl Withheld {
    /// As the outbox's `withheld` column holds it.
    pub fn to_stored(&self) -> String {
        // A plain enum of strings always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_stored(stored: &str) -> Result<Self, WithheldError> {
        Ok(serde_json::from_str(stored)?)
    }

    /// `body` with the secret in its one slot. Anything but exactly one slot is refused,
    /// so a message never goes out without its secret, or with it twice.
    pub fn fill(&self, body: &str, secrets: &SecretKey) -> Result<String, WithheldError> {
        let slots = body.matches(SLOT).count();
        if slots != 1 {
            return Err(WithheldError::Slots(slots));
        }
        Ok(body.replacen(SLOT, &self.reveal(secrets), 1))
    }

    fn reveal(&self, secrets: &SecretKey) -> String {
        match self {
            Withheld::InitialPassword { invitation, nonce } => {
                secrets.initial_password(*invitation, nonce)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sender_fills_in_what_the_outbox_never_held() {
        let key = SecretKey::from_bytes([3; 32]);
        let invitation = InvitationId::new_random();
        let withheld = Withheld::InitialPassword {
            invitation,
            nonce: "n1".into(),
        };
        let stored = withheld.to_stored();
        assert!(stored.contains("initial_password"), "{stored}");
        let read = Withheld::from_stored(&stored).unwrap();
        assert_eq!(read, withheld);
        let body = format!("Password: {SLOT}\nChange it.\n");
        let password = key.initial_password(invitation, "n1");
        assert_eq!(
            read.fill(&body, &key).unwrap(),
            format!("Password: {password}\nChange it.\n")
        );
        assert!(!body.contains(&password) && !stored.contains(&password));
    }

    #[test]
    fn a_message_without_its_one_slot_is_not_sent() {
        let key = SecretKey::from_bytes([3; 32]);
        let withheld = Withheld::InitialPassword {
            invitation: InvitationId::new_random(),
            nonce: "n1".into(),
        };
        assert!(matches!(
            withheld.fill("no slot", &key),
            Err(WithheldError::Slots(0))
        ));
        assert!(matches!(
            withheld.fill(&format!("{SLOT}{SLOT}"), &key),
            Err(WithheldError::Slots(2))
        ));
        assert!(Withheld::from_stored("{\"kind\":\"other\"}").is_err());
    }
}
