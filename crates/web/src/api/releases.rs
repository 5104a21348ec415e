//! Releases and deploys through the endpoints sentry-cli calls, in
//! Sentry's shapes: `GET|POST /api/0/organizations/{org}/releases/`,
//! `GET|PUT|DELETE …/releases/{version}/` (the version percent-decoded),
//! `GET|POST …/releases/{version}/deploys/`, `…/commits/`,
//! `…/previous-with-commits/`, the project-scoped
//! `/api/0/projects/{org}/{project}/releases/[{version}/]`, and
//! `GET /api/0/organizations/{org}/repos/` (no repository integrations:
//! sentry-cli then sends the commits of the local git tree).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use faultline_storage::{Deploy, Project, Release};
use serde_json::{Value, json};

use super::orgs::resolve_project;
use crate::WebState;
use crate::auth::member_of;
use crate::error::{ApiError, ApiResult};
use crate::ops::{self, Member};
use crate::scopes;
use crate::serialize::iso;

/// Most releases one list answers.
const LIST_LIMIT: usize = 100;

/// The version as sent: actix leaves `%2F`, `%25` and `%2B` encoded in
/// path segments, so the segment is decoded once more.
fn version(raw: &str) -> String {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned()
}

fn deploy_json(deploy: &Deploy) -> Value {
    json!({
        "id": deploy.id.to_string(),
        "environment": deploy.environment,
        "name": deploy.name,
        "url": deploy.url,
        "dateStarted": deploy.date_started.map(iso),
        "dateFinished": iso(deploy.date_finished),
    })
}

/// Sentry's release serializer.
async fn release_json(state: &WebState, member: &Member, release: &Release) -> ApiResult<Value> {
    let org_projects = state.meta.projects(member.org.id).await?;
    release_json_in(state, &org_projects, release).await
}

/// [`release_json`] with the organization's projects already read (a list
/// reads them once).
async fn release_json_in(
    state: &WebState,
    org_projects: &[Project],
    release: &Release,
) -> ApiResult<Value> {
    let meta = state.meta.as_ref();
    let projects: Vec<&Project> = org_projects
        .iter()
        .filter(|p| release.projects.contains(&p.id))
        .collect();
    let mut project_json = Vec::with_capacity(projects.len());
    for project in &projects {
        let (new_groups, _, _) = meta
            .release_issue_stats(&[project.id], &release.version)
            .await?;
        project_json.push(json!({
            "id": project.id.0,
            "slug": project.slug,
            "name": project.name,
            "newGroups": new_groups,
            "platform": project.platform,
            "platforms": project.platform.iter().collect::<Vec<_>>(),
            "hasHealthData": false,
        }));
    }
    let (new_groups, first_event, last_event) = meta
        .release_issue_stats(&release.projects, &release.version)
        .await?;
    let deploys = meta.deploys(release.id).await?;
    let commits = meta.release_commits(release.id).await?;
    let (package, raw) = release
        .version
        .split_once('@')
        .map_or((None, release.version.as_str()), |(p, v)| (Some(p), v));
    Ok(json!({
        "id": release.id,
        "version": release.version,
        "shortVersion": release.version,
        "versionInfo": {
            "package": package,
            "version": {"raw": raw},
            "description": release.version,
            "buildHash": null,
        },
        "status": release.status.as_str(),
        "ref": release.reference,
        "url": release.url,
        "dateCreated": iso(release.date_created),
        "dateStarted": release.date_started.map(iso),
        "dateReleased": release.date_released.map(iso),
        "data": {},
        "newGroups": new_groups,
        "owner": null,
        "commitCount": commits.len(),
        "lastCommit": commits.first().map(|c| json!({"id": c.id, "message": c.message})),
        "deployCount": deploys.len(),
        "lastDeploy": deploys.first().map(deploy_json),
        "authors": [],
        "projects": project_json,
        "firstEvent": first_event.map(iso),
        "lastEvent": last_event.map(iso),
        "currentProjectMeta": {},
        "userAgent": null,
    }))
}

fn body_json(body: &web::Bytes) -> ApiResult<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::BadRequest("the body is not a JSON object".into()));
    }
    Ok(value)
}

async fn list_of(
    req: &HttpRequest,
    state: &WebState,
    member: &Member,
    project: Option<&Project>,
) -> ApiResult<HttpResponse> {
    member
        .require(scopes::RELEASES_READ)
        .map_err(ApiError::from)?;
    // `?query=` narrows to versions containing it, as Sentry's.
    let query = crate::pagination::query_pairs(req.query_string())
        .into_iter()
        .find(|(k, _)| k == "query")
        .map(|(_, v)| v.to_lowercase())
        .unwrap_or_default();
    let releases = state
        .meta
        .releases(member.org.id, project.map(|p| p.id), LIST_LIMIT)
        .await?;
    let org_projects = state.meta.projects(member.org.id).await?;
    let mut out = Vec::with_capacity(releases.len());
    for release in releases
        .iter()
        .filter(|r| r.version.to_lowercase().contains(&query))
    {
        out.push(release_json_in(state, &org_projects, release).await?);
    }
    Ok(HttpResponse::Ok().json(out))
}

