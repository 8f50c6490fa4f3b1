//! Checks on free text that members write: no invisible Unicode format characters (which can
//! disguise a name or reverse how a text reads), and, for the anonymous summary, nothing that
//! names or reaches the organisation (an email address, a web address, a phone number, its
//! own name or web domain).

use linkify::{LinkFinder, LinkKind};
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Whether `text` holds a Unicode format character (category Cf: right-to-left override,
/// zero-width space and joiner, soft hyphen, byte-order mark, …).
pub fn has_format_characters(text: &str) -> bool {
    text.chars().any(|c| c.general_category() == GeneralCategory::Format)
}

/// What in `text` would let a reader contact or look up the writer, if anything.
pub fn contact_details(text: &str) -> Option<&'static str> {
    let mut finder = LinkFinder::new();
    finder.url_must_have_scheme(false);
    for link in finder.links(text) {
        match link.kind() {
            LinkKind::Email => return Some("an email address"),
            LinkKind::Url => return Some("a web address"),
            _ => {}
        }
    }
    has_phone_number(text).then_some("a phone number")
}

/// Nine or more digits in one run of digits, spaces, `+`, `-`, `.`, `/` and brackets, where
/// no two separators are adjacent: "+44 20 7946 0958", "(01632) 960-001", "07700900123".
fn has_phone_number(text: &str) -> bool {
    let mut digits = 0;
    let mut separators_in_a_row = 0;
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits += 1;
            separators_in_a_row = 0;
        } else if matches!(c, ' ' | '+' | '-' | '.' | '/' | '(' | ')') && digits > 0 {
            separators_in_a_row += 1;
            if separators_in_a_row > 2 {
                digits = 0;
            }
        } else if c == '+' || c == '(' {
            separators_in_a_row = 0;
        } else {
            digits = 0;
            separators_in_a_row = 0;
        }
        if digits >= 9 {
            return true;
        }
    }
    false
}

/// Words of an organisation's name that do not tell one organisation from another.
const GENERIC: &[&str] = &[
    "a",
    "an",
    "and",
    "board",
    "care",
    "centre",
    "cic",
    "clinic",
    "co",
    "community",
    "company",
    "devices",
    "diagnostics",
    "digital",
    "for",
    "foundation",
    "group",
    "health",
    "healthcare",
    "hospital",
    "hospitals",
    "inc",
    "institute",
    "limited",
    "llc",
    "llp",
    "ltd",
    "medical",
    "nhs",
    "of",
    "plc",
    "research",
    "services",
    "solutions",
    "systems",
    "technologies",
    "the",
    "therapeutics",
    "trust",
    "uk",
    "university",
];

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

fn contains_phrase(haystack: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && haystack.windows(phrase.len()).any(|window| window == phrase)
}

/// The host of a web address, without `www.`: "https://www.acme.example/about" gives
/// "acme.example".
pub(crate) fn host(website: &str) -> Option<String> {
    let rest = website.split_once("://").map_or(website, |(_, rest)| rest);
    let host = rest.split(['/', '?', '#', ':']).next()?.to_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_owned();
    (!host.is_empty()).then_some(host)
}

/// Whether `text` names the organisation called `name`, or its web domain: the whole name, the
/// distinctive part of it (without words such as "Ltd" or "NHS Trust"), the first distinctive
/// word on its own ("Brightpath" of "Brightpath Diagnostics Ltd"), the host of `website`, or
/// that host's first label ("acme-health" of "acme-health.co.uk").
pub fn names_organisation(text: &str, name: &str, website: Option<&str>) -> bool {
    let said = words(text);
    let full = words(name);
    let core: Vec<String> = full.iter().filter(|w| !GENERIC.contains(&w.as_str())).cloned().collect();
    let brand = core.first().filter(|w| w.chars().count() >= 4);
    if contains_phrase(&said, &full) || contains_phrase(&said, &core) || brand.is_some_and(|b| said.contains(b)) {
        return true;
    }
    let Some(host) = website.and_then(host) else { return false };
    let lowered = text.to_lowercase();
    if lowered.contains(&host) {
        return true;
    }
    let label = host.split('.').next().unwrap_or_default();
    if label.chars().count() < 4 {
        return false;
    }
    let label_words = words(label);
    let joined: String = label_words.concat();
    contains_phrase(&said, &label_words) || said.contains(&joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_characters_are_found() {
        for hidden in ["Acme\u{202E}dtL", "Ac\u{200B}me", "Ac\u{200D}me", "\u{FEFF}Acme", "Ac\u{00AD}me", "A\u{2066}b"]
        {
            assert!(has_format_characters(hidden), "{hidden:?}");
        }
        for plain in ["Acme Health", "Ysbyty Gwynedd", "Cafe\u{301} Société", "Łódź Medical"] {
            assert!(!has_format_characters(plain), "{plain:?}");
        }
    }

    #[test]
    fn contact_details_are_found() {
        let cases = [
            ("write to ann@acme.example", Some("an email address")),
            ("see https://acme.example/about", Some("a web address")),
            ("see acme-health.co.uk for more", Some("a web address")),
            ("visit www.acme.example", Some("a web address")),
            ("call +44 20 7946 0958", Some("a phone number")),
            ("call (01632) 960-001 today", Some("a phone number")),
            ("ring 07700900123", Some("a phone number")),
            ("A team of 12 with 3 products, founded in 2019, e.g. for falls.", None),
            ("We reached 10,000 patients in 2023-2024 across 4 sites.", None),
            ("Version 2.1 of our app; i.e. tested. Approx. 5 trials.", None),
        ];
        for (text, expected) in cases {
            assert_eq!(contact_details(text), expected, "{text:?}");
        }
    }

    #[test]
    fn the_organisations_name_and_domain_are_found() {
        let website = Some("https://www.acme-secret.example/about");
        let named = [
            "Acme Secret builds sensors",
            "We are acme secret ltd.",
            "Part of the ACME-SECRET family",
            "see acme-secret.example",
            "acmesecret makes things",
            "Acme makes sensors",
        ];
        for text in named {
            assert!(names_organisation(text, "Acme Secret Ltd", website), "{text:?}");
        }
        assert!(names_organisation("Riverside serves a rural area", "Riverside NHS Trust", None));
        assert!(names_organisation("A university in Elsewhere", "University of Elsewhere", None));
        assert!(names_organisation("Brightpath makes rapid tests", "Brightpath Diagnostics Ltd", None));
        for text in ["A small team with a falls-prevention device", "We keep secrets well", "Diagnostics for sepsis"] {
            assert!(!names_organisation(text, "Acme Secret Ltd", website), "{text:?}");
        }
    }
}
