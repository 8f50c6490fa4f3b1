//! Challenges: a problem that a health organisation or university posts, the responses of
//! organisations that could help (how, and at which stages), and the questions of its public
//! forum. Posters, responders and askers are all anonymous until they reveal themselves, so
//! every text they write is screened like an anonymous summary (no contact details, not their
//! own name or web domain), and a poster's links may not point at its own website.

use chrono::{DateTime, NaiveDate, Utc};

use crate::catalogue::Taxonomy;
use crate::errors::FieldErrors;
use crate::kind::OrgKind;
use crate::profile::{choice, choices, summary_problem, text, website};

const TITLE: (usize, usize) = (5, 200);
const PROBLEM: (usize, usize) = (20, 10_000);
const SUMMARY: (usize, usize) = (20, 4_000);
const QUESTION: (usize, usize) = (5, 2_000);
const ANSWER: (usize, usize) = (1, 4_000);
const MAX_LINKS: usize = 10;

/// Whether organisations of `kind` may post challenges.
pub fn may_post(kind: OrgKind) -> bool {
    matches!(kind, OrgKind::HealthOrg | OrgKind::Academic)
}

/// A stage of the innovation pathway at which a responder adds value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Invention,
    Evidence,
    Adoption,
    Scale,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::Invention, Stage::Evidence, Stage::Adoption, Stage::Scale];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Invention => "invention",
            Stage::Evidence => "evidence",
            Stage::Adoption => "adoption",
            Stage::Scale => "scale",
        }
    }

    pub fn parse(raw: &str) -> Result<Stage, String> {
        Stage::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| format!("{raw:?} is not a stage: use invention, evidence, adoption or scale"))
    }
}

/// A challenge's fields as sent: every one may be absent (a partial edit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawChallenge {
    pub title: Option<String>,
    pub problem_statement: Option<String>,
    pub sectors: Option<Vec<String>>,
    pub innovation_stage: Option<String>,
    pub capabilities_needed: Option<Vec<String>>,
    pub deadline: Option<String>,
    pub links: Option<Vec<String>>,
}

impl RawChallenge {
    /// Whether this edit changes nothing but could only be meant as one.
    pub fn is_empty(&self) -> bool {
        *self == RawChallenge::default()
    }
}

/// A valid challenge: every list holds known taxonomy ids, the deadline was in the future
/// when it was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub title: String,
    pub problem_statement: String,
    pub sectors: Vec<String>,
    pub innovation_stage: Option<String>,
    pub capabilities_needed: Vec<String>,
    pub deadline: DateTime<Utc>,
    pub links: Vec<String>,
}

fn bounded(raw: &str, (min, max): (usize, usize)) -> Result<String, String> {
    let trimmed = text(raw, max)?.unwrap_or_default();
    if trimmed.chars().count() < min {
        return Err(format!("write at least {min} characters"));
    }
    Ok(trimmed)
}

/// A deadline as RFC 3339 (`2027-03-31T17:00:00Z`) or a date (`2027-03-31`, meaning the end of
/// that day, UTC), after `now`.
fn deadline(raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let raw = raw.trim();
    let parsed = DateTime::parse_from_rfc3339(raw).map(|d| d.with_timezone(&Utc)).or_else(|_| {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(23, 59, 59))
            .map(|d| d.and_utc())
            .ok_or(())
    });
    match parsed {
        Ok(deadline) if deadline > now => Ok(deadline),
        Ok(_) => Err("the deadline must be in the future".into()),
        Err(()) => Err("enter a date such as 2027-03-31".into()),
    }
}

/// Links to documents: web addresses, not on the poster's own website (which would name it).
fn links(raw: &[String], writer: Writer<'_>) -> Result<Vec<String>, String> {
    if raw.len() > MAX_LINKS {
        return Err(format!("at most {MAX_LINKS} links"));
    }
    let own = writer.website.and_then(crate::text::host);
    let mut parsed: Vec<String> = Vec::with_capacity(raw.len());
    for link in raw {
        match website(link) {
            Ok(Some(link)) if own.as_ref().is_some_and(|own| crate::text::host(&link).as_ref() == Some(own)) => {
                return Err(format!("{link:?} is on your own website, which would tell responders who you are"));
            }
            Ok(Some(link)) if parsed.contains(&link) => {}
            Ok(Some(link)) => parsed.push(link),
            Ok(None) => {}
            Err(_) => return Err(format!("{link:?} is not a web address starting with https://")),
        }
    }
    Ok(parsed)
}

