//! Success stories: what the parties of a collaboration write for everyone to read. A story is
//! a title, a text, and whether it names the two organisations; it is published only when both
//! parties approved the same revision (the store enforces that), so the text here is checked
//! only for what any public text must be.

use crate::FieldErrors;
use crate::text::has_format_characters;

/// Longest title, in characters.
pub const TITLE_MAX: usize = 120;
/// Longest text, in characters.
pub const TEXT_MAX: usize = 4000;

/// A story as a party drafted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Story {
    pub title: String,
    pub text: String,
    /// Whether the published story names both organisations (approved with the text).
    pub show_names: bool,
}

fn field(raw: &str, what: &str, min: usize, max: usize) -> Result<String, String> {
    let trimmed = raw.trim();
    let length = trimmed.chars().count();
    if length < min {
        return Err(format!("the {what} needs at least {min} characters"));
    }
    if length > max {
        return Err(format!("the {what} is longer than {max} characters"));
    }
    if has_format_characters(trimmed) {
        return Err(format!("the {what} holds invisible formatting characters"));
    }
    Ok(trimmed.to_owned())
}

impl Story {
    /// Checks a draft: a title of 3 to 120 characters and a text of 20 to 4000, with no
    /// invisible formatting characters; every problem at once.
    pub fn parse(title: &str, text: &str, show_names: bool) -> Result<Story, FieldErrors> {
        let mut errors = FieldErrors::new();
        let title = errors.check("title", field(title, "title", 3, TITLE_MAX));
        let text = errors.check("text", field(text, "text", 20, TEXT_MAX));
        match (title, text) {
            (Some(title), Some(text)) => Ok(Story { title, text, show_names }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_story_needs_a_title_and_a_text_of_sensible_length() {
        let story = Story::parse("  Fewer falls at home ", "We trialled a sensor mat with the falls team.", true)
            .expect("valid");
        assert_eq!(story.title, "Fewer falls at home");
        let errors = Story::parse("", "short", false).expect_err("invalid");
        assert!(errors.fields().contains_key("title") && errors.fields().contains_key("text"), "{errors}");
        let long = "x".repeat(TEXT_MAX + 1);
        assert!(Story::parse("A title", &long, false).expect_err("too long").fields().contains_key("text"));
        assert!(Story::parse("Hidden\u{202e}", "a text that is long enough to pass", false).is_err());
    }
}
