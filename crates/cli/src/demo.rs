//! Synthetic organisations for demonstrations and load tests: plausible names, profiles drawn
//! from the taxonomy, and answers clustered around a few organisational "cultures", so that
//! some pairs fit well and others do not, as in life.

use anyhow::Context;
use chrono::Utc;
use domain::{AnswerSet, Catalogue, EmailAddress, OrgKind, OrganisationName, Password, Profile, RawAnswer};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use store::Store;
use store::accounts::SeededOrganisation;

/// Organisations `serve --demo` creates.
pub const DEMO_ORGS: usize = 300;
/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "matchwell-demo";

const CULTURES: usize = 6;

const PLACES: &[&str] = &[
    "Tyneside", "Mersey", "Pennine", "Trent", "Severn", "Fenland", "Thames", "Solent", "Wessex", "Cambrian", "Clyde",
    "Lagan", "Humber", "Cotswold", "Chiltern", "Dales", "Moray", "Gwent", "Medway", "Wolds",
];
const SME_PREFIXES: &[&str] = &[
    "Bright", "Clear", "Kind", "Nova", "Vita", "Cura", "Heal", "Pulse", "True", "Wise", "Blue", "Tidal", "Sana", "Vivo",
];
const SME_SUFFIXES: &[&str] = &[
    "path Diagnostics",
    "wave Health",
    "care Digital",
    "sense Devices",
    "point Therapeutics",
    "step Rehab",
    "lens Imaging",
    "form Wound Care",
    "line Analytics",
    "bridge Care Tech",
];

/// The address of demo organisation `i` of the data set made with `seed`.
pub fn demo_email(seed: u64, i: usize) -> String {
    format!("demo-{seed}-{i}@matchwell-demo.example")
}

fn name(rng: &mut StdRng, kind: OrgKind, i: usize) -> String {
    let place = PLACES.choose(rng).copied().unwrap_or("Severn");
    match kind {
        OrgKind::Sme => format!(
            "{}{} Ltd",
            SME_PREFIXES.choose(rng).copied().unwrap_or("Nova"),
            SME_SUFFIXES.choose(rng).copied().unwrap_or("path Health")
        ),
        OrgKind::HealthOrg => match i % 3 {
            0 => format!("{place} NHS Foundation Trust"),
            1 => format!("{place} Health Board"),
            _ => format!("{place} Community Clinic"),
        },
        OrgKind::Academic => {
            if i.is_multiple_of(2) {
                format!("University of {place}")
            } else {
                format!("{place} Institute for Health Research")
            }
        }
        OrgKind::Other => {
            if i.is_multiple_of(2) {
                format!("{place} Health Innovation Cluster")
            } else {
                format!("{place} Care Charity")
            }
        }
    }
}

fn some(rng: &mut StdRng, ids: &[String], max: usize) -> Vec<String> {
    let count = rng.random_range(1..=max.min(ids.len()));
    ids.sample(rng, count).cloned().collect::<Vec<_>>()
}

fn ids(vocabulary: &domain::Vocabulary) -> Vec<String> {
    vocabulary.terms().iter().map(|t| t.id.clone()).collect()
}

