use crate::email::is_domain_name;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An email domain in the invitation settings: `example.com` (that domain only) or
/// `*.example.com` (every subdomain of it, not the domain itself).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DomainPattern(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainPatternError {
    #[error("{0} is not a domain: write it as example.com, or *.example.com for its subdomains")]
    Malformed(String),
}

impl DomainPattern {
    pub fn parse(raw: &str) -> Result<Self, DomainPatternError> {
        let s = raw.trim().trim_start_matches('@').to_lowercase();
        let malformed = || DomainPatternError::Malformed(crate::text::quoted(raw.trim()));
        let domain = s.strip_prefix("*.").unwrap_or(&s);
        if !is_domain_name(domain) {
            return Err(malformed());
        }
        Ok(Self(s))
    }

    pub fn matches(&self, domain: &str) -> bool {
        let domain = domain.to_lowercase();
        match self.0.strip_prefix("*.") {
            Some(parent) => domain.len() > parent.len() && domain.ends_with(&format!(".{parent}")),
            None => domain == self.0,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_matches_subdomains_only() {
        let p = DomainPattern::parse("*.Example.com").unwrap();
        assert!(p.matches("eu.example.com"));
        assert!(p.matches("a.b.example.com"));
        assert!(!p.matches("example.com"));
        assert!(!p.matches("badexample.com"));
        let exact = DomainPattern::parse("@example.com").unwrap();
        assert!(exact.matches("EXAMPLE.com"));
        assert!(!exact.matches("eu.example.com"));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in [
            "",
            "*",
            "*.com",
            "example",
            "ex ample.com",
            "**.example.com",
            "-x.com",
        ] {
            assert!(DomainPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
