use crate::text::{self, Field, TextError};
use serde::{Deserialize, Serialize};

/// A person's first and last name, each one line of text under the rules of
/// [`crate::text`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonName {
    pub first: String,
    pub last: String,
}

impl PersonName {
    pub const MAX_CHARS: usize = 100;

    /// The name, or the refusal of the first of its two parts that is wrong.
    pub fn parse(first: &str, last: &str) -> Result<Self, TextError> {
        Ok(Self {
            first: text::parse(Field::FirstName, first)?,
            last: text::parse(Field::LastName, last)?,
        })
    }

    pub fn full(&self) -> String {
        format!("{} {}", self.first, self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Problem;

    #[test]
    fn trims_and_refuses_empty_long_or_hidden_characters() {
        assert_eq!(PersonName::parse(" Ann ", "Lee").unwrap().full(), "Ann Lee");
        let refusal = |first: &str, last: &str| {
            let e = PersonName::parse(first, last).unwrap_err();
            (e.field, e.problem)
        };
        assert_eq!(refusal(" ", "Lee"), (Field::FirstName, Problem::Empty));
        assert_eq!(refusal("Ann", ""), (Field::LastName, Problem::Empty));
        assert_eq!(
            refusal("Ann", &"x".repeat(101)),
            (Field::LastName, Problem::TooLong { max: 100 })
        );
        assert_eq!(
            refusal("Ada\u{0}", "Lee"),
            (Field::FirstName, Problem::ControlCharacter('\u{0}'))
        );
        assert_eq!(
            refusal("Ada", "Lee\r\nBcc: all@acme.test"),
            (Field::LastName, Problem::LineBreak)
        );
    }
}
