//! The questionnaire, one section per page: for each question, the organisation's own answer,
//! the answers it would accept from a partner, and how much that matters. Each section is saved
//! on its own (`routes::me::save_section_answers`), so progress is kept between visits and two
//! sections saved at once both stay saved.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use domain::{FieldErrors, RawAnswer, Section};

use super::forms::{Choice, DoneQuery, FormErrors};
use super::{Chrome, Page, PageError, SignedIn, posted, see_other};
use crate::errors::ApiError;
use crate::routes::me::save_section_answers;
use crate::state::AppState;

/// The levels of importance, with their words.
const IMPORTANCE: [(&str, &str); 5] = [
    ("irrelevant", "It does not matter"),
    ("a_little", "A little"),
    ("somewhat", "Somewhat"),
    ("very", "Very much"),
    ("mandatory", "It is a must: never match us with a partner who answers otherwise"),
];

/// A section in the overview.
pub struct SectionProgress {
    id: String,
    title: String,
    description: String,
    answered: usize,
    total: usize,
}

#[derive(Template)]
#[template(path = "questionnaire.html")]
struct Overview {
    chrome: Chrome,
    sections: Vec<SectionProgress>,
    answered: usize,
    total: usize,
    saved: bool,
}

#[get("/questionnaire")]
pub async fn overview(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let questionnaire = &state.catalogue.questionnaire;
    let answers = state.store.answers(member.0.org(), questionnaire).await?;
    let raw = answers.to_raw(questionnaire);
    let sections: Vec<SectionProgress> = questionnaire
        .sections
        .iter()
        .map(|section| SectionProgress {
            id: section.id.clone(),
            title: section.title.clone(),
            description: section.description.clone(),
            answered: section.questions.iter().filter(|q| raw.iter().any(|a| a.question_id == q.id)).count(),
            total: section.questions.len(),
        })
        .collect();
    let page = Page::new(&request, &state, Some(&member.0), "questionnaire");
    let view = Overview {
        chrome: page.chrome.clone(),
        answered: answers.len(),
        total: questionnaire.question_count(),
        sections,
        saved: query.saved == "1",
    };
    page.render(StatusCode::OK, &view)
}

/// One question as the form shows it: its own answer, the acceptable ones, the importance.
pub struct QuestionView {
    id: String,
    number: usize,
    text: String,
    parts: [Part; 3],
}

/// One of the three parts of a question: a group of radios or checkboxes.
pub struct Part {
    /// The id of its first input (errors link to it).
    id: String,
    /// The field's name in the form.
    name: String,
    radios: bool,
    legend: &'static str,
    hint: &'static str,
    choices: Vec<Choice>,
}

impl Part {
    fn new(
        question: &str,
        part: &str,
        radios: bool,
        legend: &'static str,
        hint: &'static str,
        choices: Vec<Choice>,
    ) -> Part {
        Part { id: format!("{question}-{part}"), name: format!("{question}.{part}"), radios, legend, hint, choices }
    }

    pub fn group(&self) -> &'static str {
        if self.radios { "radios" } else { "checkboxes" }
    }

    pub fn input_type(&self) -> &'static str {
        if self.radios { "radio" } else { "checkbox" }
    }
}

#[derive(Template)]
#[template(path = "questionnaire_section.html")]
struct SectionPage {
    chrome: Chrome,
    section_id: String,
    title: String,
    description: String,
    position: usize,
    count: usize,
    questions: Vec<QuestionView>,
    errors: FormErrors,
}

fn section<'a>(state: &'a AppState, id: &str) -> Result<(usize, &'a Section), PageError> {
    state.catalogue.questionnaire.sections.iter().enumerate().find(|(_, s)| s.id == id).ok_or(PageError::NotFound)
}

/// The form of `section` showing `answers` (by question id).
fn questions(section: &Section, answers: &HashMap<String, RawAnswer>) -> Vec<QuestionView> {
    section
        .questions
        .iter()
        .enumerate()
        .map(|(i, question)| {
            let given = answers.get(&question.id);
            let own: Vec<String> = given.iter().filter(|a| !a.answer.is_empty()).map(|a| a.answer.clone()).collect();
            let acceptable = given.map(|a| a.acceptable.clone()).unwrap_or_default();
            let importance = given.map_or_else(|| "somewhat".to_owned(), |a| a.importance.clone());
            QuestionView {
                id: question.id.clone(),
                number: i + 1,
                text: question.text.clone(),
                parts: [
                    Part::new(&question.id, "answer", true, "Your answer", "", Choice::of(&question.options, &own)),
                    Part::new(
                        &question.id,
                        "acceptable",
                        false,
                        "Answers you would accept from a partner",
                        "Select all that apply.",
                        Choice::of(&question.options, &acceptable),
                    ),
                    Part::new(
                        &question.id,
                        "importance",
                        true,
                        "How much does this matter to you?",
                        "",
                        IMPORTANCE
                            .iter()
                            .map(|(value, label)| Choice {
                                value: (*value).to_owned(),
                                label: (*label).to_owned(),
                                hint: String::new(),
                                checked: *value == importance,
                            })
                            .collect(),
                    ),
                ],
            }
        })
        .collect()
}

