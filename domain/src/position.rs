use serde::{Deserialize, Serialize};

/// A person's position in the company ("Buyer", "Head of logistics"), as the
/// administrator who added them wrote it.
///
/// One line of text: it is written into the email the person receives, where a line
/// break could make it pass for the email's own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Position(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PositionError {
    #[error("give the person's position, such as \"Buyer\"")]
    Empty,
    #[error("a position may have at most {max} characters")]
    TooLong { max: usize },
    #[error("a position is one line of text, without tabs or line breaks")]
    NotOneLine,
}

impl Position {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, PositionError> {
        let position = raw.trim();
        if position.is_empty() {
            return Err(PositionError::Empty);
        }
        if position.chars().count() > Self::MAX_CHARS {
            return Err(PositionError::TooLong {
                max: Self::MAX_CHARS,
            });
        }
        if position.chars().any(char::is_control) {
            return Err(PositionError::NotOneLine);
        }
        Ok(Self(position.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_refuses_empty_long_or_several_lines() {
        assert_eq!(Position::parse("  Buyer ").unwrap().as_str(), "Buyer");
        assert_eq!(Position::parse(" \t "), Err(PositionError::Empty));
        assert_eq!(
            Position::parse(&"x".repeat(101)),
            Err(PositionError::TooLong { max: 100 })
        );
        assert!(Position::parse(&"é".repeat(100)).is_ok());
        assert_eq!(
            Position::parse("Buyer\nClick this link"),
            Err(PositionError::NotOneLine)
        );
        assert_eq!(
            Position::parse("Buyer\u{1}"),
            Err(PositionError::NotOneLine)
        );
    }

    #[test]
    fn is_stored_as_a_plain_string() {
        let position = Position::parse("Buyer").unwrap();
        assert_eq!(serde_json::to_string(&position).unwrap(), "\"Buyer\"");
        assert_eq!(
            serde_json::from_str::<Position>("\"Buyer\"").unwrap(),
            position
        );
    }
}
