//! Synthetic organisations for demonstrations and load tests: plausible names, profiles drawn
//! from the taxonomy, and answers clustered around a few organisational "cultures", so that
//! some pairs fit well and others do not, as in life; and, for learning, outcomes simulated
//! from a hidden rule that this module documents ([`hidden_rule`]).

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::Utc;
use domain::{AnswerSet, Catalogue, EmailAddress, OrgKind, OrganisationName, Password, Profile, RawAnswer};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{RngExt, SeedableRng};
use store::Store;
use store::accounts::SeededOrganisation;
use store::matches::Outcome;

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

/// A demo challenge: title, problem, sectors, stage sought, capabilities needed, days to its
/// deadline, and a question an SME might ask about it.
struct DemoChallenge {
    title: &'static str,
    problem: &'static str,
    sectors: &'static [&'static str],
    stage: &'static str,
    needs: &'static [&'static str],
    days: i64,
    question: &'static str,
    answer: &'static str,
}

const DEMO_CHALLENGES: &[DemoChallenge] = &[
    DemoChallenge {
        title: "Preventing recurrent falls among older people at home",
        problem: "A third of people over 65 fall each year, and half of those fall again within twelve months. \
                  Our community teams see the same patients return after each fall. We want ways to spot who is \
                  at risk of falling again and to act before the next fall, in people's own homes.",
        sectors: &["ageing_frailty", "primary_community_care"],
        stage: "evidence",
        needs: &["engineering_prototyping", "clinical_evaluation", "user_research_codesign"],
        days: 45,
        question: "Would a trial run with the community falls team or on the wards?",
        answer: "With the community falls team: about 300 patients a year are referred after a fall.",
    },
    DemoChallenge {
        title: "Cutting missed outpatient appointments",
        problem: "Around one outpatient appointment in twelve is missed without notice, which lengthens waiting \
                  lists and wastes clinic time. Reminders by text have helped only a little. We are looking for \
                  approaches that reach the patients who miss most, and that fit our booking systems.",
        sectors: &["digital_health"],
        stage: "adoption",
        needs: &["software", "data_analytics", "implementation_adoption"],
        days: 60,
        question: "Which booking system would a solution need to work with?",
        answer: "Our patient administration system exports appointments nightly; a live interface is planned.",
    },
    DemoChallenge {
        title: "Healing chronic leg ulcers faster in the community",
        problem: "Chronic leg ulcers take months to heal and need frequent visits from district nurses. We want \
                  to test dressings, devices or pathways that shorten healing times and reduce visits, with the \
                  evidence our commissioners will ask for.",
        sectors: &["woundcare_regenerative", "primary_community_care"],
        stage: "evidence",
        needs: &["clinical_evaluation", "health_economics", "manufacturing"],
        days: 75,
        question: "What outcome measures would the evaluation use?",
        answer: "Time to healing, number of nurse visits and recurrence at twelve months.",
    },
    DemoChallenge {
        title: "Earlier warning of sepsis in the emergency department",
        problem: "Sepsis is easy to miss at triage, and every hour of delay in treatment raises the risk of \
                  death. We have several years of anonymised observations and results, and we want to explore \
                  decision support that flags patients earlier without adding to alarm fatigue.",
        sectors: &["urgent_emergency_care", "diagnostics_personalised"],
        stage: "prototype",
        needs: &["ai_ml", "data_analytics", "regulatory_support"],
        days: 90,
        question: "Can the historical data be accessed in a trusted research environment?",
        answer: "Yes, through the regional secure data environment after an approval that takes about six weeks.",
    },
];

