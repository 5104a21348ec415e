//! Organization members and who is on each team, as Sentry's API has them:
//! `GET /api/0/organizations/{org}/members/`,
//! `POST|DELETE /api/0/organizations/{org}/members/{member_id}/teams/{team}/`
//! and `GET /api/0/teams/{org}/{team}/members/`. A member's id is its
//! user's id.

use actix_web::{HttpRequest, HttpResponse, web};
use faultline_storage::{Role, User};
use serde_json::{Value, json};

use crate::WebState;
use crate::auth::member_of;
use crate::error::ApiResult;
use crate::ops;
use crate::scopes;
use crate::serialize;

/// Sentry's organization member, with the slugs of its teams.
fn member_json(user: &User, role: Option<Role>, teams: Vec<String>) -> Value {
    json!({
        "id": user.id.0.to_string(),
        "email": user.email,
        "name": if user.name.is_empty() { &user.email } else { &user.name },
        "user": serialize::user(user),
        "role": role.map(Role::as_str),
        "orgRole": role.map(Role::as_str),
        "pending": false,
        "expired": false,
        "dateCreated": serialize::iso(user.date_joined),
        "teams": teams,
    })
}

pub async fn members(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let member = member_of(&req, &state, &path, scopes::ORG_READ).await?;
    let meta = state.meta.as_ref();
    let teams = meta.teams(member.org.id).await?;
    let mut on_teams = Vec::with_capacity(teams.len());
    for team in &teams {
        on_teams.push((team.slug.clone(), meta.team_members(team.id).await?));
    }
    let out: Vec<Value> = meta
        .members(member.org.id)
        .await?
        .iter()
        .map(|(user, role)| {
            let teams = on_teams
                .iter()
                .filter(|(_, ids)| ids.contains(&user.id))
                .map(|(slug, _)| slug.clone())
                .collect();
            member_json(user, Some(*role), teams)
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

pub async fn team_members(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let member = member_of(&req, &state, &path.0, scopes::TEAM_READ).await?;
    let team = ops::teams::find(state.meta.as_ref(), &member, &path.1).await?;
    let users = ops::teams::members(state.meta.as_ref(), &member, &team).await?;
    let out: Vec<Value> = users
        .iter()
        .map(|u| member_json(u, None, vec![team.slug.clone()]))
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// `POST` puts the member on the team (201), `DELETE` takes them off
/// (200); both answer the team.
async fn set_membership(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<WebState>,
    on: bool,
) -> ApiResult<HttpResponse> {
    let member = member_of(&req, &state, &path.0, scopes::TEAM_READ).await?;
    let team = ops::teams::find(state.meta.as_ref(), &member, &path.2).await?;
    ops::teams::set_membership(state.meta.as_ref(), &member, &team, &path.1, on).await?;
    let body = serialize::team(&team);
    Ok(if on {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

pub async fn join(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    set_membership(req, path, state, true).await
}

pub async fn leave(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    set_membership(req, path, state, false).await
}
