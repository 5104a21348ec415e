//! Templates and the view models they render. Views hold plain strings and
//! numbers; askama escapes every `{{ }}` in the HTML templates, so event data
//! (attacker-controlled) is always shown as text.

use actix_web::HttpResponse;
use askama::Template;
use chrono::{DateTime, Utc};
use faultline_protocol::ProcessedEvent;
use faultline_storage::{Group, Project};
use serde_json::Value;

use crate::serialize::{numbered_context, short_id};

/// What the top navigation needs.
pub struct Nav {
    pub org_slug: String,
    pub user_email: String,
    pub csrf_token: String,
    /// One of [`TIMEZONES`]; dates are shown in it by the page's script.
    pub timezone: String,
    /// Why events are being refused (a nearly full disk), shown to admins.
    pub disk_warning: Option<String>,
}

/// Time zones offered in account settings (validated against this list, so
/// the value placed into the page's script is always one of these).
pub const TIMEZONES: [&str; 40] = [
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Stockholm",
    "Europe/Warsaw",
    "Europe/Athens",
    "Europe/Helsinki",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Africa/Cairo",
    "Africa/Johannesburg",
    "Africa/Lagos",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Perth",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/Mexico_City",
    "America/Bogota",
    "America/New_York",
    "America/Toronto",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "Pacific/Honolulu",
];

pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub scopes: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub nav: Nav,
    pub timezones: Vec<String>,
    pub notice: Option<String>,
    pub error: Option<String>,
}

/// One project on the alert email settings.
pub struct AlertEmailRow {
    pub project_id: i64,
    pub project: String,
    pub org: String,
    pub on: bool,
}

#[derive(Template)]
#[template(path = "notifications.html")]
pub struct NotificationsPage {
    pub nav: Nav,
    pub projects: Vec<AlertEmailRow>,
}

#[derive(Template)]
#[template(path = "tokens.html")]
pub struct TokensPage {
    pub nav: Nav,
    pub tokens: Vec<TokenRow>,
    pub new_token: Option<String>,
    /// Every scope with whether the create form starts with it ticked.
    pub scope_choices: Vec<(&'static str, bool)>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub error: Option<String>,
    pub email: String,
    pub next: String,
}

#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterPage {
    pub error: Option<String>,
    pub email: String,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub title: String,
    pub lines: Vec<String>,
}

pub struct ProjectOption {
    pub id: i64,
    pub slug: String,
    pub selected: bool,
}

pub struct IssueRow {
    pub id: i64,
    pub short_id: String,
    pub title: String,
    pub culprit: String,
    pub level: &'static str,
    pub status: &'static str,
    pub count: i64,
    pub user_count: i64,
    pub first_seen: String,
    pub first_seen_text: String,
    pub last_seen: String,
    pub last_seen_text: String,
    /// SVG polyline points of the hourly event counts.
    pub sparkline: String,
    pub assignee: Option<String>,
}

#[derive(Template)]
#[template(path = "issues.html")]
pub struct IssuesPage {
    pub nav: Nav,
    pub projects: Vec<ProjectOption>,
    pub query: String,
    pub sort: String,
    pub sorts: Vec<(&'static str, &'static str)>,
    pub issues: Vec<IssueRow>,
    pub error: Option<String>,
    pub prev_url: Option<String>,
    pub next_url: Option<String>,
}

pub struct IssueView {
    pub project_id: i64,
    pub project_slug: String,
    pub short_id: String,
    pub title: String,
    pub culprit: String,
    pub level: &'static str,
    pub status: &'static str,
    pub count: i64,
    pub user_count: i64,
    pub first_seen: String,
    pub last_seen: String,
    pub first_release: Option<String>,
    /// The release of the newest event.
    pub last_release: Option<String>,
}

pub struct FrameView {
    pub location: String,
    pub function: String,
    pub lineno: Option<u64>,
    pub in_app: bool,
    pub open: bool,
    /// (line number, text, is the current line)
    pub context: Vec<(u64, String, bool)>,
    pub vars: Vec<(String, String)>,
    pub symbolication: Option<SymbolicationNote>,
}

/// What symbolication said about a frame, shown under it: the first
/// question of anyone whose uploaded maps are not applied.
pub struct SymbolicationNote {
    pub mapped: bool,
    /// `debug-id` or `release` when mapped; the reason's code otherwise.
    pub label: String,
    /// The map used, or why none was.
    pub detail: String,
}