impl Challenge {
    /// A new challenge: title, problem statement, sectors, capabilities needed and deadline are
    /// required; the stage sought and links are not.
    pub fn parse(
        raw: &RawChallenge,
        taxonomy: &Taxonomy,
        writer: Writer<'_>,
        now: DateTime<Utc>,
    ) -> Result<Challenge, FieldErrors> {
        let mut errors = FieldErrors::new();
        for (field, missing) in [
            ("title", raw.title.is_none()),
            ("problem_statement", raw.problem_statement.is_none()),
            ("sectors", raw.sectors.as_ref().is_none_or(Vec::is_empty)),
            ("capabilities_needed", raw.capabilities_needed.as_ref().is_none_or(Vec::is_empty)),
            ("deadline", raw.deadline.is_none()),
        ] {
            if missing {
                errors.add(field, "this is required");
            }
        }
        let empty = Challenge {
            title: String::new(),
            problem_statement: String::new(),
            sectors: vec![],
            innovation_stage: None,
            capabilities_needed: vec![],
            deadline: now,
            links: vec![],
        };
        match empty.apply(raw, taxonomy, writer, now) {
            Ok(challenge) if errors.is_empty() => Ok(challenge),
            Ok(_) => Err(errors),
            Err(more) => {
                for (field, messages) in more.fields() {
                    if !errors.fields().contains_key(field) {
                        messages.iter().for_each(|m| errors.add(field.clone(), m.clone()));
                    }
                }
                Err(errors)
            }
        }
    }

    /// This challenge with `raw` applied (absent fields stay as they are), or every problem.
    pub fn apply(
        &self,
        raw: &RawChallenge,
        taxonomy: &Taxonomy,
        writer: Writer<'_>,
        now: DateTime<Utc>,
    ) -> Result<Challenge, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut next = self.clone();
        if let Some(v) = raw.title.as_deref().and_then(|t| errors.check("title", anonymous_text(t, TITLE, writer))) {
            next.title = v;
        }
        if let Some(v) = raw
            .problem_statement
            .as_deref()
            .and_then(|t| errors.check("problem_statement", anonymous_text(t, PROBLEM, writer)))
        {
            next.problem_statement = v;
        }
        if let Some(v) = raw.sectors.as_deref().and_then(|s| errors.check("sectors", choices(&taxonomy.sectors, s))) {
            next.sectors = v;
        }
        if let Some(v) = raw
            .innovation_stage
            .as_deref()
            .and_then(|s| errors.check("innovation_stage", choice(&taxonomy.innovation_stages, s)))
        {
            next.innovation_stage = v;
        }
        if let Some(v) = raw
            .capabilities_needed
            .as_deref()
            .and_then(|c| errors.check("capabilities_needed", choices(&taxonomy.capabilities, c)))
        {
            next.capabilities_needed = v;
        }
        if let Some(v) = raw.deadline.as_deref().and_then(|d| errors.check("deadline", deadline(d, now))) {
            next.deadline = v;
        }
        if let Some(v) = raw.links.as_deref().and_then(|l| errors.check("links", links(l, writer))) {
            next.links = v;
        }
        if raw.sectors.is_some() && next.sectors.is_empty() && !errors.fields().contains_key("sectors") {
            errors.add("sectors", "choose at least one sector");
        }
        if raw.capabilities_needed.is_some()
            && next.capabilities_needed.is_empty()
            && !errors.fields().contains_key("capabilities_needed")
        {
            errors.add("capabilities_needed", "choose at least one capability");
        }
        errors.into_result(next)
    }
}

/// Who writes an anonymous text: what it must not name.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    pub organisation_name: &'a str,
    pub website: Option<&'a str>,
}

/// A text shown under an alias: bounded, and free of contact details and of its writer's name.
fn anonymous_text(raw: &str, bounds: (usize, usize), writer: Writer<'_>) -> Result<String, String> {
    let text = bounded(raw, bounds)?;
    match summary_problem(&text, writer.organisation_name, writer.website) {
        Some(problem) => Err(problem.replace("this summary", "this text")),
        None => Ok(text),
    }
}

/// A response to a challenge: how the organisation adds value, and at which stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub summary: String,
    pub stages: Vec<Stage>,
}

impl Response {
    pub fn parse(summary: &str, stages: &[String], writer: Writer<'_>) -> Result<Response, FieldErrors> {
        let mut errors = FieldErrors::new();
        let summary = errors.check("summary", anonymous_text(summary, SUMMARY, writer));
        let parsed: Result<Vec<Stage>, String> = stages.iter().map(|s| Stage::parse(s)).collect();
        let stages = errors.check(
            "stages",
            parsed.and_then(|mut s| {
                s.sort();
                s.dedup();
                if s.is_empty() { Err("choose at least one stage".to_owned()) } else { Ok(s) }
            }),
        );
        match (summary, stages) {
            (Some(summary), Some(stages)) => Ok(Response { summary, stages }),
            _ => Err(errors),
        }
    }
}

/// A question asked in a challenge's forum, under an alias.
pub fn question(raw: &str, writer: Writer<'_>) -> Result<String, FieldErrors> {
    anonymous_text(raw, QUESTION, writer).map_err(|m| FieldErrors::one("text", m))
}

