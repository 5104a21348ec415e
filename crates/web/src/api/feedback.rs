//! User feedback: `GET /api/0/projects/{org}/{project}/user-feedback/`,
//! the project's user reports in Sentry's shape, newest first, each with
//! the issue of its event when that event has been grouped.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use faultline_storage::UserReport;
use serde_json::{Value, json};

use super::orgs::resolve_project;
use crate::WebState;
use crate::error::ApiResult;
use crate::scopes;
use crate::serialize::{self, iso};

/// The newest reports one answer holds (Sentry pages by 100 too).
const PAGE: usize = 100;

pub async fn project_list(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::EVENT_READ).await?;
    let reports = state.meta.user_reports(project.id, None, PAGE).await?;
    let mut issues: HashMap<i64, Value> = HashMap::new();
    for group_id in reports.iter().filter_map(|r| r.group_id) {
        if issues.contains_key(&group_id.0) {
            continue;
        }
        // The issue may have gone (retention) while the report stays.
        if let Some(group) = state.meta.group(group_id).await?
            && group.project_id == project.id
        {
            let json = serialize::group(&group, &project, &member.org, &state.url_prefix, None);
            issues.insert(group_id.0, json);
        }
    }
    let body: Vec<Value> = reports
        .iter()
        .map(|r| report_json(r, r.group_id.and_then(|g| issues.get(&g.0))))
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Sentry's UserReport serialisation. The text is the user's, as JSON
/// strings: the dashboard escapes it where it shows it.
fn report_json(report: &UserReport, issue: Option<&Value>) -> Value {
    let event_id = report.event_id.to_string();
    json!({
        "id": report.id.to_string(),
        "eventID": event_id,
        "name": report.name,
        "email": report.email,
        "comments": report.comments,
        "dateCreated": iso(report.date_created),
        "user": null,
        "event": {"id": event_id, "eventID": event_id},
        "issue": issue,
        "url": report.url,
    })
}