/// One synthetic organisation: profile and answers.
fn organisation(
    catalogue: &Catalogue,
    rng: &mut StdRng,
    cultures: &[Vec<usize>],
    i: usize,
) -> anyhow::Result<(OrgKind, String, Profile, AnswerSet)> {
    let kind = match rng.random_range(0..10) {
        0..=4 => OrgKind::Sme,
        5..=7 => OrgKind::HealthOrg,
        8 => OrgKind::Academic,
        _ => OrgKind::Other,
    };
    let t = &catalogue.taxonomy;
    let capabilities = ids(&t.capabilities);
    let mut profile = Profile {
        sectors: some(rng, &ids(&t.sectors), 3),
        region: ids(&t.regions).choose(rng).cloned(),
        size_band: ids(&t.size_bands).choose(rng).cloned(),
        innovation_stage: ids(&t.innovation_stages).choose(rng).cloned(),
        capabilities_offered: some(rng, &capabilities, 4),
        capabilities_sought: some(rng, &capabilities, 3),
        anonymous_summary: Some(match kind {
            OrgKind::Sme => "A small team with a product that is ready to be tried with patients.".to_owned(),
            OrgKind::HealthOrg => {
                "A care provider looking for partners to solve problems our staff see every day.".to_owned()
            }
            OrgKind::Academic => "Researchers who evaluate new treatments and services.".to_owned(),
            OrgKind::Other => "We connect people and funding across the regional health system.".to_owned(),
        }),
        ..Profile::default()
    };
    if kind == OrgKind::Sme && rng.random_bool(0.5) {
        profile.seeking_kinds = vec![OrgKind::HealthOrg, OrgKind::Academic];
    }
    let culture = &cultures[rng.random_range(0..cultures.len())];
    let questionnaire = &catalogue.questionnaire;
    let mut raw = Vec::new();
    for (index, &typical) in culture.iter().enumerate().take(questionnaire.question_count()) {
        if !rng.random_bool(0.9) {
            continue;
        }
        let question = questionnaire.question_at(index);
        let options = question.options.len();
        let own = if rng.random_bool(0.7) { typical % options } else { rng.random_range(0..options) };
        let mut acceptable = vec![own, typical % options];
        for option in 0..options {
            if rng.random_bool(0.25) {
                acceptable.push(option);
            }
        }
        acceptable.sort_unstable();
        acceptable.dedup();
        let importance = match rng.random_range(0..100) {
            0..=9 => "irrelevant",
            10..=34 => "a_little",
            35..=69 => "somewhat",
            70..=96 => "very",
            _ => "mandatory",
        };
        raw.push(RawAnswer {
            question_id: question.id.clone(),
            answer: question.options[own].id.clone(),
            acceptable: acceptable.into_iter().map(|o| question.options[o].id.clone()).collect(),
            importance: importance.to_owned(),
        });
    }
    let answers = AnswerSet::parse(questionnaire, &raw).map_err(|e| anyhow::anyhow!("generated answers: {e}"))?;
    Ok((kind, name(rng, kind, i), profile, answers))
}

/// Inserts `count` synthetic organisations made from `seed`, all in one transaction; returns
/// how many were created (organisations whose demo email exists already are skipped, so
/// seeding twice adds nothing).
pub async fn seed(store: &Store, catalogue: &Catalogue, count: usize, seed: u64) -> anyhow::Result<usize> {
    let mut rng = StdRng::seed_from_u64(seed);
    let questions = catalogue.questionnaire.question_count();
    let cultures: Vec<Vec<usize>> =
        (0..CULTURES).map(|_| (0..questions).map(|_| rng.random_range(0..5usize)).collect()).collect();
    let password = Password::parse(DEMO_PASSWORD.to_owned()).map_err(anyhow::Error::msg)?;
    let password_hash = server::auth::hash_password(password).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut batch = Vec::with_capacity(count);
    for i in 0..count {
        let (kind, name, profile, answers) = organisation(catalogue, &mut rng, &cultures, i)?;
        let email = EmailAddress::parse(&demo_email(seed, i)).map_err(anyhow::Error::msg)?;
        if store.account_by_email(&email).await?.is_some() {
            continue;
        }
        batch.push(SeededOrganisation {
            email,
            password_hash: password_hash.clone(),
            name: OrganisationName::parse(&name).map_err(anyhow::Error::msg)?,
            kind,
            profile,
            answers,
        });
    }
    let created = store
        .seed_organisations(&batch, &catalogue.questionnaire, Utc::now())
        .await
        .context("failed to insert the demo organisations")?;
    Ok(created.len())
}

/// Seeds the demo data set for `serve --demo` unless it is there already. Refuses a database
/// that holds real organisations: demo organisations would be matched with them.
pub async fn seed_once(store: &Store, catalogue: &Catalogue, count: usize, seed_value: u64) -> anyhow::Result<usize> {
    let real = store.real_organisations().await?;
    anyhow::ensure!(
        real == 0,
        "this database holds {real} organisations that are not demo data; `serve --demo` would match them with \
         synthetic ones, so it seeds only an empty or demo-only database (run `serve` without --demo)"
    );
    let first = EmailAddress::parse(&demo_email(seed_value, 0)).map_err(anyhow::Error::msg)?;
    if store.account_by_email(&first).await?.is_some() {
        return Ok(0);
    }
    seed(store, catalogue, count, seed_value).await
}

/// Deletes every demo organisation and all that is theirs; how many there were.
pub async fn remove(store: &Store) -> anyhow::Result<u64> {
    store.remove_demo_organisations().await.context("failed to remove the demo organisations")
}
