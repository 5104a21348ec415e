//! The `/api/0/` routes.

pub(crate) mod attachments;
mod embed;
mod events;
mod feedback;
mod issues;
mod orgs;
mod plugins;
mod releases;
mod rules;
mod teams;
mod uploads;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/0/", web::get().to(orgs::index))
        .route("/api/0/organizations/", web::get().to(orgs::list))
        .route("/api/0/organizations/", web::post().to(orgs::create))
        .route("/api/0/organizations/{org}/", web::get().to(orgs::detail))
        .route(
            "/api/0/organizations/{org}/projects/",
            web::get().to(orgs::projects),
        )
        .route(
            "/api/0/organizations/{org}/issues/",
            web::get().to(issues::org_list),
        )
        .route(
            "/api/0/organizations/{org}/issues/",
            web::put().to(issues::org_bulk_update),
        )
        .route(
            "/api/0/organizations/{org}/issues/{id}/",
            web::get().to(issues::org_detail),
        )
        .route(
            "/api/0/organizations/{org}/issues/{id}/",
            web::put().to(issues::org_update),
        )
        .route(
            "/api/0/teams/{org}/{team}/projects/",
            web::post().to(orgs::create_project),
        )
        .route(
            "/api/0/teams/{org}/{team}/projects/",
            web::get().to(orgs::team_projects),
        )
        .route(
            "/api/0/organizations/{org}/releases/",
            web::get().to(releases::org_list),
        )
        .route(
            "/api/0/organizations/{org}/releases/",
            web::post().to(releases::org_create),
        )
        .route(
            "/api/0/organizations/{org}/releases/{version}/",
            web::get().to(releases::detail),
        )
        .route(
            "/api/0/organizations/{org}/releases/{version}/",
            web::put().to(releases::update),
        )
        .route(
            "/api/0/organizations/{org}/releases/{version}/",
            web::delete().to(releases::delete),
        )
        .route(
            "/api/0/organizations/{org}/releases/{version}/deploys/",
            web::get().to(releases::deploys),
        )
        .route(
            "/api/0/organizations/{org}/releases/{version}/deploys/",
            web::post().to(releases::create_deploy),
        )
        .route(
            "/api/0/organizations/{org}/releases/{version}/commits/",
            web::get().to(releases::commits),
        )
        .route(
            "/api/0/organizations/{org}/releases/{version}/previous-with-commits/",
            web::get().to(releases::previous_with_commits),
        )
        .route(
            "/api/0/organizations/{org}/chunk-upload/",
            web::get().to(uploads::options),
        )
        .route(
            "/api/0/organizations/{org}/chunk-upload/",
            web::post().to(uploads::upload),
        )
        .route(
            "/api/0/organizations/{org}/artifactbundle/assemble/",
            web::post().to(uploads::assemble_bundle),
        )
        .route(
            "/api/0/organizations/{org}/repos/",
            web::get().to(releases::repos),
        )
        .route("/api/embed/error-page/", web::get().to(embed::dialog))
        .route("/api/embed/error-page/", web::post().to(embed::submit))
        .route(
            "/api/0/projects/{org}/{project}/user-feedback/",
            web::get().to(feedback::project_list),
        )
        .route(
            "/api/0/projects/{org}/{project}/releases/",
            web::get().to(releases::project_list),
        )
        .route(
            "/api/0/projects/{org}/{project}/releases/",
            web::post().to(releases::project_create),
        )
        .route(
            "/api/0/projects/{org}/{project}/releases/{version}/",
            web::get().to(releases::detail),
        )
        .route(
            "/api/0/projects/{org}/{project}/releases/{version}/",
            web::put().to(releases::update),
        )
        .route(
            "/api/0/projects/{org}/{project}/releases/{version}/",
            web::delete().to(releases::delete),
        )
        .route(
            "/api/0/organizations/{org}/members/",
            web::get().to(teams::members),
        )
        .route(
            "/api/0/organizations/{org}/members/{member}/teams/{team}/",
            web::post().to(teams::join),
        )
        .route(
            "/api/0/organizations/{org}/members/{member}/teams/{team}/",
            web::delete().to(teams::leave),
        )
        .route(
            "/api/0/teams/{org}/{team}/members/",
            web::get().to(teams::team_members),
        )
        .route(
            "/api/0/organizations/{org}/teams/",
            web::get().to(orgs::teams),
        )
        .route(
            "/api/0/organizations/{org}/teams/",
            web::post().to(orgs::create_team),
        )
        .route(
            "/api/0/projects/{org}/{project}/",
            web::get().to(orgs::project),
        )
        .route(
            "/api/0/projects/{org}/{project}/keys/{key_id}/",
            web::put().to(orgs::update_key),
        )
        .route(
            "/api/0/projects/{org}/{project}/keys/",
            web::get().to(orgs::keys),
        )
        .route(
            "/api/0/projects/{org}/{project}/keys/",
            web::post().to(orgs::create_key),
        )
        .route(
            "/api/0/projects/{org}/{project}/rules/",
            web::get().to(rules::list),
        )
        .route(
            "/api/0/projects/{org}/{project}/rules/",
            web::post().to(rules::create),
        )
        .route(
            "/api/0/projects/{org}/{project}/rules/{id}/",
            web::get().to(rules::detail),
        )
        .route(
            "/api/0/projects/{org}/{project}/rules/{id}/",
            web::put().to(rules::update),
        )
        .route(
            "/api/0/projects/{org}/{project}/rules/{id}/",
            web::delete().to(rules::delete),
        )
        .route(
            "/api/0/projects/{org}/{project}/rules/{id}/group-history/",
            web::get().to(rules::group_history),
        )
        .route(
            "/api/0/projects/{org}/{project}/plugins/",
            web::get().to(plugins::list),
        )
        .route(
            "/api/0/projects/{org}/{project}/plugins/{slug}/",
            web::get().to(plugins::detail),
        )
        .route(
            "/api/0/projects/{org}/{project}/plugins/{slug}/",
            web::put().to(plugins::configure),
        )
        .route(
            "/api/0/projects/{org}/{project}/plugins/{slug}/",
            web::post().to(plugins::post),
        )
        .route(
            "/api/0/projects/{org}/{project}/plugins/{slug}/",
            web::delete().to(plugins::disable),
        )
        .route(
            "/api/0/projects/{org}/{project}/issues/",
            web::get().to(issues::project_list),
        )
        .route(
            "/api/0/projects/{org}/{project}/issues/",
            web::put().to(issues::project_bulk_update),
        )
        .route(
            "/api/0/projects/{org}/{project}/events/{event_id}/",
            web::get().to(events::project_event),
        )
        .route(
            "/api/0/projects/{org}/{project}/events/{event_id}/attachments/",
            web::get().to(attachments::list),
        )
        .route(
            "/api/0/projects/{org}/{project}/events/{event_id}/attachments/{id}/",
            web::get().to(attachments::detail),
        )
        .route("/api/0/issues/{id}/", web::get().to(issues::detail))
        .route("/api/0/issues/{id}/", web::put().to(issues::update))
        .route(
            "/api/0/issues/{id}/events/",
            web::get().to(events::issue_events),
        )
        .route(
            "/api/0/issues/{id}/events/{which}/",
            web::get().to(events::issue_event),
        );
}
