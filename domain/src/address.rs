//! Where an invitation is sent: an email address or a phone number. Invitations are
//! often pasted as a list, so [`parse_list`] reads many at once and judges each on its
//! own: one bad address never loses the good ones.

use crate::{Email, EmailError, Phone, PhoneError};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Address {
    Email(Email),
    Phone(Phone),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error(transparent)]
    Email(#[from] EmailError),
    #[error(transparent)]
    Phone(#[from] PhoneError),
    #[error("\"{0}\" appears more than once in the list")]
    Repeated(String),
}

impl Address {
    /// A phone number if it starts with `+`, an email address otherwise.
    pub fn parse(raw: &str) -> Result<Self, AddressError> {
        if raw.trim_start().starts_with('+') {
            Ok(Address::Phone(Phone::parse(raw)?))
        } else {
            Ok(Address::Email(Email::parse(raw)?))
        }
    }

    pub fn email(&self) -> Option<&Email> {
        match self {
            Address::Email(e) => Some(e),
            Address::Phone(_) => None,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Email(e) => e.fmt(f),
            Address::Phone(p) => p.fmt(f),
        }
    }
}

/// Reads a pasted list of addresses, separated by commas, semicolons or new lines (or
/// spaces, between email addresses). Each entry keeps the text it was read from, so a
/// refusal can quote it.
pub fn parse_list(raw: &str) -> Vec<(String, Result<Address, AddressError>)> {
    let mut out: Vec<(String, Result<Address, AddressError>)> = Vec::new();
    // A set, not a scan of `out`: a pasted list may hold ten thousand addresses.
    let mut seen = std::collections::HashSet::new();
    for entry in split_entries(raw) {
        let parsed = Address::parse(&entry);
        let repeated = match &parsed {
            Ok(address) => !seen.insert(address.clone()),
            Err(_) => false,
        };
        let parsed = if repeated {
            Err(AddressError::Repeated(entry.clone()))
        } else {
            parsed
        };
        out.push((entry, parsed));
    }
    out
}

/// Splits on `,` `;` and new lines; then splits further on spaces unless the entry is
/// a phone number (phone numbers are written with spaces).
fn split_entries(raw: &str) -> Vec<String> {
    raw.split([',', ';', '\n', '\r'])
        .flat_map(|chunk| {
            let chunk = chunk.trim();
            if chunk.starts_with('+') {
                vec![chunk.to_string()]
            } else {
                chunk.split_whitespace().map(str::to_string).collect()
            }
        })
        .filter(|e| !e.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_judged_address_by_address() {
        let list = parse_list(
            "ann@x.com, bob@@x.com; +44 20 7946 0958\n carl@y.org  dora@z.net,,ANN@x.com",
        );
        let shown: Vec<(&str, bool)> = list
            .iter()
            .map(|(raw, r)| (raw.as_str(), r.is_ok()))
            .collect();
        assert_eq!(
            shown,
            vec![
                ("ann@x.com", true),
                ("bob@@x.com", false),
                ("+44 20 7946 0958", true),
                ("carl@y.org", true),
                ("dora@z.net", true),
                ("ANN@x.com", false),
            ]
        );
        assert_eq!(list[5].1, Err(AddressError::Repeated("ANN@x.com".into())));
        assert!(matches!(list[2].1, Ok(Address::Phone(_))));
    }

    #[test]
    fn an_empty_list_is_empty() {
        assert!(parse_list(" ,\n ; ").is_empty());
    }
}
