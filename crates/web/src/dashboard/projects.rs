//! Projects: the list, creating one (with its first key), and each
//! project's settings: name, platform, DSNs with set-up snippets, and keys
//! (create, disable, rate-limit).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use faultline_storage::{KeyUpdate, StorageError};

use super::form_field;
use super::pages::{Access, Ctx, context, form_context, not_found, server_error};
use super::session::redirect;
use super::views::{
    KeyRow, MessagePage, ProjectSettingsPage, ProjectsPage, TeamRow, TeamsPage, project_row,
    render, render_status,
};
use crate::WebState;
use crate::names::{self, NameError, PLATFORMS};
use crate::serialize::dsn;
use crate::slug::slugify;

/// The form's platform: none when none was chosen, an error naming the
/// known ones for any other value (a forged form), as the API answers.
fn platform(form: &[(String, String)]) -> Result<Option<&'static str>, NameError> {
    names::platform(form_field(form, "platform").unwrap_or(""))
}

/// The 400 page for a settings form refused as a whole.
fn refused(error: NameError) -> HttpResponse {
    render_status(
        StatusCode::BAD_REQUEST,
        &MessagePage {
            title: "Nothing was changed".into(),
            lines: vec![format!("{error}."), "Go back and try again.".into()],
        },
    )
}

async fn projects_page(state: &WebState, ctx: Ctx, error: Option<String>) -> HttpResponse {
    let teams = match state.meta.teams(ctx.org.id).await {
        Ok(teams) => teams.into_iter().map(|t| t.slug).collect(),
        Err(e) => return server_error(e),
    };
    match state.meta.projects(ctx.org.id).await {
        Ok(projects) => {
            let page = ProjectsPage {
                teams,
                projects: projects.iter().map(project_row).collect(),
                platforms: PLATFORMS.to_vec(),
                can_admin: ctx.can_admin(),
                error: error.clone(),
                nav: ctx.nav,
            };
            match error {
                Some(_) => render_status(StatusCode::BAD_REQUEST, &page),
                None => render(&page),
            }
        }
        Err(e) => server_error(e),
    }
}

pub async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> HttpResponse {
    match context(&req, &state, &path).await {
        Ok(ctx) => projects_page(&state, ctx, None).await,
        Err(response) => response,
    }
}

