//! Dashboard pages: the issue stream and the issue detail, and their actions.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Duration;
use faultline_protocol::{EventId, ProjectId};
use faultline_storage::{GroupStatus, Project, Role, Session, User, UserId};

use super::csrf;
use super::error::{PageError, PageResult, form_status};
use super::form_field;
use super::session::{current, redirect};
use super::views::{
    AttachmentLink, IssuePage, IssuesPage, MessagePage, Nav, ProjectOption, TIMEZONES, bars,
    event_view, issue_row, issue_view, render, render_status, size_text, tag_distributions,
};
use crate::WebState;
use crate::error::ApiError;
use crate::issues::{DEFAULT_QUERY, IssueSearch, parse_sort, search_issues, stats_series};
use crate::ops::{self, Caller, Member};
use crate::pagination::{parse_offset, query_pairs};
use crate::scopes;

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
    pub member: Member,
    pub nav: Nav,
}

impl Ctx {
    /// Owners and admins see the controls for projects, keys and members.
    pub fn can_admin(&self) -> bool {
        self.member.is_admin()
    }
}

/// The sign-in page, returning to this one.
fn sign_in(req: &HttpRequest) -> PageError {
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
    PageError::SignIn {
        location: format!("/auth/login/?next={encoded}"),
    }
}

/// The signed-in member of `org_slug` (a 404 page for a stranger, the
/// sign-in page without a session).
pub(super) async fn context(
    req: &HttpRequest,
    state: &WebState,
    org_slug: &str,
) -> Result<Ctx, PageError> {
    let Some((session, user)) = current(req, state).await else {
        return Err(sign_in(req));
    };
    let member = Caller::signed_in(user)
        .member_of(state.meta.as_ref(), org_slug, scopes::ORG_READ)
        .await?;
    let admin = member.user.is_superuser || matches!(member.role, Role::Owner | Role::Admin);
    let nav = nav(&member.org.slug, &member.user, &session, state, admin);
    Ok(Ctx {
        session,
        member,
        nav,
    })
}

pub(super) fn nav(
    org_slug: &str,
    user: &User,
    session: &Session,
    state: &WebState,
    admin: bool,
) -> Nav {
    let timezone = TIMEZONES
        .iter()
        .find(|tz| **tz == user.timezone)
        .unwrap_or(&"UTC");
    Nav {
        org_slug: org_slug.to_owned(),
        user_email: user.email.clone(),
        csrf_token: session.csrf_token.clone(),
        timezone: (*timezone).to_owned(),
        disk_warning: admin
            .then(|| state.disk.as_ref()?.check().err())
            .flatten()
            .map(|low| {
                format!(
                    "Events are being refused: {low}. Free some space; ingestion resumes by itself."
                )
            }),
    }
}

/// The context of a form post that passed the CSRF check: its origin, and
/// its token against the session's.
pub(super) async fn form_context(
    req: &HttpRequest,
    state: &WebState,
    org_slug: &str,
    form: &[(String, String)],
) -> Result<Ctx, PageError> {
    let ctx = context(req, state, org_slug).await?;
    let token = form_field(form, "csrf_token");
    csrf::check_origin(req, &state.trusted_origins)
        .and_then(|()| csrf::check_token(&ctx.session.csrf_token, token))
        .map_err(PageError::Csrf)?;
    Ok(ctx)
}

pub async fn home(req: HttpRequest, state: web::Data<WebState>) -> PageResult {
    let Some((_, user)) = current(&req, &state).await else {
        return Ok(redirect("/auth/login/"));
    };
    let orgs = state.meta.organizations_for_user(&user).await?;
    Ok(match orgs.first() {
        Some(org) => redirect(&format!("/organizations/{}/issues/", org.slug)),
        None => render(&MessagePage {
            title: "No organization yet".into(),
            lines: vec!["Ask an owner to invite you to an organization.".into()],
        }),
    })
}

