//! Members and roles of an organization, and invitations: an owner or admin
//! creates a link (shown once), the invited person opens it, chooses a
//! password and joins with the role the invitation names.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use faultline_storage::{Invite, Role, StorageError, UserId};

use super::form_field;
use super::pages::{Access, Ctx, context, form_context, not_found, server_error};
use super::session::redirect;
use super::views::{AcceptInvitePage, MemberRow, MembersPage, render_status};
use crate::WebState;
use crate::auth::{generate_token, hash_token};
use crate::password::hash_password;

const INVITE_DAYS: i64 = 7;

async fn members_page(
    state: &WebState,
    ctx: Ctx,
    error: Option<String>,
    invite: Option<(String, String)>,
) -> HttpResponse {
    let members = match state.meta.members(ctx.org.id).await {
        Ok(members) => members,
        Err(e) => return server_error(e),
    };
    let me = ctx.nav.user_email.clone();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let (invite_link, invited_email) = invite.unwrap_or_default();
    render_status(
        status,
        &MembersPage {
            members: members
                .iter()
                .map(|(u, role)| MemberRow {
                    id: u.id.0,
                    email: u.email.clone(),
                    role: role.as_str().to_owned(),
                    is_self: u.email == me,
                })
                .collect(),
            roles: ["owner", "admin", "member"].map(String::from).to_vec(),
            can_admin: ctx.can_admin(),
            error,
            invite_link: (!invite_link.is_empty()).then_some(invite_link),
            invited_email,
            nav: ctx.nav,
        },
    )
}

pub async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> HttpResponse {
    match context(&req, &state, &path).await {
        Ok(ctx) => members_page(&state, ctx, None, None).await,
        Err(response) => response,
    }
}

pub async fn update(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> HttpResponse {
    let ctx = match form_context(&req, &state, &path, &form, Access::Admin).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let role = form_field(&form, "role").and_then(Role::parse);
    // Only owners hand out ownership.
    if role == Some(Role::Owner) && ctx.role != Role::Owner {
        return members_page(
            &state,
            ctx,
            Some("Only owners can make someone an owner.".into()),
            None,
        )
        .await;
    }
    match form_field(&form, "action") {
        Some("invite") => {
            let email = form_field(&form, "email")
                .unwrap_or("")
                .to_ascii_lowercase();
            if !email.contains('@') || email.len() > 254 {
                return members_page(
                    &state,
                    ctx,
                    Some("Enter the email address to invite.".into()),
                    None,
                )
                .await;
            }
            let Some(user) = state
                .meta
                .user_by_email(&ctx.nav.user_email)
                .await
                .ok()
                .flatten()
            else {
                return not_found();
            };
            let token = generate_token();
            let invite = Invite {
                org_id: ctx.org.id,
                email: email.clone(),
                role: role.unwrap_or(Role::Member),
                invited_by: user.id,
                expires: Utc::now() + chrono::Duration::days(INVITE_DAYS),
            };
            if let Err(e) = state.meta.create_invite(&invite, &hash_token(&token)).await {
                return server_error(e);
            }
            let link = format!(
                "{}/accept-invite/{token}/",
                state.url_prefix.trim_end_matches('/')
            );
            members_page(&state, ctx, None, Some((link, email))).await
        }
        Some(action @ ("role" | "remove")) => {
            let Some(user) = form_field(&form, "user")
                .and_then(|u| u.parse::<i64>().ok())
                .map(UserId)
            else {
                return members_page(&state, ctx, Some("Choose a member.".into()), None).await;
            };
            let members = match state.meta.members(ctx.org.id).await {
                Ok(m) => m,
                Err(e) => return server_error(e),
            };
            let Some((_, current)) = members.iter().find(|(u, _)| u.id == user) else {
                return not_found();
            };
            if *current == Role::Owner && ctx.role != Role::Owner {
                return members_page(
                    &state,
                    ctx,
                    Some("Only owners can change or remove an owner.".into()),
                    None,
                )
                .await;
            }
            let owners = members.iter().filter(|(_, r)| *r == Role::Owner).count();
            let demotes_owner =
                *current == Role::Owner && (action == "remove" || role != Some(Role::Owner));
            if demotes_owner && owners <= 1 {
                return members_page(
                    &state,
                    ctx,
                    Some("An organization keeps at least one owner.".into()),
                    None,
                )
                .await;
            }
            let result = if action == "remove" {
                state.meta.remove_member(ctx.org.id, user).await
            } else {
                state
                    .meta
                    .add_member(ctx.org.id, user, role.unwrap_or(Role::Member))
                    .await
            };
            if let Err(e) = result {
                return server_error(e);
            }
            redirect(&format!("/settings/{}/members/", ctx.org.slug))
        }
        _ => redirect(&format!("/settings/{}/members/", ctx.org.slug)),
    }
}

async fn invite_page(state: &WebState, token: &str, error: Option<String>) -> HttpResponse {
    let invite = match state.meta.invite(&hash_token(token)).await {
        Ok(Some(invite)) => invite,
        Ok(None) => return not_found(),
        Err(e) => return server_error(e),
    };
    let org = match state.meta.organization_by_id(invite.org_id).await {
        Ok(Some(org)) => org,
        Ok(None) => return not_found(),
        Err(e) => return server_error(e),
    };
    let needs_password = matches!(state.meta.user_by_email(&invite.email).await, Ok(None));
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render_status(
        status,
        &AcceptInvitePage {
            org_name: org.name,
            email: invite.email,
            role: invite.role.as_str().to_owned(),
            needs_password,
            error,
        },
    )
}

pub async fn accept_form(path: web::Path<String>, state: web::Data<WebState>) -> HttpResponse {
    invite_page(&state, &path, None).await
}

#[derive(serde::Deserialize)]
pub struct AcceptForm {
    password: Option<String>,
}

/// Whoever holds the link may accept: the link is the credential, like a
/// password-reset link, so no CSRF token exists yet; the origin check of
/// [`super::csrf`] still applies.
pub async fn accept(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<AcceptForm>,
    state: web::Data<WebState>,
) -> HttpResponse {
    if let Err(rejection) = super::csrf::check_origin(&req, &state.trusted_origins) {
        return super::session::csrf_failure(&rejection);
    }
    let token_hash = hash_token(&path);
    let invite = match state.meta.invite(&token_hash).await {
        Ok(Some(invite)) => invite,
        Ok(None) => return not_found(),
        Err(e) => return server_error(e),
    };
    let user = match state.meta.user_by_email(&invite.email).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            let password = form.password.as_deref().unwrap_or("");
            if password.chars().count() < 8 || password.len() > 1024 {
                return invite_page(
                    &state,
                    &path,
                    Some("Choose a password of 8 characters or more.".into()),
                )
                .await;
            }
            match state
                .meta
                .create_user(&invite.email, Some(&hash_password(password)), false)
                .await
            {
                Ok(user) => user,
                Err(StorageError::Conflict(_)) => return invite_page(&state, &path, None).await,
                Err(e) => return server_error(e),
            }
        }
        Err(e) => return server_error(e),
    };
    if let Err(e) = state
        .meta
        .add_member(invite.org_id, user.id, invite.role)
        .await
    {
        return server_error(e);
    }
    if let Err(e) = state.meta.delete_invite(&token_hash).await {
        return server_error(e);
    }
    redirect("/auth/login/")
}
