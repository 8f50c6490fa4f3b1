//! The pages of matches: the list, one match with its chart and reasons, revealing (after a
//! confirmation that says it cannot be undone), declining, and the outcome of a connection.
//! What a member sees is what the JSON API gives it (`routes::matches::shown_match`): the
//! counterpart's k-anonymous profile under this match's alias, and its identity only once it
//! revealed itself.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;
use store::matches::{Outcome, PartyStatus, PartyView};
use store::stories::StoryView;

use super::chart::{self, Chart};
use super::forms::{DoneQuery, FormErrors};
use super::views::profile_rows;
use super::{Chrome, Page, PageError, SignedIn, check_csrf, see_other};
use crate::errors::ApiError;
use crate::routes::matches::{decline_for, match_id, record_outcome, reveal_to, shown_match};
use crate::state::AppState;

/// A match as a page shows it.
pub struct MatchCard {
    pub id: String,
    pub alias: String,
    /// The score as shown (the order of the list).
    pub score: f64,
    pub percent: u32,
    pub confidence: u32,
    pub chart: Chart,
    pub explanation: Vec<String>,
    pub profile: Vec<(String, String)>,
    pub my_status: PartyStatus,
    pub their_revealed: bool,
    pub connected: bool,
    pub my_outcome: Option<Outcome>,
    pub asked_by_them: bool,
    pub asked_by_me: bool,
    pub identity: Option<store::matches::Identity>,
}

impl MatchCard {
    fn of(
        state: &AppState,
        view: &PartyView,
        shown: crate::routes::matches::ShownMatch,
        chart_id: String,
    ) -> MatchCard {
        let catalogue = &state.catalogue;
        MatchCard {
            id: view.id.clone(),
            alias: view.alias.clone(),
            score: shown.score,
            percent: (shown.score.clamp(0.0, 1.0) * 100.0).round() as u32,
            confidence: (view.confidence.clamp(0.0, 1.0) * 100.0).round() as u32,
            chart: chart::compatibility(catalogue, &chart_id, &view.alias, &shown.compatibility),
            explanation: shown.explanation,
            profile: profile_rows(catalogue, &shown.profile),
            my_status: view.my_status,
            their_revealed: view.their_revealed,
            connected: view.connected,
            my_outcome: view.my_outcome,
            asked_by_them: view.asked_by_them,
            asked_by_me: view.asked_by_me,
            identity: view.identity.clone(),
        }
    }

    pub fn revealed(&self) -> bool {
        self.my_status == PartyStatus::Revealed
    }
}

/// The outcomes a connected member can record, with their words.
const OUTCOMES: [(&str, &str); 3] =
    [("met", "We met"), ("collaborating", "We are working together"), ("no_fit", "It was not a fit")];

#[derive(Template)]
#[template(path = "matches.html")]
struct List {
    chrome: Chrome,
    cards: Vec<MatchCard>,
}

#[get("/matches")]
pub async fn list(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
) -> Result<HttpResponse, PageError> {
    let member = member.0;
    let org = member.org();
    let anonymity = state.anonymity.current(&state.store).await?;
    let views = state.store.matches_for(org).await?;
    let mut cards: Vec<MatchCard> = views
        .iter()
        .enumerate()
        .map(|(i, view)| MatchCard::of(&state, view, shown_match(&state, view, org, &anonymity), format!("chart-{i}")))
        .collect();
    // Best first by the score the member is shown, as the JSON list.
    cards.sort_by(|a, b| b.score.total_cmp(&a.score));
    let page = Page::new(&request, &state, Some(&member), "matches");
    let view = List { chrome: page.chrome.clone(), cards };
    page.render(StatusCode::OK, &view)
}

#[derive(Template)]
#[template(path = "match.html")]
struct Detail<'a> {
    chrome: Chrome,
    card: MatchCard,
    outcomes: &'a [(&'a str, &'a str)],
    errors: FormErrors,
    notice: &'a str,
    /// The success story of a connected match, if one was drafted.
    story: Option<StoryView>,
    /// What the story form shows: the draft being corrected, else the current text.
    draft: Draft,
}

/// The values of the story form.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub title: String,
    pub text: String,
    pub show_names: bool,
}

impl Draft {
    fn of(story: Option<&StoryView>) -> Draft {
        story.map_or_else(Draft::default, |s| Draft {
            title: s.story.title.clone(),
            text: s.story.text.clone(),
            show_names: s.story.show_names,
        })
    }
}

/// The story of match `card` for its page (none before the match is connected).
async fn story_for(
    state: &AppState,
    member: &crate::auth::Member,
    card: &MatchCard,
) -> Result<Option<StoryView>, PageError> {
    if !card.connected {
        return Ok(None);
    }
    Ok(crate::routes::stories::story_of(state, member.org(), &card.id).await?)
}

