//! The caller's own organisation: account, profile and answers.

use actix_web::{HttpRequest, HttpResponse, delete, get, put, web};
use chrono::Utc;
use domain::{AnswerSet, Profile, ProfilePatch, RawAnswer};
use serde::{Deserialize, Serialize};
use serde_json::json;

use store::OrgId;

use crate::auth::Member;
use crate::errors::ApiError;
use crate::state::AppState;

#[utoipa::path(
    tag = "me",
    responses(
        (status = 200, description = "The caller's organisation, account and profile", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[get("/me")]
pub async fn get_me(member: Member, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let account = state.store.account_by_public_id(&member.public_id).await?.ok_or(ApiError::Unauthenticated)?;
    let org = state.store.organisation(member.org()).await?;
    let answers = state.store.answers(member.org(), &state.catalogue.questionnaire).await?;
    Ok(HttpResponse::Ok().json(json!({
        "organisation": {"name": org.name, "kind": org.kind.as_str(), "created_at": org.created_at},
        "account": {
            "email": account.email.as_str(),
            "role": account.role.as_str(),
        },
        "profile": org.profile,
        "answered_questions": answers.len(),
        "question_count": state.catalogue.questionnaire.question_count(),
    })))
}

#[utoipa::path(
    tag = "me",
    responses(
        (status = 200, description = "The profile as saved", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[put("/me/profile")]
pub async fn update_profile(
    member: Member,
    state: web::Data<AppState>,
    body: web::Json<ProfilePatch>,
) -> Result<HttpResponse, ApiError> {
    let profile = update_profile_of(&state, member.org(), &body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(json!({"profile": profile})))
}

/// Applies `patch` to the profile of `org` (the same for the API and the profile page): checked
/// as a whole, saved in one transaction, and the scoring worker woken.
pub async fn update_profile_of(state: &AppState, org: OrgId, patch: &ProfilePatch) -> Result<Profile, ApiError> {
    let taxonomy = &state.catalogue.taxonomy;
    let update = crate::retry::contended(|| {
        state.store.update_profile(org, Utc::now(), |org| org.profile.apply(patch, taxonomy, &org.name))
    })
    .await??;
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
    crate::retry::contended(|| state.store.save_section_answers(org, &answers, &scope, questionnaire, Utc::now()))
        .await?;
    state.scoring.notify_one();
    Ok(())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DigestBody {
    frequency: String,
}

/// How often the caller gets a digest of what is new: `daily`, `weekly` (the default) or `off`.
#[utoipa::path(
    tag = "me",
    responses(
        (status = 200, description = "How often the digest comes", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[get("/me/digest")]
pub async fn get_digest(member: Member, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let frequency = state.store.digest_frequency(&member.public_id).await?;
    Ok(HttpResponse::Ok().json(json!({"frequency": frequency.as_str()})))
}

#[utoipa::path(
    tag = "me",
    responses(
        (status = 200, description = "How often the digest comes now", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
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

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    question_id: String,
    answer: String,
    acceptable: Vec<String>,
    importance: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
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

#[utoipa::path(
    tag = "me",
    responses(
        (status = 200, description = "The caller's answers", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
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
#[utoipa::path(
    tag = "me",
    responses(
        (status = 200, description = "The answers as saved", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
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
    crate::retry::contended(|| state.store.save_answers(member.org(), &answers, questionnaire, Utc::now())).await?;
    state.scoring.notify_one();
    Ok(HttpResponse::Ok().json(json!({
        "version": questionnaire.version,
        "answered_questions": answers.len(),
        "answers": answers_body(answers.to_raw(questionnaire)),
    })))
}

/// Everything Matchwell holds of the caller's organisation, as JSON (the API and the settings
/// page's download alike): the organisation and its profile, the account (never the password),
/// the answers, the matches as the caller sees them (a counterpart's identity only once it
/// revealed itself) and those it declined, its challenges with their responses as their poster
/// sees them, its responses and forum questions, its digests and the emails sent to it.
pub async fn export_of(state: &AppState, member: &Member) -> Result<serde_json::Value, ApiError> {
    let org = member.org();
    let organisation = state.store.organisation(org).await?;
    let questionnaire = &state.catalogue.questionnaire;
    let answers = state.store.answers(org, questionnaire).await?;
    let holdings = state.store.holdings(org).await?;
    let matches = crate::routes::matches::views_of(state, org).await?;
    // The success stories of its connected matches, as it sees them.
    let mut stories = Vec::new();
    for id in matches.iter().filter(|m| m["connected"] == true).filter_map(|m| m["id"].as_str()) {
        if let Some(story) = state.store.story_for(org, id).await? {
            let mut body = crate::routes::stories::view_json(&story);
            body["match_id"] = json!(id);
            stories.push(body);
        }
    }
    let mut challenges = Vec::new();
    for record in state.store.challenges().await?.iter().filter(|c| c.poster == org) {
        let view = crate::routes::challenges::one(state, org, record).await?;
        let responses = match crate::routes::challenges::responses_of(state, member, &record.id).await? {
            crate::routes::challenges::Responses::Poster(all) => json!(all),
            crate::routes::challenges::Responses::Responder(own) => json!([own]),
        };
        challenges.push(json!({"challenge": view, "responses": responses}));
    }
    let account = holdings.account.map(|a| {
        json!({
            "email": a.email,
            "role": a.role,
            "verified_at": a.verified_at,
            "created_at": a.created_at,
            "digest_frequency": a.digest_frequency,
        })
    });
    Ok(json!({
        "exported_at": Utc::now(),
        "organisation": {
            "name": organisation.name,
            "kind": organisation.kind.as_str(),
            "created_at": organisation.created_at,
            "changed_at": organisation.changed_at,
        },
        "account": account,
        "profile": organisation.profile,
        "answers": {"version": questionnaire.version, "answers": answers_body(answers.to_raw(questionnaire))},
        "matches": matches,
        "declined_matches": holdings.declined_matches.iter().map(|d| json!({
            "id": d.match_id,
            "declined_at": d.declined_at,
        })).collect::<Vec<_>>(),
        "challenges": challenges,
        "stories": stories,
        "responses": holdings.responses.iter().map(|r| json!({
            "challenge_id": r.challenge_id,
            "challenge_title": r.challenge_title,
            "summary": r.summary,
            "stages": r.stages,
            "status": r.status.as_str(),
            "revealed_at": r.revealed_at,
            "created_at": r.created_at,
        })).collect::<Vec<_>>(),
        "questions": holdings.questions.iter().map(|q| json!({
            "challenge_id": q.challenge_id,
            "text": q.text,
            "answer": q.answer,
            "created_at": q.created_at,
        })).collect::<Vec<_>>(),
        "digests": holdings.digests.iter().map(|d| json!({
            "frequency": d.frequency,
            "period_start": d.period_start,
            "period_end": d.period_end,
            "outcome": d.outcome,
            "created_at": d.created_at,
        })).collect::<Vec<_>>(),
        "emails": holdings.emails.iter().map(|e| json!({
            "subject": e.subject,
            "created_at": e.created_at,
            "sent_at": e.sent_at,
        })).collect::<Vec<_>>(),
    }))
}

#[utoipa::path(
    tag = "me",
    responses(
        (status = 200, description = "All of the caller's data", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[get("/me/export")]
pub async fn export(member: Member, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(export_of(&state, &member).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureBody {
    password: String,
}

/// Erases the caller's organisation, once its password is confirmed (the API and the settings
/// page alike): see [`store::Store::erase_organisation`]. Every session of the account ends
/// with it, and every process sees the organisation gone.
pub async fn erase(request: &HttpRequest, state: &AppState, member: &Member, password: String) -> Result<(), ApiError> {
    crate::routes::accounts::confirm_password(request, state, member, password, "password").await?;
    let erased = crate::retry::contended(|| state.store.erase_organisation(member.org())).await?;
    state.sessions.forget(&member.public_id);
    state.match_lists.clear();
    state.scoring.notify_one();
    tracing::info!(
        matches = erased.matches,
        connections = erased.connections,
        counterparts = erased.counterparts,
        "an organisation erased itself"
    );
    Ok(())
}

#[utoipa::path(
    tag = "me",
    responses(
        (status = 204, description = "The organisation is erased"),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[delete("/me")]
pub async fn delete_me(
    request: HttpRequest,
    member: Member,
    state: web::Data<AppState>,
    body: web::Json<ErasureBody>,
) -> Result<HttpResponse, ApiError> {
    erase(&request, &state, &member, body.into_inner().password).await?;
    Ok(HttpResponse::NoContent().finish())
}
