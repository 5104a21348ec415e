//! Issue lists with search, issue details and status updates.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Duration, Utc};
use faultline_protocol::{GroupId, ProjectId};
use faultline_storage::{
    Group, GroupSort, GroupStatus, Organization, Project, Snooze, User, UserId,
};
use serde::Deserialize;

use super::orgs::resolve_project;
use crate::WebState;
use crate::auth::{authenticate, member_of};
use crate::error::{ApiError, ApiResult};
use crate::issues::{
    DEFAULT_QUERY, IssueSearch, MAX_HITS, parse_period, parse_sort, search_issues,
    search_issues_with_hits, stats_series,
};
use crate::ops::{self, Member};
use crate::pagination::{link_header, page, query_pairs};
use crate::scopes::{self, Need};
use crate::serialize;

pub async fn project_list(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::EVENT_READ).await?;
    list(&req, &state, &member.org, vec![project], None).await
}

pub async fn org_list(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let member = member_of(&req, &state, &path, scopes::EVENT_READ).await?;
    let projects = selected_projects(&req, &state, &member.org).await?;
    // Sentry's organization issue search looks at the last 14 days by default.
    list(
        &req,
        &state,
        &member.org,
        projects,
        Some(Duration::days(14)),
    )
    .await
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
    let (groups, has_next, hits) = search_issues_with_hits(state, &project_ids, &search).await?;
    let mut stats = stats_series(state, &groups, stats_span).await?;
    let users = assignees(state, &groups).await?;
    let reports = report_counts(state, &groups).await?;
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
            json["userReportCount"] = reports.get(&g.id).copied().unwrap_or(0).into();
            Some(json)
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Link", link_header(req, &page, has_next)))
        // Sentry's totals: every matching issue, counted up to MAX_HITS.
        .insert_header(("X-Hits", hits.to_string()))
        .insert_header(("X-Max-Hits", MAX_HITS.to_string()))
        .json(body))
}

/// How many user reports each issue has, in one query.
async fn report_counts(state: &WebState, groups: &[Group]) -> ApiResult<HashMap<GroupId, u64>> {
    let ids: Vec<GroupId> = groups.iter().map(|g| g.id).collect();
    Ok(state
        .meta
        .user_report_counts(&ids)
        .await?
        .into_iter()
        .collect())
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
    Ok(HttpResponse::Ok().json(group_json(state, group, project, org).await?))
}

async fn group_json(
    state: &WebState,
    group: &Group,
    project: &Project,
    org: &Organization,
) -> ApiResult<serde_json::Value> {
    let users = assignees(state, std::slice::from_ref(group)).await?;
    let assigned = group.assignee.and_then(|id| users.get(&id));
    let mut json = serialize::group(group, project, org, &state.url_prefix, assigned);
    let reports = report_counts(state, std::slice::from_ref(group)).await?;
    json["userReportCount"] = reports.get(&group.id).copied().unwrap_or(0).into();
    Ok(json)
}

/// The issue `id` and its project and organization, if the caller is a
/// member (404 otherwise) whose token allows `need` there (403 otherwise).
pub async fn load_group(
    req: &HttpRequest,
    state: &WebState,
    id: &str,
    need: Need,
) -> ApiResult<(Member, Group, Project)> {
    let caller = authenticate(req, state.meta.as_ref()).await?;
    Ok(caller.issue(state.meta.as_ref(), id, need).await?)
}

pub async fn detail(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, group, project) = load_group(&req, &state, &path, scopes::EVENT_READ).await?;
    group_response(&state, &group, &project, &member.org).await
}

pub async fn org_detail(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, group, project) = load_group(&req, &state, &path.1, scopes::EVENT_READ).await?;
    if member.org.slug != path.0 {
        return Err(ApiError::NotFound);
    }
    group_response(&state, &group, &project, &member.org).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueUpdate {
    status: Option<String>,
    /// With `"status": "ignored"`: until when (Sentry's snooze).
    #[serde(default)]
    status_details: Option<StatusDetails>,
    /// Absent: unchanged; null or "": unassign.
    #[serde(default, deserialize_with = "present")]
    assigned_to: Option<Option<String>>,
}

/// Sentry's `statusDetails` of an ignore: for `ignoreDuration` minutes,
/// until `ignoreUntil`, or until `ignoreCount` more events or
/// `ignoreUserCount` more users (their windows are not kept).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct StatusDetails {
    ignore_duration: Option<u64>,
    ignore_until: Option<chrono::DateTime<Utc>>,
    ignore_count: Option<u64>,
    ignore_user_count: Option<u64>,
}

/// Longest snooze and largest thresholds taken.
const MAX_IGNORE_MINUTES: u64 = 366 * 24 * 60;
const MAX_IGNORE_COUNT: u64 = 1_000_000_000;

