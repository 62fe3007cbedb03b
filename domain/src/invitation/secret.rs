use crate::InvitationId;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The server's key for the secrets in links.
///
/// An invitation's event stores only a random nonce. The secret in the emailed link is
/// `HMAC-SHA256(key, invitation id : nonce)`, so reading the event log is not enough to
/// accept someone else's invitation, and the notifier can still write the link from the
/// event alone. Resending draws a new nonce, which makes the old link worthless.
///
/// The account's registration link and password reset links work the same way (see
/// [`Link`]): the log holds a nonce, the link holds its MAC. So does the first password
/// of someone an administrator adds without confirmation
/// ([`SecretKey::initial_password`]).
#[derive(Clone)]
pub struct SecretKey(Arc<[u8; 32]>);

/// What a link opens, and the id its secret is bound to. Each kind is signed under its
/// own label, so a secret made for one kind of link never opens another, even were two
/// ids to coincide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// An invitation's link, bound to the invitation.
    Invitation(InvitationId),
    /// The account's registration link, bound to the account.
    Registration(crate::AccountId),
    /// A password reset link, bound to the person whose password it resets.
    PasswordReset(crate::PersonId),
}

/// The label of initial passwords, distinct from every [`Link`]'s: a password is never
/// a link's secret, nor the other way round.
const INITIAL_PASSWORD_LABEL: &[u8] = b"initial-password\0";

impl Link {
    /// The label signed before the id. Invitations have none: their links were signed
    /// without one before the other kinds existed, and must stay valid.
    fn label(&self) -> &'static [u8] {
        match self {
            Link::Invitation(_) => b"",
            Link::Registration(_) => b"registration\0",
            Link::PasswordReset(_) => b"password-reset\0",
        }
    }

    fn id(&self) -> uuid::Uuid {
        match self {
            Link::Invitation(id) => id.0,
            Link::Registration(id) => id.0,
            Link::PasswordReset(id) => id.0,
        }
    }
}

impl SecretKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Arc::new(bytes))
    }

    pub fn secret_for(&self, invitation: InvitationId, nonce: &str) -> String {
        self.link_secret(Link::Invitation(invitation), nonce)
    }

    /// Compares in constant time, so response timing says nothing about the secret.
    pub fn verify(&self, invitation: InvitationId, nonce: &str, presented: &str) -> bool {
        self.verify_link(Link::Invitation(invitation), nonce, presented)
    }

    /// The secret of `link` while its current nonce is `nonce`: 64 hex digits.
    pub fn link_secret(&self, link: Link, nonce: &str) -> String {
        hex::encode(self.mac(link.label(), link.id(), nonce))
    }

    /// The password of someone added directly without confirmation, made from the
    /// invitation's nonce under a label of its own: the gateway hashes it when the
    /// person joins, the notifier writes it into their email as it sends it, and
    /// nothing stores it. The invitation is accepted at once and cannot be sent again,
    /// so its nonce, and with it the password, never changes.
    ///
    /// Four groups of five characters (100 bits) from an alphabet without look-alikes
    /// (no 0, 1, l, o), so it can be read off a screen and typed.
    pub fn initial_password(&self, invitation: InvitationId, nonce: &str) -> String {
        const ALPHABET: &[u8; 32] = b"23456789abcdefghijkmnpqrstuvwxyz";
        let mac = self.mac(INITIAL_PASSWORD_LABEL, invitation.0, nonce);
        let mut password = String::with_capacity(23);
        // 256 is a multiple of 32, so every character is equally likely.
        for (i, byte) in mac.iter().take(20).enumerate() {
            if i > 0 && i % 5 == 0 {
                password.push('-');
            }
            password.push(char::from(ALPHABET[usize::from(byte % 32)]));
        }
        password
    }

    /// Whether `presented` is the secret of `link` under `nonce`. Compares in constant
    /// time, so response timing says nothing about the secret. An empty nonce (nothing
    /// issued) verifies nothing.
    pub fn verify_link(&self, link: Link, nonce: &str, presented: &str) -> bool {
        if nonce.is_empty() {
            return false;
        }
        let Ok(presented) = hex::decode(presented) else {
            return false;
        };
        let expected = self.mac(link.label(), link.id(), nonce);
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

    fn mac(&self, label: &[u8], id: uuid::Uuid, nonce: &str) -> Vec<u8> {
        // A 32-byte key is always accepted by HMAC; the fallback is unreachable.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.0.as_slice()) else {
            return Vec::new();
        };
        mac.update(label);
        mac.update(id.to_string().as_bytes());
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

    #[test]
    fn a_secret_opens_only_its_kind_of_link() {
        let key = SecretKey::from_bytes([1; 32]);
        let uuid = uuid::Uuid::new_v4();
        let links = [
            Link::Invitation(InvitationId(uuid)),
            Link::Registration(crate::AccountId(uuid)),
            Link::PasswordReset(crate::PersonId(uuid)),
        ];
        for made in links {
            let secret = key.link_secret(made, "n1");
            for tried in links {
                assert_eq!(key.verify_link(tried, "n1", &secret), made == tried);
            }
            assert!(!key.verify_link(made, "", &key.link_secret(made, "")));
        }
        // Invitation links sent before the other kinds existed still open.
        let id = InvitationId(uuid);
        assert_eq!(
            key.secret_for(id, "n1"),
            key.link_secret(Link::Invitation(id), "n1")
        );
    }

    #[test]
    fn an_initial_password_is_the_keys_alone_and_no_links_secret() {
        let key = SecretKey::from_bytes([1; 32]);
        let id = InvitationId::new_random();
        let password = key.initial_password(id, "n1");
        assert_eq!(password, key.initial_password(id, "n1"), "made again alike");
        assert_eq!(password.len(), 23);
        let groups: Vec<&str> = password.split('-').collect();
        assert_eq!(groups.len(), 4, "{password}");
        assert!(groups.iter().all(|g| g.len() == 5
            && g.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && !g.contains(['0', '1', 'l', 'o'])));
        assert_ne!(password, key.initial_password(id, "n2"));
        assert_ne!(
            password,
            key.initial_password(InvitationId::new_random(), "n1")
        );
        assert_ne!(
            password,
            SecretKey::from_bytes([2; 32]).initial_password(id, "n1")
        );
        assert!(!key.verify(id, "n1", &password), "a password opens no link");
    }
}
