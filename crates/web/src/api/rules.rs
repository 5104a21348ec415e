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
