//! Account settings: time zone, password, and API tokens.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use faultline_storage::{Session, User};

use super::csrf;
use super::form_value;
use super::pages::{nav, server_error};
use super::session::{COOKIE, csrf_failure, current, redirect};
use super::throttle::Limit;
use super::views::{AccountPage, Nav, TIMEZONES, TokenRow, TokensPage, iso, render_status};
use crate::WebState;
use crate::auth::{generate_token, hash_token};
use crate::password::{check_password, hash_password};
use crate::scopes;

/// The signed-in user with navigation for their first organization.
async fn signed_in(
    req: &HttpRequest,
    state: &WebState,
) -> Result<(Session, User, Nav), HttpResponse> {
    let Some((session, user)) = current(req, state).await else {
        return Err(redirect("/auth/login/?next=/settings/account/"));
    };
    let org_slug = match state.meta.organizations_for_user(&user).await {
        Ok(orgs) => orgs.first().map(|o| o.slug.clone()).unwrap_or_default(),
        Err(e) => return Err(server_error(e)),
    };
    let nav = nav(&org_slug, &user, &session);
    Ok((session, user, nav))
}

fn check(
    req: &HttpRequest,
    state: &WebState,
    session: &Session,
    form: &[(String, String)],
) -> Result<(), HttpResponse> {
    csrf::check_origin(req, &state.trusted_origins)
        .and_then(|()| csrf::check_token(&session.csrf_token, form_value(form, "csrf_token")))
        .map_err(|rejection| csrf_failure(&rejection))
}

fn account_page(nav: Nav, notice: Option<String>, error: Option<String>) -> HttpResponse {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
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

pub async fn account(req: HttpRequest, state: web::Data<WebState>) -> HttpResponse {
    match signed_in(&req, &state).await {
        Ok((_, _, nav)) => account_page(nav, None, None),
        Err(response) => response,
    }
}

pub async fn update_account(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> HttpResponse {
    let (session, user, mut nav) = match signed_in(&req, &state).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if let Err(response) = check(&req, &state, &session, &form) {
        return response;
    }
    match form_value(&form, "action") {
        Some("timezone") => {
            let Some(tz) =
                form_value(&form, "timezone").and_then(|tz| TIMEZONES.iter().find(|t| **t == tz))
            else {
                return account_page(nav, None, Some("Choose a time zone from the list.".into()));
            };
            if let Err(e) = state.meta.set_timezone(user.id, tz).await {
                return server_error(e);
            }
            nav.timezone = (*tz).to_owned();
            account_page(nav, Some(format!("Dates are now shown in {tz}.")), None)
        }
        Some("password") => {
            let (current, new, confirm) = (
                form_value(&form, "current").unwrap_or(""),
                form_value(&form, "new").unwrap_or(""),
                form_value(&form, "confirm").unwrap_or(""),
            );
            // Whoever holds a session (a borrowed laptop, a stolen cookie)
            // must not get unlimited guesses at the password it protects.
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
                return response;
            }
            if !check_password(current.to_owned(), user.password_hash.clone()).await {
                return account_page(
                    nav,
                    None,
                    Some("The current password is not correct.".into()),
                );
            }
            state.throttle.forgive(&checks);
            if new.chars().count() < 8 || new.len() > 1024 {
                return account_page(
                    nav,
                    None,
                    Some("The new password needs 8 characters or more.".into()),
                );
            }
            if new != confirm {
                return account_page(nav, None, Some("The two new passwords differ.".into()));
            }
            if let Err(e) = state.meta.set_password(user.id, &hash_password(new)).await {
                return server_error(e);
            }
            // A password change is how people lock out whoever else got in:
            // every other session ends; this one stays signed in.
            let this_session = req.cookie(COOKIE).map(|c| hash_token(c.value()));
            if let Err(e) = state
                .meta
                .delete_other_sessions(user.id, this_session.as_deref().unwrap_or(""))
                .await
            {
                return server_error(e);
            }
            account_page(
                nav,
                Some("Your password was changed. Your other sessions are signed out.".into()),
                None,
            )
        }
        _ => account_page(nav, None, Some("Unknown action.".into())),
    }
}

async fn tokens_page(
    state: &WebState,
    user: &User,
    nav: Nav,
    new_token: Option<String>,
    error: Option<String>,
) -> HttpResponse {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    match state.meta.api_tokens(user.id).await {
        Ok(tokens) => render_status(
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
        ),
        Err(e) => server_error(e),
    }
}

pub async fn tokens(req: HttpRequest, state: web::Data<WebState>) -> HttpResponse {
    match signed_in(&req, &state).await {
        Ok((_, user, nav)) => tokens_page(&state, &user, nav, None, None).await,
        Err(response) => response,
    }
}

pub async fn update_tokens(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> HttpResponse {
    let (session, user, nav) = match signed_in(&req, &state).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if let Err(response) = check(&req, &state, &session, &form) {
        return response;
    }
    match form_value(&form, "action") {
        Some("create") => {
            let name = form_value(&form, "name")
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .unwrap_or("dashboard");
            let name: String = name.chars().take(64).collect();
            // Only known scopes; what the token may do is further capped by
            // the user's role in each organization when it is used.
            let mut chosen = Vec::new();
            for (field, value) in form.iter() {
                if field != "scope" {
                    continue;
                }
                let Some(scope) = scopes::known(value) else {
                    return tokens_page(
                        &state,
                        &user,
                        nav,
                        None,
                        Some(format!("Unknown scope {value}.")),
                    )
                    .await;
                };
                if !chosen.contains(&scope.to_owned()) {
                    chosen.push(scope.to_owned());
                }
            }
            if chosen.is_empty() {
                return tokens_page(
                    &state,
                    &user,
                    nav,
                    None,
                    Some("Choose at least one scope.".into()),
                )
                .await;
            }
            let token = generate_token();
            let scopes = chosen;
            if let Err(e) = state
                .meta
                .create_api_token(user.id, &hash_token(&token), &scopes, Some(&name))
                .await
            {
                return server_error(e);
            }
            // Shown once, on this response only; never stored in plain text.
            tokens_page(&state, &user, nav, Some(token), None).await
        }
        Some("delete") => {
            if let Some(id) = form_value(&form, "id").and_then(|id| id.parse().ok())
                && let Err(e) = state.meta.delete_api_token(user.id, id).await
            {
                return server_error(e);
            }
            redirect("/settings/account/api/auth-tokens/")
        }
        _ => redirect("/settings/account/api/auth-tokens/"),
    }
}
