//! Members and roles of an organization, and invitations: an owner or admin
//! creates a link (shown once), the invited person opens it, chooses a
//! password and joins with the role the invitation names. The rules are in
//! `ops::members`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use faultline_storage::{Role, UserId};

use super::csrf;
use super::error::{PageError, PageResult, ShowRefusal, form_status};
use super::form_field;
use super::pages::{Ctx, context, form_context};
use super::session::{current, redirect};
use super::views::{AcceptInvitePage, MemberRow, MembersPage, render_status};
use crate::WebState;
use crate::ops::{
    self, OpError,
    members::{Accepted, Acceptor},
};

async fn members_page(
    state: &WebState,
    ctx: Ctx,
    error: Option<String>,
    invite: Option<(String, String)>,
) -> PageResult {
    let members = state.meta.members(ctx.member.org.id).await?;
    let me = ctx.member.user.id;
    let status = form_status(&error);
    let (invite_link, invited_email) = invite.unwrap_or_default();
    Ok(render_status(
        status,
        &MembersPage {
            members: members
                .iter()
                .map(|(u, role)| MemberRow {
                    id: u.id.0,
                    email: u.email.clone(),
                    role: role.as_str().to_owned(),
                    is_self: u.id == me,
                })
                .collect(),
            roles: ["owner", "admin", "member"].map(String::from).to_vec(),
            can_admin: ctx.can_admin(),
            error,
            invite_link: (!invite_link.is_empty()).then_some(invite_link),
            invited_email,
            nav: ctx.nav,
        },
    ))
}

pub async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = context(&req, &state, &path).await?;
    members_page(&state, ctx, None, None).await
}

/// The member a form names.
fn chosen_member(form: &[(String, String)]) -> Result<UserId, OpError> {
    form_field(form, "user")
        .and_then(|u| u.parse::<i64>().ok())
        .map(UserId)
        .ok_or_else(|| OpError::invalid("user", "choose a member"))
}

pub async fn update(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = form_context(&req, &state, &path, &form).await?;
    // Members get the stranger's 404 before any field is read.
    ctx.member.require_member_admin()?;
    let (meta, member) = (state.meta.as_ref(), &ctx.member);
    let role = form_field(&form, "role");
    let done = match form_field(&form, "action") {
        Some("invite") => {
            let invited = async {
                let role = match role {
                    None => Role::Member,
                    given => ops::members::parse_role(given)?,
                };
                let email = form_field(&form, "email").unwrap_or("");
                ops::members::invite(meta, member, email, role).await
            }
            .await
            .or_show()?;
            match invited {
                Ok(invited) => {
                    let link = format!(
                        "{}/accept-invite/{}/",
                        state.url_prefix.trim_end_matches('/'),
                        invited.token
                    );
                    return members_page(&state, ctx, None, Some((link, invited.email))).await;
                }
                Err(refusal) => Err(refusal),
            }
        }
        Some("role") => async {
            let user = chosen_member(&form)?;
            let role = ops::members::parse_role(role)?;
            ops::members::set_role(meta, member, user, role).await
        }
        .await
        .or_show()?,
        Some("remove") => async { ops::members::remove(meta, member, chosen_member(&form)?).await }
            .await
            .or_show()?,
        _ => Ok(()),
    };
    match done {
        Ok(()) => Ok(redirect(&format!("/settings/{}/members/", member.org.slug))),
        Err(refusal) => members_page(&state, ctx, Some(refusal), None).await,
    }
}

async fn invite_page(
    req: &HttpRequest,
    state: &WebState,
    token: &str,
    error: Option<String>,
) -> PageResult {
    let meta = state.meta.as_ref();
    let invitation = ops::members::invitation(meta, token).await?;
    let signed_in = current(req, state).await;
    let acceptor =
        ops::members::acceptor(meta, &invitation.invite, signed_in.as_ref().map(|(_, u)| u))
            .await?;
    let status = match (&error, &acceptor) {
        (Some(_), _) => StatusCode::BAD_REQUEST,
        (None, Acceptor::OtherAccount(_)) => StatusCode::FORBIDDEN,
        (None, _) => StatusCode::OK,
    };
    // The token matched a stored hash, so once trimmed (as hashing does)
    // it is the 64 hex digits of the link, safe in a URL as it is.
    let here = format!("/accept-invite/{}/", token.trim());
    Ok(render_status(
        status,
        &AcceptInvitePage {
            org_name: invitation.org.name,
            email: invitation.invite.email,
            role: invitation.invite.role.as_str().to_owned(),
            needs_password: matches!(acceptor, Acceptor::NewAccount),
            sign_in_link: matches!(acceptor, Acceptor::MustSignIn)
                .then(|| format!("/auth/login/?next={here}")),
            signed_in_as: match &acceptor {
                Acceptor::OtherAccount(email) => Some(email.clone()),
                _ => None,
            },
            csrf_token: match (&acceptor, &signed_in) {
                (Acceptor::SignedIn(_), Some((session, _))) => Some(session.csrf_token.clone()),
                _ => None,
            },
            error,
        },
    ))
}

pub async fn accept_form(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> PageResult {
    invite_page(&req, &state, &path, None).await
}

#[derive(serde::Deserialize)]
pub struct AcceptForm {
    password: Option<String>,
    csrf_token: Option<String>,
}

/// Accepts an invitation: a new account is created with the password
/// chosen here; an existing account must be the signed-in one, and then
/// the form carries the session's CSRF token.
pub async fn accept(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<AcceptForm>,
    state: web::Data<WebState>,
) -> PageResult {
    csrf::check_origin(&req, &state.trusted_origins).map_err(PageError::Csrf)?;
    let meta = state.meta.as_ref();
    let invitation = ops::members::invitation(meta, &path).await?;
    let signed_in = current(&req, &state).await;
    let user = signed_in.as_ref().map(|(_, u)| u);
    if let (Acceptor::SignedIn(_), Some((session, _))) = (
        ops::members::acceptor(meta, &invitation.invite, user).await?,
        &signed_in,
    ) {
        csrf::check_token(&session.csrf_token, form.csrf_token.as_deref())
            .map_err(PageError::Csrf)?;
    }
    match ops::members::accept(meta, &path, user, form.password.as_deref()).await {
        Ok(Accepted::NewAccount) => Ok(redirect("/auth/login/")),
        Ok(Accepted::Joined) => Ok(redirect(&format!(
            "/organizations/{}/issues/",
            invitation.org.slug
        ))),
        // Not this account's to accept, or someone created the account
        // meanwhile: the page says what to do now.
        Err(OpError::NotInvited | OpError::Conflict(_)) => {
            invite_page(&req, &state, &path, None).await
        }
        Err(e @ OpError::Invalid { .. }) => {
            let reason = super::error::sentence(&e.to_string());
            invite_page(&req, &state, &path, Some(reason)).await
        }
        Err(e) => Err(e.into()),
    }
}
