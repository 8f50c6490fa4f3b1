//! Partner search over anonymous profiles, and asking for an introduction. Results are ranked by
//! the scoring engine (`matching::search`); a card is an anonymous profile under an alias kept
//! for this searcher, the vector and reasons as far as that profile tells them, and a `ref`
//! that only this searcher can use. Pages hold at most 20 cards and searches are rate-limited
//! per member, so the population cannot be enumerated.

use actix_web::{HttpResponse, get, post, web};
use domain::{FieldErrors, OrgKind};
use matching::search::{Hit, Query};

use serde::Deserialize;
use serde_json::{Value, json};
use store::matches::{AskLimits, Introduction};

use crate::auth::Member;
use crate::errors::ApiError;
use crate::routes::matches::{anonymous_profile, shown_vector};
use crate::state::AppState;

#[derive(Deserialize, Default, Clone, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    pub q: Option<String>,
    pub kind: Option<String>,
    pub sector: Option<String>,
    pub region: Option<String>,
    pub capability: Option<String>,
    pub stage: Option<String>,
    pub page: Option<usize>,
}

impl SearchQuery {
    /// The query, checked (the same for the API and the search page).
    pub fn parse(self, state: &AppState) -> Result<Query, FieldErrors> {
        let taxonomy = &state.catalogue.taxonomy;
        let mut errors = FieldErrors::new();
        let kind = match self.kind.as_deref() {
            None | Some("") => None,
            Some(raw) => errors.check("kind", OrgKind::parse(raw)),
        };
        let mut known = |field: &str, value: Option<String>, ok: &dyn Fn(&str) -> bool| match value {
            Some(v) if v.is_empty() => None,
            Some(v) if ok(&v) => Some(v),
            Some(_) => {
                errors.add(field, "not a known value");
                None
            }
            None => None,
        };
        let sector = known("sector", self.sector, &|v| taxonomy.sectors.contains(v));
        let region = known("region", self.region, &|v| {
            taxonomy.regions.contains(v) || taxonomy.areas().iter().any(|a| a.id == v)
        });
        let capability = known("capability", self.capability, &|v| taxonomy.capabilities.contains(v));
        let stage = known("stage", self.stage, &|v| taxonomy.innovation_stages.contains(v));
        let text = self.q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty());
        if text.as_ref().is_some_and(|q| q.chars().count() > 200) {
            errors.add("q", "at most 200 characters");
        }
        let page = self.page.unwrap_or(1);
        if page == 0 || page > matching::search::MAX_PAGE {
            errors.add("page", "a page from 1 to 500");
        }
        errors.into_result(Query { kind, sector, region, capability, stage, text, page, tie_seed: 0 })
    }
}

/// A search card as its searcher may see it (JSON and pages alike).
pub struct Card {
    pub reference: String,
    pub alias: String,
    pub score: f64,
    pub confidence: f64,
    pub compatibility: std::collections::BTreeMap<String, f64>,
    pub explanation: Vec<String>,
    pub profile: matching::anonymity::AnonymousProfile,
}

fn card(state: &AppState, member: &Member, hit: &Hit, viewer_sectors: &[String]) -> Card {
    let described = &hit.described;
    let (score, compatibility, explanation) = shown_vector(
        state,
        viewer_sectors,
        described.score,
        &described.compatibility,
        &described.explanation,
        &hit.profile,
    );
    Card {
        reference: state.refs.issue(&member.org_public_id, &hit.public_id),
        alias: state.refs.alias(&member.org_public_id, &hit.public_id),
        score,
        confidence: described.confidence,
        compatibility,
        explanation,
        profile: hit.profile.clone(),
    }
}

fn card_json(card: &Card) -> Value {
    json!({
        "ref": card.reference,
        "alias": card.alias,
        "score": card.score,
        "confidence": card.confidence,
        "compatibility": card.compatibility,
        "explanation": card.explanation,
        "counterpart": anonymous_profile(&card.profile),
    })
}

