//! Account settings: time zone, password, API tokens, and alert emails per
//! project.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use faultline_storage::{Session, User};

use super::csrf;
use super::error::{PageError, PageResult, ShowRefusal, form_status};
use super::form_value;
use super::pages::nav;
use super::session::{COOKIE, current, redirect};
use super::throttle::Limit;
use super::views::{
    AccountPage, AlertEmailRow, Nav, NotificationsPage, TIMEZONES, TokenRow, TokensPage, iso,
    render_status,
};
use crate::WebState;
use crate::auth::hash_token;
use crate::ops::{self, tokens::TokenScopes};
use crate::password::check_password;
use crate::scopes;

/// The signed-in user with navigation for their first organization.
async fn signed_in(req: &HttpRequest, state: &WebState) -> Result<(Session, User, Nav), PageError> {
    signed_in_at(req, state, "/settings/account/").await
}

/// [`signed_in`], returning to `page` after signing in.
pub(super) async fn signed_in_at(
    req: &HttpRequest,
    state: &WebState,
    page: &str,
) -> Result<(Session, User, Nav), PageError> {
    let Some((session, user)) = current(req, state).await else {
        return Err(PageError::SignIn {
            location: format!("/auth/login/?next={page}"),
        });
    };
    let orgs = state.meta.organizations_for_user(&user).await?;
    let org_slug = orgs.first().map(|o| o.slug.clone()).unwrap_or_default();
    let admin = user.is_superuser;
    let nav = nav(&org_slug, &user, &session, state, admin);
    Ok((session, user, nav))
}

/// A form post's origin, and its token against the session's.
pub(super) fn check(
    req: &HttpRequest,
    state: &WebState,
    session: &Session,
    form: &[(String, String)],
) -> Result<(), PageError> {
    csrf::check_origin(req, &state.trusted_origins)
        .and_then(|()| csrf::check_token(&session.csrf_token, form_value(form, "csrf_token")))
        .map_err(PageError::Csrf)
}

fn account_page(nav: Nav, notice: Option<String>, error: Option<String>) -> HttpResponse {
    let status = form_status(&error);
    render_status(
        status,
        &AccountPage {
            nav,
            timezones: TIMEZONES.iter().map(|t| (*t).to_owned()).collect(),
            notice,
            error,
        },
    )
}

pub async fn account(req: HttpRequest, state: web::Data<WebState>) -> PageResult {
    let (_, _, nav) = signed_in(&req, &state).await?;
    Ok(account_page(nav, None, None))
}

