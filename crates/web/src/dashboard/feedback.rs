//! The Feedback page (`/organizations/{org}/feedback/`): what users wrote
//! about errors, newest first across the organization's projects, each
//! linking to its issue; and the rows the issue page shows for its own.
//! The text is the users': the templates escape it like all output.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use faultline_storage::UserReport;

use super::error::PageResult;
use super::pages::context;
use super::views::{Nav, render_status};
use crate::WebState;
use crate::scopes;
use crate::serialize::iso;

/// The most reports the page lists.
const LIMIT: usize = 100;

pub struct FeedbackRow {
    pub name: String,
    pub email: String,
    pub comments: String,
    pub date: String,
    pub project: String,
    pub event_id: String,
    /// The issue page, once the event is grouped.
    pub issue: Option<String>,
}

pub fn row(report: &UserReport, org: &str, project: &str) -> FeedbackRow {
    FeedbackRow {
        name: report.name.clone(),
        email: report.email.clone(),
        comments: report.comments.clone(),
        date: iso(report.date_created),
        project: project.to_owned(),
        event_id: report.event_id.to_string(),
        issue: report
            .group_id
            .map(|g| format!("/organizations/{org}/issues/{}/", g.0)),
    }
}

#[derive(Template)]
#[template(path = "feedback.html")]
pub struct FeedbackPage {
    pub nav: Nav,
    pub reports: Vec<FeedbackRow>,
}

/// `GET /organizations/{org}/feedback/`
pub async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = context(&req, &state, &path).await?;
    ctx.member.require(scopes::EVENT_READ)?;
    let org = &ctx.member.org;
    let mut reports: Vec<(UserReport, String)> = Vec::new();
    // Every member sees every project's issues (as the issue stream).
    for project in state.meta.projects(org.id).await? {
        for report in state.meta.user_reports(project.id, None, LIMIT).await? {
            reports.push((report, project.slug.clone()));
        }
    }
    reports.sort_by_key(|r| std::cmp::Reverse(r.0.date_created));
    reports.truncate(LIMIT);
    let rows = reports
        .iter()
        .map(|(report, project)| row(report, &org.slug, project))
        .collect();
    Ok(render_status(
        StatusCode::OK,
        &FeedbackPage {
            nav: ctx.nav,
            reports: rows,
        },
    ))
}
