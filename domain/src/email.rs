use serde::{Deserialize, Serialize};
use std::fmt;

/// An email address, validated and normalised (trimmed, lower-case) once, at the edge.
///
/// Past [`Email::parse`], the type guarantees the address has the shape
/// `local@domain.tld`, so nothing downstream validates again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the email address is empty")]
    Empty,
    #[error("{0} is not an email address: it needs exactly one @ with a name before it and a domain such as example.com after it")]
    Malformed(String),
    #[error("the email address is longer than 254 characters")]
    TooLong,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let s = raw.trim().to_lowercase();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let malformed = || EmailError::Malformed(crate::text::quoted(raw.trim()));
        let (local, domain) = s.split_once('@').ok_or_else(malformed)?;
        let bad_char = |c: char| {
            c.is_whitespace()
                || c.is_control()
                || crate::text::is_invisible_formatting(c)
                || "<>()[],;:\"\\@".contains(c)
        };
        if local.is_empty() || local.len() > 64 || local.chars().any(bad_char) {
            return Err(malformed());
        }
        if !is_domain_name(domain) {
            return Err(malformed());
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the @, used by the domain lists of the invitation settings.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

/// Whether `domain` is a host name with at least two labels (`example.com`): letters,
/// digits and inner hyphens. Shared by addresses and the settings' domain lists.
pub(crate) fn is_domain_name(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    labels.len() >= 2 && labels.iter().all(label_ok)
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_spaces() {
        let e = Email::parse("  Ann.Lee@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "ann.lee@example.com");
        assert_eq!(e.domain(), "example.com");
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
        for bad in [
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "ann@exa mple.com",
            "a@@example.com",
            "ann@-x.com",
        ] {
            assert!(
                matches!(Email::parse(bad), Err(EmailError::Malformed(_))),
                "{bad}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }
}
