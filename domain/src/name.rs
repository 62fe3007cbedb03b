use serde::{Deserialize, Serialize};

/// A person's first and last name, trimmed and bounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonName {
    pub first: String,
    pub last: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the first name is empty")]
    FirstEmpty,
    #[error("the last name is empty")]
    LastEmpty,
    #[error("a name may have at most {max} characters")]
    TooLong { max: usize },
}

impl PersonName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(first: &str, last: &str) -> Result<Self, NameError> {
        let (first, last) = (first.trim(), last.trim());
        if first.is_empty() {
            return Err(NameError::FirstEmpty);
        }
        if last.is_empty() {
            return Err(NameError::LastEmpty);
        }
        if first.chars().count() > Self::MAX_CHARS || last.chars().count() > Self::MAX_CHARS {
            return Err(NameError::TooLong {
                max: Self::MAX_CHARS,
            });
        }
        Ok(Self {
            first: first.to_string(),
            last: last.to_string(),
        })
    }

    pub fn full(&self) -> String {
        format!("{} {}", self.first, self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_refuses_empty_or_long() {
        assert_eq!(PersonName::parse(" Ann ", "Lee").unwrap().full(), "Ann Lee");
        assert_eq!(PersonName::parse(" ", "Lee"), Err(NameError::FirstEmpty));
        assert_eq!(PersonName::parse("Ann", ""), Err(NameError::LastEmpty));
        let long = "x".repeat(101);
        assert_eq!(
            PersonName::parse(&long, "Lee"),
            Err(NameError::TooLong { max: 100 })
        );
    }
}
