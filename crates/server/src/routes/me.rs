//! The caller's own organisation: account, profile and answers.

use actix_web::{HttpResponse, get, put, web};
use chrono::Utc;
use domain::{AnswerSet, Profile, ProfilePatch, RawAnswer};
use serde::{Deserialize, Serialize};
use serde_json::json;

use store::OrgId;

use crate::auth::Member;
use crate::errors::ApiError;
use crate::state::AppState;

#[derive(Serialize)]
struct ProfileBody<'a> {
    website: &'a Option<String>,
    description: &'a Option<String>,
    anonymous_summary: &'a Option<String>,
    sectors: &'a [String],
    region: &'a Option<String>,
    size_band: &'a Option<String>,
    innovation_stage: &'a Option<String>,
    capabilities_offered: &'a [String],
    capabilities_sought: &'a [String],
    seeking_kinds: Vec<&'static str>,
    search_visible: bool,
}

fn profile_body(profile: &Profile) -> ProfileBody<'_> {
    ProfileBody {
        website: &profile.website,
        description: &profile.description,
        anonymous_summary: &profile.anonymous_summary,
        sectors: &profile.sectors,
        region: &profile.region,
        size_band: &profile.size_band,
        innovation_stage: &profile.innovation_stage,
        capabilities_offered: &profile.capabilities_offered,
        capabilities_sought: &profile.capabilities_sought,
        seeking_kinds: profile.seeking_kinds.iter().map(|k| k.as_str()).collect(),
        search_visible: profile.search_visible,
    }
}

