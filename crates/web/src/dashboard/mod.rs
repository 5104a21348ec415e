//! The dashboard: server-rendered pages (askama templates, compiled and
//! type-checked, escaping by default) with a little progressive JavaScript,
//! all of it in one static file (see [`browser`]: no inline script).
//! Sessions are cookies naming a row in the metadata store; every form post
//! passes the CSRF check in [`csrf`]. Handlers return a [`PageError`]
//! (`error.rs`), which renders the page that answers it; the rules of what
//! they change are in `ops`.

mod alerts;
mod browser;
mod csrf;
mod error;
mod feedback;
mod manage;
mod members;
mod pages;
mod plugins;
mod projects;
mod releases;
mod session;
mod settings;
mod throttle;
mod views;

use actix_web::web;

pub use throttle::LoginThrottle;

/// A form field's value as sent (passwords must not be trimmed).
fn form_value<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A form field's value without surrounding whitespace (names, emails, ids).
fn form_field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form_value(form, name).map(str::trim)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(pages::home))
        .route(
            "/_static/{digest}/dashboard.js",
            web::get().to(browser::script),
        )
        .route("/auth/login/", web::get().to(session::login_form))
        .route("/auth/login/", web::post().to(session::login))
        .route("/auth/logout/", web::post().to(session::logout))
        .route("/auth/register/", web::get().to(session::register_form))
        .route("/auth/register/", web::post().to(session::register))
        .route(
            "/organizations/{org}/issues/",
            web::get().to(pages::issue_stream),
        )
        .route(
            "/organizations/{org}/issues/",
            web::post().to(pages::bulk_action),
        )
        .route(
            "/organizations/{org}/issues/{id}/",
            web::get().to(pages::issue_detail),
        )
        .route(
            "/organizations/{org}/issues/{id}/",
            web::post().to(pages::issue_action),
        )
        .route(
            "/organizations/{org}/alerts/rules/",
            web::get().to(alerts::list),
        )
        .route(
            "/organizations/{org}/alerts/rules/",
            web::post().to(alerts::update_list),
        )
        .route(
            "/organizations/{org}/alerts/rules/{project}/{id}/details/",
            web::get().to(alerts::detail),
        )
        .route(
            "/organizations/{org}/alerts/rules/{project}/{id}/details/",
            web::post().to(alerts::update),
        )
        .route(
            "/organizations/{org}/releases/",
            web::get().to(releases::list),
        )
        .route(
            "/organizations/{org}/feedback/",
            web::get().to(feedback::list),
        )
        .route(
            "/organizations/{org}/releases/{version}/",
            web::get().to(releases::detail),
        )
        .route("/manage/status/mail/", web::get().to(manage::mail))
        .route("/manage/status/mail/", web::post().to(manage::send_test))
        .route("/settings/account/", web::get().to(settings::account))
        .route(
            "/settings/account/",
            web::post().to(settings::update_account),
        )
        .route(
            "/settings/account/notifications/",
            web::get().to(settings::notifications),
        )
        .route(
            "/settings/account/notifications/",
            web::post().to(settings::update_notifications),
        )
        .route(
            "/settings/account/api/auth-tokens/",
            web::get().to(settings::tokens),
        )
        .route(
            "/settings/account/api/auth-tokens/",
            web::post().to(settings::update_tokens),
        )
        .route("/settings/{org}/teams/", web::get().to(projects::teams))
        .route(
            "/settings/{org}/teams/",
            web::post().to(projects::create_team),
        )
        .route("/settings/{org}/members/", web::get().to(members::list))
        .route("/settings/{org}/members/", web::post().to(members::update))
        .route(
            "/accept-invite/{token}/",
            web::get().to(members::accept_form),
        )
        .route("/accept-invite/{token}/", web::post().to(members::accept))
        .route(
            "/organizations/{org}/projects/",
            web::get().to(projects::list),
        )
        .route(
            "/organizations/{org}/projects/",
            web::post().to(projects::create),
        )
        .route(
            "/settings/{org}/projects/{project}/",
            web::get().to(projects::settings),
        )
        .route(
            "/settings/{org}/projects/{project}/plugins/",
            web::get().to(plugins::list),
        )
        .route(
            "/settings/{org}/projects/{project}/plugins/{slug}/",
            web::get().to(plugins::detail),
        )
        .route(
            "/settings/{org}/projects/{project}/plugins/{slug}/",
            web::post().to(plugins::update),
        )
        .route(
            "/settings/{org}/projects/{project}/",
            web::post().to(projects::update),
        )
        .route(
            "/organizations/{org}/issues/{id}/events/{event_id}/json/",
            web::get().to(pages::raw_event),
        )
        .route(
            "/organizations/{org}/issues/{id}/events/{event_id}/attachments/{attachment}/",
            web::get().to(pages::attachment),
        );
}