#[get("/questionnaire/{section}")]
pub async fn show_section(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let (position, section) = section(&state, &id)?;
    let questionnaire = &state.catalogue.questionnaire;
    let saved = state.store.answers(member.0.org(), questionnaire).await?.to_raw(questionnaire);
    let answers: HashMap<String, RawAnswer> = saved.into_iter().map(|a| (a.question_id.clone(), a)).collect();
    let page = Page::new(&request, &state, Some(&member.0), "questionnaire");
    let view = SectionPage {
        chrome: page.chrome.clone(),
        section_id: section.id.clone(),
        title: section.title.clone(),
        description: section.description.clone(),
        position: position + 1,
        count: questionnaire.sections.len(),
        questions: questions(section, &answers),
        errors: FormErrors::default(),
    };
    page.render(StatusCode::OK, &view)
}

#[post("/questionnaire/{section}")]
pub async fn save_section(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = posted(&request, &state, &body)?;
    let (position, section) = section(&state, &id)?;
    // What was posted for each question: a question left blank stays unanswered.
    let mut posted: HashMap<String, RawAnswer> = HashMap::new();
    let mut raw = Vec::new();
    let mut errors = FieldErrors::new();
    for question in &section.questions {
        let answer = RawAnswer {
            question_id: question.id.clone(),
            answer: form.get(&format!("{}.answer", question.id)).to_owned(),
            acceptable: form.all(&format!("{}.acceptable", question.id)),
            importance: form.get(&format!("{}.importance", question.id)).to_owned(),
        };
        if answer.answer.is_empty() && !answer.acceptable.is_empty() {
            errors.add(format!("{}-answer", question.id), "choose your own answer, or untick the acceptable ones");
        } else if !answer.answer.is_empty() && answer.acceptable.is_empty() {
            errors.add(format!("{}-acceptable", question.id), "choose at least one answer you would accept");
        } else if !answer.answer.is_empty() {
            raw.push(answer.clone());
        }
        posted.insert(question.id.clone(), answer);
    }
    let result = if errors.is_empty() {
        save_section_answers(&state, member.0.org(), section, &raw).await
    } else {
        Err(ApiError::Validation(errors))
    };
    match result {
        Ok(()) => {
            let sections = &state.catalogue.questionnaire.sections;
            let next = match sections.get(position + 1) {
                Some(next) if form.get("then") != "overview" => format!("/questionnaire/{}", next.id),
                _ => "/questionnaire?saved=1".to_owned(),
            };
            Ok(see_other(&next))
        }
        Err(ApiError::Validation(errors)) => {
            // Errors of the whole set are keyed by position in `raw`: put them on their question.
            let mut fields = FieldErrors::new();
            for (field, messages) in errors.fields() {
                let on = field
                    .strip_prefix("answers[")
                    .and_then(|rest| rest.split_once(']'))
                    .and_then(|(i, rest)| {
                        let question = &raw.get(i.parse::<usize>().ok()?)?.question_id;
                        let part = if rest.contains("acceptable") {
                            "acceptable"
                        } else if rest.contains("importance") {
                            "importance"
                        } else {
                            "answer"
                        };
                        Some(format!("{question}-{part}"))
                    })
                    .unwrap_or_else(|| field.clone());
                for message in messages {
                    fields.add(on.clone(), message.clone());
                }
            }
            let order: Vec<String> = section
                .questions
                .iter()
                .flat_map(|q| ["answer", "acceptable", "importance"].map(|part| format!("{}-{part}", q.id)))
                .collect();
            let order: Vec<&str> = order.iter().map(String::as_str).collect();
            let fallback = order.first().copied().unwrap_or("answers");
            let page = Page::new(&request, &state, Some(&member.0), "questionnaire");
            let view = SectionPage {
                chrome: page.chrome.clone(),
                section_id: section.id.clone(),
                title: section.title.clone(),
                description: section.description.clone(),
                position: position + 1,
                count: state.catalogue.questionnaire.sections.len(),
                questions: questions(section, &posted),
                errors: FormErrors::from_fields(&fields, &order, fallback),
            };
            page.render(StatusCode::UNPROCESSABLE_ENTITY, &view)
        }
        Err(other) => Err(other.into()),
    }
}