/// The poster's answer to a question (the poster is anonymous too).
pub fn answer(raw: &str, writer: Writer<'_>) -> Result<String, FieldErrors> {
    anonymous_text(raw, ANSWER, writer).map_err(|m| FieldErrors::one("text", m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalogue;

    fn raw() -> RawChallenge {
        RawChallenge {
            title: Some("Preventing recurrent falls".into()),
            problem_statement: Some("One in three people over 65 falls each year; many fall again.".into()),
            sectors: Some(vec!["ageing_frailty".into()]),
            innovation_stage: Some("evidence".into()),
            capabilities_needed: Some(vec!["engineering_prototyping".into(), "clinical_evaluation".into()]),
            deadline: Some("2099-03-31".into()),
            links: Some(vec!["https://trust.example/falls.pdf".into()]),
        }
    }

    const TRUST: Writer<'static> =
        Writer { organisation_name: "Riverside NHS Trust", website: Some("https://www.riverside-trust.example") };

    #[test]
    fn a_complete_challenge_parses() {
        let taxonomy = Catalogue::builtin().expect("catalogue").taxonomy;
        let challenge = Challenge::parse(&raw(), &taxonomy, TRUST, Utc::now()).expect("valid");
        assert_eq!(challenge.capabilities_needed, ["clinical_evaluation", "engineering_prototyping"]);
        assert_eq!(challenge.deadline.to_rfc3339(), "2099-03-31T23:59:59+00:00");
    }

    #[test]
    fn every_bad_field_is_reported() {
        let taxonomy = Catalogue::builtin().expect("catalogue").taxonomy;
        let bad = RawChallenge {
            title: Some("Hi".into()),
            problem_statement: Some("Too short".into()),
            sectors: Some(vec!["astrology".into()]),
            innovation_stage: Some("done".into()),
            capabilities_needed: Some(vec![]),
            deadline: Some("2001-01-01".into()),
            links: Some(vec!["javascript:alert(1)".into()]),
        };
        let errors = Challenge::parse(&bad, &taxonomy, TRUST, Utc::now()).expect_err("invalid");
        let fields: Vec<&String> = errors.fields().keys().collect();
        assert_eq!(
            fields,
            ["capabilities_needed", "deadline", "innovation_stage", "links", "problem_statement", "sectors", "title"]
        );
        let missing = Challenge::parse(&RawChallenge::default(), &taxonomy, TRUST, Utc::now()).expect_err("invalid");
        assert_eq!(missing.fields().len(), 5);
        let long = RawChallenge { title: Some("x".repeat(201)), ..raw() };
        assert!(Challenge::parse(&long, &taxonomy, TRUST, Utc::now()).is_err());
        let bad_date = RawChallenge { deadline: Some("next week".into()), ..raw() };
        assert!(Challenge::parse(&bad_date, &taxonomy, TRUST, Utc::now()).is_err());
    }

    #[test]
    fn a_poster_stays_anonymous_in_what_it_writes() {
        let taxonomy = Catalogue::builtin().expect("catalogue").taxonomy;
        for (field, changed) in [
            ("title", RawChallenge { title: Some("Riverside wants fewer falls".into()), ..raw() }),
            (
                "problem_statement",
                RawChallenge { problem_statement: Some("Call 0161 496 0000 about our falls service.".into()), ..raw() },
            ),
            ("links", RawChallenge { links: Some(vec!["https://riverside-trust.example/falls.pdf".into()]), ..raw() }),
        ] {
            let errors = Challenge::parse(&changed, &taxonomy, TRUST, Utc::now()).expect_err(field);
            assert!(errors.fields().contains_key(field), "{field}: {errors}");
        }
        assert!(answer("Ask Riverside's falls team.", TRUST).is_err());
        assert!(answer("Two frailty wards and the community team.", TRUST).is_ok());
        let twice = RawChallenge {
            links: Some(vec!["https://a.example/x".into(), "https://b.example".into(), "https://a.example/x".into()]),
            ..raw()
        };
        assert_eq!(Challenge::parse(&twice, &taxonomy, TRUST, Utc::now()).expect("valid").links.len(), 2);
    }

    #[test]
    fn responses_need_stages_and_no_identifying_text() {
        let writer =
            Writer { organisation_name: "Brightpath Diagnostics Ltd", website: Some("https://brightpath.example") };
        let ok = Response::parse(
            "We build a sensor that detects falls at home.",
            &["evidence".into(), "invention".into()],
            writer,
        )
        .expect("valid");
        assert_eq!(ok.stages, [Stage::Invention, Stage::Evidence]);
        for (summary, stages) in [
            ("We build a sensor that detects falls at home.", vec![]),
            ("We build a sensor that detects falls at home.", vec!["later".to_owned()]),
            ("Brightpath builds a sensor that detects falls.", vec!["evidence".to_owned()]),
            ("Mail team@anywhere.example for our sensor.", vec!["evidence".to_owned()]),
            ("Short", vec!["evidence".to_owned()]),
        ] {
            assert!(Response::parse(summary, &stages, writer).is_err(), "{summary:?} {stages:?}");
        }
        assert!(question("What does Brightpath need?", writer).is_err());
        assert!(question("Which wards would host a trial?", writer).is_ok());
    }
}
