//! The pages of challenges: browsing with filters and the scoring engine's fit, posting (health
//! organisations and universities), one challenge with its public forum, responding
//! anonymously, and the poster's review of responses (shortlist, decline, reveal). Every action
//! calls the API's own function (`routes::challenges`), so who may see and do what is decided
//! in one place.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use domain::challenge::{Stage, may_post};

use super::forms::{Choice, CsrfForm, DoneQuery, FormErrors};
use super::views::{label, labels, profile_rows};
use super::{Chrome, Page, PageError, SignedIn, check_csrf, posted, see_other};
use crate::auth::Member;
use crate::errors::ApiError;
use crate::routes::challenges::{
    ChallengeBody, ChallengeView, ForumQuestion, ListQuery, PosterView, ResponderView, ResponseBody, Responses, act_on,
    answer_question, ask_question, edit_challenge, list_for, one, post_challenge, questions_of, respond_to,
    responses_of, uuid,
};
use crate::state::AppState;

/// The stages at which a responder adds value, with their words.
const STAGES: [(Stage, &str, &str); 4] = [
    (Stage::Invention, "Invention", "Ideas, prototypes and early designs."),
    (Stage::Evidence, "Evidence", "Trials, evaluations and the case for adoption."),
    (Stage::Adoption, "Adoption", "Procurement, implementation and training."),
    (Stage::Scale, "Scale", "Spreading what works to other places."),
];

fn stage_choices(chosen: &[String]) -> Vec<Choice> {
    STAGES
        .iter()
        .map(|(stage, label, hint)| Choice {
            value: stage.as_str().to_owned(),
            label: (*label).to_owned(),
            hint: (*hint).to_owned(),
            checked: chosen.iter().any(|c| c == stage.as_str()),
        })
        .collect()
}

fn stage_words(stages: &[&str]) -> String {
    stages
        .iter()
        .map(|s| STAGES.iter().find(|(stage, _, _)| stage.as_str() == *s).map_or(*s, |(_, label, _)| label))
        .collect::<Vec<_>>()
        .join(", ")
}

fn percent(value: f64) -> u32 {
    (value.clamp(0.0, 1.0) * 100.0).round() as u32
}

/// A challenge as a page shows it.
pub struct ChallengeCard {
    id: String,
    title: String,
    problem_statement: String,
    sectors: String,
    stage: String,
    capabilities: String,
    deadline: String,
    links: Vec<String>,
    open: bool,
    featured: bool,
    fit: u32,
    mine: bool,
    poster: Vec<(String, String)>,
    questions: i64,
    responses: Option<i64>,
    my_response: Option<ResponderCard>,
}

/// The member's own response as the page shows it.
pub struct ResponderCard {
    id: String,
    summary: String,
    stages: String,
    shortlisted: bool,
    revealed: bool,
    poster_revealed: bool,
    connected: bool,
    identity: Option<crate::routes::challenges::IdentityView>,
}

impl ResponderCard {
    fn of(view: &ResponderView) -> ResponderCard {
        ResponderCard {
            id: view.id.clone(),
            summary: view.summary.clone(),
            stages: stage_words(&view.stages),
            shortlisted: view.status == "shortlisted",
            revealed: view.my_status == "revealed",
            poster_revealed: view.their_status == "revealed",
            connected: view.connected,
            identity: view.identity.clone(),
        }
    }
}

impl ChallengeCard {
    fn of(state: &AppState, view: &ChallengeView) -> ChallengeCard {
        let taxonomy = &state.catalogue.taxonomy;
        ChallengeCard {
            id: view.id.clone(),
            title: view.title.clone(),
            problem_statement: view.problem_statement.clone(),
            sectors: labels(&taxonomy.sectors, &view.sectors),
            stage: view.innovation_stage.as_deref().map(|s| label(&taxonomy.innovation_stages, s)).unwrap_or_default(),
            capabilities: labels(&taxonomy.capabilities, &view.capabilities_needed),
            deadline: view.deadline.format("%-d %B %Y").to_string(),
            links: view.links.clone(),
            open: view.status == "open",
            featured: view.featured,
            fit: percent(view.fit),
            mine: view.mine,
            poster: profile_rows(&state.catalogue, &view.poster),
            questions: view.questions,
            responses: view.responses,
            my_response: view.my_response.as_ref().and_then(|r| r.as_ref()).map(ResponderCard::of),
        }
    }
}