/// The match page again with the story form's `errors` and the values sent.
pub async fn detail_with_story_errors(
    request: &HttpRequest,
    state: &AppState,
    member: &crate::auth::Member,
    id: &str,
    form: super::stories::StoryForm,
    errors: &domain::FieldErrors,
) -> Result<HttpResponse, PageError> {
    let card = card(state, member, id).await?;
    let story = story_for(state, member, &card).await?;
    let page = Page::new(request, state, Some(member), "matches");
    let errors = FormErrors::from_fields(errors, &["title", "text"], "title");
    let draft = Draft { title: form.title, text: form.text, show_names: form.show_names.is_some() };
    let view = Detail { chrome: page.chrome.clone(), card, outcomes: &OUTCOMES, errors, notice: "", story, draft };
    page.render(StatusCode::UNPROCESSABLE_ENTITY, &view)
}

async fn card(state: &AppState, member: &crate::auth::Member, raw_id: &str) -> Result<MatchCard, PageError> {
    let id = match_id(raw_id)?;
    let anonymity = state.anonymity.current(&state.store).await?;
    let view = state.store.match_for(member.org(), &id).await?;
    Ok(MatchCard::of(state, &view, shown_match(state, &view, member.org(), &anonymity), "chart".to_owned()))
}

#[get("/matches/{id}")]
pub async fn detail(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    id: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let card = card(&state, &member.0, &id).await?;
    let notice = match query.done.as_str() {
        "revealed" if card.connected => "You are connected: both sides revealed themselves. We emailed you both.",
        "revealed" => "You revealed yourself. If they reveal themselves too, you are connected.",
        "outcome" => "Thank you: your outcome is recorded.",
        "story-drafted" => "Your story is saved and approved by you. It is published once they approve this text too.",
        "story-approved" => "You approved the story. It is published once they approve this text too.",
        "story-published" => "You both approved the story: it is published on the success stories page.",
        "story-withdrawn" => "The story is withdrawn: it is no longer published.",
        "asked" => {
            "You asked for an introduction. They see that you asked, and we emailed them. Either of you can reveal yourself when ready."
        }
        _ => "",
    };
    let story = story_for(&state, &member.0, &card).await?;
    let draft = Draft::of(story.as_ref());
    let page = Page::new(&request, &state, Some(&member.0), "matches");
    let view = Detail {
        chrome: page.chrome.clone(),
        card,
        outcomes: &OUTCOMES,
        errors: FormErrors::default(),
        notice,
        story,
        draft,
    };
    page.render(StatusCode::OK, &view)
}

#[derive(Template)]
#[template(path = "reveal.html")]
struct Reveal {
    chrome: Chrome,
    card: MatchCard,
}

/// Asks for a confirmation before revealing: it cannot be undone.
#[get("/matches/{id}/reveal")]
pub async fn reveal_page(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let card = card(&state, &member.0, &id).await?;
    if card.revealed() {
        return Ok(see_other(&format!("/matches/{}", card.id)));
    }
    let page = Page::new(&request, &state, Some(&member.0), "matches");
    let view = Reveal { chrome: page.chrome.clone(), card };
    page.render(StatusCode::OK, &view)
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    outcome: String,
}

#[post("/matches/{id}/reveal")]
pub async fn reveal_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    id: web::Path<String>,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&request, &state, &form.csrf_token)?;
    let id = match_id(&id)?;
    reveal_to(&state, member.0.org(), &id).await?;
    Ok(see_other(&format!("/matches/{id}?done=revealed")))
}

#[post("/matches/{id}/decline")]
pub async fn decline_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    id: web::Path<String>,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&request, &state, &form.csrf_token)?;
    decline_for(&state, member.0.org(), &match_id(&id)?).await?;
    Ok(see_other("/matches?declined=1"))
}

#[post("/matches/{id}/outcome")]
pub async fn outcome_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    id: web::Path<String>,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&request, &state, &form.csrf_token)?;
    let id = match_id(&id)?;
    match record_outcome(&state, member.0.org(), &id, &form.outcome).await {
        Ok(()) => Ok(see_other(&format!("/matches/{id}?done=outcome"))),
        Err(ApiError::Validation(errors)) => {
            let card = card(&state, &member.0, &id).await?;
            let story = story_for(&state, &member.0, &card).await?;
            let draft = Draft::of(story.as_ref());
            let page = Page::new(&request, &state, Some(&member.0), "matches");
            let errors = FormErrors::from_fields(&errors, &["outcome"], "outcome");
            let view =
                Detail { chrome: page.chrome.clone(), card, outcomes: &OUTCOMES, errors, notice: "", story, draft };
            page.render(StatusCode::UNPROCESSABLE_ENTITY, &view)
        }
        Err(other) => Err(other.into()),
    }
}