pub async fn issue_stream(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = context(&req, &state, &path).await?;
    let org = &ctx.member.org;
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
    let projects = state.meta.projects(org.id).await?;
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
    // A refused search or cursor still shows the page, saying why.
    let (groups, has_next, offset, error) = match result {
        Ok((groups, has_next, offset)) => (groups, has_next, offset, None),
        Err(ApiError::BadRequest(message)) => (Vec::new(), false, 0, Some(message)),
        Err(e) => return Err(e.into()),
    };
    let stats = stats_series(&state, &groups, Some(Duration::hours(24)))
        .await?
        .unwrap_or_default();
    let members: HashMap<UserId, String> = state
        .meta
        .members(org.id)
        .await?
        .into_iter()
        .map(|(u, _)| (u.id, u.email))
        .collect();
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
    Ok(render_status(
        form_status(&error),
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
    ))
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
) -> PageResult {
    let ctx = form_context(&req, &state, &path, &form).await?;
    let back = match req.uri().path_and_query() {
        Some(pq) => pq.as_str().to_owned(),
        None => req.path().to_owned(),
    };
    let Some(status) = parse_action(&form) else {
        return Ok(redirect(&back));
    };
    let meta = state.meta.as_ref();
    let projects = meta.projects(ctx.member.org.id).await?;
    let wanted: Vec<i64> = form
        .iter()
        .filter(|(k, _)| k == "id")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let ids = ops::issues::of_projects(meta, &ctx.member, &projects, &wanted).await?;
    ops::issues::set_status(meta, &ctx.member, &ids, status).await?;
    Ok(redirect(&back))
}

pub async fn issue_detail(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = context(&req, &state, &path.0).await?;
    let (group, project) = ctx
        .member
        .issue(state.meta.as_ref(), &path.1, scopes::EVENT_READ)
        .await?;
    // `?event=N` walks the events newest first: 0 is the latest.
    let index = match query_pairs(req.query_string())
        .into_iter()
        .find(|(k, _)| k == "event")
    {
        None => 0,
        Some((_, value)) => parse_offset("event", &value)?,
    };
    let events = state.events.group_events(group.id, index, 2).await?;
    let base = format!(
        "/organizations/{}/issues/{}/",
        ctx.member.org.slug, group.id
    );
    let mut event = events.first().map(|stored| {
        event_view(
            stored,
            format!("{base}events/{}/json/", stored.event.event_id),
            (index > 0).then(|| format!("{base}?event={}", index - 1)),
            (events.len() > 1).then(|| format!("{base}?event={}", index + 1)),
        )
    });
    if let (Some(view), Some(stored)) = (event.as_mut(), events.first()) {
        let event_id = stored.event.event_id;
        view.attachments = state
            .meta
            .attachments(project.id, event_id)
            .await?
            .into_iter()
            .map(|a| AttachmentLink {
                url: format!("{base}events/{event_id}/attachments/{}/", a.id),
                size: size_text(a.size),
                name: a.name,
                mimetype: a.content_type,
            })
            .collect();
    }
    let (period, span) = if query_pairs(req.query_string())
        .iter()
        .any(|(k, v)| k == "period" && v == "30d")
    {
        ("30d", Duration::days(30))
    } else {
        ("24h", Duration::hours(24))
    };
    let (stats, tags) = tokio::try_join!(
        stats_series(&state, std::slice::from_ref(&group), Some(span)),
        async {
            state
                .events
                .tag_values(group.id, 5)
                .await
                .map_err(ApiError::from)
        },
    )?;
    let points = stats
        .and_then(|mut s| s.remove(&group.id))
        .unwrap_or_default();
    let members = state
        .meta
        .members(ctx.member.org.id)
        .await?
        .into_iter()
        .map(|(u, _)| (u.id.0, u.email, Some(u.id) == group.assignee))
        .collect();
    let latest = match index {
        0 => events.first().cloned(),
        _ => state.events.group_events(group.id, 0, 1).await?.pop(),
    };
    let mut issue = issue_view(&group, &project);
    issue.last_release = latest.and_then(|e| e.event.release);
    let reports = state
        .meta
        .user_reports(project.id, Some(group.id), 50)
        .await?
        .iter()
        .map(|r| super::feedback::row(r, &ctx.member.org.slug, &project.slug))
        .collect();
    Ok(render(&IssuePage {
        reports,
        members,
        chart: bars(&points, period == "24h"),
        chart_total: points.iter().map(|p| p[1]).sum(),
        period,
        tags: tag_distributions(&tags, group.count),
        issue,
        event,
        nav: ctx.nav,
    }))
}

