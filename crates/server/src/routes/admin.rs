//! The facilitators' view: the funnel of the whole membership, as JSON and CSV (the dashboard
//! page draws the same numbers). Aggregates only: see `domain::funnel` for what is suppressed.

use actix_web::{HttpResponse, get, web};
use domain::funnel::{Funnel, Row, STAGES, Shown};
use serde_json::{Map, Value, json};

use crate::auth::Member;
use crate::errors::ApiError;
use crate::state::AppState;

/// Counts under this are suppressed (CONTRACT.md, confidentiality invariant 5).
pub const SUPPRESS_UNDER: u64 = 5;

/// The funnel and the anonymous totals that erasures kept, for a facilitator; forbidden to
/// anyone else.
pub async fn funnel_of(state: &AppState, member: &Member) -> Result<(Funnel, Vec<(&'static str, Shown)>), ApiError> {
    if !member.is_facilitator() {
        return Err(ApiError::Forbidden);
    }
    let (orgs, matches) = state.store.funnel_facts(state.catalogue.questionnaire.question_count()).await?;
    let funnel = domain::funnel::funnel(&orgs, matches, SUPPRESS_UNDER);
    // What the erased took with them describes them: nothing of it is shown until at least
    // five organisations erased themselves.
    let tallies = state.store.erased_tallies().await?;
    let organisations = tallies.iter().find(|(name, _)| *name == "organisations").map_or(0, |(_, n)| *n);
    let few = organisations > 0 && organisations < SUPPRESS_UNDER as i64;
    let erased = tallies
        .into_iter()
        .map(|(name, n)| {
            let n = u64::try_from(n).unwrap_or(0);
            (name, if few || (n > 0 && n < SUPPRESS_UNDER) { None } else { Some(n) })
        })
        .collect();
    Ok((funnel, erased))
}

fn counts(row: &Row) -> Value {
    let mut map = Map::new();
    for (stage, count) in STAGES.iter().zip(row.counts) {
        map.insert((*stage).to_owned(), json!(count));
    }
    Value::Object(map)
}

fn rows(rows: &[Row], key: &str) -> Vec<Value> {
    rows.iter().map(|row| json!({key: row.group, "counts": counts(row)})).collect()
}

fn named(pairs: &[(&'static str, Shown)]) -> Value {
    Value::Object(pairs.iter().map(|(name, n)| ((*name).to_owned(), json!(n))).collect())
}

#[utoipa::path(
    tag = "facilitators",
    responses(
        (status = 200, description = "The funnel; a suppressed count is null", body = serde_json::Value),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[get("/admin/metrics")]
pub async fn metrics(member: Member, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (funnel, erased) = funnel_of(&state, &member).await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(json!({
        "suppressed_under": funnel.threshold,
        "stages": STAGES,
        "totals": counts(&funnel.totals),
        "by_kind": rows(&funnel.by_kind, "kind"),
        "by_sector": rows(&funnel.by_sector, "sector"),
        "by_region": rows(&funnel.by_region, "region"),
        "by_week": rows(&funnel.by_week, "week"),
        "matches": named(&funnel.matches),
        "erased": named(&erased),
    })))
}

/// The funnel as CSV: one line per group of each breakdown, a suppressed count written as
/// `suppressed`.
pub fn funnel_csv(funnel: &Funnel) -> String {
    let mut csv = format!("breakdown,group,{}\n", STAGES.join(","));
    let sections: [(&str, &[Row]); 5] = [
        ("total", std::slice::from_ref(&funnel.totals)),
        ("kind", &funnel.by_kind),
        ("sector", &funnel.by_sector),
        ("region", &funnel.by_region),
        ("week", &funnel.by_week),
    ];
    for (breakdown, rows) in sections {
        for row in rows {
            let cells: Vec<String> =
                row.counts.iter().map(|c| c.map_or_else(|| "suppressed".to_owned(), |n| n.to_string())).collect();
            csv.push_str(&format!("{breakdown},{},{}\n", csv_field(&row.group), cells.join(",")));
        }
    }
    csv
}

/// A CSV field: group names are taxonomy ids, but quote anything that is not plain.
fn csv_field(raw: &str) -> String {
    if raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-')) {
        raw.to_owned()
    } else {
        format!("\"{}\"", raw.replace('"', "\"\""))
    }
}

#[utoipa::path(
    tag = "facilitators",
    responses(
        (status = 200, description = "The funnel as CSV", body = String, content_type = "text/csv"),
        (status = "default", description = "An error: `{\"error\": {\"code\", \"message\", \"fields\"}}`", body = crate::routes::openapi::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[get("/admin/metrics.csv")]
pub async fn metrics_csv(member: Member, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (funnel, _) = funnel_of(&state, &member).await?;
    Ok(csv_response(&funnel))
}

/// The CSV download of `funnel` (the API and the dashboard page alike).
pub fn csv_response(funnel: &Funnel) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"matchwell-funnel.csv\""))
        .insert_header(("Cache-Control", "no-store"))
        .body(funnel_csv(funnel))
}
