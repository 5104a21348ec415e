//! Events: by id, an issue's events, and its latest/oldest event.

use actix_web::{HttpRequest, HttpResponse, web};
use faultline_protocol::EventId;

use super::issues::load_group;
use super::orgs::resolve_project;
use crate::WebState;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{link_header, page, query_pairs};
use crate::scopes;
use crate::serialize;

pub async fn project_event(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (_, project) = resolve_project(&req, &state, &path.0, &path.1, scopes::EVENT_READ).await?;
    let event_id: EventId = path.2.parse().map_err(|_| ApiError::NotFound)?;
    let stored = state
        .events
        .event(project.id, event_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(serialize::event_detail(&stored, None)))
}

pub async fn issue_events(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (_, group, _) = load_group(&req, &state, &path, scopes::EVENT_READ).await?;
    let full = query_pairs(req.query_string())
        .iter()
        .any(|(k, v)| k == "full" && matches!(v.as_str(), "1" | "true"));
    let page = page(&req, 100, 100)?;
    let mut events = state
        .events
        .group_events(group.id, page.offset, page.limit + 1)
        .await?;
    let has_next = events.len() > page.limit;
    events.truncate(page.limit);
    let body: Vec<_> = events
        .iter()
        .map(|e| {
            if full {
                serialize::event_detail(e, None)
            } else {
                serialize::event_summary(e)
            }
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Link", link_header(&req, &page, has_next)))
        .json(body))
}

/// `latest`, `oldest`, `recommended` or an event id.
pub async fn issue_event(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (_, group, project) = load_group(&req, &state, &path.0, scopes::EVENT_READ).await?;
    let stored = match path.1.as_str() {
        "latest" | "recommended" => state
            .events
            .group_events(group.id, 0, 1)
            .await?
            .into_iter()
            .next(),
        "oldest" => {
            let total = group.count.max(1) as usize;
            state
                .events
                .group_events(group.id, total - 1, 1)
                .await?
                .into_iter()
                .next()
        }
        id => {
            let event_id: EventId = id.parse().map_err(|_| ApiError::NotFound)?;
            state
                .events
                .event(project.id, event_id)
                .await?
                .filter(|e| e.group_id == group.id)
        }
    };
    let stored = stored.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(serialize::event_detail(&stored, None)))
}