async fn may_post_challenges(state: &AppState, member: &Member) -> Result<bool, PageError> {
    Ok(may_post(state.store.organisation(member.org()).await?.kind))
}

#[derive(Template)]
#[template(path = "challenges.html")]
struct List {
    chrome: Chrome,
    cards: Vec<ChallengeCard>,
    can_post: bool,
    q: String,
    sector: Vec<Choice>,
    capability: Vec<Choice>,
    status: Vec<Choice>,
    order: Vec<Choice>,
    errors: FormErrors,
}

fn fixed(options: &[(&str, &str)], chosen: Option<&str>) -> Vec<Choice> {
    options
        .iter()
        .map(|(value, label)| Choice {
            value: (*value).to_owned(),
            label: (*label).to_owned(),
            hint: String::new(),
            checked: chosen == Some(*value),
        })
        .collect()
}

#[get("/challenges")]
pub async fn browse(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let member = member.0;
    let mut query = query.into_inner();
    // A form sends empty fields for "any".
    for field in [&mut query.sector, &mut query.capability, &mut query.stage, &mut query.status, &mut query.order] {
        if field.as_deref() == Some("") {
            *field = None;
        }
    }
    let (status, cards, errors) = match list_for(&state, &member, query.clone()).await {
        Ok(views) => {
            (StatusCode::OK, views.iter().map(|v| ChallengeCard::of(&state, v)).collect(), FormErrors::default())
        }
        Err(ApiError::Validation(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![],
            FormErrors::from_fields(&errors, &["q", "sector", "capability", "status", "order"], "q"),
        ),
        Err(other) => return Err(other.into()),
    };
    let taxonomy = &state.catalogue.taxonomy;
    let one = |v: &Option<String>| v.iter().cloned().collect::<Vec<_>>();
    let page = Page::new(&request, &state, Some(&member), "challenges");
    let view = List {
        chrome: page.chrome.clone(),
        cards,
        can_post: may_post_challenges(&state, &member).await?,
        q: query.q.clone().unwrap_or_default(),
        sector: Choice::of(taxonomy.sectors.terms(), &one(&query.sector)),
        capability: Choice::of(taxonomy.capabilities.terms(), &one(&query.capability)),
        status: fixed(&[("closed", "Closed"), ("all", "Open and closed")], query.status.as_deref()),
        order: fixed(&[("fit", "Best fit for you first")], query.order.as_deref()),
        errors,
    };
    page.render(status, &view)
}

/// The form to post a challenge, as typed.
#[derive(Default)]
pub struct NewForm {
    title: String,
    problem_statement: String,
    deadline_day: String,
    deadline_month: String,
    deadline_year: String,
    links: String,
    sectors: Vec<String>,
    capabilities_needed: Vec<String>,
    innovation_stage: String,
}

#[derive(Template)]
#[template(path = "challenge_new.html")]
struct New {
    chrome: Chrome,
    form: NewForm,
    sectors: Vec<Choice>,
    capabilities: Vec<Choice>,
    stages: Vec<Choice>,
    /// The deadline's fields: part, label, width, value.
    deadline: Vec<(&'static str, &'static str, u8, String)>,
    errors: FormErrors,
}

fn new_page(state: &AppState, chrome: Chrome, form: NewForm, errors: FormErrors) -> New {
    let taxonomy = &state.catalogue.taxonomy;
    New {
        chrome,
        sectors: Choice::of(taxonomy.sectors.terms(), &form.sectors),
        capabilities: Choice::of(taxonomy.capabilities.terms(), &form.capabilities_needed),
        stages: Choice::of(taxonomy.innovation_stages.terms(), std::slice::from_ref(&form.innovation_stage)),
        deadline: vec![
            ("day", "Day", 2, form.deadline_day.clone()),
            ("month", "Month", 2, form.deadline_month.clone()),
            ("year", "Year", 4, form.deadline_year.clone()),
        ],
        form,
        errors,
    }
}

#[get("/challenges/new")]
pub async fn new_challenge(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
) -> Result<HttpResponse, PageError> {
    if !may_post_challenges(&state, &member.0).await? {
        return Err(PageError::Forbidden);
    }
    let page = Page::new(&request, &state, Some(&member.0), "challenges");
    let view = new_page(&state, page.chrome.clone(), NewForm::default(), FormErrors::default());
    page.render(StatusCode::OK, &view)
}

#[post("/challenges/new")]
pub async fn create_challenge(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = posted(&request, &state, &body)?;
    let typed = NewForm {
        title: form.get("title").to_owned(),
        problem_statement: form.get("problem_statement").to_owned(),
        deadline_day: form.get("deadline-day").trim().to_owned(),
        deadline_month: form.get("deadline-month").trim().to_owned(),
        deadline_year: form.get("deadline-year").trim().to_owned(),
        links: form.get("links").to_owned(),
        sectors: form.all("sectors"),
        capabilities_needed: form.all("capabilities_needed"),
        innovation_stage: form.get("innovation_stage").to_owned(),
    };
    let body = ChallengeBody {
        title: Some(typed.title.clone()),
        problem_statement: Some(typed.problem_statement.clone()),
        sectors: Some(typed.sectors.clone()),
        innovation_stage: Some(typed.innovation_stage.clone()).filter(|s| !s.is_empty()),
        capabilities_needed: Some(typed.capabilities_needed.clone()),
        deadline: Some(deadline(&typed).unwrap_or_default()),
        links: Some(typed.links.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()),
        status: None,
    };
    match post_challenge(&state, &member.0, &body).await {
        Ok(id) => Ok(see_other(&format!("/challenges/{id}?done=posted"))),
        Err(ApiError::Validation(mut errors)) => {
            if deadline(&typed).is_none() {
                // Whatever the domain said of an incomplete date, say it in the form's terms.
                let mut kept = domain::FieldErrors::new();
                for (field, messages) in errors.fields().iter().filter(|(f, _)| f.as_str() != "deadline") {
                    messages.iter().for_each(|m| kept.add(field.clone(), m.clone()));
                }
                kept.add("deadline", "enter the deadline as a day, month and year, such as 31 3 2027");
                errors = kept;
            }
            let fields = [
                "title",
                "problem_statement",
                "sectors",
                "capabilities_needed",
                "innovation_stage",
                "deadline",
                "links",
            ];
            let errors = FormErrors::from_fields(&errors, &fields, "title");
            let page = Page::new(&request, &state, Some(&member.0), "challenges");
            let view = new_page(&state, page.chrome.clone(), typed, errors);
            page.render(StatusCode::UNPROCESSABLE_ENTITY, &view)
        }
        Err(other) => Err(other.into()),
    }
}

/// The deadline of the form's three fields as a date (`2027-03-31`), if they make one.
fn deadline(form: &NewForm) -> Option<String> {
    let day: u32 = form.deadline_day.parse().ok()?;
    let month: u32 = form.deadline_month.parse().ok()?;
    let year: i32 = form.deadline_year.parse().ok()?;
    chrono::NaiveDate::from_ymd_opt(year, month, day).map(|d| d.format("%Y-%m-%d").to_string())
}

/// A forum question as the page shows it.
pub struct QuestionCard {
    id: String,
    alias: String,
    kind: String,
    text: String,
    answer: Option<String>,
    hidden: bool,
    day: String,
}

impl QuestionCard {
    fn of(state: &AppState, question: &ForumQuestion) -> QuestionCard {
        QuestionCard {
            id: question.id.clone(),
            alias: question.alias.clone(),
            kind: question.kind.map(|k| label(&state.catalogue.taxonomy.kinds, k)).unwrap_or_default(),
            text: question.text.clone(),
            answer: question.answer.clone(),
            hidden: question.hidden,
            day: question.created_at.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "challenge.html")]
struct Detail {
    chrome: Chrome,
    card: ChallengeCard,
    questions: Vec<QuestionCard>,
    facilitator: bool,
    stages: Vec<Choice>,
    summary: String,
    question: String,
    errors: FormErrors,
    notice: &'static str,
}

fn notice(done: &str) -> &'static str {
    match done {
        "posted" => "Your challenge is posted. Organisations that could help can now respond, anonymously.",
        "responded" => {
            "Your response is sent. The poster sees it under an alias; nobody learns who you are until you reveal yourself."
        }
        "asked" => "Your question is posted under your alias for this challenge.",
        "answered" => "Your answer is posted.",
        "revealed" => "You revealed yourself.",
        "closed" => "The challenge is closed: it takes no more responses.",
        "featured" => "This is now the challenge of the month.",
        "hidden" => "The post is hidden from everyone else.",
        _ => "",
    }
}

/// The challenge page, with the forms as typed and `errors`.
async fn detail_page(
    request: &HttpRequest,
    state: &AppState,
    member: &Member,
    id: &str,
    form: (Vec<String>, String, String),
    errors: FormErrors,
    notice: &'static str,
) -> Result<HttpResponse, PageError> {
    let record = state.store.challenge(id).await?;
    let view = one(state, member.org(), &record).await?;
    let card = ChallengeCard::of(state, &view);
    let questions = questions_of(state, member, id).await?.iter().map(|q| QuestionCard::of(state, q)).collect();
    let (stages, summary, question) = form;
    let (summary, stages) = match (&card.my_response, summary.is_empty() && stages.is_empty()) {
        // Editing an earlier response starts from what was sent.
        (Some(mine), true) => {
            let sent: Vec<String> = view
                .my_response
                .as_ref()
                .and_then(|r| r.as_ref())
                .map(|r| r.stages.iter().map(|s| (*s).to_owned()).collect())
                .unwrap_or_default();
            (mine.summary.clone(), sent)
        }
        _ => (summary, stages),
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = Page::new(request, state, Some(member), "challenges");
    let view = Detail {
        chrome: page.chrome.clone(),
        card,
        questions,
        facilitator: member.is_facilitator(),
        stages: stage_choices(&stages),
        summary,
        question,
        errors,
        notice,
    };
    page.render(status, &view)
}

#[get("/challenges/{id}")]
pub async fn show_challenge(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    id: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let id = uuid(&id)?;
    detail_page(&request, &state, &member.0, &id, Default::default(), FormErrors::default(), notice(&query.done)).await
}

#[post("/challenges/{id}/respond")]
pub async fn respond_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = posted(&request, &state, &body)?;
    let id = uuid(&id)?;
    let response = ResponseBody { summary: form.get("summary").to_owned(), stages: form.all("stages") };
    match respond_to(&state, &member.0, &id, &response).await {
        Ok(_) => Ok(see_other(&format!("/challenges/{id}?done=responded"))),
        Err(ApiError::Validation(errors)) => {
            let errors = FormErrors::from_fields(&errors, &["summary", "stages"], "summary");
            let typed = (response.stages, response.summary, String::new());
            detail_page(&request, &state, &member.0, &id, typed, errors, "").await
        }
        Err(ApiError::Conflict(message)) => {
            let typed = (response.stages, response.summary, String::new());
            detail_page(&request, &state, &member.0, &id, typed, FormErrors::one("summary", message), "").await
        }
        Err(other) => Err(other.into()),
    }
}

#[post("/challenges/{id}/questions")]
pub async fn ask_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = posted(&request, &state, &body)?;
    let id = uuid(&id)?;
    let text = form.get("question").to_owned();
    match ask_question(&state, &member.0, &id, &text).await {
        Ok(_) => Ok(see_other(&format!("/challenges/{id}?done=asked#forum"))),
        Err(ApiError::Validation(errors)) => {
            let errors = FormErrors::from_fields(&errors, &["question"], "question");
            detail_page(&request, &state, &member.0, &id, (vec![], String::new(), text), errors, "").await
        }
        Err(other) => Err(other.into()),
    }
}