/// Posts the demo challenges (once), from demo health organisations and universities, with
/// responses from demo SMEs and a question answered in each forum; the first is featured.
pub async fn seed_challenges(store: &Store, catalogue: &Catalogue, seed_value: u64) -> anyhow::Result<usize> {
    if !store.challenges().await?.is_empty() {
        return Ok(0);
    }
    let mut posters = Vec::new();
    let mut smes = Vec::new();
    for i in 0..DEMO_ORGS {
        let email = EmailAddress::parse(&demo_email(seed_value, i)).map_err(anyhow::Error::msg)?;
        let Some(account) = store.account_by_email(&email).await? else { continue };
        let organisation = store.organisation(account.organisation).await?;
        match organisation.kind {
            OrgKind::HealthOrg | OrgKind::Academic if posters.len() < DEMO_CHALLENGES.len() => {
                posters.push(organisation)
            }
            OrgKind::Sme if smes.len() < 8 => smes.push(organisation),
            _ => {}
        }
    }
    let now = Utc::now();
    // Aliases from the system's generator, not the seed: the seed is public.
    let mut alias = || matching::random_alias(&mut rand::rng());
    let mut posted = 0;
    for (i, (demo, poster)) in DEMO_CHALLENGES.iter().zip(&posters).enumerate() {
        let raw = domain::challenge::RawChallenge {
            title: Some(demo.title.to_owned()),
            problem_statement: Some(demo.problem.to_owned()),
            sectors: Some(demo.sectors.iter().map(|s| (*s).to_owned()).collect()),
            innovation_stage: Some(demo.stage.to_owned()),
            capabilities_needed: Some(demo.needs.iter().map(|s| (*s).to_owned()).collect()),
            deadline: Some((now + chrono::Duration::days(demo.days)).to_rfc3339()),
            links: None,
        };
        let poster_writer = domain::challenge::Writer { organisation_name: &poster.name, website: None };
        let challenge = domain::challenge::Challenge::parse(&raw, &catalogue.taxonomy, poster_writer, now)
            .map_err(|e| anyhow::anyhow!("demo challenge {i}: {e}"))?;
        let id = store.create_challenge(poster.id, &challenge, now).await?;
        for (j, sme) in smes.iter().enumerate().filter(|(j, _)| (j + i) % 3 != 0) {
            let writer = domain::challenge::Writer { organisation_name: &sme.name, website: None };
            let summary = format!(
                "We have worked on {} for several years and could help at the stages we ticked; \
                 we would welcome a call about a small pilot.",
                demo.sectors[0].replace('_', " ")
            );
            let stages = [["invention", "evidence"], ["evidence", "adoption"], ["adoption", "scale"]][j % 3];
            let stages: Vec<String> = stages.iter().map(|s| (*s).to_owned()).collect();
            let response = domain::challenge::Response::parse(&summary, &stages, writer)
                .map_err(|e| anyhow::anyhow!("demo response: {e}"))?;
            store.respond(&id, sme.id, &response, &mut alias, now).await?;
        }
        if let Some(asker) = smes.get(i % smes.len().max(1)) {
            let question = store.ask(&id, asker.id, demo.question, &mut alias, now).await?;
            store.answer_question(&id, &question, poster.id, demo.answer, now).await?;
        }
        if i == 0 {
            store.feature_challenge(&id, now).await?;
        }
        posted += 1;
    }
    Ok(posted)
}

/// Seeds the demo data set for `serve --demo` (organisations, then challenges with responses
/// and questions) unless it is there already. Refuses a database that holds real
/// organisations: demo organisations would be matched with them.
pub async fn seed_once(store: &Store, catalogue: &Catalogue, count: usize, seed_value: u64) -> anyhow::Result<usize> {
    let real = store.real_organisations().await?;
    anyhow::ensure!(
        real == 0,
        "this database holds {real} organisations that are not demo data; `serve --demo` would match them with \
         synthetic ones, so it seeds only an empty or demo-only database (run `serve` without --demo)"
    );
    let first = EmailAddress::parse(&demo_email(seed_value, 0)).map_err(anyhow::Error::msg)?;
    let created = if store.account_by_email(&first).await?.is_some() {
        0
    } else {
        seed(store, catalogue, count, seed_value).await?
    };
    seed_challenges(store, catalogue, seed_value).await?;
    Ok(created)
}

/// Deletes every demo organisation and all that is theirs; how many there were.
pub async fn remove(store: &Store) -> anyhow::Result<u64> {
    store.remove_demo_organisations().await.context("failed to remove the demo organisations")
}

/// The dimension that the hidden rule of simulated outcomes favours.
pub const HIDDEN_RULE_DIMENSION: &str = "working_style";

/// The hidden rule of simulated outcomes: a pair succeeds with probability `σ(3·z)`, where `z`
/// is the standard score of its `working_style` compatibility among the pairs simulated (so
/// that about half succeed, whatever the spread of the data); the other dimensions play no
/// part. A success is `collaborating` or `met` with even odds; a failure is `no_fit`.
pub fn hidden_rule(pairs: &[BTreeMap<String, f64>], rng: &mut StdRng) -> Vec<Outcome> {
    let values: Vec<f64> = pairs.iter().map(|p| p.get(HIDDEN_RULE_DIMENSION).copied().unwrap_or(0.0)).collect();
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt().max(1e-9);
    values
        .iter()
        .map(|v| {
            let p = 1.0 / (1.0 + (-3.0 * (v - mean) / sd).exp());
            match (rng.random_bool(p), rng.random_bool(0.5)) {
                (true, true) => Outcome::Collaborating,
                (true, false) => Outcome::Met,
                (false, _) => Outcome::NoFit,
            }
        })
        .collect()
}

/// Simulates the outcomes of `count` demonstration matches that nobody acted on yet, drawn
/// with `seed`, by [`hidden_rule`]: both parties reveal, connect and report the outcome (no
/// email is sent). Returns how many were simulated, and how many of them succeeded.
pub async fn simulate_outcomes(store: &Store, count: usize, seed: u64) -> anyhow::Result<(usize, usize)> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_5eed);
    let mut pairs = store.untouched_demo_pairs().await.context("failed to read the demo matches")?;
    pairs.shuffle(&mut rng);
    pairs.truncate(count);
    let vectors: Vec<BTreeMap<String, f64>> = pairs.iter().map(|p| p.compatibility.clone()).collect();
    let outcomes = hidden_rule(&vectors, &mut rng);
    let now = Utc::now();
    for (pair, outcome) in pairs.iter().zip(&outcomes) {
        store.simulate_outcome(&pair.id, *outcome, now).await.context("failed to record a simulated outcome")?;
    }
    let successes = outcomes.iter().filter(|o| **o != Outcome::NoFit).count();
    Ok((pairs.len(), successes))
}
