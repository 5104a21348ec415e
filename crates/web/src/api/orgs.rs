//! Organizations, projects and project keys.

use actix_web::{HttpRequest, HttpResponse, web};
use faultline_storage::Project;
use serde::Deserialize;
use serde_json::Value;

use crate::WebState;
use crate::auth::{authenticate, member_of};
use crate::error::{ApiError, ApiResult};
use crate::names;
use crate::scopes::{self, Need};
use crate::serialize;
use crate::slug::slugify;

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
        "auth": caller.as_ref().map(|c| serde_json::json!({"scopes": c.token_scopes})),
        "user": caller.as_ref().map(|c| serialize::user(&c.user)),
    })))
}

pub async fn list(req: HttpRequest, state: web::Data<WebState>) -> ApiResult<HttpResponse> {
    let caller = authenticate(&req, state.meta.as_ref()).await?;
    if !scopes::satisfies(&caller.token_scopes, scopes::ORG_READ) {
        return Err(ApiError::Forbidden);
    }
    let orgs = state.meta.organizations_for_user(&caller.user).await?;
    Ok(HttpResponse::Ok().json(orgs.iter().map(serialize::organization).collect::<Vec<_>>()))
}

#[derive(Deserialize)]
pub struct NewOrganization {
    name: String,
    slug: Option<String>,
}

/// `POST /api/0/organizations/` with `{name, slug?}`. As in a self-hosted
/// Sentry with one organization by default, only superusers create more;
/// the creator becomes their owner.
pub async fn create(
    req: HttpRequest,
    body: web::Json<NewOrganization>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let caller = authenticate(&req, state.meta.as_ref()).await?;
    if !caller.user.is_superuser || !scopes::satisfies(&caller.token_scopes, scopes::ORG_WRITE) {
        return Err(ApiError::Forbidden);
    }
    let name = names::name("organization", &body.name)?;
    let slug = slugify(body.slug.as_deref().unwrap_or(name));
    if slug.is_empty() {
        return Err(ApiError::BadRequest(
            "the slug needs letters or digits".into(),
        ));
    }
    let org = state
        .meta
        .create_organization(&slug, name)
        .await
        .map_err(|e| match e {
            faultline_storage::StorageError::Conflict(_) => {
                ApiError::Conflict("An organization with this slug already exists.".into())
            }
            other => other.into(),
        })?;
    state
        .meta
        .add_member(org.id, caller.user.id, faultline_storage::Role::Owner)
        .await?;
    Ok(HttpResponse::Created().json(serialize::organization(&org)))
}

pub async fn detail(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (_, org) = member_of(&req, &state, &path, scopes::ORG_READ).await?;
    let mut body = serialize::organization(&org);
    body["projects"] = Value::Array(projects_json(&state, &org).await?);
    Ok(HttpResponse::Ok().json(body))
}

pub async fn projects(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (_, org) = member_of(&req, &state, &path, scopes::ORG_READ).await?;
    Ok(HttpResponse::Ok().json(projects_json(&state, &org).await?))
}

/// A project as Sentry returns it, with its teams (`team` is the first, as
/// older clients such as sentry-cli read it).
async fn project_json(
    state: &WebState,
    project: &Project,
    org: &faultline_storage::Organization,
) -> ApiResult<Value> {
    let teams = state.meta.project_teams(project.id).await?;
    let mut json = serialize::project(project, org);
    json["team"] = teams.first().map(serialize::team).unwrap_or(Value::Null);
    json["teams"] = teams.iter().map(serialize::team).collect();
    Ok(json)
}

