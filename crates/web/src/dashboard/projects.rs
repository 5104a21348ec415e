//! Projects: the list, creating one (with its first key), and each
//! project's settings: name, platform, DSNs with set-up snippets, and keys
//! (create, disable, rate-limit); and teams.

use actix_web::{HttpRequest, web};

use super::error::{PageResult, ShowRefusal, form_status};
use super::form_field;
use super::pages::{Ctx, context, form_context};
use super::session::redirect;
use super::views::{
    KeyRow, ProjectSettingsPage, ProjectsPage, TeamRow, TeamsPage, project_row, render,
    render_status,
};
use crate::WebState;
use crate::names::PLATFORMS;
use crate::ops::{self, keys::KeyChange, projects::NewProject};
use crate::scopes;
use crate::serialize::dsn;

async fn projects_page(state: &WebState, ctx: Ctx, error: Option<String>) -> PageResult {
    let teams = state.meta.teams(ctx.member.org.id).await?;
    let projects = state.meta.projects(ctx.member.org.id).await?;
    let page = ProjectsPage {
        teams: teams.into_iter().map(|t| t.slug).collect(),
        projects: projects.iter().map(project_row).collect(),
        platforms: PLATFORMS.to_vec(),
        can_admin: ctx.can_admin(),
        error: error.clone(),
        nav: ctx.nav,
    };
    Ok(render_status(form_status(&error), &page))
}

pub async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = context(&req, &state, &path).await?;
    projects_page(&state, ctx, None).await
}

pub async fn create(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = form_context(&req, &state, &path, &form).await?;
    let new = NewProject {
        name: form_field(&form, "name").unwrap_or(""),
        slug: None,
        platform: form_field(&form, "platform"),
        team: form_field(&form, "team"),
    };
    match ops::projects::create(
        state.meta.as_ref(),
        state.alerts.as_ref(),
        &ctx.member,
        &new,
    )
    .await
    .or_show()?
    {
        Ok((project, _)) => Ok(redirect(&format!(
            "/settings/{}/projects/{}/",
            ctx.member.org.slug, project.slug
        ))),
        Err(refusal) => projects_page(&state, ctx, Some(refusal)).await,
    }
}

pub async fn settings(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = context(&req, &state, &path.0).await?;
    let project = ctx
        .member
        .project(state.meta.as_ref(), &path.1, scopes::PROJECT_READ)
        .await?;
    let keys = state.meta.keys(project.id).await?;
    Ok(render(&ProjectSettingsPage {
        project: project_row(&project),
        keys: keys
            .iter()
            .map(|k| KeyRow {
                label: k.label.clone(),
                public_key: k.public_key.clone(),
                dsn: dsn(&state.url_prefix, k, false),
                active: k.is_active,
                rate_limit: match (k.rate_limit_count, k.rate_limit_window) {
                    (Some(count), Some(window)) => Some(format!("{count} events / {window} s")),
                    _ => None,
                },
            })
            .collect(),
        platforms: PLATFORMS.to_vec(),
        can_admin: ctx.can_admin(),
        nav: ctx.nav,
    }))
}

/// A number from the rate-limit form; anything else is no limit at all,
/// which the rule then refuses.
fn number(form: &[(String, String)], name: &str) -> i64 {
    form_field(form, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The settings forms: each is refused as a whole (a 400 page saying why)
/// or applied, then back to the settings.
pub async fn update(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = form_context(&req, &state, &path.0, &form).await?;
    let (meta, member) = (state.meta.as_ref(), &ctx.member);
    // Members get the stranger's 404 before any field is read.
    let project = member.project(meta, &path.1, scopes::PROJECT_WRITE).await?;
    let key = form_field(&form, "key").unwrap_or("");
    let change = |change: KeyChange<'static>| {
        ops::keys::update(meta, state.cache.as_ref(), member, &project, key, change)
    };
    match form_field(&form, "action") {
        Some("update") => {
            let name = form_field(&form, "name").unwrap_or("");
            let platform = form_field(&form, "platform").unwrap_or("");
            ops::projects::update(meta, member, &project, name, platform).await?;
        }
        Some("create_key") => {
            ops::keys::create(meta, member, &project, form_field(&form, "name")).await?;
        }
        Some(action @ ("disable_key" | "enable_key")) => {
            change(KeyChange {
                is_active: Some(action == "enable_key"),
                ..KeyChange::default()
            })
            .await?;
        }
        Some("rate_limit") => {
            let limit = (number(&form, "count"), number(&form, "window"));
            change(KeyChange {
                rate_limit: Some(Some(limit)),
                ..KeyChange::default()
            })
            .await?;
        }
        Some("clear_rate_limit") => {
            change(KeyChange {
                rate_limit: Some(None),
                ..KeyChange::default()
            })
            .await?;
        }
        _ => {}
    }
    Ok(redirect(&format!(
        "/settings/{}/projects/{}/",
        member.org.slug, project.slug
    )))
}

pub async fn teams(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = context(&req, &state, &path).await?;
    teams_page(&state, ctx, None).await
}

async fn teams_page(state: &WebState, ctx: Ctx, error: Option<String>) -> PageResult {
    let teams = state.meta.teams(ctx.member.org.id).await?;
    let mut rows = Vec::with_capacity(teams.len());
    for team in &teams {
        let projects = state.meta.team_projects(team.id).await?;
        let members = ops::teams::members(state.meta.as_ref(), &ctx.member, team).await?;
        rows.push(TeamRow {
            slug: team.slug.clone(),
            name: team.name.clone(),
            projects: projects.into_iter().map(|p| p.slug).collect(),
            members: members.into_iter().map(|u| (u.id.0, u.email)).collect(),
        });
    }
    let mut org_members: Vec<(i64, String)> = state
        .meta
        .members(ctx.member.org.id)
        .await?
        .into_iter()
        .map(|(u, _)| (u.id.0, u.email))
        .collect();
    org_members.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(render_status(
        form_status(&error),
        &TeamsPage {
            teams: rows,
            org_members,
            can_admin: ctx.can_admin(),
            error,
            nav: ctx.nav,
        },
    ))
}

pub async fn create_team(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = form_context(&req, &state, &path, &form).await?;
    // Putting a member on a team, or taking them off.
    if let Some(action @ ("add_member" | "remove_member")) = form_field(&form, "action") {
        let meta = state.meta.as_ref();
        let team =
            ops::teams::find(meta, &ctx.member, form_field(&form, "team").unwrap_or("")).await?;
        let user = form_field(&form, "user").unwrap_or("");
        let on = action == "add_member";
        return match ops::teams::set_membership(meta, &ctx.member, &team, user, on)
            .await
            .or_show()?
        {
            Ok(_) => Ok(redirect(&format!(
                "/settings/{}/teams/",
                ctx.member.org.slug
            ))),
            Err(refusal) => teams_page(&state, ctx, Some(refusal)).await,
        };
    }
    let name = form_field(&form, "name");
    match ops::teams::create(state.meta.as_ref(), &ctx.member, name, None)
        .await
        .or_show()?
    {
        Ok(_) => Ok(redirect(&format!(
            "/settings/{}/teams/",
            ctx.member.org.slug
        ))),
        Err(refusal) => teams_page(&state, ctx, Some(refusal)).await,
    }
}
