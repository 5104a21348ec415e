//! Dashboard pages: the issue stream and the issue detail, and their actions.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Duration;
use faultline_protocol::{EventId, GroupId, ProjectId};
use faultline_storage::{Group, GroupStatus, Organization, Project, Role, Session, User, UserId};

use super::csrf;
use super::form_field;
use super::session::{csrf_failure, current, redirect};
use super::views::{
    IssuePage, IssuesPage, MessagePage, Nav, ProjectOption, TIMEZONES, bars, event_view, issue_row,
    issue_view, render, render_status, tag_distributions,
};
use crate::WebState;
use crate::auth::require_member;
use crate::error::ApiError;
use crate::issues::{DEFAULT_QUERY, IssueSearch, parse_sort, search_issues, stats_series};
use crate::pagination::{parse_offset, query_pairs};

const PAGE_SIZE: usize = 25;
const SORTS: [(&str, &str); 4] = [
    ("date", "Last seen"),
    ("new", "First seen"),
    ("freq", "Events"),
    ("user", "Users"),
];

/// A signed-in member looking at one organization.
pub(super) struct Ctx {
    pub session: Session,
    pub org: Organization,
    pub role: Role,
    pub nav: Nav,
}

impl Ctx {
    /// Owners and admins manage projects, keys and members.
    pub fn can_admin(&self) -> bool {
        matches!(self.role, Role::Owner | Role::Admin)
    }
}

pub(super) fn not_found() -> HttpResponse {
    render_status(
        StatusCode::NOT_FOUND,
        &MessagePage {
            title: "Not found".into(),
            lines: vec!["This page does not exist, or you do not have access to it.".into()],
        },
    )
}

/// A 400 page saying what was wrong with the request.
fn bad_request(reason: &str) -> HttpResponse {
    render_status(
        StatusCode::BAD_REQUEST,
        &MessagePage {
            title: "Bad request".into(),
            lines: vec![reason.to_owned()],
        },
    )
}

pub(super) fn server_error(e: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "dashboard error");
    render_status(
        StatusCode::INTERNAL_SERVER_ERROR,
        &MessagePage {
            title: "Something went wrong".into(),
            lines: vec!["The error was logged. Try again in a moment.".into()],
        },
    )
}

fn login_redirect(req: &HttpRequest) -> HttpResponse {
    let target = match req.uri().path_and_query() {
        Some(pq) => pq.as_str().to_owned(),
        None => "/".to_owned(),
    };
    let encoded: String = target
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    redirect(&format!("/auth/login/?next={encoded}"))
}

pub(super) async fn context(
    req: &HttpRequest,
    state: &WebState,
    org_slug: &str,
) -> Result<Ctx, HttpResponse> {
    let Some((session, user)) = current(req, state).await else {
        return Err(login_redirect(req));
    };
    let org = match state.meta.organization_by_slug(org_slug).await {
        Ok(Some(org)) => org,
        Ok(None) => return Err(not_found()),
        Err(e) => return Err(server_error(e)),
    };
    let role = match require_member(state.meta.as_ref(), &user, org.id).await {
        Ok(role) => role.unwrap_or(Role::Member),
        Err(ApiError::NotFound) => return Err(not_found()),
        Err(e) => return Err(server_error(e)),
    };
    let nav = nav(&org.slug, &user, &session);
    Ok(Ctx {
        session,
        org,
        role,
        nav,
    })
}

pub(super) fn nav(org_slug: &str, user: &User, session: &Session) -> Nav {
    let timezone = TIMEZONES
        .iter()
        .find(|tz| **tz == user.timezone)
        .unwrap_or(&"UTC");
    Nav {
        org_slug: org_slug.to_owned(),
        user_email: user.email.clone(),
        csrf_token: session.csrf_token.clone(),
        timezone: (*timezone).to_owned(),
    }
}

/// Who may send a form.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    Member,
    /// Owners and admins; others get the same 404 as a stranger.
    Admin,
}

/// The context of a form post that passed the CSRF check and `access`.
pub(super) async fn form_context(
    req: &HttpRequest,
    state: &WebState,
    org_slug: &str,
    form: &[(String, String)],
    access: Access,
) -> Result<Ctx, HttpResponse> {
    let ctx = context(req, state, org_slug).await?;
    check_post(req, state, &ctx, form)?;
    if access == Access::Admin && !ctx.can_admin() {
        return Err(not_found());
    }
    Ok(ctx)
}

/// Checks a form post: its origin, and its token against the session's.
fn check_post(
    req: &HttpRequest,
    state: &WebState,
    ctx: &Ctx,
    form: &[(String, String)],
) -> Result<(), HttpResponse> {
    let token = form_field(form, "csrf_token");
    csrf::check_origin(req, &state.trusted_origins)
        .and_then(|()| csrf::check_token(&ctx.session.csrf_token, token))
        .map_err(|rejection| csrf_failure(&rejection))
}