async fn created(
    state: &WebState,
    member: &Member,
    body: &Value,
    project: Option<&Project>,
) -> ApiResult<HttpResponse> {
    let (release, new) = ops::releases::upsert(state.meta.as_ref(), member, body, project).await?;
    // Sentry answers 201 for a new release and 208 for one that existed.
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::ALREADY_REPORTED
    };
    Ok(HttpResponse::build(status).json(release_json(state, member, &release).await?))
}

pub async fn org_list(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let member = member_of(&req, &state, &path, scopes::RELEASES_READ).await?;
    list_of(&req, &state, &member, None).await
}

pub async fn org_create(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let member = member_of(&req, &state, &path, scopes::RELEASES_WRITE).await?;
    created(&state, &member, &body_json(&body)?, None).await
}

pub async fn project_list(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::RELEASES_READ).await?;
    list_of(&req, &state, &member, Some(&project)).await
}

pub async fn project_create(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::RELEASES_WRITE).await?;
    created(&state, &member, &body_json(&body)?, Some(&project)).await
}

/// `{org}` and `{version}`, or `{org}`, `{project}` and `{version}`.
async fn scope(
    req: &HttpRequest,
    state: &WebState,
    need: scopes::Need,
) -> ApiResult<(Member, Option<Project>, String)> {
    let info = req.match_info();
    let org = info.get("org").unwrap_or("");
    let raw = version(info.get("version").unwrap_or(""));
    match info.get("project") {
        Some(project) => {
            let (member, project) = resolve_project(req, state, org, project, need).await?;
            Ok((member, Some(project), raw))
        }
        None => Ok((member_of(req, state, org, need).await?, None, raw)),
    }
}

pub async fn detail(req: HttpRequest, state: web::Data<WebState>) -> ApiResult<HttpResponse> {
    let (member, project, version) = scope(&req, &state, scopes::RELEASES_READ).await?;
    let release =
        ops::releases::get(state.meta.as_ref(), &member, &version, project.as_ref()).await?;
    Ok(HttpResponse::Ok().json(release_json(&state, &member, &release).await?))
}

pub async fn update(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project, version) = scope(&req, &state, scopes::RELEASES_WRITE).await?;
    let release = ops::releases::update(
        state.meta.as_ref(),
        &member,
        &version,
        &body_json(&body)?,
        project.as_ref(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(release_json(&state, &member, &release).await?))
}

pub async fn delete(req: HttpRequest, state: web::Data<WebState>) -> ApiResult<HttpResponse> {
    let (member, project, version) = scope(&req, &state, scopes::RELEASES_WRITE).await?;
    ops::releases::delete(state.meta.as_ref(), &member, &version, project.as_ref()).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn deploys(req: HttpRequest, state: web::Data<WebState>) -> ApiResult<HttpResponse> {
    let (member, _, version) = scope(&req, &state, scopes::RELEASES_READ).await?;
    let release = ops::releases::get(state.meta.as_ref(), &member, &version, None).await?;
    let deploys = state.meta.deploys(release.id).await?;
    Ok(HttpResponse::Ok().json(deploys.iter().map(deploy_json).collect::<Vec<_>>()))
}

pub async fn create_deploy(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, _, version) = scope(&req, &state, scopes::RELEASES_WRITE).await?;
    let deploy =
        ops::releases::create_deploy(state.meta.as_ref(), &member, &version, &body_json(&body)?)
            .await?;
    Ok(HttpResponse::Created().json(deploy_json(&deploy)))
}

pub async fn commits(req: HttpRequest, state: web::Data<WebState>) -> ApiResult<HttpResponse> {
    let (member, _, version) = scope(&req, &state, scopes::RELEASES_READ).await?;
    let release = ops::releases::get(state.meta.as_ref(), &member, &version, None).await?;
    let commits = state.meta.release_commits(release.id).await?;
    let out: Vec<Value> = commits
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "message": c.message,
                "dateCreated": c.timestamp.map(iso),
                "author": {"name": c.author_name, "email": c.author_email},
                "repository": c.repository.as_ref().map(|r| json!({"name": r})),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// The previous release with commits: none is tracked across releases
/// yet, so `{}` (sentry-cli then sends the latest commits).
pub async fn previous_with_commits(
    req: HttpRequest,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, _, version) = scope(&req, &state, scopes::RELEASES_READ).await?;
    ops::releases::get(state.meta.as_ref(), &member, &version, None).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

/// No repository integrations.
pub async fn repos(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    member_of(&req, &state, &path, scopes::ORG_READ).await?;
    Ok(HttpResponse::Ok().json(json!([])))
}
