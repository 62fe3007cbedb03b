//! Identifiers. Every aggregate lives inside exactly one account, and its store key
//! says so: `"{account}:{entity}"`. The event store derives its `account_id` column
//! from that prefix, and a command addressed through an [`AggregateKey`] can never
//! reach another account's aggregate.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// One company's workspace.
    AccountId
);
id_type!(
    /// A person of an account: employee, extranet user or guest. Stable for life,
    /// including after erasure of their personal data.
    PersonId
);
id_type!(
    /// A task.
    TaskId
);
id_type!(
    /// An invitation: the secret link that lets a person in.
    InvitationId
);
id_type!(
    /// A workgroup or project.
    WorkgroupId
);
id_type!(
    /// A department of the company structure.
    DepartmentId
);
id_type!(
    /// A comment on a task.
    CommentId
);

/// The store key of an aggregate: the account it belongs to, and its own id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AggregateKey {
    pub account: AccountId,
    pub entity: Uuid,
}

impl AggregateKey {
    pub fn new(account: AccountId, entity: Uuid) -> Self {
        Self { account, entity }
    }

    /// The account aggregate's key: its entity is the account itself.
    pub fn account(account: AccountId) -> Self {
        Self::new(account, account.0)
    }

    /// Parses `"{account}:{entity}"`.
    pub fn parse(s: &str) -> Option<Self> {
        let (account, entity) = s.split_once(':')?;
        Some(Self {
            account: account.parse().ok()?,
            entity: entity.parse().ok()?,
        })
    }
}

impl fmt::Display for AggregateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.account, self.entity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_round_trips_and_rejects_garbage() {
        let key = AggregateKey::new(AccountId::new_random(), Uuid::new_v4());
        assert_eq!(AggregateKey::parse(&key.to_string()), Some(key));
        assert_eq!(AggregateKey::parse("no-colon"), None);
        assert_eq!(AggregateKey::parse("a:b"), None);
    }
}
