use crate::InvitationId;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The server's key for invitation secrets.
///
/// An invitation's event stores only a random nonce. The secret in the emailed link is
/// `HMAC-SHA256(key, invitation id : nonce)`, so reading the event log is not enough to
/// accept someone else's invitation, and the notifier can still write the link from the
/// event alone. Resending draws a new nonce, which makes the old link worthless.
#[derive(Clone)]
pub struct SecretKey(Arc<[u8; 32]>);

impl SecretKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Arc::new(bytes))
    }

    pub fn secret_for(&self, invitation: InvitationId, nonce: &str) -> String {
        hex::encode(self.mac(invitation, nonce))
    }

    /// Compares in constant time, so response timing says nothing about the secret.
    pub fn verify(&self, invitation: InvitationId, nonce: &str, presented: &str) -> bool {
        let Ok(presented) = hex::decode(presented) else {
            return false;
        };
        let expected = self.mac(invitation, nonce);
        expected.len() == presented.len() && bool::from(expected.ct_eq(&presented))
    }

    /// A stable id derived from `data` that cannot be recomputed without the key:
    /// where an id must follow from personal data (an email address), this keeps the
    /// id from being a dictionary-checkable hash of it.
    pub fn pseudonym(&self, purpose: &str, data: &str) -> uuid::Uuid {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.0.as_slice()) else {
            return uuid::Uuid::nil();
        };
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(data.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    }

    fn mac(&self, invitation: InvitationId, nonce: &str) -> Vec<u8> {
        // A 32-byte key is always accepted by HMAC; the fallback is unreachable.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.0.as_slice()) else {
            return Vec::new();
        };
        mac.update(invitation.to_string().as_bytes());
        mac.update(b":");
        mac.update(nonce.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_verifies_only_for_its_invitation_and_nonce() {
        let key = SecretKey::from_bytes([1; 32]);
        let id = InvitationId::new_random();
        let secret = key.secret_for(id, "n1");
        assert_eq!(secret.len(), 64);
        assert!(key.verify(id, "n1", &secret));
        assert!(!key.verify(id, "n2", &secret));
        assert!(!key.verify(InvitationId::new_random(), "n1", &secret));
        assert!(!key.verify(id, "n1", "not hex"));
        assert!(!key.verify(id, "n1", &secret[..62]));
        assert!(!SecretKey::from_bytes([2; 32]).verify(id, "n1", &secret));
    }
}
