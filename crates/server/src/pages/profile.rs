//! The profile page: what the organisation offers and seeks, its sectors, region, size and
//! stage, and its two texts (one shown only after a reveal, one shown anonymously). Saving
//! calls the API's own update (`routes::me::update_profile_of`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use domain::{OrgKind, ProfilePatch};

use super::accounts::KINDS;
use super::forms::{Choice, DoneQuery, FormData, FormErrors};
use super::{Chrome, Page, PageError, SignedIn, posted, see_other};
use crate::errors::ApiError;
use crate::routes::me::update_profile_of;
use crate::state::AppState;

/// The profile form's fields, in order.
const FIELDS: [&str; 10] = [
    "anonymous_summary",
    "sectors",
    "capabilities_offered",
    "capabilities_sought",
    "seeking_kinds",
    "region",
    "size_band",
    "innovation_stage",
    "website",
    "description",
];

/// What the form shows: the values as typed or saved.
pub struct ProfileForm {
    website: String,
    description: String,
    anonymous_summary: String,
    sectors: Vec<Choice>,
    region: Vec<Choice>,
    size_band: Vec<Choice>,
    innovation_stage: Vec<Choice>,
    capabilities_offered: Vec<Choice>,
    capabilities_sought: Vec<Choice>,
    seeking_kinds: Vec<Choice>,
}

impl ProfileForm {
    fn of(state: &AppState, patch: &ProfilePatch) -> ProfileForm {
        let taxonomy = &state.catalogue.taxonomy;
        let one = |value: &Option<String>| value.iter().cloned().collect::<Vec<_>>();
        let list = |value: &Option<Vec<String>>| value.clone().unwrap_or_default();
        let kinds: Vec<Choice> = KINDS
            .iter()
            .map(|(value, label, _)| Choice {
                value: (*value).to_owned(),
                label: (*label).to_owned(),
                hint: String::new(),
                checked: list(&patch.seeking_kinds).iter().any(|k| k == value),
            })
            .collect();
        ProfileForm {
            website: patch.website.clone().unwrap_or_default(),
            description: patch.description.clone().unwrap_or_default(),
            anonymous_summary: patch.anonymous_summary.clone().unwrap_or_default(),
            sectors: Choice::of(taxonomy.sectors.terms(), &list(&patch.sectors)),
            region: Choice::of(taxonomy.regions.terms(), &one(&patch.region)),
            size_band: Choice::of(taxonomy.size_bands.terms(), &one(&patch.size_band)),
            innovation_stage: Choice::of(taxonomy.innovation_stages.terms(), &one(&patch.innovation_stage)),
            capabilities_offered: Choice::of(taxonomy.capabilities.terms(), &list(&patch.capabilities_offered)),
            capabilities_sought: Choice::of(taxonomy.capabilities.terms(), &list(&patch.capabilities_sought)),
            seeking_kinds: kinds,
        }
    }
}

/// The posted form as a whole profile: every field is sent, so an empty one clears it.
fn patch_from(form: &FormData) -> ProfilePatch {
    ProfilePatch {
        website: Some(form.get("website").to_owned()),
        description: Some(form.get("description").to_owned()),
        anonymous_summary: Some(form.get("anonymous_summary").to_owned()),
        sectors: Some(form.all("sectors")),
        region: Some(form.get("region").to_owned()),
        size_band: Some(form.get("size_band").to_owned()),
        innovation_stage: Some(form.get("innovation_stage").to_owned()),
        capabilities_offered: Some(form.all("capabilities_offered")),
        capabilities_sought: Some(form.all("capabilities_sought")),
        seeking_kinds: Some(form.all("seeking_kinds")),
        search_visible: None,
    }
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    chrome: Chrome,
    name: String,
    kind: String,
    form: ProfileForm,
    errors: FormErrors,
    saved: bool,
}

#[get("/profile")]
pub async fn show(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let organisation = state.store.organisation(member.0.org()).await?;
    let page = Page::new(&request, &state, Some(&member.0), "profile");
    let view = ProfilePage {
        chrome: page.chrome.clone(),
        name: organisation.name.clone(),
        kind: kind_label(organisation.kind),
        form: ProfileForm::of(&state, &ProfilePatch::from(&organisation.profile)),
        errors: FormErrors::default(),
        saved: query.saved == "1",
    };
    page.render(StatusCode::OK, &view)
}

fn kind_label(kind: OrgKind) -> String {
    KINDS.iter().find(|(value, _, _)| *value == kind.as_str()).map_or(kind.as_str(), |(_, label, _)| label).to_owned()
}

#[post("/profile")]
pub async fn save(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = posted(&request, &state, &body)?;
    let patch = patch_from(&form);
    match update_profile_of(&state, member.0.org(), &patch).await {
        Ok(_) => Ok(see_other("/profile?saved=1")),
        Err(ApiError::Validation(errors)) => {
            let organisation = state.store.organisation(member.0.org()).await?;
            let page = Page::new(&request, &state, Some(&member.0), "profile");
            let view = ProfilePage {
                chrome: page.chrome.clone(),
                name: organisation.name.clone(),
                kind: kind_label(organisation.kind),
                form: ProfileForm::of(&state, &patch),
                errors: FormErrors::from_fields(&errors, &FIELDS, "anonymous_summary"),
                saved: false,
            };
            page.render(StatusCode::UNPROCESSABLE_ENTITY, &view)
        }
        Err(other) => Err(other.into()),
    }
}
