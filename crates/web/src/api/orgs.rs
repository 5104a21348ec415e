//! Organizations, teams, projects and project keys.

use actix_web::{HttpRequest, HttpResponse, web};
use faultline_storage::{Organization, Project};
use serde::Deserialize;
use serde_json::Value;

use crate::WebState;
use crate::auth::{authenticate, member_of};
use crate::error::{ApiError, ApiResult};
use crate::ops::{self, keys::KeyChange, projects::NewProject};
use crate::scopes;
use crate::serialize;

pub async fn index(req: HttpRequest, state: web::Data<WebState>) -> ApiResult<HttpResponse> {
    let caller = match authenticate(&req, state.meta.as_ref()).await {
        Ok(caller) => Some(caller),
        Err(ApiError::Unauthenticated) => None,
        Err(e) => return Err(e),
    };
    // The token's own scopes, as Sentry reports them (what a request may
    // use is further capped by the user's role in each organization).
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "version": "0",
        "auth": caller.as_ref().map(|c| serde_json::json!({"scopes": c.token_scopes()})),
        "user": caller.as_ref().map(|c| serialize::user(&c.user)),
    })))
}

pub async fn list(req: HttpRequest, state: web::Data<WebState>) -> ApiResult<HttpResponse> {
    let caller = authenticate(&req, state.meta.as_ref()).await?;
    let orgs = ops::organizations::list(state.meta.as_ref(), &caller).await?;
    Ok(HttpResponse::Ok().json(orgs.iter().map(serialize::organization).collect::<Vec<_>>()))
}

#[derive(Deserialize)]
pub struct NewOrganization {
    name: String,
    slug: Option<String>,
}

/// `POST /api/0/organizations/` with `{name, slug?}`.
pub async fn create(
    req: HttpRequest,
    body: web::Json<NewOrganization>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let caller = authenticate(&req, state.meta.as_ref()).await?;
    let org = ops::organizations::create(
        state.meta.as_ref(),
        &caller,
        &body.name,
        body.slug.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Created().json(serialize::organization(&org)))
}

pub async fn detail(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let member = member_of(&req, &state, &path, scopes::ORG_READ).await?;
    let mut body = serialize::organization(&member.org);
    body["projects"] = Value::Array(projects_json(&state, &member.org).await?);
    Ok(HttpResponse::Ok().json(body))
}

pub async fn projects(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let member = member_of(&req, &state, &path, scopes::ORG_READ).await?;
    Ok(HttpResponse::Ok().json(projects_json(&state, &member.org).await?))
}

/// A project as Sentry returns it, with its teams (`team` is the first, as
/// older clients such as sentry-cli read it).
async fn project_json(state: &WebState, project: &Project, org: &Organization) -> ApiResult<Value> {
    let teams = state.meta.project_teams(project.id).await?;
    let mut json = serialize::project(project, org);
    json["team"] = teams.first().map(serialize::team).unwrap_or(Value::Null);
    json["teams"] = teams.iter().map(serialize::team).collect();
    Ok(json)
}

async fn projects_json(state: &WebState, org: &Organization) -> ApiResult<Vec<Value>> {
    let mut out = Vec::new();
    for project in state.meta.projects(org.id).await? {
        out.push(project_json(state, &project, org).await?);
    }
    Ok(out)
}

/// Resolves `{org}/{project}` for the authenticated caller, if their
/// token (capped by their role) allows `need`.
pub async fn resolve_project(
    req: &HttpRequest,
    state: &WebState,
    org_slug: &str,
    project_slug: &str,
    need: scopes::Need,
) -> ApiResult<(ops::Member, Project)> {
    let caller = authenticate(req, state.meta.as_ref()).await?;
    Ok(caller
        .project(state.meta.as_ref(), org_slug, project_slug, need)
        .await?)
}

pub async fn project(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::PROJECT_READ).await?;
    Ok(HttpResponse::Ok().json(project_json(&state, &project, &member.org).await?))
}

