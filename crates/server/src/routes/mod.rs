//! The HTTP routes, one module per resource.

mod accounts;
mod catalogue;
mod health;
mod matches;
mod me;
mod pages;

use actix_web::web;

/// Registers every route.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(health::healthz)
        .service(pages::home)
        .service(pages::stylesheet)
        .service(pages::verify_page)
        .service(pages::verify_submit)
        .service(
            web::scope("/api/v1")
                .service(accounts::register)
                .service(accounts::verify)
                .service(accounts::login)
                .service(catalogue::taxonomy)
                .service(catalogue::questionnaire)
                .service(me::get_me)
                .service(me::update_profile)
                .service(me::get_answers)
                .service(me::save_answers)
                .service(matches::list)
                .service(matches::get)
                .service(matches::reveal)
                .service(matches::decline)
                .service(matches::outcome),
        );
}

/// The client's address, for rate limits.
pub(crate) fn client(request: &actix_web::HttpRequest) -> String {
    request.peer_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".to_owned())
}