impl SymbolicationNote {
    /// From a frame's `data`; none for frames symbolication never looked
    /// at, or that are not source (runtime internals).
    pub fn of(data: Option<&serde_json::Map<String, serde_json::Value>>) -> Option<Self> {
        let data = data?;
        let text = |key: &str| data.get(key).and_then(|v| v.as_str()).unwrap_or_default();
        if data.get("symbolicated").and_then(|v| v.as_bool())? {
            return Some(SymbolicationNote {
                mapped: true,
                label: text("resolved_with").to_owned(),
                detail: format!("source map {}", text("sourcemap")),
            });
        }
        let reason = text("unresolved_reason");
        (reason != "not_a_source_frame").then(|| SymbolicationNote {
            mapped: false,
            label: reason.replace('_', " "),
            detail: text("unresolved_detail").to_owned(),
        })
    }
}

pub struct ExceptionView {
    pub ty: String,
    pub value: String,
    pub mechanism: Option<String>,
    pub frames: Vec<FrameView>,
}

pub struct CrumbView {
    pub time: String,
    pub category: String,
    pub message: String,
    pub level: String,
}

pub struct EventView {
    pub event_id: String,
    pub date: String,
    pub message: Option<String>,
    pub exceptions: Vec<ExceptionView>,
    pub breadcrumbs: Vec<CrumbView>,
    pub tags: Vec<(String, String)>,
    /// Titled key/value sections: user, request, contexts, SDK.
    pub sections: Vec<(String, Vec<(String, String)>)>,
    pub raw_url: String,
    pub newer_url: Option<String>,
    pub older_url: Option<String>,
    /// The files the SDK sent with the event, as download links.
    pub attachments: Vec<AttachmentLink>,
}

pub struct AttachmentLink {
    pub name: String,
    pub mimetype: String,
    pub size: String,
    pub url: String,
}

/// `1234567` → `1.2 MB`: how big an attachment is, for people.
pub fn size_text(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

/// One bar of the events chart.
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub label: String,
}

pub struct TagDistribution {
    pub key: String,
    /// (value, events, percent of the issue's events)
    pub values: Vec<(String, u64, u64)>,
}

#[derive(Template)]
#[template(path = "issue.html")]
pub struct IssuePage {
    pub nav: Nav,
    pub issue: IssueView,
    pub event: Option<EventView>,
    pub chart: Vec<Bar>,
    pub chart_total: i64,
    pub period: &'static str,
    pub tags: Vec<TagDistribution>,
    /// (user id, email, is the assignee)
    pub members: Vec<(i64, String, bool)>,
    /// What users wrote about the issue's events, newest first.
    pub reports: Vec<super::feedback::FeedbackRow>,
}

pub struct MemberRow {
    pub id: i64,
    pub email: String,
    pub role: String,
    pub is_self: bool,
}

#[derive(Template)]
#[template(path = "members.html")]
pub struct MembersPage {
    pub nav: Nav,
    pub members: Vec<MemberRow>,
    pub roles: Vec<String>,
    pub can_admin: bool,
    pub error: Option<String>,
    pub invite_link: Option<String>,
    pub invited_email: String,
}

#[derive(Template)]
#[template(path = "accept_invite.html")]
pub struct AcceptInvitePage {
    pub org_name: String,
    pub email: String,
    pub role: String,
    /// No account has this address yet: the form asks for a password.
    pub needs_password: bool,
    /// The account exists and must sign in first: where to do so.
    pub sign_in_link: Option<String>,
    /// Signed in, but as someone else (this email).
    pub signed_in_as: Option<String>,
    /// Signed in as the invited account: the form's session token.
    pub csrf_token: Option<String>,
    pub error: Option<String>,
}

/// Bars for a 600×80 chart from `[bucket start, count]` points.
pub fn bars(points: &[[i64; 2]], hourly: bool) -> Vec<Bar> {
    let max = points.iter().map(|p| p[1]).max().unwrap_or(0).max(1) as f64;
    let slot = 600.0 / points.len().max(1) as f64;
    points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let height = (p[1] as f64 / max * 76.0).max(if p[1] > 0 { 2.0 } else { 0.0 });
            let when = chrono::DateTime::from_timestamp(p[0], 0).unwrap_or_default();
            let format = if hourly {
                "%Y-%m-%d %H:00 UTC"
            } else {
                "%Y-%m-%d"
            };
            Bar {
                x: i as f64 * slot + 1.0,
                y: 80.0 - height,
                width: (slot - 2.0).max(1.0),
                height,
                label: format!("{}: {} events", when.format(format), p[1]),
            }
        })
        .collect()
}

