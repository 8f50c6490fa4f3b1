//! The facilitators' dashboard (`/admin`): the funnel as SVG charts drawn on the server and as
//! tables, the same numbers as `GET /api/v1/admin/metrics` and its CSV, and the challenges they
//! may feature. Anyone else gets the page's "not for your organisation" answer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use domain::funnel::{Funnel, Row, Shown};

use super::{Chrome, Page, PageError, SignedIn};
use crate::routes::admin::{csv_response, funnel_of};
use crate::state::AppState;

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

/// Horizontal bars of the totals by stage, scaled to the largest.
fn funnel_chart(totals: &Row) -> FunnelChart {
    const LABEL: u32 = 230;
    const BAR: u32 = 300;
    const ROW: u32 = 28;
    let max = totals.counts.iter().flatten().copied().max().unwrap_or(0).max(1);
    let bars: Vec<FunnelBar> = STAGE_LABELS
        .iter()
        .zip(totals.counts)
        .enumerate()
        .map(|(i, (label, count))| {
            let i = i as u32;
            let width = count.map_or(0, |n| (n as f64 / max as f64 * f64::from(BAR)).round() as u32);
            FunnelBar {
                label: (*label).to_owned(),
                short: (*label).to_owned(),
                value: shown(count),
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
        id: "funnel",
        title: "Organisations at each stage".to_owned(),
        description: format!("{description}."),
        width: LABEL + BAR + 110,
        height: bars.len() as u32 * ROW + 8,
        bars,
        horizontal: true,
    }
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
    }
}

#[get("/admin")]
pub async fn dashboard(
    request: HttpRequest,
    state: web::Data<AppState>,
    member: SignedIn,
) -> Result<HttpResponse, PageError> {
    let (funnel, erased) = funnel_of(&state, &member.0).await?;
    let page = Page::new(&request, &state, Some(&member.0), "admin");
    let mut view = dashboard_view(&state, page.chrome.clone(), &funnel, &erased);
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
    fn the_weekly_chart_shows_the_last_twelve_weeks() {
        let weeks: Vec<Row> = (1..=20).map(|w| row(&format!("2026-W{w:02}"), [Some(w); 8])).collect();
        let chart = weekly_chart(&weeks);
        assert_eq!(chart.bars.len(), WEEKS);
        assert_eq!(chart.bars[0].label, "2026-W09");
        assert_eq!(chart.bars[11].height, 160, "the largest week fills the height");
    }
}