pub async fn keys(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (_, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::PROJECT_READ).await?;
    let keys = state.meta.keys(project.id).await?;
    Ok(HttpResponse::Ok().json(
        keys.iter()
            .map(|k| serialize::key(&state.url_prefix, k))
            .collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize, Default)]
pub struct NewKey {
    name: Option<String>,
}

pub async fn create_key(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: Option<web::Json<NewKey>>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::PROJECT_WRITE).await?;
    let name = body.and_then(|b| b.into_inner().name);
    let key = ops::keys::create(state.meta.as_ref(), &member, &project, name.as_deref()).await?;
    Ok(HttpResponse::Created().json(serialize::key(&state.url_prefix, &key)))
}

#[derive(Deserialize)]
pub struct NewProjectBody {
    name: String,
    slug: Option<String>,
    platform: Option<String>,
}

/// `POST /api/0/teams/{org}/{team}/projects/`, Sentry's way to create a
/// project in a team; like Sentry, a new project gets a default key.
pub async fn create_project(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<NewProjectBody>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let member = member_of(&req, &state, &path.0, scopes::PROJECT_WRITE).await?;
    let new = NewProject {
        name: &body.name,
        slug: body.slug.as_deref(),
        platform: body.platform.as_deref(),
        team: Some(&path.1),
    };
    let (project, team) =
        ops::projects::create(state.meta.as_ref(), state.alerts.as_ref(), &member, &new).await?;
    let mut body = serialize::project(&project, &member.org);
    let teams: Vec<Value> = team.iter().map(serialize::team).collect();
    body["team"] = teams.first().cloned().unwrap_or(Value::Null);
    body["teams"] = Value::Array(teams);
    Ok(HttpResponse::Created().json(body))
}

/// `GET /api/0/organizations/{org}/teams/`
pub async fn teams(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let member = member_of(&req, &state, &path, scopes::ORG_READ).await?;
    let mut body = Vec::new();
    for team in state.meta.teams(member.org.id).await? {
        let mut json = serialize::team(&team);
        let projects = state.meta.team_projects(team.id).await?;
        json["projects"] = projects
            .iter()
            .map(|p| serialize::project(p, &member.org))
            .collect();
        body.push(json);
    }
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Deserialize)]
pub struct NewTeam {
    name: Option<String>,
    slug: Option<String>,
}

/// `POST /api/0/organizations/{org}/teams/` with `{name}` or `{slug}`.
pub async fn create_team(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<NewTeam>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let member = member_of(&req, &state, &path, scopes::TEAM_CREATE).await?;
    let team = ops::teams::create(
        state.meta.as_ref(),
        &member,
        body.name.as_deref(),
        body.slug.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Created().json(serialize::team(&team)))
}

/// `GET /api/0/teams/{org}/{team}/projects/`
pub async fn team_projects(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let member = member_of(&req, &state, &path.0, scopes::PROJECT_READ).await?;
    let team = state
        .meta
        .team_by_slug(member.org.id, &path.1)
        .await?
        .ok_or(ApiError::NotFound)?;
    let projects = state.meta.team_projects(team.id).await?;
    Ok(HttpResponse::Ok().json(
        projects
            .iter()
            .map(|p| serialize::project(p, &member.org))
            .collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyChangeBody {
    name: Option<String>,
    is_active: Option<bool>,
    /// Absent: unchanged; `null`: no limit; `{count, window}`: a limit.
    #[serde(default, deserialize_with = "present")]
    rate_limit: Option<Option<RateLimit>>,
}

#[derive(Deserialize)]
pub struct RateLimit {
    count: i64,
    window: i64,
}

/// Tells an explicit `null` apart from a missing field.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<RateLimit>>, D::Error> {
    Option::<RateLimit>::deserialize(d).map(Some)
}

/// `PUT /api/0/projects/{org}/{project}/keys/{key_id}/`: rename, disable or
/// rate-limit a key. Sentry identifies keys by their public part.
pub async fn update_key(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: web::Json<KeyChangeBody>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::PROJECT_WRITE).await?;
    let change = KeyChange {
        name: body.name.as_deref(),
        is_active: body.is_active,
        rate_limit: body
            .rate_limit
            .as_ref()
            .map(|limit| limit.as_ref().map(|l| (l.count, l.window))),
    };
    let key = ops::keys::update(
        state.meta.as_ref(),
        state.cache.as_ref(),
        &member,
        &project,
        &path.2,
        change,
    )
    .await?;
    Ok(HttpResponse::Ok().json(serialize::key(&state.url_prefix, &key)))
}
