//! Members and roles of an organization, and invitations: an owner or admin
//! creates a link (shown once), the invited person opens it, chooses a
//! password and joins with the role the invitation names.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use faultline_storage::{Invite, Role, Session, StorageError, User, UserId};

use super::form_field;
use super::pages::{Access, Ctx, context, form_context, not_found, server_error};
use super::session::{current, redirect};
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
            let current_role = match state.meta.member_role(ctx.org.id, user).await {
                Ok(Some(role)) => role,
                Ok(None) => return not_found(),
                Err(e) => return server_error(e),
            };
            if current_role == Role::Owner && ctx.role != Role::Owner {
                return members_page(
                    &state,
                    ctx,
                    Some("Only owners can change or remove an owner.".into()),
                    None,
                )
                .await;
            }
            // The store refuses, in the same transaction, to leave the
            // organization without an owner (two owners demoting each other
            // at once cannot both succeed).
            let result = match (action, role) {
                ("remove", _) => state.meta.remove_member(ctx.org.id, user).await,
                (_, Some(role)) => state.meta.set_member_role(ctx.org.id, user, role).await,
                (_, None) => {
                    return members_page(&state, ctx, Some("Choose a role.".into()), None).await;
                }
            };
            match result {
                Ok(()) => {}
                Err(StorageError::LastOwner) => {
                    return members_page(
                        &state,
                        ctx,
                        Some("An organization keeps at least one owner.".into()),
                        None,
                    )
                    .await;
                }
                Err(StorageError::NotFound) => return not_found(),
                Err(e) => return server_error(e),
            }
            redirect(&format!("/settings/{}/members/", ctx.org.slug))
        }
        _ => redirect(&format!("/settings/{}/members/", ctx.org.slug)),
    }
}

/// Who is looking at an invitation, which decides what accepting takes.
enum Acceptor {
    /// No account has the invited address: whoever holds the link chooses
    /// its password (the link is the credential, as a reset link is).
    NewAccount,
    /// The account exists and is signed in here: one click joins.
    SignedIn(Session, User),
    /// The account exists: it must sign in first, so a link that reached
    /// someone else (an admin of another organization, say) cannot add
    /// memberships to, or change, an account that is not theirs.
    MustSignIn,
    /// Signed in as someone other than the invited address.
    OtherAccount(String),
}

async fn acceptor(
    req: &HttpRequest,
    state: &WebState,
    invite: &Invite,
) -> Result<Acceptor, HttpResponse> {
    let existing = match state.meta.user_by_email(&invite.email).await {
        Ok(existing) => existing,
        Err(e) => return Err(server_error(e)),
    };
    let signed_in = current(req, state).await;
    Ok(match (existing, signed_in) {
        (None, None) => Acceptor::NewAccount,
        (None, Some((_, user))) => Acceptor::OtherAccount(user.email),
        (Some(invited), Some((session, user))) if user.id == invited.id => {
            Acceptor::SignedIn(session, user)
        }
        (Some(_), Some((_, user))) => Acceptor::OtherAccount(user.email),
        (Some(_), None) => Acceptor::MustSignIn,
    })
}

async fn invite_page(
    req: &HttpRequest,
    state: &WebState,
    token: &str,
    error: Option<String>,
) -> HttpResponse {
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
    let acceptor = match acceptor(req, state, &invite).await {
        Ok(acceptor) => acceptor,
        Err(response) => return response,
    };
    let status = match (&error, &acceptor) {
        (Some(_), _) => StatusCode::BAD_REQUEST,
        (None, Acceptor::OtherAccount(_)) => StatusCode::FORBIDDEN,
        (None, _) => StatusCode::OK,
    };
    // The token matched a stored hash, so once trimmed (as hashing does)
    // it is the 64 hex digits of the link, safe in a URL as it is.
    let here = format!("/accept-invite/{}/", token.trim());
    render_status(
        status,
        &AcceptInvitePage {
            org_name: org.name,
            email: invite.email,
            role: invite.role.as_str().to_owned(),
            needs_password: matches!(acceptor, Acceptor::NewAccount),
            sign_in_link: matches!(acceptor, Acceptor::MustSignIn)
                .then(|| format!("/auth/login/?next={here}")),
            signed_in_as: match &acceptor {
                Acceptor::OtherAccount(email) => Some(email.clone()),
                _ => None,
            },
            csrf_token: match &acceptor {
                Acceptor::SignedIn(session, _) => Some(session.csrf_token.clone()),
                _ => None,
            },
            error,
        },
    )
}

pub async fn accept_form(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> HttpResponse {
    invite_page(&req, &state, &path, None).await
}

#[derive(serde::Deserialize)]
pub struct AcceptForm {
    password: Option<String>,
    csrf_token: Option<String>,
}

/// Accepts an invitation: a new account is created with the password
/// chosen here; an existing account must be the signed-in one. Joining
/// never changes the role of someone who is already a member, and the
/// invitation is used up atomically, so a link works once.
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
    let acceptor = match acceptor(&req, &state, &invite).await {
        Ok(acceptor) => acceptor,
        Err(response) => return response,
    };
    let (user, next) = match acceptor {
        Acceptor::NewAccount => {
            let password = form.password.as_deref().unwrap_or("");
            if password.chars().count() < 8 || password.len() > 1024 {
                return invite_page(
                    &req,
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
                Ok(user) => (user, "/auth/login/".to_owned()),
                // Someone created the account meanwhile: it now has to sign in.
                Err(StorageError::Conflict(_)) => {
                    return invite_page(&req, &state, &path, None).await;
                }
                Err(e) => return server_error(e),
            }
        }
        Acceptor::SignedIn(session, user) => {
            if let Err(rejection) =
                super::csrf::check_token(&session.csrf_token, form.csrf_token.as_deref())
            {
                return super::session::csrf_failure(&rejection);
            }
            let org = match state.meta.organization_by_id(invite.org_id).await {
                Ok(Some(org)) => org,
                Ok(None) => return not_found(),
                Err(e) => return server_error(e),
            };
            (user, format!("/organizations/{}/issues/", org.slug))
        }
        Acceptor::MustSignIn | Acceptor::OtherAccount(_) => {
            return invite_page(&req, &state, &path, None).await;
        }
    };
    match state.meta.accept_invite(&token_hash, user.id).await {
        Ok(Some(_)) => redirect(&next),
        Ok(None) => not_found(),
        Err(e) => server_error(e),
    }
}
