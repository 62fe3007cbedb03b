use crate::invitation::Approval;
use crate::{DomainPattern, Email};
use serde::{Deserialize, Serialize};

/// Who may invite people into the account, and how people may come in by themselves.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InvitationSettings {
    /// By default only administrators invite.
    #[serde(default)]
    pub everyone_may_invite: bool,
    /// Quick registration through the account's link.
    #[serde(default)]
    pub registration_link: bool,
    /// People who register through the link wait for an administrator's approval…
    #[serde(default)]
    pub approval_required: bool,
    /// …unless their email's domain is on this list.
    #[serde(default)]
    pub approval_free_domains: Vec<DomainPattern>,
    /// When not empty, only addresses on these domains may be invited or register.
    #[serde(default)]
    pub allowed_domains: Vec<DomainPattern>,
    /// Addresses on these domains may never be invited or register.
    #[serde(default)]
    pub blocked_domains: Vec<DomainPattern>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainRefusal {
    #[error("addresses at {domain} cannot be invited into this account (blocked by {pattern})")]
    Blocked { domain: String, pattern: String },
    #[error("only addresses at {allowed} can be invited into this account")]
    NotAllowed { allowed: String },
}

impl InvitationSettings {
    /// Whether an address may be invited or register, by the domain lists. Blocking
    /// wins over allowing.
    pub fn admits(&self, email: &Email) -> Result<(), DomainRefusal> {
        let domain = email.domain();
        if let Some(p) = self.blocked_domains.iter().find(|p| p.matches(domain)) {
            return Err(DomainRefusal::Blocked {
                domain: domain.to_string(),
                pattern: p.to_string(),
            });
        }
        if !self.allowed_domains.is_empty()
            && !self.allowed_domains.iter().any(|p| p.matches(domain))
        {
            let allowed: Vec<&str> = self
                .allowed_domains
                .iter()
                .map(DomainPattern::as_str)
                .collect();
            return Err(DomainRefusal::NotAllowed {
                allowed: allowed.join(", "),
            });
        }
        Ok(())
    }

    /// How a registration from this address is let in.
    pub fn approval_for(&self, email: &Email) -> Approval {
        if !self.approval_required {
            return Approval::NotRequired;
        }
        match self
            .approval_free_domains
            .iter()
            .find(|p| p.matches(email.domain()))
        {
            Some(_) => Approval::BypassedByDomain {
                domain: email.domain().to_string(),
            },
            None => Approval::Required,
        }
    }

    /// A pattern on both the allowed and the blocked list, if any: such settings
    /// contradict themselves.
    pub fn contradiction(&self) -> Option<&DomainPattern> {
        self.allowed_domains
            .iter()
            .find(|p| self.blocked_domains.contains(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(list: &[&str]) -> Vec<DomainPattern> {
        list.iter()
            .map(|p| DomainPattern::parse(p).unwrap())
            .collect()
    }

    fn email(s: &str) -> Email {
        Email::parse(s).unwrap()
    }

    #[test]
    fn blocked_wins_over_allowed_and_wildcards_cover_subdomains() {
        let settings = InvitationSettings {
            allowed_domains: patterns(&["partner.com", "*.partner.com"]),
            blocked_domains: patterns(&["old.partner.com"]),
            ..Default::default()
        };
        assert!(settings.admits(&email("a@partner.com")).is_ok());
        assert!(settings.admits(&email("a@eu.partner.com")).is_ok());
        assert!(matches!(
            settings.admits(&email("a@old.partner.com")),
            Err(DomainRefusal::Blocked { .. })
        ));
        assert!(matches!(
            settings.admits(&email("a@gmail.com")),
            Err(DomainRefusal::NotAllowed { .. })
        ));
        let open = InvitationSettings::default();
        assert!(open.admits(&email("a@gmail.com")).is_ok());
    }

    #[test]
    fn approval_is_skipped_for_trusted_domains() {
        let settings = InvitationSettings {
            approval_required: true,
            approval_free_domains: patterns(&["*.acme.com"]),
            ..Default::default()
        };
        assert_eq!(
            settings.approval_for(&email("a@eu.acme.com")),
            Approval::BypassedByDomain {
                domain: "eu.acme.com".into()
            }
        );
        assert_eq!(
            settings.approval_for(&email("a@gmail.com")),
            Approval::Required
        );
        assert_eq!(
            InvitationSettings::default().approval_for(&email("a@gmail.com")),
            Approval::NotRequired
        );
    }
}
