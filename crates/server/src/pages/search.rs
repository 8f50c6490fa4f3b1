//! Partner search: a form of filters and a project goal in words, and a page of anonymous cards
//! ranked by the scoring engine, each with its chart and an "ask for an introduction" button.
//! The same functions as the API (`routes::search::search_for` and `ask_for`) do the work.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use store::matches::Introduction;

use super::accounts::KINDS;
use super::chart::{self, Chart};
use super::forms::{Choice, CsrfForm, FormErrors, encode};
use super::views::profile_rows;
use super::{Chrome, Page, PageError, SignedIn, check_csrf, see_other};
use crate::errors::ApiError;
use crate::routes::search::{SearchQuery, ask_for, search_for};
use crate::state::AppState;

/// A card on the page.
pub struct CardView {
    reference: String,
    alias: String,
    percent: u32,
    chart: Chart,
    explanation: Vec<String>,
    profile: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    chrome: Chrome,
    q: String,
    kind: Vec<Choice>,
    sector: Vec<Choice>,
    region: Vec<Choice>,
    capability: Vec<Choice>,
    stage: Vec<Choice>,
    errors: FormErrors,
    cards: Vec<CardView>,
    page: usize,
    next: Option<String>,
}

/// The search as a query string, at page `page`.
fn link(query: &SearchQuery, page: usize) -> String {
    let mut parts = vec![];
    for (name, value) in [
        ("q", &query.q),
        ("kind", &query.kind),
        ("sector", &query.sector),
        ("region", &query.region),
        ("capability", &query.capability),
        ("stage", &query.stage),
    ] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{name}={}", encode(value)));
        }
    }
    parts.push(format!("page={page}"));
    format!("/search?{}", parts.join("&"))
}

#[get("/search")]
pub async fn show(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, PageError> {
    let member = member.0;
    let raw = query.into_inner();
    let taxonomy = &state.catalogue.taxonomy;
    let one = |value: &Option<String>| value.iter().cloned().collect::<Vec<_>>();
    let kinds: Vec<Choice> = KINDS
        .iter()
        .map(|(value, label, _)| Choice {
            value: (*value).to_owned(),
            label: (*label).to_owned(),
            hint: String::new(),
            checked: raw.kind.as_deref() == Some(*value),
        })
        .collect();
    let mut areas = taxonomy.areas();
    areas.extend(taxonomy.regions.terms().iter().cloned());
    let (status, errors, cards, next, page) = match raw.clone().parse(&state) {
        Ok(query) => {
            let page = query.page;
            let (cards, next_page) = search_for(&state, &member, query).await?;
            let cards = cards
                .into_iter()
                .enumerate()
                .map(|(i, card)| CardView {
                    chart: chart::compatibility(
                        &state.catalogue,
                        &format!("chart-{i}"),
                        &card.alias,
                        &card.compatibility,
                    ),
                    percent: (card.score.clamp(0.0, 1.0) * 100.0).round() as u32,
                    profile: profile_rows(&state.catalogue, &card.profile),
                    reference: card.reference,
                    alias: card.alias,
                    explanation: card.explanation,
                })
                .collect();
            (StatusCode::OK, FormErrors::default(), cards, next_page.map(|p| link(&raw, p)), page)
        }
        Err(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            FormErrors::from_fields(&errors, &["q", "kind", "sector", "region", "capability", "stage", "page"], "q"),
            vec![],
            None,
            1,
        ),
    };
    let page_frame = Page::new(&request, &state, Some(&member), "search");
    let view = SearchPage {
        chrome: page_frame.chrome.clone(),
        q: raw.q.clone().unwrap_or_default(),
        kind: kinds,
        sector: Choice::of(taxonomy.sectors.terms(), &one(&raw.sector)),
        region: Choice::of(&areas, &one(&raw.region)),
        capability: Choice::of(taxonomy.capabilities.terms(), &one(&raw.capability)),
        stage: Choice::of(taxonomy.innovation_stages.terms(), &one(&raw.stage)),
        errors,
        cards,
        page,
        next,
    };
    page_frame.render(status, &view)
}

/// Asks for an introduction; the match it makes (or the one that was there) opens next.
#[post("/search/{ref}/ask")]
pub async fn ask(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    reference: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&request, &state, &form.csrf_token)?;
    match ask_for(&state, &member.0, &reference).await {
        Ok(Introduction::Created(id)) => Ok(see_other(&format!("/matches/{id}?done=asked"))),
        Ok(Introduction::Existing(id)) => Ok(see_other(&format!("/matches/{id}"))),
        Err(ApiError::NotFound) => Err(PageError::NotFound),
        Err(other) => Err(other.into()),
    }
}