#[get("/me")]
pub async fn get_me(member: Member, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let account = state.store.account_by_public_id(&member.public_id).await?.ok_or(ApiError::Unauthenticated)?;
    let org = state.store.organisation(member.org()).await?;
    let answers = state.store.answers(member.org(), &state.catalogue.questionnaire).await?;
    Ok(HttpResponse::Ok().json(json!({
        "organisation": {"name": org.name, "kind": org.kind.as_str(), "created_at": org.created_at},
        "account": {
            "email": account.email.as_str(),
            "role": if member.is_facilitator() { "facilitator" } else { "member" },
        },
        "profile": profile_body(&org.profile),
        "answered_questions": answers.len(),
        "question_count": state.catalogue.questionnaire.question_count(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    website: Option<String>,
    description: Option<String>,
    anonymous_summary: Option<String>,
    sectors: Option<Vec<String>>,
    region: Option<String>,
    size_band: Option<String>,
    innovation_stage: Option<String>,
    capabilities_offered: Option<Vec<String>>,
    capabilities_sought: Option<Vec<String>>,
    seeking_kinds: Option<Vec<String>>,
    search_visible: Option<bool>,
}

#[put("/me/profile")]
pub async fn update_profile(
    member: Member,
    state: web::Data<AppState>,
    body: web::Json<ProfileUpdate>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let profile = update_profile_of(
        &state,
        member.org(),
        &ProfilePatch {
            website: body.website,
            description: body.description,
            anonymous_summary: body.anonymous_summary,
            sectors: body.sectors,
            region: body.region,
            size_band: body.size_band,
            innovation_stage: body.innovation_stage,
            capabilities_offered: body.capabilities_offered,
            capabilities_sought: body.capabilities_sought,
            seeking_kinds: body.seeking_kinds,
            search_visible: body.search_visible,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({"profile": profile_body(&profile)})))
}

/// Applies `patch` to the profile of `org` (the same for the API and the profile page): checked
/// as a whole, saved in one transaction, and the scoring worker woken.
pub async fn update_profile_of(state: &AppState, org: OrgId, patch: &ProfilePatch) -> Result<Profile, ApiError> {
    let taxonomy = &state.catalogue.taxonomy;
    let update =
        state.store.update_profile(org, Utc::now(), |org| org.profile.apply(patch, taxonomy, &org.name)).await??;
    // Counterparts see the anonymous profile in their lists; when a field of anonymous
    // profiles changed, any list's generalisation may have.
    if update.population_changed {
        state.match_lists.clear();
    } else {
        state.match_lists.forget(&update.affected);
    }
    state.scoring.notify_one();
    Ok(update.profile)
}

/// Saves the answers `raw` to the questions of section `section` of the questionnaire (the
/// questionnaire page), keeping the answers to other sections. Errors are keyed
/// `answers[i].field` by position in `raw`.
pub async fn save_section_answers(
    state: &AppState,
    org: OrgId,
    section: &domain::Section,
    raw: &[RawAnswer],
) -> Result<(), ApiError> {
    let questionnaire = &state.catalogue.questionnaire;
    let answers = AnswerSet::parse(questionnaire, raw)?;
    let scope: Vec<String> = section.questions.iter().map(|q| q.id.clone()).collect();
    if raw.iter().any(|a| !scope.contains(&a.question_id)) {
        return Err(domain::FieldErrors::one("answers", "an answer is not to a question of this section").into());
    }
    state.store.save_section_answers(org, &answers, &scope, questionnaire, Utc::now()).await?;
    state.scoring.notify_one();
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestBody {
    frequency: String,
}

/// How often the caller gets a digest of what is new: `daily`, `weekly` (the default) or `off`.
#[get("/me/digest")]
pub async fn get_digest(member: Member, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let frequency = state.store.digest_frequency(&member.public_id).await?;
    Ok(HttpResponse::Ok().json(json!({"frequency": frequency.as_str()})))
}

#[put("/me/digest")]
pub async fn put_digest(
    member: Member,
    state: web::Data<AppState>,
    body: web::Json<DigestBody>,
) -> Result<HttpResponse, ApiError> {
    let frequency = set_digest_frequency(&state, &member, &body.frequency).await?;
    Ok(HttpResponse::Ok().json(json!({"frequency": frequency.as_str()})))
}

/// Sets `member`'s digest frequency from its wire name (the same for the API and the settings
/// page).
pub async fn set_digest_frequency(
    state: &AppState,
    member: &Member,
    raw: &str,
) -> Result<domain::digest::Frequency, ApiError> {
    let frequency = domain::digest::Frequency::parse(raw).map_err(|m| domain::FieldErrors::one("frequency", m))?;
    state.store.set_digest_frequency(&member.public_id, frequency).await?;
    Ok(frequency)
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    question_id: String,
    answer: String,
    acceptable: Vec<String>,
    importance: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswersBody {
    answers: Vec<AnswerBody>,
}

fn answers_body(answers: Vec<RawAnswer>) -> Vec<AnswerBody> {
    answers
        .into_iter()
        .map(|a| AnswerBody {
            question_id: a.question_id,
            answer: a.answer,
            acceptable: a.acceptable,
            importance: a.importance,
        })
        .collect()
}

#[get("/me/answers")]
pub async fn get_answers(member: Member, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let questionnaire = &state.catalogue.questionnaire;
    let answers = state.store.answers(member.org(), questionnaire).await?;
    Ok(HttpResponse::Ok().json(json!({
        "version": questionnaire.version,
        "answers": answers_body(answers.to_raw(questionnaire)),
    })))
}

/// Replaces the caller's answers with the given set, checked as a whole first.
#[put("/me/answers")]
pub async fn save_answers(
    member: Member,
    state: web::Data<AppState>,
    body: web::Json<AnswersBody>,
) -> Result<HttpResponse, ApiError> {
    let raw: Vec<RawAnswer> = body
        .into_inner()
        .answers
        .into_iter()
        .map(|a| RawAnswer {
            question_id: a.question_id,
            answer: a.answer,
            acceptable: a.acceptable,
            importance: a.importance,
        })
        .collect();
    let questionnaire = &state.catalogue.questionnaire;
    let answers = AnswerSet::parse(questionnaire, &raw)?;
    state.store.save_answers(member.org(), &answers, questionnaire, Utc::now()).await?;
    state.scoring.notify_one();
    Ok(HttpResponse::Ok().json(json!({
        "version": questionnaire.version,
        "answered_questions": answers.len(),
        "answers": answers_body(answers.to_raw(questionnaire)),
    })))
}
