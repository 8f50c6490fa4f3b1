//! The facilitators' dashboard (`/admin`): the funnel as SVG charts drawn on the server and as
//! tables, the same numbers as `GET /api/v1/admin/metrics` and its CSV, and the challenges they
//! may feature; the scoring model in use (its weights as a chart, against the version before,
//! and its history) with a button that learns from outcomes; and the published success
//! stories, which a facilitator may hide. Anyone else gets the page's "not for your
//! organisation" answer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use domain::funnel::{Funnel, Row, Shown};

use super::{Chrome, Page, PageError, SignedIn};
use crate::routes::admin::{csv_response, funnel_of};
use crate::state::AppState;
use store::models::StoredModel;

/// The stages as facilitators read them.
const STAGE_LABELS: [&str; 8] = [
    "Registered",
    "Answered the questionnaire",
    "Matched",
    "Revealed themselves",
    "Connected",
    "Met",
    "Collaborating",
    "No fit",
];

/// The most recent weeks the weekly chart shows.
const WEEKS: usize = 12;

/// One bar of a chart; a suppressed count has no bar and says so.
#[derive(Debug, Clone)]
pub struct FunnelBar {
    pub label: String,
    /// What is written under a column (the week without its year).
    pub short: String,
    pub value: String,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub text_x: u32,
    pub text_y: u32,
}

/// A chart ready to draw: `horizontal` bars (labels on the left) or columns (labels below).
#[derive(Debug, Clone)]
pub struct FunnelChart {
    pub id: &'static str,
    pub title: String,
    pub description: String,
    pub width: u32,
    pub height: u32,
    pub bars: Vec<FunnelBar>,
    pub horizontal: bool,
}

/// A table of one breakdown.
#[derive(Debug, Clone)]
pub struct Table {
    pub caption: &'static str,
    pub group: &'static str,
    pub rows: Vec<(String, Vec<String>)>,
}

fn shown(count: Shown) -> String {
    count.map_or_else(|| "fewer than 5".to_owned(), |n| n.to_string())
}

/// One horizontal bar to draw: its label, its length (`None` for no bar) and its text.
struct Item {
    label: String,
    length: Option<f64>,
    value: String,
}

/// Horizontal bars (labels on the left), scaled to the longest.
fn horizontal_chart(id: &'static str, title: String, items: Vec<Item>, value_room: u32) -> FunnelChart {
    const LABEL: u32 = 230;
    const BAR: u32 = 300;
    const ROW: u32 = 28;
    let max = items.iter().filter_map(|item| item.length).fold(0.0f64, f64::max);
    let bars: Vec<FunnelBar> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let i = i as u32;
            let width = match item.length {
                Some(length) if max > 0.0 => (length / max * f64::from(BAR)).round() as u32,
                _ => 0,
            };
            FunnelBar {
                short: item.label.clone(),
                label: item.label,
                value: item.value,
                x: LABEL,
                y: i * ROW + 6,
                width,
                height: 18,
                text_x: LABEL + width + 6,
                text_y: i * ROW + 20,
            }
        })
        .collect();
    let description = bars.iter().map(|b| format!("{}: {}", b.label, b.value)).collect::<Vec<_>>().join("; ");
    FunnelChart {
        id,
        title,
        description: format!("{description}."),
        width: LABEL + BAR + value_room,
        height: bars.len() as u32 * ROW + 8,
        bars,
        horizontal: true,
    }
}

/// Horizontal bars of the totals by stage, scaled to the largest.
fn funnel_chart(totals: &Row) -> FunnelChart {
    let items = STAGE_LABELS
        .iter()
        .zip(totals.counts)
        .map(|(label, count)| Item { label: (*label).to_owned(), length: count.map(|n| n as f64), value: shown(count) })
        .collect();
    horizontal_chart("funnel", "Organisations at each stage".to_owned(), items, 110)
}

