use crate::text::{self, Field, TextError};
use serde::{Deserialize, Serialize};

/// A person's position in the company ("Buyer", "Head of logistics"), as the
/// administrator who added them wrote it.
///
/// One line of text (the rules of [`crate::text`]): it is written into the email the
/// person receives, where a line break could make it pass for the email's own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Position(String);

impl Position {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, TextError> {
        text::parse(Field::Position, raw).map(Self)
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
    use crate::text::Problem;

    #[test]
    fn trims_and_refuses_empty_long_or_several_lines() {
        let problem = |raw: &str| Position::parse(raw).unwrap_err().problem;
        assert_eq!(Position::parse("  Buyer ").unwrap().as_str(), "Buyer");
        assert_eq!(problem(" \t "), Problem::Empty);
        assert_eq!(problem(&"x".repeat(101)), Problem::TooLong { max: 100 });
        assert!(Position::parse(&"é".repeat(100)).is_ok());
        assert_eq!(problem("Buyer\nClick this link"), Problem::LineBreak);
        assert_eq!(problem("Buyer\u{1}"), Problem::ControlCharacter('\u{1}'));
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
