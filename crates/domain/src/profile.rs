//! An organisation's profile: what it offers and seeks, where and how far along it is, and the
//! two texts, one private until revealed and one shown in anonymous views.

use std::collections::BTreeSet;

use crate::catalogue::{Taxonomy, Vocabulary};
use crate::errors::FieldErrors;
use crate::kind::OrgKind;

/// A valid profile; every list holds known, distinct taxonomy ids. It serializes as the
/// profile fields of the API (`GET /api/v1/me`, the export).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Profile {
    /// Private until revealed.
    pub website: Option<String>,
    /// Private until revealed.
    pub description: Option<String>,
    /// Shown in anonymous views; members are told not to put their name in it.
    pub anonymous_summary: Option<String>,
    pub sectors: Vec<String>,
    pub region: Option<String>,
    pub size_band: Option<String>,
    pub innovation_stage: Option<String>,
    pub capabilities_offered: Vec<String>,
    pub capabilities_sought: Vec<String>,
    pub seeking_kinds: Vec<OrgKind>,
    /// Whether partner search may show this organisation (an anonymous card; on by default).
    pub search_visible: bool,
}

impl Default for Profile {
    fn default() -> Profile {
        Profile {
            website: None,
            description: None,
            anonymous_summary: None,
            sectors: vec![],
            region: None,
            size_band: None,
            innovation_stage: None,
            capabilities_offered: vec![],
            capabilities_sought: vec![],
            seeking_kinds: vec![],
            search_visible: true,
        }
    }
}

/// A change to a profile: absent fields stay as they are; an empty string clears a text or a
/// single choice. It deserializes from the body of `PUT /api/v1/me/profile` (any subset of the
/// fields, and no other).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    pub website: Option<String>,
    pub description: Option<String>,
    pub anonymous_summary: Option<String>,
    pub sectors: Option<Vec<String>>,
    pub region: Option<String>,
    pub size_band: Option<String>,
    pub innovation_stage: Option<String>,
    pub capabilities_offered: Option<Vec<String>>,
    pub capabilities_sought: Option<Vec<String>>,
    pub seeking_kinds: Option<Vec<String>>,
    pub search_visible: Option<bool>,
}

/// The patch that sets every field to what `profile` holds (a form filled in with the saved
/// profile; the visibility setting is left alone).
impl From<&Profile> for ProfilePatch {
    fn from(profile: &Profile) -> ProfilePatch {
        ProfilePatch {
            website: profile.website.clone(),
            description: profile.description.clone(),
            anonymous_summary: profile.anonymous_summary.clone(),
            sectors: Some(profile.sectors.clone()),
            region: profile.region.clone(),
            size_band: profile.size_band.clone(),
            innovation_stage: profile.innovation_stage.clone(),
            capabilities_offered: Some(profile.capabilities_offered.clone()),
            capabilities_sought: Some(profile.capabilities_sought.clone()),
            seeking_kinds: Some(profile.seeking_kinds.iter().map(|k| k.as_str().to_owned()).collect()),
            search_visible: None,
        }
    }
}

const DESCRIPTION_MAX: usize = 4000;
const SUMMARY_MAX: usize = 600;

pub(crate) fn text(raw: &str, max: usize) -> Result<Option<String>, String> {
    let trimmed = raw.trim();
    if trimmed.chars().count() > max {
        return Err(format!("at most {max} characters"));
    }
    if trimmed.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err("remove control characters".into());
    }
    if crate::text::has_format_characters(trimmed) {
        return Err("remove invisible formatting characters (such as right-to-left marks or zero-width spaces)".into());
    }
    Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
}

pub(crate) fn website(raw: &str) -> Result<Option<String>, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let rest = trimmed.strip_prefix("https://").or_else(|| trimmed.strip_prefix("http://"));
    let host = rest.and_then(|r| r.split(['/', '?', '#']).next()).unwrap_or_default();
    let valid = trimmed.len() <= 300
        && host.contains('.')
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        && !trimmed.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>'));
    if valid { Ok(Some(trimmed.to_owned())) } else { Err("enter a web address starting with https://".into()) }
}

pub(crate) fn choice(vocabulary: &Vocabulary, raw: &str) -> Result<Option<String>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    if vocabulary.contains(raw) { Ok(Some(raw.to_owned())) } else { Err(format!("{raw:?} is not a known value")) }
}

pub(crate) fn choices(vocabulary: &Vocabulary, raw: &[String]) -> Result<Vec<String>, String> {
    let unknown: Vec<&String> = raw.iter().filter(|id| !vocabulary.contains(id)).collect();
    if !unknown.is_empty() {
        return Err(format!("unknown values: {unknown:?}"));
    }
    let distinct: BTreeSet<&String> = raw.iter().collect();
    // Keep the vocabulary's order, so equal sets compare equal.
    Ok(vocabulary.terms().iter().filter(|t| distinct.contains(&t.id)).map(|t| t.id.clone()).collect())
}

/// Why an anonymous summary cannot be shown before its organisation reveals itself.
pub(crate) fn summary_problem(summary: &str, organisation_name: &str, website: Option<&str>) -> Option<String> {
    if let Some(what) = crate::text::contact_details(summary) {
        return Some(format!("remove {what}: this summary is shown before you reveal who you are"));
    }
    crate::text::names_organisation(summary, organisation_name, website).then(|| {
        "remove your organisation's name and web address: this summary is shown before you reveal who you are"
            .to_owned()
    })
}