/// The snooze an update asks for, if it ignores with conditions.
fn parse_snooze(update: &IssueUpdate) -> ApiResult<Option<Snooze>> {
    let Some(details) = &update.status_details else {
        return Ok(None);
    };
    if update.status.as_deref() != Some("ignored") {
        return Ok(None);
    }
    let bounded = |n: Option<u64>, name: &str| match n {
        Some(n) if n == 0 || n > MAX_IGNORE_COUNT => Err(ApiError::BadRequest(format!(
            "{name} must be between 1 and {MAX_IGNORE_COUNT}"
        ))),
        n => Ok(n),
    };
    let until = match (details.ignore_duration, details.ignore_until) {
        (Some(minutes), _) if minutes == 0 || minutes > MAX_IGNORE_MINUTES => {
            return Err(ApiError::BadRequest(format!(
                "ignoreDuration must be between 1 and {MAX_IGNORE_MINUTES} minutes"
            )));
        }
        (Some(minutes), _) => Some(Utc::now() + Duration::minutes(minutes as i64)),
        (None, until) => until,
    };
    let snooze = Snooze {
        until,
        count: bounded(details.ignore_count, "ignoreCount")?,
        user_count: bounded(details.ignore_user_count, "ignoreUserCount")?,
    };
    Ok((snooze != Snooze::default()).then_some(snooze))
}

/// Sentry's `statusDetails` of an issue ignored with `snooze`.
fn snooze_details(snooze: &Snooze) -> serde_json::Value {
    serde_json::json!({
        "ignoreUntil": snooze.until.map(serialize::iso),
        "ignoreCount": snooze.count,
        "ignoreUserCount": snooze.user_count,
    })
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
    let (member, group, project) = load_group(&req, &state, &path, scopes::EVENT_WRITE).await?;
    apply_update(&state, &member, group, project, &body).await
}

pub async fn org_update(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<IssueUpdate>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, group, project) = load_group(&req, &state, &path.1, scopes::EVENT_WRITE).await?;
    if member.org.slug != path.0 {
        return Err(ApiError::NotFound);
    }
    apply_update(&state, &member, group, project, &body).await
}

async fn apply_update(
    state: &WebState,
    member: &Member,
    group: Group,
    project: Project,
    body: &IssueUpdate,
) -> ApiResult<HttpResponse> {
    let meta = state.meta.as_ref();
    let status = parse_status(body)?;
    let snooze = parse_snooze(body)?;
    if let Some(assigned_to) = &body.assigned_to {
        let assignee = assigned_to.as_deref().unwrap_or("");
        ops::issues::assign(meta, member, &group, &project, assignee).await?;
    }
    match (status, &snooze) {
        (_, Some(snooze)) => ops::issues::snooze(meta, member, &[group.id], snooze).await?,
        (Some(status), None) => ops::issues::set_status(meta, member, &[group.id], status).await?,
        (None, None) => {}
    }
    let group = meta.group(group.id).await?.ok_or(ApiError::NotFound)?;
    let mut json = group_json(state, &group, &project, &member.org).await?;
    if let Some(snooze) = &snooze {
        json["statusDetails"] = snooze_details(snooze);
    }
    Ok(HttpResponse::Ok().json(json))
}

pub async fn project_bulk_update(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<IssueUpdate>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::EVENT_WRITE).await?;
    bulk_update(&req, &state, &member, &[project], &body).await
}

pub async fn org_bulk_update(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<IssueUpdate>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let member = member_of(&req, &state, &path, scopes::EVENT_WRITE).await?;
    let projects = selected_projects(&req, &state, &member.org).await?;
    bulk_update(&req, &state, &member, &projects, &body).await
}

/// `PUT …/issues/?id=1&id=2` with `{"status": …}`, as Sentry's bulk mutate.
/// Most issues one bulk update without ids may change, as in Sentry.
const BULK_LIMIT: usize = 1000;

async fn bulk_update(
    req: &HttpRequest,
    state: &WebState,
    member: &Member,
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
    allowed.extend(ops::issues::of_projects(state.meta.as_ref(), member, projects, &ids).await?);
    if allowed.is_empty() {
        return Ok(HttpResponse::NoContent().finish());
    }
    let status = parse_status(body)?;
    let snooze = parse_snooze(body)?;
    match (status, &snooze) {
        (_, Some(snooze)) => {
            ops::issues::snooze(state.meta.as_ref(), member, &allowed, snooze).await?
        }
        (Some(status), None) => {
            ops::issues::set_status(state.meta.as_ref(), member, &allowed, status).await?
        }
        (None, None) => {}
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "status": status.map(GroupStatus::as_str),
        "statusDetails": snooze.as_ref().map_or(serde_json::json!({}), snooze_details),
    })))
}