#[post("/challenges/{id}/questions/{qid}/answer")]
pub async fn answer_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = posted(&request, &state, &body)?;
    let (id, qid) = path.into_inner();
    let (id, qid) = (uuid(&id)?, uuid(&qid)?);
    match answer_question(&state, &member.0, &id, &qid, form.get("answer")).await {
        Ok(()) => Ok(see_other(&format!("/challenges/{id}?done=answered#forum"))),
        Err(ApiError::Validation(errors)) => {
            // The answer box of this question is the field.
            let errors = FormErrors::from_fields(&errors, &[], &format!("answer-{qid}"));
            detail_page(&request, &state, &member.0, &id, Default::default(), errors, "").await
        }
        Err(other) => Err(other.into()),
    }
}

/// Closes the member's challenge early.
#[post("/challenges/{id}/close")]
pub async fn close_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&request, &state, &form.csrf_token)?;
    let id = uuid(&id)?;
    let body = ChallengeBody { status: Some("closed".to_owned()), ..ChallengeBody::default() };
    edit_challenge(&state, &member.0, &id, &body).await?;
    Ok(see_other(&format!("/challenges/{id}?done=closed")))
}

/// A facilitator makes this the challenge of the month.
#[post("/challenges/{id}/feature")]
pub async fn feature_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&request, &state, &form.csrf_token)?;
    if !member.0.is_facilitator() {
        return Err(PageError::Forbidden);
    }
    let id = uuid(&id)?;
    state.store.feature_challenge(&id, state.clock.now()).await?;
    Ok(see_other(&format!("/challenges/{id}?done=featured")))
}