impl Profile {
    /// The profile with `patch` applied, or every problem with the patch. The anonymous
    /// summary of the result must not name `organisation_name` or its website, nor carry
    /// contact details.
    pub fn apply(
        &self,
        patch: &ProfilePatch,
        taxonomy: &Taxonomy,
        organisation_name: &str,
    ) -> Result<Profile, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut next = self.clone();
        macro_rules! field {
            ($name:ident, $parse:expr) => {
                if let Some(raw) = &patch.$name {
                    if let Some(value) = errors.check(stringify!($name), $parse(raw)) {
                        next.$name = value;
                    }
                }
            };
        }
        field!(website, |r: &String| website(r));
        field!(description, |r: &String| text(r, DESCRIPTION_MAX));
        field!(anonymous_summary, |r: &String| text(r, SUMMARY_MAX));
        field!(sectors, |r: &Vec<String>| choices(&taxonomy.sectors, r));
        field!(region, |r: &String| choice(&taxonomy.regions, r));
        field!(size_band, |r: &String| choice(&taxonomy.size_bands, r));
        field!(innovation_stage, |r: &String| choice(&taxonomy.innovation_stages, r));
        field!(capabilities_offered, |r: &Vec<String>| choices(&taxonomy.capabilities, r));
        field!(capabilities_sought, |r: &Vec<String>| choices(&taxonomy.capabilities, r));
        field!(seeking_kinds, |r: &Vec<String>| {
            let kinds: Result<BTreeSet<OrgKind>, String> = r.iter().map(|k| OrgKind::parse(k)).collect();
            kinds.map(|set| set.into_iter().collect::<Vec<_>>())
        });
        if let Some(visible) = patch.search_visible {
            next.search_visible = visible;
        }
        if !errors.fields().contains_key("anonymous_summary")
            && let Some(summary) = &next.anonymous_summary
            && let Some(problem) = summary_problem(summary, organisation_name, next.website.as_deref())
        {
            errors.add("anonymous_summary", problem);
        }
        errors.into_result(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalogue;

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let catalogue = Catalogue::builtin().expect("valid");
        let start = Profile { region: Some("wales".into()), ..Profile::default() };
        let patch = ProfilePatch {
            website: Some("https://acme.example/health".into()),
            sectors: Some(vec!["digital_health".into(), "medical_devices".into(), "digital_health".into()]),
            seeking_kinds: Some(vec!["health_org".into()]),
            ..ProfilePatch::default()
        };
        let next = start.apply(&patch, &catalogue.taxonomy, "Acme").expect("valid");
        assert_eq!(next.region.as_deref(), Some("wales"));
        assert_eq!(next.website.as_deref(), Some("https://acme.example/health"));
        assert_eq!(next.sectors, ["digital_health", "medical_devices"]);
        assert_eq!(next.seeking_kinds, [OrgKind::HealthOrg]);
        let cleared = next.apply(
            &ProfilePatch { region: Some(String::new()), ..ProfilePatch::default() },
            &catalogue.taxonomy,
            "Acme",
        );
        assert_eq!(cleared.expect("valid").region, None);
    }

    #[test]
    fn bad_fields_are_all_reported_and_nothing_changes() {
        let catalogue = Catalogue::builtin().expect("valid");
        let patch = ProfilePatch {
            website: Some("javascript:alert(1)".into()),
            description: Some("x".repeat(DESCRIPTION_MAX + 1)),
            sectors: Some(vec!["astrology".into()]),
            region: Some("atlantis".into()),
            innovation_stage: Some("done".into()),
            seeking_kinds: Some(vec!["pirate".into()]),
            ..ProfilePatch::default()
        };
        let errors = Profile::default().apply(&patch, &catalogue.taxonomy, "Acme").expect_err("invalid");
        let fields: Vec<&String> = errors.fields().keys().collect();
        assert_eq!(fields, ["description", "innovation_stage", "region", "sectors", "seeking_kinds", "website"]);
    }

    #[test]
    fn an_anonymous_summary_cannot_name_or_reach_its_organisation() {
        let catalogue = Catalogue::builtin().expect("valid");
        let start = Profile { website: Some("https://acme-health.example".into()), ..Profile::default() };
        let summary = |text: &str| ProfilePatch { anonymous_summary: Some(text.into()), ..ProfilePatch::default() };
        for bad in [
            "Mail us at team@anywhere.example",
            "See https://elsewhere.example",
            "Call 0161 496 0000",
            "Acme Health Ltd makes sensors",
            "We are acme-health",
            "Falls sensors \u{202E}reversed",
            "Zero\u{200B}width",
        ] {
            let errors = start.apply(&summary(bad), &catalogue.taxonomy, "Acme Health Ltd").expect_err(bad);
            let fields: Vec<&String> = errors.fields().keys().collect();
            assert_eq!(fields, ["anonymous_summary"], "{bad:?}");
        }
        let fine = start.apply(&summary("A small team with a falls sensor"), &catalogue.taxonomy, "Acme Health Ltd");
        assert!(fine.is_ok());
        // A new website is checked against the summary already there.
        let with_summary = Profile { anonymous_summary: Some("The brightpath way".into()), ..Profile::default() };
        let patch = ProfilePatch { website: Some("https://brightpath.example".into()), ..ProfilePatch::default() };
        let errors = with_summary.apply(&patch, &catalogue.taxonomy, "Other Name").expect_err("named");
        assert!(errors.fields().contains_key("anonymous_summary"));
    }
}