pub async fn update_account(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> PageResult {
    let (session, user, mut nav) = signed_in(&req, &state).await?;
    check(&req, &state, &session, &form)?;
    match form_value(&form, "action") {
        Some("timezone") => {
            let Some(tz) =
                form_value(&form, "timezone").and_then(|tz| TIMEZONES.iter().find(|t| **t == tz))
            else {
                return Ok(account_page(
                    nav,
                    None,
                    Some("Choose a time zone from the list.".into()),
                ));
            };
            state.meta.set_timezone(user.id, tz).await?;
            nav.timezone = (*tz).to_owned();
            Ok(account_page(
                nav,
                Some(format!("Dates are now shown in {tz}.")),
                None,
            ))
        }
        Some("password") => change_password(&req, &state, &form, &user, nav).await,
        _ => Ok(account_page(nav, None, Some("Unknown action.".into()))),
    }
}

async fn change_password(
    req: &HttpRequest,
    state: &WebState,
    form: &[(String, String)],
    user: &User,
    nav: Nav,
) -> PageResult {
    let field = |name| form_value(form, name).unwrap_or("");
    // Whoever holds a session (a borrowed laptop, a stolen cookie) must not
    // get unlimited guesses at the password it protects.
    let checks = Limit::password_check(user.id);
    if let Err(wait) = state.throttle.reserve(std::slice::from_ref(&checks)) {
        let mut response = account_page(
            nav,
            None,
            Some(format!(
                "Too many wrong passwords. Try again in {} minute(s).",
                wait.as_secs() / 60 + 1
            )),
        );
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        return Ok(response);
    }
    if !check_password(field("current").to_owned(), user.password_hash.clone()).await {
        return Ok(account_page(
            nav,
            None,
            Some("The current password is not correct.".into()),
        ));
    }
    state.throttle.forgive(&checks);
    let this_session = req.cookie(COOKIE).map(|c| hash_token(c.value()));
    let changed = ops::users::change_password(
        state.meta.as_ref(),
        user,
        field("new"),
        field("confirm"),
        this_session.as_deref().unwrap_or(""),
    )
    .await
    .or_show()?;
    Ok(match changed {
        Ok(()) => account_page(
            nav,
            Some("Your password was changed. Your other sessions are signed out.".into()),
            None,
        ),
        Err(refusal) => account_page(nav, None, Some(refusal)),
    })
}

async fn tokens_page(
    state: &WebState,
    user: &User,
    nav: Nav,
    new_token: Option<String>,
    error: Option<String>,
) -> PageResult {
    let status = form_status(&error);
    let tokens = state.meta.api_tokens(user.id).await?;
    Ok(render_status(
        status,
        &TokensPage {
            nav,
            tokens: tokens
                .iter()
                .map(|t| TokenRow {
                    id: t.id,
                    name: t.name.clone().unwrap_or_default(),
                    scopes: t.scopes.join(" "),
                    created: iso(t.date_created),
                })
                .collect(),
            new_token,
            scope_choices: scopes::ALL
                .iter()
                .map(|s| (*s, scopes::DEFAULT_TOKEN.contains(s)))
                .collect(),
            error,
        },
    ))
}

pub async fn tokens(req: HttpRequest, state: web::Data<WebState>) -> PageResult {
    let (_, user, nav) = signed_in(&req, &state).await?;
    tokens_page(&state, &user, nav, None, None).await
}

/// The name of a token made on this page without one.
const DEFAULT_TOKEN_NAME: &str = "dashboard";

pub async fn update_tokens(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> PageResult {
    let (session, user, nav) = signed_in(&req, &state).await?;
    check(&req, &state, &session, &form)?;
    let meta = state.meta.as_ref();
    match form_value(&form, "action") {
        Some("create") => {
            let name = form_value(&form, "name")
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .unwrap_or(DEFAULT_TOKEN_NAME);
            // What the token may do is further capped by the user's role in
            // each organization when it is used.
            let chosen = form
                .iter()
                .filter(|(field, _)| field == "scope")
                .map(|(_, value)| value.as_str());
            let created = async {
                let scopes = TokenScopes::parse(chosen)?;
                ops::tokens::create(meta, &user, name, &scopes).await
            }
            .await
            .or_show()?;
            match created {
                // Shown once, on this response only; never stored in plain text.
                Ok(token) => tokens_page(&state, &user, nav, Some(token), None).await,
                Err(refusal) => tokens_page(&state, &user, nav, None, Some(refusal)).await,
            }
        }
        Some("delete") => {
            if let Some(id) = form_value(&form, "id").and_then(|id| id.parse().ok()) {
                ops::tokens::delete(meta, &user, id).await?;
            }
            Ok(redirect("/settings/account/api/auth-tokens/"))
        }
        _ => Ok(redirect("/settings/account/api/auth-tokens/")),
    }
}

/// `GET /settings/account/notifications/`: alert emails on or off, per
/// project of each of the user's organizations.
pub async fn notifications(req: HttpRequest, state: web::Data<WebState>) -> PageResult {
    let (_, user, nav) = signed_in(&req, &state).await?;
    let mut projects = Vec::new();
    for org in state.meta.organizations_for_user(&user).await? {
        for project in state.meta.projects(org.id).await? {
            let off = state.alerts.alert_email_opt_outs(project.id).await?;
            projects.push(AlertEmailRow {
                project_id: project.id.0,
                project: project.slug,
                org: org.slug.clone(),
                on: !off.contains(&user.id),
            });
        }
    }
    Ok(render_status(
        StatusCode::OK,
        &NotificationsPage { nav, projects },
    ))
}

pub async fn update_notifications(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> PageResult {
    let (session, user, _) = signed_in(&req, &state).await?;
    check(&req, &state, &session, &form)?;
    let project = form_value(&form, "project").unwrap_or("");
    let on = form_value(&form, "alert_emails") == Some("on");
    let caller = ops::Caller::signed_in(user);
    ops::rules::set_alert_emails(
        state.meta.as_ref(),
        state.alerts.as_ref(),
        &caller,
        project,
        on,
    )
    .await?;
    Ok(redirect("/settings/account/notifications/"))
}