pub async fn issue_action(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = form_context(&req, &state, &path.0, &form).await?;
    let meta = state.meta.as_ref();
    let (group, project) = ctx.member.issue(meta, &path.1, scopes::EVENT_WRITE).await?;
    match form_field(&form, "action") {
        Some("assign") => {
            // The form names a member by id; empty unassigns.
            let assignee = form_field(&form, "assignee").unwrap_or("");
            ops::issues::assign(meta, &ctx.member, &group, &project, assignee).await?;
        }
        // Ignored until a time or a count comes back by itself
        // (the reappeared condition of alert rules).
        Some("ignored") if let Some(snooze) = ignore_for(&form) => {
            ops::issues::snooze(meta, &ctx.member, &[group.id], &snooze).await?;
        }
        _ => {
            if let Some(status) = parse_action(&form) {
                ops::issues::set_status(meta, &ctx.member, &[group.id], status).await?;
            }
        }
    }
    Ok(redirect(&format!(
        "/organizations/{}/issues/{}/",
        ctx.member.org.slug, group.id
    )))
}

/// The issue page's "Ignore" choice: `minutes:N`, `count:N` or `users:N`;
/// empty (or anything else) is forever.
fn ignore_for(form: &[(String, String)]) -> Option<faultline_storage::Snooze> {
    let (kind, n) = form_field(form, "ignore_for")?.split_once(':')?;
    let n: u64 = n.parse().ok().filter(|n| (1..=100_000).contains(n))?;
    let mut snooze = faultline_storage::Snooze::default();
    match kind {
        "minutes" => snooze.until = Some(chrono::Utc::now() + chrono::Duration::minutes(n as i64)),
        "count" => snooze.count = Some(n),
        "users" => snooze.user_count = Some(n),
        _ => return None,
    }
    Some(snooze)
}

/// The stored event as JSON, served as data (never as HTML).
pub async fn raw_event(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = context(&req, &state, &path.0).await?;
    let (group, project) = ctx
        .member
        .issue(state.meta.as_ref(), &path.1, scopes::EVENT_READ)
        .await?;
    let event_id: EventId = path.2.parse().map_err(|_| PageError::NotFound)?;
    match state.events.event(project.id, event_id).await? {
        Some(stored) if stored.group_id == group.id => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .json(&stored.event)),
        _ => Err(PageError::NotFound),
    }
}

/// An attachment of one of the issue's events, as a download (the event
/// section's links).
pub async fn attachment(
    req: HttpRequest,
    path: web::Path<(String, String, String, String)>,
    state: web::Data<WebState>,
) -> Result<HttpResponse, PageError> {
    let ctx = context(&req, &state, &path.0).await?;
    let (group, project) = ctx
        .member
        .issue(state.meta.as_ref(), &path.1, scopes::EVENT_READ)
        .await?;
    let event_id: EventId = path.2.parse().map_err(|_| PageError::NotFound)?;
    let id: i64 = path.3.parse().map_err(|_| PageError::NotFound)?;
    // Only an event of this issue: the issue is what the member may see.
    match state.events.event(project.id, event_id).await? {
        Some(stored) if stored.group_id == group.id => {}
        _ => return Err(PageError::NotFound),
    }
    let attachment = state
        .meta
        .attachments(project.id, event_id)
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or(PageError::NotFound)?;
    Ok(crate::api::attachments::download(&state, &attachment).await?)
}
