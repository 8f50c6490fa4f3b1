//! What rejected forms share: the problems to show, in the order of the form's fields, each
//! linked from the error summary at the top of the page to its field, and shown beside it.

use domain::FieldErrors;

/// The problems with a posted form: `(field id, message)`, in the order of the form.
#[derive(Debug, Clone, Default)]
pub struct FormErrors(Vec<(String, String)>);

impl FormErrors {
    /// The problems of `errors`, in the order of `fields` (the ids of the form's fields), and
    /// as sentences; a problem with a field the form does not have goes to `fallback`.
    pub fn from_fields(errors: &FieldErrors, fields: &[&str], fallback: &str) -> FormErrors {
        let mut list: Vec<(usize, String, String)> = Vec::new();
        for (field, messages) in errors.fields() {
            // The field itself (ids may hold dots), else the field it is part of
            // (`answers[3].acceptable` is part of `answers`).
            let root = field.split(['[', '.']).next().unwrap_or(field);
            let found =
                [field.as_str(), root].into_iter().find_map(|id| Some((fields.iter().position(|f| *f == id)?, id)));
            let (position, id) = match found {
                Some((position, id)) => (position, id.to_owned()),
                None => (fields.len(), fallback.to_owned()),
            };
            for message in messages {
                list.push((position, id.clone(), super::sentence(message)));
            }
        }
        list.sort_by_key(|(position, _, _)| *position);
        FormErrors(list.into_iter().map(|(_, id, message)| (id, message)).collect())
    }

    /// One problem with one field.
    pub fn one(field: &str, message: &str) -> FormErrors {
        FormErrors(vec![(field.to_owned(), super::sentence(message))])
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every problem, for the error summary.
    pub fn list(&self) -> &[(String, String)] {
        &self.0
    }

    /// The first problem with `field`, shown beside it.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(id, _)| id == field).map(|(_, message)| message.as_str())
    }

    /// Whether `field` has a problem.
    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }
}

/// A posted form as its fields, in order; a field may come several times (checkboxes).
#[derive(Debug, Default)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    pub fn parse(body: &[u8]) -> FormData {
        FormData(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    /// The first value of `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }
}

/// A form with nothing but its CSRF token (a button that acts).
#[derive(Debug, serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf_token: String,
}

/// The query of a page shown after an action: `done` says which, for the notice at its top;
/// `saved=1` after a save.
#[derive(Debug, serde::Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    pub done: String,
    #[serde(default)]
    pub saved: String,
}

/// One choice of a set of radios, checkboxes or a select.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub hint: String,
    pub checked: bool,
}

impl Choice {
    /// The choices of `terms`, those in `chosen` checked.
    pub fn of(terms: &[domain::Term], chosen: &[String]) -> Vec<Choice> {
        terms
            .iter()
            .map(|t| Choice {
                value: t.id.clone(),
                label: t.label.clone(),
                hint: String::new(),
                checked: chosen.contains(&t.id),
            })
            .collect()
    }
}

/// `text` percent-encoded for a query string.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Where to go after logging in: a path on this site only (never `//host` or a full URL, so
/// that a crafted login link cannot send anyone elsewhere).
pub fn local_path(next: &str) -> &str {
    let safe = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if safe { next } else { "/matches" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_logging_in() {
        assert_eq!(local_path("/matches/abc?x=1"), "/matches/abc?x=1");
        for outside in ["//evil.example", "https://evil.example", "/\\evil.example", "evil", "", "/\t/evil.example"] {
            assert_eq!(local_path(outside), "/matches", "{outside:?}");
        }
    }

    #[test]
    fn problems_come_in_the_order_of_the_form_as_sentences() {
        let mut errors = FieldErrors::new();
        errors.add("password", "must be at least 10 characters");
        errors.add("email", "is not an email address");
        errors.add("answers[3].acceptable", "must not be empty");
        let form = FormErrors::from_fields(&errors, &["email", "password"], "form");
        let ids: Vec<&str> = form.list().iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["email", "password", "form"]);
        assert_eq!(form.get("email"), Some("Is not an email address."));
    }

    #[test]
    fn a_field_whose_id_has_dots_keeps_its_own_id() {
        let errors = FieldErrors::one("values.openness-acceptable", "choose one");
        let form = FormErrors::from_fields(&errors, &["values.openness-answer", "values.openness-acceptable"], "x");
        assert_eq!(form.get("values.openness-acceptable"), Some("Choose one."));
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("/matches?a=b&c"), "/matches%3Fa%3Db%26c");
    }
}
