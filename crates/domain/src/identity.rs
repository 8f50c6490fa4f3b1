//! Who an organisation is: its email, its name and its password. All of them redact
//! themselves in `Debug`, since an unrevealed identity must never reach a log.

use secrecy::{ExposeSecret, SecretString};
use validator::ValidateEmail;

/// A syntactically valid email address, trimmed and lower-cased.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<EmailAddress, String> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err("enter an email address".into());
        }
        if email.len() > 254 || !email.validate_email() {
            return Err("enter a valid email address, like name@example.org".into());
        }
        Ok(EmailAddress(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmailAddress(<redacted>)")
    }
}

/// An organisation's name: trimmed, 2 to 120 characters, no control characters.
#[derive(Clone, PartialEq, Eq)]
pub struct OrganisationName(String);

impl OrganisationName {
    pub fn parse(raw: &str) -> Result<OrganisationName, String> {
        let name = raw.trim();
        let length = name.chars().count();
        if length < 2 {
            return Err("enter the organisation's name (at least 2 characters)".into());
        }
        if length > 120 {
            return Err("the name can be at most 120 characters".into());
        }
        if name.chars().any(char::is_control) {
            return Err("the name cannot contain control characters".into());
        }
        if crate::text::has_format_characters(name) {
            return Err("the name cannot contain invisible formatting characters (such as right-to-left marks)".into());
        }
        Ok(OrganisationName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for OrganisationName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OrganisationName(<redacted>)")
    }
}

/// A password as typed: 10 to 200 characters. Only its hash is ever stored.
#[derive(Debug)]
pub struct Password(SecretString);

impl Password {
    pub fn parse(raw: String) -> Result<Password, String> {
        let length = raw.chars().count();
        if length < 10 {
            return Err("use at least 10 characters".into());
        }
        if length > 200 {
            return Err("use at most 200 characters".into());
        }
        Ok(Password(SecretString::from(raw)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(EmailAddress::parse("  Ann@Example.ORG ").map(|e| e.0), Ok("ann@example.org".to_owned()));
        for bad in ["", "ann", "ann@", "@example.org", "ann@@example.org", "a b@example.org"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(OrganisationName::parse("  Acme Health  ").map(|n| n.0), Ok("Acme Health".to_owned()));
        assert!(OrganisationName::parse(" a ").is_err());
        assert!(OrganisationName::parse(&"x".repeat(121)).is_err());
        assert!(OrganisationName::parse("Acme\u{0}").is_err());
        assert!(OrganisationName::parse("Acme \u{202E}dtL").is_err(), "a right-to-left override");
        assert!(OrganisationName::parse("Ac\u{200B}me").is_err(), "a zero-width space");
    }

    #[test]
    fn passwords_have_a_minimum_length() {
        assert!(Password::parse("short".into()).is_err());
        assert!(Password::parse("long enough passphrase".into()).is_ok());
    }

    #[test]
    fn identities_never_show_in_debug_output() {
        let email = EmailAddress::parse("ann@example.org").expect("valid");
        let name = OrganisationName::parse("Acme Health").expect("valid");
        let password = Password::parse("correct horse battery".into()).expect("valid");
        let printed = format!("{email:?} {name:?} {password:?}");
        for secret in ["ann@example.org", "Acme", "horse"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}