/// Columns of registrations and connections in the most recent weeks.
fn weekly_chart(weeks: &[Row]) -> FunnelChart {
    const COLUMN: u32 = 44;
    const TOP: u32 = 24;
    const HEIGHT: u32 = 160;
    let recent = &weeks[weeks.len().saturating_sub(WEEKS)..];
    let max = recent.iter().filter_map(|w| w.counts[0]).max().unwrap_or(0).max(1);
    let bars: Vec<FunnelBar> = recent
        .iter()
        .enumerate()
        .map(|(i, week)| {
            let i = i as u32;
            let registered = week.counts[0];
            let height = registered.map_or(0, |n| (n as f64 / max as f64 * f64::from(HEIGHT)).round() as u32);
            FunnelBar {
                label: week.group.clone(),
                short: week.group.split_once('-').map_or(week.group.as_str(), |(_, w)| w).to_owned(),
                value: registered.map_or_else(|| "<5".to_owned(), |n| n.to_string()),
                x: i * COLUMN + 6,
                y: TOP + HEIGHT - height,
                width: COLUMN - 12,
                height,
                text_x: i * COLUMN + COLUMN / 2,
                text_y: TOP + HEIGHT - height - 6,
            }
        })
        .collect();
    let description = recent
        .iter()
        .map(|w| format!("{}: {} registered, {} connected", w.group, shown(w.counts[0]), shown(w.counts[4])))
        .collect::<Vec<_>>()
        .join("; ");
    FunnelChart {
        id: "weeks",
        title: "Organisations registered each week".to_owned(),
        description: if description.is_empty() {
            "No registrations yet.".to_owned()
        } else {
            format!("{description}.")
        },
        // Always twelve columns wide, so that a young service's few weeks are drawn to scale.
        width: WEEKS as u32 * COLUMN + 12,
        height: TOP + HEIGHT + 30,
        bars,
        horizontal: false,
    }
}

fn table(caption: &'static str, group: &'static str, rows: &[Row], label: impl Fn(&str) -> String) -> Table {
    Table {
        caption,
        group,
        rows: rows.iter().map(|row| (label(&row.group), row.counts.iter().map(|c| shown(*c)).collect())).collect(),
    }
}

