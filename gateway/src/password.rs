//! Password hashing: argon2id, 19 MiB, 2 passes (OWASP's minimum), on a blocking
//! thread so a login does not stall other requests.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MIN_CHARS: usize = 10;
pub const MAX_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password needs at least {MIN_CHARS} characters")]
    TooShort,
    #[error("the password may have at most {MAX_CHARS} characters")]
    TooLong,
    /// Nobody types a NUL or an escape at a login prompt; one in a new password is a
    /// paste gone wrong, and the person could never log in with what they meant.
    #[error("the password may not hold control characters (such as a line break or U+0000)")]
    ControlCharacter,
    #[error("the password could not be hashed")]
    Hashing,
}

fn argon2() -> Argon2<'static> {
    // Params::new only fails on out-of-range values; these are in range.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn check_policy(password: &str) -> Result<(), PasswordError> {
    let n = password.chars().count();
    if n < MIN_CHARS {
        return Err(PasswordError::TooShort);
    }
    if n > MAX_CHARS {
        return Err(PasswordError::TooLong);
    }
    if password.chars().any(char::is_control) {
        return Err(PasswordError::ControlCharacter);
    }
    Ok(())
}

/// Checks the policy, then hashes into a PHC string.
pub async fn hash(password: String) -> Result<String, PasswordError> {
    check_policy(&password)?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| PasswordError::Hashing)
    })
    .await
    .map_err(|_| PasswordError::Hashing)?
}

/// A hash of no password, verified against when the email is unknown, so that a
/// wrong email takes as long as a wrong password.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2X1Ri7rYu0ZzEHZV4Ng0x3G5Tfmkf3pM7k1VDCkBWXQ";

pub async fn verify(password: String, phc: Option<String>) -> bool {
    let known = phc.is_some();
    let phc = phc.unwrap_or_else(|| DECOY.to_string());
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
            && known
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let phc = hash("correct horse battery".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery".into(), Some(phc.clone())).await);
        assert!(!verify("wrong horse battery".into(), Some(phc)).await);
        assert!(!verify("anything at all".into(), None).await);
    }

    #[tokio::test]
    async fn the_policy_refuses_short_and_huge_passwords() {
        assert_eq!(hash("short".into()).await, Err(PasswordError::TooShort));
        assert_eq!(hash("x".repeat(201)).await, Err(PasswordError::TooLong));
        assert_eq!(
            hash("a long passphrase\u{0}".into()).await,
            Err(PasswordError::ControlCharacter)
        );
        assert_eq!(
            check_policy("a long passphrase\n"),
            Err(PasswordError::ControlCharacter)
        );
        assert_eq!(check_policy("ein langes Passwort ä"), Ok(()));
    }
}
