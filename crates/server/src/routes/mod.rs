//! The HTTP routes, one module per resource.

pub(crate) mod accounts;
pub(crate) mod admin;
mod catalogue;
pub(crate) mod challenges;
mod health;
pub(crate) mod matches;
pub(crate) mod me;
pub(crate) mod model;
mod openapi;
pub(crate) mod search;
pub(crate) mod stories;

use actix_web::web;

/// Registers every route.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(health::healthz)
        .service(crate::metrics::prometheus)
        .service(openapi::docs())
        .configure(crate::pages::configure)
        .service(
            web::scope("/api/v1")
                .service(accounts::register)
                .service(accounts::verify)
                .service(accounts::login)
                .service(accounts::password_reset)
                .service(accounts::password_reset_confirm)
                .service(accounts::resend_verification)
                .service(accounts::change_password)
                .service(catalogue::taxonomy)
                .service(catalogue::questionnaire)
                .service(me::get_me)
                .service(me::export)
                .service(me::delete_me)
                .service(me::update_profile)
                .service(me::get_answers)
                .service(me::save_answers)
                .service(me::get_digest)
                .service(me::put_digest)
                .service(matches::list)
                .service(matches::get)
                .service(matches::reveal)
                .service(matches::decline)
                .service(matches::outcome)
                .service(stories::get_story)
                .service(stories::post_story)
                .service(stories::approve_story)
                .service(stories::withdraw_story)
                .service(stories::list)
                .service(stories::admin_list)
                .service(stories::hide)
                .service(model::get_model)
                .service(model::learn)
                .service(challenges::list)
                .service(challenges::create)
                .service(challenges::get)
                .service(challenges::edit)
                .service(challenges::respond)
                .service(challenges::list_responses)
                .service(challenges::act)
                .service(challenges::list_questions)
                .service(challenges::ask)
                .service(challenges::answer)
                .service(admin::metrics)
                .service(admin::metrics_csv)
                .service(challenges::feature)
                .service(challenges::hide)
                .service(search::search)
                .service(search::ask),
        );
}

/// The client's address, for rate limits.
pub(crate) fn client(request: &actix_web::HttpRequest, state: &crate::state::AppState) -> String {
    crate::client::address(request, &state.settings.trusted_proxies)
}
