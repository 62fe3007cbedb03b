//! Every piece of text the product accepts passes through [`parse`] once, at the edge
//! of the domain, and becomes a type that guarantees what it holds (the rules are in
//! docs/domain.md, "Text"). Past that point nothing validates text again.
//!
//! The rules, for every field:
//! - surrounding whitespace is trimmed and the text is normalised to Unicode NFC, so
//!   the same name typed on two keyboards is stored the same way;
//! - its length is counted in characters (Unicode scalar values) after that, against
//!   the maximum the schema documents;
//! - control characters are refused, NUL first of all: PostgreSQL cannot store it, and
//!   the others make a text look different from what it says. Prose (descriptions,
//!   comments) may hold line breaks and tabs; a CR LF or a lone CR becomes one LF;
//! - names (of people, groups and accounts, positions, titles) are one line and may not
//!   hold invisible formatting characters, among them the bidirectional overrides that
//!   make "txt.exe" read as "exe.txt". The joiners U+200C and U+200D stay allowed:
//!   Persian, Indic scripts and emoji need them.
//!
//! Text already in the log from before these rules is made storable on the way out by
//! [`storable`] (see `upcast.rs`).

use std::borrow::Cow;
use std::fmt;
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Which piece of text: it decides the rules, and names the field in a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    FirstName,
    LastName,
    Position,
    AccountName,
    WorkgroupName,
    TaskTitle,
    TaskDescription,
    Comment,
}

/// What a field's text may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One line, no invisible formatting.
    Name,
    /// Line breaks and tabs allowed.
    Prose,
}

impl Field {
    /// The field as a sentence names it.
    pub fn label(self) -> &'static str {
        match self {
            Field::FirstName => "the first name",
            Field::LastName => "the last name",
            Field::Position => "the position",
            Field::AccountName => "the account's name",
            Field::WorkgroupName => "the workgroup's name",
            Field::TaskTitle => "the title",
            Field::TaskDescription => "the description",
            Field::Comment => "the comment",
        }
    }

    /// The most characters the field may hold, as the schema documents it.
    pub fn max_chars(self) -> usize {
        match self {
            Field::FirstName | Field::LastName | Field::Position => 100,
            Field::AccountName | Field::WorkgroupName => 200,
            Field::TaskTitle => 250,
            Field::TaskDescription => 20_000,
            Field::Comment => 10_000,
        }
    }

    /// Whether the field may be left empty.
    fn optional(self) -> bool {
        matches!(self, Field::TaskDescription)
    }

    fn shape(self) -> Shape {
        match self {
            Field::TaskDescription | Field::Comment => Shape::Prose,
            _ => Shape::Name,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Why a text was refused, and which field it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct TextError {
    pub field: Field,
    pub problem: Problem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Empty,
    TooLong {
        max: usize,
    },
    /// A control character other than a line break or tab (or any of them in a name).
    ControlCharacter(char),
    /// A line break or tab in a field of one line.
    LineBreak,
    /// An invisible formatting character (a bidirectional override, a zero-width space).
    InvisibleFormatting(char),
}

impl TextError {
    fn message(&self) -> String {
        let field = self.field.label();
        match self.problem {
            Problem::Empty => format!("{field} is empty"),
            Problem::TooLong { max } => format!("{field} may have at most {max} characters"),
            Problem::ControlCharacter(c) => format!(
                "{field} contains the control character {}, which text may not hold; remove it",
                code_point(c)
            ),
            Problem::LineBreak => {
                format!("{field} is one line of text: remove the line breaks and tabs")
            }
            Problem::InvisibleFormatting(c) => format!(
                "{field} contains the invisible formatting character {}, which can make \
                 a name read as another; remove it",
                code_point(c)
            ),
        }
    }
}

fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// The text as `field` stores it, or why it may not hold it.
pub fn parse(field: Field, raw: &str) -> Result<String, TextError> {
    let refuse = |problem| TextError { field, problem };
    let text: String = line_breaks_as_lf(raw.trim()).nfc().collect();
    if text.is_empty() && !field.optional() {
        return Err(refuse(Problem::Empty));
    }
    for c in text.chars() {
        match (field.shape(), c) {
            (Shape::Prose, '\n' | '\t') => {}
            (Shape::Name, '\n' | '\t') => return Err(refuse(Problem::LineBreak)),
            (_, c) if c.is_control() => return Err(refuse(Problem::ControlCharacter(c))),
            (Shape::Name, c) if breaks_a_line(c) => return Err(refuse(Problem::LineBreak)),
            (Shape::Name, c) if is_invisible_formatting(c) => {
                return Err(refuse(Problem::InvisibleFormatting(c)))
            }
            _ => {}
        }
    }
    let max = field.max_chars();
    if text.chars().count() > max {
        return Err(refuse(Problem::TooLong { max }));
    }
    Ok(text)
}

/// CR LF and lone CR as LF: what a browser's text area sends is the line breaks the
/// person typed, not characters of their own.
fn line_breaks_as_lf(text: &str) -> Cow<'_, str> {
    if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(text)
    }
}

/// U+2028 and U+2029 end a line as a line feed does.
fn breaks_a_line(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
    )
}

/// Format characters (Unicode category Cf: bidirectional controls, zero-width spaces,
/// the byte-order mark, soft hyphens, tags) other than the two joiners, which scripts
/// and emoji need.
pub(crate) fn is_invisible_formatting(c: char) -> bool {
    c.general_category() == GeneralCategory::Format && !matches!(c, '\u{200C}' | '\u{200D}')
}