#[utoipa::path(
    tag = "search",
    params(SearchQuery),
    responses(
        (status = 200, description = "A page of anonymous cards, best first", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[get("/search")]
pub async fn search(
    member: Member,
    state: web::Data<AppState>,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner().parse(&state)?;
    let (cards, next_page) = search_for(&state, &member, query).await?;
    let cards: Vec<Value> = cards.iter().map(card_json).collect();
    Ok(HttpResponse::Ok().json(json!({"results": cards, "next_page": next_page})))
}

/// One page of `member`'s search (the same for the API and the search page): rate-limited per
/// member, ranked by the scoring engine, as k-anonymous cards.
pub async fn search_for(
    state: &AppState,
    member: &Member,
    mut query: Query,
) -> Result<(Vec<Card>, Option<usize>), ApiError> {
    query.tie_seed = state.refs.seed(&member.org_public_id);
    let limit = state.settings.limits.searches;
    if !state.limiter.acquire(&[(&format!("search:{}", member.org_public_id), limit)]).await? {
        return Err(ApiError::TooManyRequests);
    }
    state.search.refresh(&state.store).await.map_err(|e| ApiError::unexpected(e, "failed to refresh the search"))?;
    let anonymity = state.anonymity.current(&state.store).await?;
    let known = state.store.counterparts_of(member.org()).await?;
    let results = state
        .search
        .search(member.org(), known, query, anonymity.clone())
        .await
        .map_err(|e| ApiError::unexpected(e, "the search failed"))?;
    let mine = anonymity.sectors_of(member.org());
    let cards = results.hits.iter().map(|hit| card(state, member, hit, mine)).collect();
    Ok((cards, results.next_page))
}

/// Asks for an introduction to the organisation of a card: creates the match (201), which the
/// other side sees as asked by it and hears of by email, or gives the pair's existing match
/// (200). A ref not issued to the caller, or to an organisation that cannot be found any more,
/// is 404.
#[utoipa::path(
    tag = "search",
    responses(
        (status = 201, description = "The introduction is asked: the new match", body = serde_json::Value),
        (status = 200, description = "The pair already had a match", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[post("/search/{ref}/ask")]
pub async fn ask(
    member: Member,
    state: web::Data<AppState>,
    reference: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(match ask_for(&state, &member, &reference).await? {
        Introduction::Created(id) => HttpResponse::Created().json(json!({"id": id})),
        Introduction::Existing(id) => HttpResponse::Ok().json(json!({"id": id})),
    })
}

/// Asks for an introduction to the organisation of the card `reference` (the same for the API
/// and the search page).
pub async fn ask_for(state: &AppState, member: &Member, reference: &str) -> Result<Introduction, ApiError> {
    let target = state.refs.open(&member.org_public_id, reference).ok_or(ApiError::NotFound)?;
    state.search.refresh(&state.store).await.map_err(|e| ApiError::unexpected(e, "failed to refresh the search"))?;
    let (other, other_input) = state.search.visible(&target).ok_or(ApiError::NotFound)?;
    let mine = state.search.input_of(member.org()).ok_or(ApiError::NotFound)?;
    let in_use = state.models.current();
    let candidate = matching::candidate(&state.catalogue, &in_use, [(member.org(), &mine), (other, &other_input)])
        .map_err(|e| ApiError::unexpected(e, "failed to score a pair"))?
        .ok_or(ApiError::NotFound)?;
    let limits = AskLimits { per_day: state.settings.limits.asks_per_day, max_open: state.settings.matching.max_open };
    let public_url = state.settings.public_url.clone();
    let now = state.clock.now();
    let tell = |id: &str, recipient: &str| mail::compose::introduction_asked(id, recipient, &public_url);
    let introduce =
        || crate::retry::contended(|| state.store.ask_introduction(candidate.clone(), member.org(), limits, now, tell));
    let asked = match introduce().await {
        // Two asks for one pair at the same moment: the second finds the first's match.
        Err(store::StoreError::Conflict) => introduce().await?,
        other => other?,
    };
    state.match_lists.forget(&[member.org(), other]);
    if let Introduction::Created(id) = &asked {
        tracing::info!(match_id = %id, "introduction asked");
    }
    Ok(asked)
}