pub fn tag_distributions(
    values: &[faultline_storage::TagValueCount],
    total: i64,
) -> Vec<TagDistribution> {
    let mut out: Vec<TagDistribution> = Vec::new();
    for v in values {
        let percent = if total > 0 {
            (v.count * 100).div_ceil(total as u64).min(100)
        } else {
            0
        };
        match out.last_mut() {
            Some(d) if d.key == v.key => d.values.push((v.value.clone(), v.count, percent)),
            _ => out.push(TagDistribution {
                key: v.key.clone(),
                values: vec![(v.value.clone(), v.count, percent)],
            }),
        }
    }
    out
}

pub fn render(template: &impl Template) -> HttpResponse {
    match template.render() {
        Ok(html) => super::browser::secure_page(&mut HttpResponse::Ok())
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            HttpResponse::InternalServerError().body("template error")
        }
    }
}

pub fn render_status(
    status: actix_web::http::StatusCode,
    template: &impl Template,
) -> HttpResponse {
    let mut response = render(template);
    *response.status_mut() = status;
    response
}

pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// "3 minutes", "2 hours", "5 days".
pub fn ago(t: DateTime<Utc>) -> String {
    let secs = (Utc::now() - t).num_seconds().max(0);
    let (n, unit) = match secs {
        s if s < 60 => (s, "second"),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3600, "hour"),
        s => (s / 86_400, "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

pub fn sparkline(points: &[[i64; 2]]) -> String {
    let max = points.iter().map(|p| p[1]).max().unwrap_or(0).max(1) as f64;
    let step = if points.len() > 1 {
        100.0 / (points.len() - 1) as f64
    } else {
        0.0
    };
    points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                22.0 - (p[1] as f64 / max) * 20.0
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn issue_row(group: &Group, project: &Project, stats: Option<&Vec<[i64; 2]>>) -> IssueRow {
    IssueRow {
        id: group.id.0,
        short_id: short_id(&project.slug, group.short_id),
        title: group.title.clone(),
        culprit: group.culprit.clone(),
        level: group.level.as_str(),
        status: group.status.as_str(),
        count: group.count,
        user_count: group.user_count,
        first_seen: iso(group.first_seen),
        first_seen_text: ago(group.first_seen),
        last_seen: iso(group.last_seen),
        last_seen_text: ago(group.last_seen),
        sparkline: stats.map(|s| sparkline(s)).unwrap_or_default(),
        assignee: None,
    }
}

pub fn issue_view(group: &Group, project: &Project) -> IssueView {
    IssueView {
        project_id: project.id.0,
        project_slug: project.slug.clone(),
        short_id: short_id(&project.slug, group.short_id),
        title: group.title.clone(),
        culprit: group.culprit.clone(),
        level: group.level.as_str(),
        status: group.status.as_str(),
        count: group.count,
        user_count: group.user_count,
        first_seen: iso(group.first_seen),
        last_seen: iso(group.last_seen),
        first_release: group.first_release.clone(),
        last_release: None,
    }
}

/// A JSON value as one line of text (strings without quotes).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn pairs(obj: Option<&Value>) -> Vec<(String, String)> {
    obj.and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
        .unwrap_or_default()
}

pub fn event_view(
    stored: &ProcessedEvent,
    raw_url: String,
    newer_url: Option<String>,
    older_url: Option<String>,
) -> EventView {
    let event = &stored.event;
    // Most recent exception first, innermost frame first: how Sentry reads.
    let exceptions = event
        .exception
        .iter()
        .rev()
        .map(|exc| {
            let frames: Vec<FrameView> = exc
                .stacktrace
                .iter()
                .flat_map(|s| s.frames.iter().rev())
                .map(|f| {
                    let context = numbered_context(f)
                        .into_iter()
                        .map(|(n, line, own)| (n, line.to_owned(), own))
                        .collect();
                    FrameView {
                        location: f
                            .module
                            .clone()
                            .or_else(|| f.filename.clone())
                            .unwrap_or_else(|| "?".into()),
                        function: f.function.clone().unwrap_or_else(|| "?".into()),
                        lineno: f.lineno,
                        in_app: f.in_app == Some(true),
                        open: false,
                        context,
                        vars: pairs(f.vars.as_ref()),
                        symbolication: SymbolicationNote::of(f.data.as_ref()),
                    }
                })
                .collect();
            ExceptionView {
                ty: exc.ty.clone().unwrap_or_else(|| "Error".into()),
                value: exc.value.clone().unwrap_or_default(),
                mechanism: exc.mechanism.as_ref().and_then(|m| m.get("type")).map(text),
                frames,
            }
        })
        .map(|mut exc| {
            // The innermost in-app frame starts open.
            if let Some(f) = exc.frames.iter_mut().find(|f| f.in_app) {
                f.open = true;
            }
            exc
        })
        .collect();
    let breadcrumbs = event
        .breadcrumbs
        .iter()
        .map(|b| CrumbView {
            time: b.get("timestamp").map(text).unwrap_or_default(),
            category: b.get("category").map(text).unwrap_or_default(),
            message: b
                .get("message")
                .map(text)
                .or_else(|| b.get("data").map(text))
                .unwrap_or_default(),
            level: b.get("level").map(text).unwrap_or_default(),
        })
        .collect();
    let mut sections = Vec::new();
    if let Some(user) = &event.user {
        sections.push((
            "User".to_owned(),
            user.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        ));
    }
    if let Some(request) = &event.request {
        let mut fields = Vec::new();
        for key in ["method", "url", "query_string"] {
            if let Some(v) = request.get(key) {
                fields.push((key.to_owned(), text(v)));
            }
        }
        sections.push(("Request".to_owned(), fields));
    }
    for (name, ctx) in &event.contexts {
        let fields: Vec<(String, String)> = pairs(Some(ctx))
            .into_iter()
            .filter(|(k, _)| k != "type")
            .collect();
        if !fields.is_empty() {
            sections.push((format!("Context: {name}"), fields));
        }
    }
    if let Some(sdk) = &event.sdk {
        let name = sdk.get("name").map(text).unwrap_or_default();
        let version = sdk.get("version").map(text).unwrap_or_default();
        sections.push((
            "SDK".to_owned(),
            vec![("name".into(), name), ("version".into(), version)],
        ));
    }
    EventView {
        event_id: event.event_id.to_string(),
        date: iso(event.timestamp),
        message: event
            .logentry
            .as_ref()
            .and_then(|l| l.text())
            .map(str::to_owned),
        exceptions,
        breadcrumbs,
        tags: event.tags.clone(),
        sections,
        raw_url,
        newer_url,
        older_url,
        attachments: Vec::new(),
    }
}

pub struct ProjectRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub platform: String,
}

pub struct TeamRow {
    pub slug: String,
    pub name: String,
    /// Project slugs.
    pub projects: Vec<String>,
    /// (user id, email) of those on the team.
    pub members: Vec<(i64, String)>,
}

#[derive(Template)]
#[template(path = "teams.html")]
pub struct TeamsPage {
    pub nav: Nav,
    pub teams: Vec<TeamRow>,
    /// (user id, email) of the organization's members, for "Add".
    pub org_members: Vec<(i64, String)>,
    pub can_admin: bool,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "projects.html")]
pub struct ProjectsPage {
    pub nav: Nav,
    pub projects: Vec<ProjectRow>,
    /// Team slugs a new project can belong to.
    pub teams: Vec<String>,
    pub platforms: Vec<(&'static str, &'static str)>,
    pub can_admin: bool,
    pub error: Option<String>,
}

pub struct KeyRow {
    pub label: String,
    pub public_key: String,
    pub dsn: String,
    pub active: bool,
    pub rate_limit: Option<String>,
}

#[derive(Template)]
#[template(path = "project_settings.html")]
pub struct ProjectSettingsPage {
    pub nav: Nav,
    pub project: ProjectRow,
    pub keys: Vec<KeyRow>,
    pub platforms: Vec<(&'static str, &'static str)>,
    pub can_admin: bool,
}

pub fn project_row(p: &Project) -> ProjectRow {
    ProjectRow {
        id: p.id.0,
        slug: p.slug.clone(),
        name: p.name.clone(),
        platform: p.platform.clone().unwrap_or_default(),
    }
}