pub async fn create(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> HttpResponse {
    let ctx = match form_context(&req, &state, &path, &form, Access::Admin).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let name = form_field(&form, "name").unwrap_or("");
    let slug = slugify(name);
    if names::name("project", name).is_err() || slug.is_empty() {
        return projects_page(
            &state,
            ctx,
            Some("A project needs a name of 1 to 64 characters with letters or digits.".into()),
        )
        .await;
    }
    let platform = match platform(&form) {
        Ok(platform) => platform,
        Err(e) => return projects_page(&state, ctx, Some(format!("{e}."))).await,
    };
    let team = match form_field(&form, "team") {
        Some(slug) => match state.meta.team_by_slug(ctx.org.id, slug).await {
            Ok(Some(team)) => Some(team),
            Ok(None) => return not_found(),
            Err(e) => return server_error(e),
        },
        None => None,
    };
    let project = match state
        .meta
        .create_project(ctx.org.id, &slug, name, platform)
        .await
    {
        Ok(project) => project,
        Err(StorageError::Conflict(_)) => {
            return projects_page(
                &state,
                ctx,
                Some(format!("A project with the slug {slug} already exists.")),
            )
            .await;
        }
        Err(e) => return server_error(e),
    };
    if let Err(e) = state.meta.create_key(project.id, "Default").await {
        return server_error(e);
    }
    if let Some(team) = team
        && let Err(e) = state.meta.add_project_to_team(team.id, project.id).await
    {
        return server_error(e);
    }
    redirect(&format!(
        "/settings/{}/projects/{}/",
        ctx.org.slug, project.slug
    ))
}

pub async fn settings(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> HttpResponse {
    let ctx = match context(&req, &state, &path.0).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let project = match state.meta.project_by_slug(ctx.org.id, &path.1).await {
        Ok(Some(project)) => project,
        Ok(None) => return not_found(),
        Err(e) => return server_error(e),
    };
    let keys = match state.meta.keys(project.id).await {
        Ok(keys) => keys,
        Err(e) => return server_error(e),
    };
    render(&ProjectSettingsPage {
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
    })
}

pub async fn update(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> HttpResponse {
    let ctx = match form_context(&req, &state, &path.0, &form, Access::Admin).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let project = match state.meta.project_by_slug(ctx.org.id, &path.1).await {
        Ok(Some(project)) => project,
        Ok(None) => return not_found(),
        Err(e) => return server_error(e),
    };
    let key = match form_field(&form, "key") {
        Some(public) => match state.meta.keys(project.id).await {
            Ok(keys) => keys.into_iter().find(|k| k.public_key == public),
            Err(e) => return server_error(e),
        },
        None => None,
    };
    let number = |name: &str| form_field(&form, name).and_then(|v| v.parse::<i64>().ok());
    let result = match (form_field(&form, "action"), key) {
        (Some("update"), _) => {
            let checked = names::name("project", form_field(&form, "name").unwrap_or(""))
                .and_then(|name| Ok((name, platform(&form)?)));
            match checked {
                Ok((name, platform)) => state.meta.update_project(project.id, name, platform).await,
                Err(e) => return refused(e),
            }
        }
        (Some("create_key"), _) => {
            // The name is optional, as in the API.
            let name = match form_field(&form, "name").unwrap_or("") {
                "" => Ok("Default"),
                given => names::name("key", given),
            };
            match name {
                Ok(name) => state.meta.create_key(project.id, name).await.map(|_| ()),
                Err(e) => return refused(e),
            }
        }
        (Some(action @ ("disable_key" | "enable_key")), Some(key)) => {
            let update = KeyUpdate {
                is_active: Some(action == "enable_key"),
                ..KeyUpdate::default()
            };
            state.update_key(key.id, &update).await.map(|_| ())
        }
        (Some("rate_limit"), Some(key)) => match (number("count"), number("window")) {
            (Some(count), Some(window)) if count > 0 && (1..=86_400).contains(&window) => {
                let update = KeyUpdate {
                    rate_limit: Some(Some((count, window))),
                    ..KeyUpdate::default()
                };
                state.update_key(key.id, &update).await.map(|_| ())
            }
            _ => Ok(()),
        },
        (Some("clear_rate_limit"), Some(key)) => {
            let update = KeyUpdate {
                rate_limit: Some(None),
                ..KeyUpdate::default()
            };
            state.update_key(key.id, &update).await.map(|_| ())
        }
        _ => Ok(()),
    };
    if let Err(e) = result {
        return server_error(e);
    }
    redirect(&format!(
        "/settings/{}/projects/{}/",
        ctx.org.slug, project.slug
    ))
}

pub async fn teams(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> HttpResponse {
    match context(&req, &state, &path).await {
        Ok(ctx) => teams_page(&state, ctx, None).await,
        Err(response) => response,
    }
}

async fn teams_page(state: &WebState, ctx: Ctx, error: Option<String>) -> HttpResponse {
    let teams = match state.meta.teams(ctx.org.id).await {
        Ok(teams) => teams,
        Err(e) => return server_error(e),
    };
    let mut rows = Vec::with_capacity(teams.len());
    for team in teams {
        match state.meta.team_projects(team.id).await {
            Ok(projects) => rows.push(TeamRow {
                slug: team.slug,
                name: team.name,
                projects: projects.into_iter().map(|p| p.slug).collect(),
            }),
            Err(e) => return server_error(e),
        }
    }
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render_status(
        status,
        &TeamsPage {
            teams: rows,
            can_admin: ctx.can_admin(),
            error,
            nav: ctx.nav,
        },
    )
}

pub async fn create_team(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> HttpResponse {
    let ctx = match form_context(&req, &state, &path, &form, Access::Admin).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let name = form_field(&form, "name").unwrap_or("");
    let slug = slugify(name);
    if slug.is_empty() || names::name("team", name).is_err() {
        return teams_page(
            &state,
            ctx,
            Some("A team needs a name of 1 to 64 characters with letters or digits.".into()),
        )
        .await;
    }
    match state.meta.create_team(ctx.org.id, &slug, name).await {
        Ok(_) => redirect(&format!("/settings/{}/teams/", ctx.org.slug)),
        Err(StorageError::Conflict(_)) => {
            teams_page(
                &state,
                ctx,
                Some(format!("A team with the slug {slug} already exists.")),
            )
            .await
        }
        Err(e) => server_error(e),
    }
}