/// Text from an event stored before these rules, made storable: NUL, which PostgreSQL
/// cannot hold in a text column, and the other control characters save line breaks and
/// tabs are dropped. Everything else stays as it was stored.
pub fn storable(text: &str) -> Cow<'_, str> {
    let unstorable = |c: char| c.is_control() && !matches!(c, '\n' | '\t' | '\r');
    if text.chars().any(unstorable) {
        Cow::Owned(text.chars().filter(|c| !unstorable(*c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

/// A text the person typed, quoted in a refusal so they can find it: control and
/// invisible characters shown as code points, and at most 60 characters of it.
pub fn quoted(raw: &str) -> String {
    const SHOWN: usize = 60;
    let mut quoted = String::from("\"");
    for c in raw.chars().take(SHOWN) {
        if c.is_control() || is_invisible_formatting(c) || breaks_a_line(c) {
            quoted.push_str(&format!("<{}>", code_point(c)));
        } else {
            quoted.push(c);
        }
    }
    if raw.chars().nth(SHOWN).is_some() {
        quoted.push('…');
    }
    quoted.push('"');
    quoted
}

/// Defines a newtype for one field's text: made only by `parse`, stored as a plain
/// string.
macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $field:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const FIELD: Field = $field;

            pub fn parse(raw: &str) -> Result<Self, TextError> {
                parse(Self::FIELD, raw).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_type!(
    /// A task's title: one line.
    TaskTitle,
    Field::TaskTitle
);
text_type!(
    /// A task's description: prose, possibly empty.
    TaskDescription,
    Field::TaskDescription
);
text_type!(
    /// A comment on a task: prose.
    CommentText,
    Field::Comment
);
text_type!(
    /// A workgroup's name: one line.
    WorkgroupName,
    Field::WorkgroupName
);
text_type!(
    /// An account's (the company's) name: one line.
    AccountName,
    Field::AccountName
);

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(field: Field, raw: &str) -> Problem {
        parse(field, raw).unwrap_err().problem
    }

    #[test]
    fn trims_and_normalises_to_nfc() {
        // "é" written as e + combining acute becomes the one character U+00E9.
        assert_eq!(parse(Field::FirstName, "  Re\u{301}my ").unwrap(), "Rémy");
        assert_eq!(
            parse(Field::FirstName, &"e\u{301}".repeat(100))
                .unwrap()
                .chars()
                .count(),
            100
        );
    }

    #[test]
    fn refuses_nul_and_other_controls_everywhere() {
        for field in [Field::FirstName, Field::TaskTitle, Field::TaskDescription] {
            assert_eq!(
                problem(field, "Ada\u{0}"),
                Problem::ControlCharacter('\u{0}')
            );
            assert_eq!(
                problem(field, "a\u{1b}[31mred"),
                Problem::ControlCharacter('\u{1b}')
            );
            assert_eq!(
                problem(field, "a\u{85}b"),
                Problem::ControlCharacter('\u{85}')
            );
            assert_eq!(
                problem(field, "a\u{7f}b"),
                Problem::ControlCharacter('\u{7f}')
            );
        }
    }

    #[test]
    fn names_are_one_line_prose_keeps_its_lines() {
        for raw in ["Ada\nBcc: x@y.z", "Ada\rX", "Ada\tLovelace", "Ada\u{2028}X"] {
            assert_eq!(problem(Field::LastName, raw), Problem::LineBreak, "{raw:?}");
        }
        assert_eq!(
            parse(Field::Comment, "one\r\ntwo\rthree\n\tfour").unwrap(),
            "one\ntwo\nthree\n\tfour"
        );
    }

    #[test]
    fn names_refuse_invisible_formatting_but_keep_joiners() {
        for c in [
            '\u{202E}', '\u{2066}', '\u{200B}', '\u{FEFF}', '\u{AD}', '\u{200F}',
        ] {
            let raw = format!("Ada{c}x");
            assert_eq!(
                problem(Field::WorkgroupName, &raw),
                Problem::InvisibleFormatting(c)
            );
        }
        // A family emoji is joined by U+200D; Persian uses U+200C.
        assert!(parse(Field::FirstName, "👨\u{200D}👩\u{200D}👧").is_ok());
        assert!(parse(Field::FirstName, "می\u{200C}خواهم").is_ok());
        // Prose may hold right-to-left marks, as Arabic and Hebrew text does.
        assert!(parse(Field::Comment, "שלום \u{200F}abc").is_ok());
    }

    #[test]
    fn empty_and_long_are_refused_by_characters() {
        assert_eq!(problem(Field::TaskTitle, " \t "), Problem::Empty);
        assert_eq!(parse(Field::TaskDescription, "  ").unwrap(), "");
        assert!(parse(Field::TaskTitle, &"é".repeat(250)).is_ok());
        assert_eq!(
            problem(Field::TaskTitle, &"é".repeat(251)),
            Problem::TooLong { max: 250 }
        );
    }

    #[test]
    fn a_refusal_names_the_field_and_the_character() {
        let error = TaskTitle::parse("Ship\u{0}").unwrap_err();
        assert_eq!(error.field, Field::TaskTitle);
        assert_eq!(
            error.to_string(),
            "the title contains the control character U+0000, which text may not hold; remove it"
        );
    }

    #[test]
    fn storable_drops_what_a_database_cannot_hold() {
        assert_eq!(storable("Ada\u{0}"), "Ada");
        assert_eq!(storable("a\u{1b}[31m\nb\tc"), "a[31m\nb\tc");
        assert!(matches!(storable("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn quoted_shows_hidden_characters_and_cuts_long_text() {
        assert_eq!(quoted("a\u{0}b\u{202E}"), "\"a<U+0000>b<U+202E>\"");
        assert_eq!(quoted(&"x".repeat(100)), format!("\"{}…\"", "x".repeat(60)));
    }
}
