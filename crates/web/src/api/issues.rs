//! Issue lists with search, issue details and status updates.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Duration, Utc};
use faultline_protocol::{GroupId, ProjectId};
use faultline_storage::{Group, GroupSort, GroupStatus, Organization, Project, User, UserId};
use serde::Deserialize;

use super::orgs::resolve_project;
use crate::WebState;
use crate::auth::{Caller, authenticate, member_of};
use crate::error::{ApiError, ApiResult};
use crate::issues::{
    DEFAULT_QUERY, IssueSearch, parse_period, parse_sort, search_issues, stats_series,
};
use crate::pagination::{link_header, page, query_pairs};
use crate::scopes::{self, Need};
use crate::serialize;

pub async fn project_list(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (org, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::EVENT_READ).await?;
    list(&req, &state, &org, vec![project], None).await
}

pub async fn org_list(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (_, org) = member_of(&req, &state, &path, scopes::EVENT_READ).await?;
    let projects = selected_projects(&req, &state, &org).await?;
    // Sentry's organization issue search looks at the last 14 days by default.
    list(&req, &state, &org, projects, Some(Duration::days(14))).await
}

/// `?project=ID` (repeatable) narrows an organization query; none or `-1`
/// means every project.
async fn selected_projects(
    req: &HttpRequest,
    state: &WebState,
    org: &Organization,
) -> ApiResult<Vec<Project>> {
    let all = state.meta.projects(org.id).await?;
    let wanted: Vec<i64> = query_pairs(req.query_string())
        .into_iter()
        .filter(|(k, _)| k == "project")
        .map(|(_, v)| {
            v.parse::<i64>()
                .map_err(|_| ApiError::BadRequest(format!("invalid project id {v}")))
        })
        .collect::<Result<_, _>>()?;
    if wanted.is_empty() || wanted.contains(&-1) {
        return Ok(all);
    }
    let selected: Vec<Project> = all
        .into_iter()
        .filter(|p| wanted.contains(&p.id.0))
        .collect();
    if selected.len() != wanted.len() {
        return Err(ApiError::Forbidden);
    }
    Ok(selected)
}

async fn list(
    req: &HttpRequest,
    state: &WebState,
    org: &Organization,
    projects: Vec<Project>,
    default_period: Option<Duration>,
) -> ApiResult<HttpResponse> {
    let params: HashMap<String, String> = query_pairs(req.query_string()).into_iter().collect();
    let period = match params.get("statsPeriod") {
        Some(p) if default_period.is_some() => parse_period("statsPeriod", p)?,
        _ => default_period,
    };
    // Sentry's `stats` (events over time per issue): the project endpoint
    // takes `statsPeriod`, the organization one `groupStatsPeriod` (its
    // `statsPeriod` is the search window).
    let stats_key = if default_period.is_some() {
        "groupStatsPeriod"
    } else {
        "statsPeriod"
    };
    let stats_period = params.get(stats_key).map(String::as_str).unwrap_or("24h");
    let stats_span = parse_period(stats_key, stats_period)?;
    let page = page(req, 100, 100)?;
    let search = IssueSearch {
        query: params
            .get("query")
            .cloned()
            .unwrap_or_else(|| DEFAULT_QUERY.to_owned()),
        sort: parse_sort(params.get("sort").map(String::as_str))?,
        last_seen_after: period.map(|p| Utc::now() - p),
        offset: page.offset,
        limit: page.limit,
    };
    let project_ids: Vec<ProjectId> = projects.iter().map(|p| p.id).collect();
    let (groups, has_next) = search_issues(state, &project_ids, &search).await?;
    let mut stats = stats_series(state, &groups, stats_span).await?;
    let users = assignees(state, &groups).await?;
    let by_id: HashMap<ProjectId, &Project> = projects.iter().map(|p| (p.id, p)).collect();
    let body: Vec<_> = groups
        .iter()
        .filter_map(|g| {
            let assigned = g.assignee.and_then(|id| users.get(&id));
            let mut json = serialize::group(
                g,
                by_id.get(&g.project_id)?,
                org,
                &state.url_prefix,
                assigned,
            );
            if let Some(series) = stats.as_mut().and_then(|s| s.remove(&g.id)) {
                json["stats"] = serde_json::json!({ stats_period: series });
            }
            Some(json)
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Link", link_header(req, &page, has_next)))
        .insert_header(("X-Hits", body.len().to_string()))
        .json(body))
}

/// The users issues are assigned to, looked up once each.
async fn assignees(state: &WebState, groups: &[Group]) -> ApiResult<HashMap<UserId, User>> {
    let mut users = HashMap::new();
    for id in groups.iter().filter_map(|g| g.assignee) {
        if let std::collections::hash_map::Entry::Vacant(slot) = users.entry(id)
            && let Some(user) = state.meta.user_by_id(id).await?
        {
            slot.insert(user);
        }
    }
    Ok(users)
}

async fn group_response(
    state: &WebState,
    group: &Group,
    project: &Project,
    org: &Organization,
) -> ApiResult<HttpResponse> {
    let users = assignees(state, std::slice::from_ref(group)).await?;
    let assigned = group.assignee.and_then(|id| users.get(&id));
    Ok(HttpResponse::Ok().json(serialize::group(
        group,
        project,
        org,
        &state.url_prefix,
        assigned,
    )))
}

/// Resolves Sentry's `assignedTo` (`"user:3"`, `"3"`, an email or username;
/// empty or null unassigns) to a member of the organization.
async fn resolve_assignee(
    state: &WebState,
    org: &Organization,
    value: &str,
) -> ApiResult<Option<UserId>> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let members = state.meta.members(org.id).await?;
    let id = value.strip_prefix("user:").unwrap_or(value);
    members
        .iter()
        .find(|(u, _)| u.id.0.to_string() == id || u.email.eq_ignore_ascii_case(value))
        .map(|(u, _)| Some(u.id))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "cannot assign to {value}: not a member of {}",
                org.slug
            ))
        })
}