async fn projects_json(
    state: &WebState,
    org: &faultline_storage::Organization,
) -> ApiResult<Vec<Value>> {
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
    need: Need,
) -> ApiResult<(faultline_storage::Organization, Project)> {
    let (_, org) = member_of(req, state, org_slug, need).await?;
    let project = state
        .meta
        .project_by_slug(org.id, project_slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((org, project))
}

pub async fn project(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (org, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::PROJECT_READ).await?;
    Ok(HttpResponse::Ok().json(project_json(&state, &project, &org).await?))
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
    let (_, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::PROJECT_WRITE).await?;
    let given = body.and_then(|b| b.into_inner().name);
    let name = match given.as_deref().map(str::trim) {
        None | Some("") => "Default",
        Some(name) => names::name("key", name)?,
    };
    let key = state.meta.create_key(project.id, name).await?;
    Ok(HttpResponse::Created().json(serialize::key(&state.url_prefix, &key)))
}

#[derive(Deserialize)]
pub struct NewProject {
    name: String,
    slug: Option<String>,
    platform: Option<String>,
}

/// `POST /api/0/teams/{org}/{team}/projects/`, Sentry's way to create a
/// project. Teams are not modelled yet, so the team segment is not checked;
/// like Sentry, a new project gets a default key.
pub async fn create_project(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<NewProject>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (_, org) = member_of(&req, &state, &path.0, scopes::PROJECT_WRITE).await?;
    let team = state
        .meta
        .team_by_slug(org.id, &path.1)
        .await?
        .ok_or(ApiError::NotFound)?;
    let name = names::name("project", &body.name)?;
    let platform = names::platform(body.platform.as_deref().unwrap_or(""))?;
    let slug = slugify(body.slug.as_deref().unwrap_or(name));
    if slug.is_empty() {
        return Err(ApiError::BadRequest(
            "the slug needs letters or digits".into(),
        ));
    }
    let project = state
        .meta
        .create_project(org.id, &slug, name, platform)
        .await
        .map_err(|e| match e {
            faultline_storage::StorageError::Conflict(_) => {
                ApiError::Conflict(format!("a project with slug {slug} already exists"))
            }
            other => other.into(),
        })?;
    state.meta.create_key(project.id, "Default").await?;
    state.meta.add_project_to_team(team.id, project.id).await?;
    let mut body = serialize::project(&project, &org);
    body["team"] = serialize::team(&team);
    body["teams"] = serde_json::json!([serialize::team(&team)]);
    Ok(HttpResponse::Created().json(body))
}

/// `GET /api/0/organizations/{org}/teams/`
pub async fn teams(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (_, org) = member_of(&req, &state, &path, scopes::ORG_READ).await?;
    let mut body = Vec::new();
    for team in state.meta.teams(org.id).await? {
        let mut json = serialize::team(&team);
        let projects = state.meta.team_projects(team.id).await?;
        json["projects"] = projects
            .iter()
            .map(|p| serialize::project(p, &org))
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
    let (_, org) = member_of(&req, &state, &path, scopes::TEAM_CREATE).await?;
    let name = body
        .name
        .as_deref()
        .or(body.slug.as_deref())
        .unwrap_or("")
        .trim();
    let slug = slugify(body.slug.as_deref().unwrap_or(name));
    if slug.is_empty() || name.chars().count() > names::MAX_NAME_CHARS {
        return Err(ApiError::BadRequest(
            "a team needs a name or slug of 1 to 64 characters".into(),
        ));
    }
    let team = state
        .meta
        .create_team(org.id, &slug, name)
        .await
        .map_err(|e| match e {
            faultline_storage::StorageError::Conflict(_) => {
                ApiError::Conflict(format!("a team with slug {slug} already exists"))
            }
            other => other.into(),
        })?;
    Ok(HttpResponse::Created().json(serialize::team(&team)))
}

/// `GET /api/0/teams/{org}/{team}/projects/`
pub async fn team_projects(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (_, org) = member_of(&req, &state, &path.0, scopes::PROJECT_READ).await?;
    let team = state
        .meta
        .team_by_slug(org.id, &path.1)
        .await?
        .ok_or(ApiError::NotFound)?;
    let projects = state.meta.team_projects(team.id).await?;
    Ok(HttpResponse::Ok().json(
        projects
            .iter()
            .map(|p| serialize::project(p, &org))
            .collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyChange {
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
    body: web::Json<KeyChange>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (_, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::PROJECT_WRITE).await?;
    let key = state
        .meta
        .keys(project.id)
        .await?
        .into_iter()
        .find(|k| k.public_key == path.2)
        .ok_or(ApiError::NotFound)?;
    let rate_limit = match &body.rate_limit {
        None => None,
        Some(None) => Some(None),
        Some(Some(limit)) if limit.count > 0 && limit.window > 0 && limit.window <= 86_400 => {
            Some(Some((limit.count, limit.window)))
        }
        Some(Some(_)) => {
            return Err(ApiError::BadRequest(
                "rateLimit needs a positive count and a window of 1 to 86400 seconds".into(),
            ));
        }
    };
    // A rename is held to the same rule as a new key; empty leaves it.
    let label = match body.name.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) => Some(names::name("key", name)?.to_owned()),
    };
    let update = faultline_storage::KeyUpdate {
        label,
        is_active: body.is_active,
        rate_limit,
    };
    let key = state.update_key(key.id, &update).await?;
    Ok(HttpResponse::Ok().json(serialize::key(&state.url_prefix, &key)))
}