/// A challenge a facilitator may feature.
#[derive(Debug, Clone)]
pub struct Featurable {
    pub id: String,
    pub title: String,
    pub featured: bool,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct Dashboard {
    chrome: Chrome,
    stages: [&'static str; 8],
    funnel: FunnelChart,
    weekly: FunnelChart,
    tables: Vec<Table>,
    matches: Vec<(&'static str, String)>,
    erased: Vec<(&'static str, String)>,
    challenges: Vec<Featurable>,
    weights: FunnelChart,
    history: Vec<Version>,
    dimensions: Vec<String>,
    min_outcomes: usize,
    learning: Option<Learning>,
    stories: Vec<store::stories::PublishedStory>,
}

/// One version of the model in the history table.
#[derive(Debug, Clone)]
pub struct Version {
    pub version: i64,
    pub adopted: String,
    pub trained_on: i64,
    pub evaluation: String,
    pub weights: Vec<String>,
}

/// What a learning run from the dashboard found.
#[derive(Debug, Clone)]
pub struct Learning {
    pub headline: String,
    pub reason: String,
}

/// The weights of the model in use as horizontal bars, each with the weight of the version
/// before it (how they changed).
fn weights_chart(catalogue: &domain::Catalogue, history: &[StoredModel]) -> FunnelChart {
    let ids = matching::models::dimension_ids(catalogue);
    let current = history.first().map(|m| &m.model.weights);
    let previous = history.get(1).map(|m| &m.model.weights);
    let weight = |weights: Option<&std::collections::BTreeMap<String, f64>>, id: &str| {
        weights.and_then(|w| w.get(id)).copied().unwrap_or(0.0)
    };
    let items = ids
        .iter()
        .map(|id| {
            let now = weight(current, id);
            let value = match previous {
                Some(_) => format!("{now:.2} (was {:.2})", weight(previous, id)),
                None => format!("{now:.2}"),
            };
            Item { label: super::chart::dimension_label(catalogue, id).to_owned(), length: Some(now), value }
        })
        .collect();
    let title = format!("Weights of model version {}", history.first().map_or(1, |m| m.version));
    horizontal_chart("weights", title, items, 140)
}

fn versions(state: &AppState, history: &[StoredModel]) -> Vec<Version> {
    let ids = matching::models::dimension_ids(&state.catalogue);
    history
        .iter()
        .map(|m| Version {
            version: m.version,
            adopted: m.adopted_at.format("%-d %B %Y %H:%M").to_string(),
            trained_on: m.model.trained_on,
            evaluation: m.model.evaluation.map_or_else(
                || "none (the standard model)".to_owned(),
                |e| format!("AUC {:.3} against {:.3}", e.auc, e.previous_auc),
            ),
            weights: ids
                .iter()
                .map(|id| m.model.weights.get(id).map_or_else(|| "–".to_owned(), |w| format!("{w:.2}")))
                .collect(),
        })
        .collect()
}

fn vocabulary_label(vocabulary: &domain::Vocabulary, id: &str) -> String {
    vocabulary.label(id).unwrap_or(id).to_owned()
}

fn dashboard_view(state: &AppState, chrome: Chrome, funnel: &Funnel, erased: &[(&'static str, Shown)]) -> Dashboard {
    let taxonomy = &state.catalogue.taxonomy;
    let region = |id: &str| {
        if id == domain::funnel::UNKNOWN { "Not given".to_owned() } else { vocabulary_label(&taxonomy.regions, id) }
    };
    let tables = vec![
        table("By kind of organisation", "Kind", &funnel.by_kind, |id| vocabulary_label(&taxonomy.kinds, id)),
        table("By sector (an organisation may work in several)", "Sector", &funnel.by_sector, |id| {
            vocabulary_label(&taxonomy.sectors, id)
        }),
        table("By region", "Region", &funnel.by_region, region),
        table("By week of registration", "Week", &funnel.by_week, str::to_owned),
    ];
    let matches = funnel
        .matches
        .iter()
        .map(|(name, count)| {
            let label = match *name {
                "matches" => "Matches suggested",
                "reveals" => "Reveals",
                "connections" => "Connections",
                "met" => "Matches that met",
                "collaborating" => "Matches collaborating",
                _ => "Matches with no fit",
            };
            (label, shown(*count))
        })
        .collect();
    let erased = erased.iter().map(|(name, count)| (*name, shown(*count))).collect();
    Dashboard {
        chrome,
        stages: STAGE_LABELS,
        funnel: funnel_chart(&funnel.totals),
        weekly: weekly_chart(&funnel.by_week),
        tables,
        matches,
        erased,
        challenges: Vec::new(),
        weights: weights_chart(&state.catalogue, &[]),
        history: Vec::new(),
        dimensions: Vec::new(),
        min_outcomes: state.settings.learn_min_outcomes,
        learning: None,
        stories: Vec::new(),
    }
}

#[get("/admin")]
pub async fn dashboard(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
) -> Result<HttpResponse, PageError> {
    dashboard_page(&request, &state, &member.0, None).await
}

#[derive(Debug, serde::Deserialize)]
pub struct LearnForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    dry_run: String,
}

/// Learns from outcomes (as `POST /api/v1/admin/model/learn`) and shows the dashboard with
/// what it found.
#[post("/admin/model/learn")]
pub async fn learn_submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
    form: web::Form<LearnForm>,
) -> Result<HttpResponse, PageError> {
    super::check_csrf(&request, &state, &form.csrf_token)?;
    let dry_run = form.dry_run == "true";
    let report = crate::routes::model::learn_for(&state, &member.0, dry_run).await?;
    let learned = &report.learned;
    let headline = match report.adopted {
        Some(version) => format!("Version {version} adopted: matches are being rescored with it."),
        None if dry_run && learned.adopt => "This model would be adopted (nothing was changed).".to_owned(),
        None => format!("Version {} stays in use.", report.before),
    };
    let reason = format!("{} outcomes, {} successes: {}.", learned.examples, learned.successes, learned.reason);
    dashboard_page(&request, &state, &member.0, Some(Learning { headline, reason })).await
}

async fn dashboard_page(
    request: &HttpRequest,
    state: &AppState,
    member: &crate::auth::Member,
    learning: Option<Learning>,
) -> Result<HttpResponse, PageError> {
    let (funnel, erased) = funnel_of(state, member).await?;
    let history = crate::routes::model::history_of(state, member).await?;
    let page = Page::new(request, state, Some(member), "admin");
    let mut view = dashboard_view(state, page.chrome.clone(), &funnel, &erased);
    view.weights = weights_chart(&state.catalogue, &history);
    view.history = versions(state, &history);
    view.dimensions = matching::models::dimension_ids(&state.catalogue)
        .iter()
        .map(|id| super::chart::dimension_label(&state.catalogue, id).to_owned())
        .collect();
    view.learning = learning;
    view.stories = crate::routes::stories::for_facilitator(state, member).await?;
    let now = state.clock.now();
    view.challenges = state
        .store
        .challenges()
        .await?
        .into_iter()
        .filter(|c| c.is_open(now))
        .map(|c| Featurable { id: c.id, title: c.challenge.title, featured: c.featured })
        .collect();
    page.render(StatusCode::OK, &view)
}

#[get("/admin/metrics.csv")]
pub async fn download(state: web::Data<AppState>, member: SignedIn) -> Result<HttpResponse, PageError> {
    let (funnel, _) = funnel_of(&state, &member.0).await?;
    Ok(csv_response(&funnel))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(group: &str, counts: [Shown; 8]) -> Row {
        Row { group: group.to_owned(), counts }
    }

    #[test]
    fn bars_scale_to_the_largest_count_and_a_suppressed_one_has_no_bar() {
        let totals = row("all", [Some(40), Some(20), None, Some(0), Some(10), Some(5), Some(0), Some(0)]);
        let chart = funnel_chart(&totals);
        assert_eq!(chart.bars[0].width, 300);
        assert_eq!(chart.bars[1].width, 150);
        assert_eq!((chart.bars[2].width, chart.bars[2].value.as_str()), (0, "fewer than 5"));
        assert!(chart.description.contains("Registered: 40") && chart.description.contains("Matched: fewer than 5"));
    }

    #[test]
    fn the_weights_chart_shows_each_weight_against_the_version_before() {
        let catalogue = domain::Catalogue::builtin().expect("catalogue");
        let version = |version: i64, working_style: f64| {
            let mut weights = matching::models::named_weights(
                &catalogue,
                &scoring::Model::standard(catalogue.questionnaire.layout()),
            );
            weights.insert("working_style".to_owned(), working_style);
            StoredModel {
                version,
                model: store::models::NewModel {
                    weights,
                    trained_on: 0,
                    successes: 0,
                    evaluation: None,
                    reason: String::new(),
                },
                adopted_at: chrono::Utc::now(),
            }
        };
        let chart = weights_chart(&catalogue, &[version(2, 24.0), version(1, 1.0)]);
        assert_eq!(chart.title, "Weights of model version 2");
        let bar = chart.bars.iter().find(|b| b.label == "Working style").expect("a bar");
        assert_eq!((bar.value.as_str(), bar.width), ("24.00 (was 1.00)", 300), "the largest weight fills the width");
        let standards = chart.bars.iter().find(|b| b.label == "Shared standards").expect("a bar");
        assert_eq!((standards.value.as_str(), standards.width), ("12.00 (was 12.00)", 150));
        let first = weights_chart(&catalogue, &[version(1, 1.0)]);
        assert!(first.bars.iter().all(|b| !b.value.contains("was")), "nothing to compare the first version with");
    }

    #[test]
    fn the_weekly_chart_shows_the_last_twelve_weeks() {
        let weeks: Vec<Row> = (1..=20).map(|w| row(&format!("2026-W{w:02}"), [Some(w); 8])).collect();
        let chart = weekly_chart(&weeks);
        assert_eq!(chart.bars.len(), WEEKS);
        assert_eq!(chart.bars[0].label, "2026-W09");
        assert_eq!(chart.bars[11].height, 160, "the largest week fills the height");
    }
}
