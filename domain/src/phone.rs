use serde::{Deserialize, Serialize};
use std::fmt;

/// A phone number in international form: `+` and 8 to 15 digits (E.164).
///
/// People type numbers with spaces, dashes, dots and brackets; those are dropped. A
/// number must start with `+` and its country code, since an account's people live in
/// many countries and a local number is ambiguous.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error(
        "{0} is not a phone number: write it with + and the country code, e.g. +44 20 7946 0958"
    )]
    Malformed(String),
}

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, PhoneError> {
        let malformed = || PhoneError::Malformed(crate::text::quoted(raw.trim()));
        let trimmed = raw.trim();
        let rest = trimmed.strip_prefix('+').ok_or_else(malformed)?;
        let mut digits = String::with_capacity(16);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(malformed()),
            }
        }
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(malformed());
        }
        Ok(Self(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_normalised_to_e164() {
        assert_eq!(
            Phone::parse(" +44 (20) 7946-0958 ").unwrap().as_str(),
            "+442079460958"
        );
        assert_eq!(
            Phone::parse("+7.495.123.45.67").unwrap().as_str(),
            "+74951234567"
        );
    }

    #[test]
    fn local_short_or_lettered_numbers_are_refused() {
        for bad in [
            "020 7946 0958",
            "+123",
            "+1234567890123456",
            "+44 20 CALL ME",
            "+0441234567",
            "",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }
}
