//! Issue alert rules: `GET|POST /api/0/projects/{org}/{project}/rules/` and
//! `GET|PUT|DELETE …/rules/{id}/`, in Sentry's shapes.

use actix_web::{HttpRequest, HttpResponse, web};
use faultline_storage::{AlertRule, Project};
use serde_json::Value;

use super::orgs::resolve_project;
use crate::WebState;
use crate::error::ApiResult;
use crate::ops;
use crate::scopes;
use crate::serialize;

/// A rule as Sentry serialises it, with its creator.
async fn rule_json(state: &WebState, project: &Project, rule: &AlertRule) -> ApiResult<Value> {
    let creator = match rule.created_by {
        Some(id) => state.meta.user_by_id(id).await?,
        None => None,
    };
    Ok(serialize::rule(rule, project, creator.as_ref()))
}

pub async fn list(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::ALERTS_READ).await?;
    let rules = ops::rules::list(state.alerts.as_ref(), &member, &project).await?;
    let mut out = Vec::with_capacity(rules.len());
    for rule in &rules {
        out.push(rule_json(&state, &project, rule).await?);
    }
    Ok(HttpResponse::Ok().json(out))
}

pub async fn create(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::ALERTS_WRITE).await?;
    let rule = ops::rules::create(
        state.meta.as_ref(),
        state.alerts.as_ref(),
        &member,
        &project,
        &body,
    )
    .await?;
    // Sentry answers a new rule with 200, not 201.
    Ok(HttpResponse::Ok().json(rule_json(&state, &project, &rule).await?))
}

pub async fn detail(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::ALERTS_READ).await?;
    let rule = ops::rules::get(state.alerts.as_ref(), &member, &project, &path.2).await?;
    Ok(HttpResponse::Ok().json(rule_json(&state, &project, &rule).await?))
}

pub async fn update(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: web::Json<Value>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::ALERTS_WRITE).await?;
    let rule = ops::rules::update(
        state.meta.as_ref(),
        state.alerts.as_ref(),
        &member,
        &project,
        &path.2,
        &body,
    )
    .await?;
    Ok(HttpResponse::Ok().json(rule_json(&state, &project, &rule).await?))
}

pub async fn delete(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::ALERTS_WRITE).await?;
    ops::rules::delete(state.alerts.as_ref(), &member, &project, &path.2).await?;
    // Sentry's answer to a deleted rule.
    Ok(HttpResponse::Accepted().finish())
}

/// Most firings read for a rule's history.
const HISTORY: usize = 200;

/// `GET …/rules/{id}/group-history/`: the issues the rule fired for, most
/// recent first, as Sentry answers it (`group`, `count`, `lastTriggered`,
/// `eventId`), each with what the latest firing's deliveries did
/// (`deliveries`: channel, recipient, status, attempts, the last error).
pub async fn group_history(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::ALERTS_READ).await?;
    let rule = ops::rules::get(state.alerts.as_ref(), &member, &project, &path.2).await?;
    let fires = state.alerts.rule_history(rule.id, HISTORY).await?;
    // Newest first, so the first firing met of each issue is its latest.
    let mut out: Vec<(faultline_protocol::GroupId, Value)> = Vec::new();
    for fire in &fires {
        if let Some((_, entry)) = out.iter_mut().find(|(g, _)| *g == fire.group_id) {
            entry["count"] = serde_json::json!(entry["count"].as_u64().unwrap_or(0) + 1);
            continue;
        }
        let Some(group) = state.meta.group(fire.group_id).await? else {
            continue;
        };
        let deliveries: Vec<Value> = fire
            .deliveries
            .iter()
            .map(|d| {
                serde_json::json!({
                    "channel": d.channel,
                    "target": d.target,
                    "status": d.status.as_str(),
                    "attempts": d.attempts,
                    "lastError": d.last_error,
                    "nextAttempt": serialize::iso(d.next_attempt),
                    "dateUpdated": serialize::iso(d.date_updated),
                })
            })
            .collect();
        let entry = serde_json::json!({
            "group": serialize::group(&group, &project, &member.org, &state.url_prefix, None),
            "count": 1,
            "lastTriggered": serialize::iso(fire.date_fired),
            "eventId": fire.event_id.to_string(),
            "deliveries": deliveries,
        });
        out.push((fire.group_id, entry));
    }
    Ok(HttpResponse::Ok().json(out.into_iter().map(|(_, v)| v).collect::<Vec<_>>()))
}