pub async fn home(req: HttpRequest, state: web::Data<WebState>) -> HttpResponse {
    let Some((_, user)) = current(&req, &state).await else {
        return redirect("/auth/login/");
    };
    match state.meta.organizations_for_user(&user).await {
        Ok(orgs) => match orgs.first() {
            Some(org) => redirect(&format!("/organizations/{}/issues/", org.slug)),
            None => render(&MessagePage {
                title: "No organization yet".into(),
                lines: vec!["Ask an owner to invite you to an organization.".into()],
            }),
        },
        Err(e) => server_error(e),
    }
}

pub async fn issue_stream(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> HttpResponse {
    let ctx = match context(&req, &state, &path).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let params: HashMap<String, String> = query_pairs(req.query_string()).into_iter().collect();
    let query = params
        .get("query")
        .cloned()
        .unwrap_or_else(|| DEFAULT_QUERY.to_owned());
    let sort_key = params
        .get("sort")
        .cloned()
        .unwrap_or_else(|| "date".to_owned());
    let offset = match params.get("cursor").map(String::as_str) {
        None | Some("") => Ok(0),
        Some(cursor) => parse_offset("cursor", cursor),
    };
    let selected: Option<i64> = params.get("project").and_then(|p| p.parse().ok());
    let projects = match state.meta.projects(ctx.org.id).await {
        Ok(p) => p,
        Err(e) => return server_error(e),
    };
    let searched: Vec<ProjectId> = projects
        .iter()
        .filter(|p| selected.is_none_or(|s| s == p.id.0))
        .map(|p| p.id)
        .collect();
    let result = match (offset, parse_sort(Some(&sort_key))) {
        (Ok(offset), Ok(sort)) => {
            let search = IssueSearch {
                query: query.clone(),
                sort,
                last_seen_after: None,
                offset,
                limit: PAGE_SIZE,
            };
            search_issues(&state, &searched, &search)
                .await
                .map(|(groups, has_next)| (groups, has_next, offset))
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let (groups, has_next, offset, error) = match result {
        Ok((groups, has_next, offset)) => (groups, has_next, offset, None),
        Err(ApiError::BadRequest(message)) => (Vec::new(), false, 0, Some(message)),
        Err(e) => return server_error(e),
    };
    let stats = match stats_series(&state, &groups, Some(Duration::hours(24))).await {
        Ok(stats) => stats.unwrap_or_default(),
        Err(e) => return server_error(e),
    };
    let members: HashMap<UserId, String> = match state.meta.members(ctx.org.id).await {
        Ok(members) => members.into_iter().map(|(u, _)| (u.id, u.email)).collect(),
        Err(e) => return server_error(e),
    };
    let by_id: HashMap<ProjectId, &Project> = projects.iter().map(|p| (p.id, p)).collect();
    let issues = groups
        .iter()
        .filter_map(|g| {
            let mut row = issue_row(g, by_id.get(&g.project_id)?, stats.get(&g.id));
            row.assignee = g.assignee.and_then(|id| members.get(&id).cloned());
            Some(row)
        })
        .collect();
    let page_url = |cursor: usize| {
        let mut pairs: Vec<(String, String)> = query_pairs(req.query_string())
            .into_iter()
            .filter(|(k, _)| k != "cursor")
            .collect();
        pairs.push(("cursor".into(), cursor.to_string()));
        let encoded: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect();
        format!("{}?{}", req.path(), encoded.join("&"))
    };
    // A refused search or cursor still shows the page, saying why.
    let status = match error {
        Some(_) => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    };
    render_status(
        status,
        &IssuesPage {
            projects: projects
                .iter()
                .map(|p| ProjectOption {
                    id: p.id.0,
                    slug: p.slug.clone(),
                    selected: selected == Some(p.id.0),
                })
                .collect(),
            query,
            sort: sort_key,
            sorts: SORTS.to_vec(),
            issues,
            error,
            prev_url: (offset > 0).then(|| page_url(offset.saturating_sub(PAGE_SIZE))),
            // The offset is at most MAX_OFFSET; saturating all the same.
            next_url: has_next.then(|| page_url(offset.saturating_add(PAGE_SIZE))),
            nav: ctx.nav,
        },
    )
}

fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn parse_action(form: &[(String, String)]) -> Option<GroupStatus> {
    form_field(form, "action").and_then(GroupStatus::parse)
}

/// Resolve, ignore or unresolve the selected issues of the stream.
pub async fn bulk_action(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> HttpResponse {
    let ctx = match form_context(&req, &state, &path, &form, Access::Member).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let back = match req.uri().path_and_query() {
        Some(pq) => pq.as_str().to_owned(),
        None => req.path().to_owned(),
    };
    let Some(status) = parse_action(&form) else {
        return redirect(&back);
    };
    let projects: Vec<ProjectId> = match state.meta.projects(ctx.org.id).await {
        Ok(p) => p.into_iter().map(|p| p.id).collect(),
        Err(e) => return server_error(e),
    };
    let mut ids = Vec::new();
    for (_, value) in form.iter().filter(|(k, _)| k == "id") {
        let Ok(id) = value.parse::<i64>() else {
            continue;
        };
        match state.meta.group(GroupId(id)).await {
            Ok(Some(group)) if projects.contains(&group.project_id) => ids.push(group.id),
            Ok(_) => {}
            Err(e) => return server_error(e),
        }
    }
    if let Err(e) = state.meta.set_group_status(&ids, status).await {
        return server_error(e);
    }
    redirect(&back)
}

/// The issue if it belongs to the context's organization.
async fn load(state: &WebState, ctx: &Ctx, id: &str) -> Result<(Group, Project), HttpResponse> {
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let group = match state.meta.group(GroupId(id)).await {
        Ok(Some(group)) => group,
        Ok(None) => return Err(not_found()),
        Err(e) => return Err(server_error(e)),
    };
    match state.meta.project_by_id(group.project_id).await {
        Ok(Some(project)) if project.org_id == ctx.org.id => Ok((group, project)),
        Ok(_) => Err(not_found()),
        Err(e) => Err(server_error(e)),
    }
}

pub async fn issue_detail(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> HttpResponse {
    let ctx = match context(&req, &state, &path.0).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let (group, project) = match load(&state, &ctx, &path.1).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    // `?event=N` walks the events newest first: 0 is the latest.
    let index = match query_pairs(req.query_string())
        .into_iter()
        .find(|(k, _)| k == "event")
    {
        None => 0,
        Some((_, value)) => match parse_offset("event", &value) {
            Ok(index) => index,
            Err(e) => return bad_request(&e.to_string()),
        },
    };
    let events = match state.events.group_events(group.id, index, 2).await {
        Ok(events) => events,
        Err(e) => return server_error(e),
    };
    let base = format!("/organizations/{}/issues/{}/", ctx.org.slug, group.id);
    let event = events.first().map(|stored| {
        event_view(
            stored,
            format!("{base}events/{}/json/", stored.event.event_id),
            (index > 0).then(|| format!("{base}?event={}", index - 1)),
            (events.len() > 1).then(|| format!("{base}?event={}", index + 1)),
        )
    });
    let (period, span) = if query_pairs(req.query_string())
        .iter()
        .any(|(k, v)| k == "period" && v == "30d")
    {
        ("30d", Duration::days(30))
    } else {
        ("24h", Duration::hours(24))
    };
    let (points, tags) = match tokio::try_join!(
        stats_series(&state, std::slice::from_ref(&group), Some(span)),
        async {
            state
                .events
                .tag_values(group.id, 5)
                .await
                .map_err(ApiError::from)
        },
    ) {
        Ok((stats, tags)) => (
            stats
                .and_then(|mut s| s.remove(&group.id))
                .unwrap_or_default(),
            tags,
        ),
        Err(e) => return server_error(e),
    };
    let members = match state.meta.members(ctx.org.id).await {
        Ok(members) => members
            .into_iter()
            .map(|(u, _)| (u.id.0, u.email, Some(u.id) == group.assignee))
            .collect(),
        Err(e) => return server_error(e),
    };
    let latest = match index {
        0 => events.first().cloned(),
        _ => match state.events.group_events(group.id, 0, 1).await {
            Ok(mut newest) => newest.pop(),
            Err(e) => return server_error(e),
        },
    };
    let mut issue = issue_view(&group, &project);
    issue.last_release = latest.and_then(|e| e.event.release);
    render(&IssuePage {
        members,
        chart: bars(&points, period == "24h"),
        chart_total: points.iter().map(|p| p[1]).sum(),
        period,
        tags: tag_distributions(&tags, group.count),
        issue,
        event,
        nav: ctx.nav,
    })
}

pub async fn issue_action(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> HttpResponse {
    let ctx = match form_context(&req, &state, &path.0, &form, Access::Member).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let (group, _) = match load(&state, &ctx, &path.1).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let result = match form_field(&form, "action") {
        Some("assign") => {
            let wanted = form_field(&form, "assignee").and_then(|v| v.parse::<i64>().ok());
            let assignee = match (wanted, state.meta.members(ctx.org.id).await) {
                (_, Err(e)) => return server_error(e),
                (None, _) => None,
                // Only members of this organization can be assigned.
                (Some(id), Ok(members)) => members
                    .iter()
                    .find(|(u, _)| u.id.0 == id)
                    .map(|(u, _)| u.id),
            };
            state.meta.set_assignee(&[group.id], assignee).await
        }
        _ => match parse_action(&form) {
            Some(status) => state.meta.set_group_status(&[group.id], status).await,
            None => Ok(()),
        },
    };
    if let Err(e) = result {
        return server_error(e);
    }
    redirect(&format!(
        "/organizations/{}/issues/{}/",
        ctx.org.slug, group.id
    ))
}

/// The stored event as JSON, served as data (never as HTML).
pub async fn raw_event(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<WebState>,
) -> HttpResponse {
    let ctx = match context(&req, &state, &path.0).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let (group, project) = match load(&state, &ctx, &path.1).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let Ok(event_id) = path.2.parse::<EventId>() else {
        return not_found();
    };
    match state.events.event(project.id, event_id).await {
        Ok(Some(stored)) if stored.group_id == group.id => HttpResponse::Ok()
            .content_type("application/json")
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .json(&stored.event),
        Ok(_) => not_found(),
        Err(e) => server_error(e),
    }
}
