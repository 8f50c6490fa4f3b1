//! The web app's assets, built into the binary so that `matchwell serve` needs no files beside
//! it and nothing is loaded from another host: Matchwell's own stylesheet and script, and the
//! vendored NHS.UK frontend (`web/static/nhsuk/VENDORED.md` gives its version and licence).

use actix_web::{HttpResponse, get, web};

use super::PageError;

macro_rules! asset {
    ($path:literal, $kind:literal) => {
        ($path, $kind, include_bytes!(concat!("../../../../web/static/", $path)).as_slice())
    };
}

/// Every asset: its path under `/static/`, its content type and its bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    asset!("matchwell.css", "text/css; charset=utf-8"),
    asset!("matchwell.mjs", "text/javascript; charset=utf-8"),
    asset!("nhsuk/nhsuk-frontend.min.css", "text/css; charset=utf-8"),
    asset!("nhsuk/nhsuk-frontend.min.js", "text/javascript; charset=utf-8"),
    asset!("nhsuk/images/nhsuk-icon-arrow-down.svg", "image/svg+xml"),
    asset!("nhsuk/images/nhsuk-icon-arrow-up-down.svg", "image/svg+xml"),
    asset!("nhsuk/images/nhsuk-icon-arrow-up.svg", "image/svg+xml"),
    asset!("nhsuk/images/nhsuk-icon-cross.svg", "image/svg+xml"),
];

#[get("/static/{path:.*}")]
pub async fn asset(path: web::Path<String>) -> Result<HttpResponse, PageError> {
    let (_, kind, bytes) = ASSETS.iter().find(|(known, _, _)| *known == path.as_str()).ok_or(PageError::NotFound)?;
    Ok(HttpResponse::Ok().content_type(*kind).insert_header(("Cache-Control", "public, max-age=3600")).body(*bytes))
}