/// The issue and its project and organization, if the caller is a member
/// (404 otherwise) whose token allows `need` there (403 otherwise).
pub async fn load_group(
    state: &WebState,
    caller: &Caller,
    id: &str,
    need: Need,
) -> ApiResult<(Group, Project, Organization)> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let group = state
        .meta
        .group(GroupId(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    let project = state
        .meta
        .project_by_id(group.project_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let org = state
        .meta
        .organization_by_id(project.org_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    caller.role_in(state.meta.as_ref(), org.id, need).await?;
    Ok((group, project, org))
}

pub async fn detail(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let caller = authenticate(&req, state.meta.as_ref()).await?;
    let (group, project, org) = load_group(&state, &caller, &path, scopes::EVENT_READ).await?;
    group_response(&state, &group, &project, &org).await
}

pub async fn org_detail(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let caller = authenticate(&req, state.meta.as_ref()).await?;
    let (group, project, org) = load_group(&state, &caller, &path.1, scopes::EVENT_READ).await?;
    if org.slug != path.0 {
        return Err(ApiError::NotFound);
    }
    group_response(&state, &group, &project, &org).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueUpdate {
    status: Option<String>,
    /// Absent: unchanged; null or "": unassign.
    #[serde(default, deserialize_with = "present")]
    assigned_to: Option<Option<String>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn parse_status(update: &IssueUpdate) -> ApiResult<Option<GroupStatus>> {
    match update.status.as_deref() {
        None => Ok(None),
        Some("resolvedInNextRelease" | "resolved") => Ok(Some(GroupStatus::Resolved)),
        Some(s) => GroupStatus::parse(s)
            .map(Some)
            .ok_or_else(|| ApiError::BadRequest(format!("invalid status {s}"))),
    }
}

pub async fn update(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<IssueUpdate>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let caller = authenticate(&req, state.meta.as_ref()).await?;
    let (group, project, org) = load_group(&state, &caller, &path, scopes::EVENT_WRITE).await?;
    apply_update(&state, group, project, org, &body).await
}

pub async fn org_update(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<IssueUpdate>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let caller = authenticate(&req, state.meta.as_ref()).await?;
    let (group, project, org) = load_group(&state, &caller, &path.1, scopes::EVENT_WRITE).await?;
    if org.slug != path.0 {
        return Err(ApiError::NotFound);
    }
    apply_update(&state, group, project, org, &body).await
}

async fn apply_update(
    state: &WebState,
    group: Group,
    project: Project,
    org: Organization,
    body: &IssueUpdate,
) -> ApiResult<HttpResponse> {
    let status = parse_status(body)?;
    if let Some(assigned_to) = &body.assigned_to {
        let assignee = resolve_assignee(state, &org, assigned_to.as_deref().unwrap_or("")).await?;
        state.meta.set_assignee(&[group.id], assignee).await?;
    }
    if let Some(status) = status {
        state.meta.set_group_status(&[group.id], status).await?;
    }
    let group = state
        .meta
        .group(group.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    group_response(state, &group, &project, &org).await
}

pub async fn project_bulk_update(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<IssueUpdate>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (_, project) = resolve_project(&req, &state, &path.0, &path.1, scopes::EVENT_WRITE).await?;
    bulk_update(&req, &state, &[project], &body).await
}

pub async fn org_bulk_update(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<IssueUpdate>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (_, org) = member_of(&req, &state, &path, scopes::EVENT_WRITE).await?;
    let projects = selected_projects(&req, &state, &org).await?;
    bulk_update(&req, &state, &projects, &body).await
}

/// `PUT …/issues/?id=1&id=2` with `{"status": …}`, as Sentry's bulk mutate.
/// Most issues one bulk update without ids may change, as in Sentry.
const BULK_LIMIT: usize = 1000;

async fn bulk_update(
    req: &HttpRequest,
    state: &WebState,
    projects: &[Project],
    body: &IssueUpdate,
) -> ApiResult<HttpResponse> {
    let ids: Vec<i64> = query_pairs(req.query_string())
        .into_iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| {
            v.parse()
                .map_err(|_| ApiError::BadRequest(format!("invalid id {v}")))
        })
        .collect::<Result<_, _>>()?;
    let mut allowed = Vec::new();
    if ids.is_empty() {
        // Without ids, Sentry updates the issues the search matches (at most
        // 1000); `sentry-cli issues resolve --all` relies on this.
        let query = query_pairs(req.query_string())
            .into_iter()
            .find(|(k, _)| k == "query")
            .map(|(_, v)| v)
            .unwrap_or_else(|| DEFAULT_QUERY.to_owned());
        let search = IssueSearch {
            query,
            sort: GroupSort::LastSeen,
            last_seen_after: None,
            offset: 0,
            limit: BULK_LIMIT,
        };
        let project_ids: Vec<ProjectId> = projects.iter().map(|p| p.id).collect();
        let (groups, _) = search_issues(state, &project_ids, &search).await?;
        allowed.extend(groups.iter().map(|g| g.id));
    }
    for id in ids {
        if let Some(group) = state.meta.group(GroupId(id)).await?
            && projects.iter().any(|p| p.id == group.project_id)
        {
            allowed.push(group.id);
        }
    }
    if allowed.is_empty() {
        return Ok(HttpResponse::NoContent().finish());
    }
    let status = parse_status(body)?;
    if let Some(status) = status {
        state.meta.set_group_status(&allowed, status).await?;
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "status": status.map(GroupStatus::as_str),
        "statusDetails": {},
    })))
}