/// A facilitator hides a forum post.
#[post("/challenges/{id}/questions/{qid}/hide")]
pub async fn hide_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&request, &state, &form.csrf_token)?;
    if !member.0.is_facilitator() {
        return Err(PageError::Forbidden);
    }
    let (id, qid) = path.into_inner();
    let (id, qid) = (uuid(&id)?, uuid(&qid)?);
    state.store.hide_question(&id, &qid, state.clock.now()).await?;
    Ok(see_other(&format!("/challenges/{id}?done=hidden#forum")))
}

/// A response as the poster's review page shows it.
pub struct ReviewCard {
    id: String,
    alias: String,
    fit: u32,
    summary: String,
    stages: String,
    profile: Vec<(String, String)>,
    status: &'static str,
    revealed: bool,
    their_revealed: bool,
    connected: bool,
    identity: Option<crate::routes::challenges::IdentityView>,
    day: String,
}

impl ReviewCard {
    fn of(state: &AppState, view: &PosterView) -> ReviewCard {
        ReviewCard {
            id: view.id.clone(),
            alias: view.alias.clone(),
            fit: percent(view.fit),
            summary: view.summary.clone(),
            stages: stage_words(&view.stages),
            profile: profile_rows(&state.catalogue, &view.counterpart),
            status: view.status,
            revealed: view.my_status == "revealed",
            their_revealed: view.their_status == "revealed",
            connected: view.connected,
            identity: view.identity.clone(),
            day: view.created_at.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "challenge_responses.html")]
struct Review {
    chrome: Chrome,
    id: String,
    title: String,
    responses: Vec<ReviewCard>,
    notice: &'static str,
}

/// The poster's review of the responses to its challenge; a responder is sent to the
/// challenge's page, where its own response is; anyone else gets 404.
#[get("/challenges/{id}/responses")]
pub async fn review(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    id: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let id = uuid(&id)?;
    let views = match responses_of(&state, &member.0, &id).await? {
        Responses::Poster(views) => views,
        Responses::Responder(_) => return Ok(see_other(&format!("/challenges/{id}"))),
    };
    let record = state.store.challenge(&id).await?;
    let page = Page::new(&request, &state, Some(&member.0), "challenges");
    let notice = match query.done.as_str() {
        "shortlist" => "The response is shortlisted. Its responder sees that, and you may now reveal yourself to it.",
        "decline" => "The response is declined. Its responder is not told.",
        "reveal" => "You revealed yourself to this responder.",
        _ => "",
    };
    let view = Review {
        chrome: page.chrome.clone(),
        id: id.clone(),
        title: record.challenge.title.clone(),
        responses: views.iter().map(|v| ReviewCard::of(&state, v)).collect(),
        notice,
    };
    page.render(StatusCode::OK, &view)
}

/// Shortlists, declines or reveals, on a response (the poster), or reveals (its responder).
#[post("/challenges/{id}/responses/{rid}/{action}")]
pub async fn act_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    path: web::Path<(String, String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&request, &state, &form.csrf_token)?;
    let (id, rid, action) = path.into_inner();
    let (id, rid) = (uuid(&id)?, uuid(&rid)?);
    act_on(&state, &member.0, &id, &rid, &action).await?;
    let record = state.store.challenge(&id).await?;
    Ok(if record.poster == member.0.org() {
        see_other(&format!("/challenges/{id}/responses?done={action}#response-{rid}"))
    } else {
        see_other(&format!("/challenges/{id}?done=revealed"))
    })
}
