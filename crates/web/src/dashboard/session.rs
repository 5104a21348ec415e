//! Signing in and out: sessions as cookies naming a row in the metadata
//! store, and throttling of failed sign-ins against password guessing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use faultline_storage::{Session, User};
use serde::Deserialize;

use super::csrf::{self, CsrfRejection};
use super::views::{LoginPage, MessagePage, RegisterPage, render, render_status};
use crate::WebState;
use crate::auth::{generate_token, hash_token};
use crate::password::{hash_password, verify_password};

pub const COOKIE: &str = "faultline_session";
const SESSION_DAYS: i64 = 14;
const MAX_FAILURES_PER_EMAIL: u32 = 5;
const MAX_FAILURES_PER_IP: u32 = 20;
const FAILURE_WINDOW: Duration = Duration::from_secs(300);
const MAX_TRACKED: usize = 100_000;

/// Failed sign-ins per email and per client address in a sliding window.
/// In-process: each web process throttles what it sees.
#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    /// `Err(wait)` when any key has used up its attempts.
    fn check(&self, keys: &[(String, u32)]) -> Result<(), Duration> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for (key, limit) in keys {
            if let Some((count, since)) = failures.get(key)
                && *count >= *limit
                && since.elapsed() < FAILURE_WINDOW
            {
                return Err(FAILURE_WINDOW - since.elapsed());
            }
        }
        Ok(())
    }

    fn fail(&self, keys: &[(String, u32)]) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() > MAX_TRACKED {
            failures.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
        }
        for (key, _) in keys {
            let entry = failures.entry(key.clone()).or_insert((0, Instant::now()));
            if entry.1.elapsed() >= FAILURE_WINDOW {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
        }
    }

    fn clear(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// The signed-in user, if the request carries a live session cookie.
pub async fn current(req: &HttpRequest, state: &WebState) -> Option<(Session, User)> {
    let cookie = req.cookie(COOKIE)?;
    match state.meta.session(&hash_token(cookie.value())).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            None
        }
    }
}

/// Only same-site paths, so a login link cannot bounce users elsewhere.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

#[derive(Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

pub async fn login_form(
    req: HttpRequest,
    query: web::Query<NextParam>,
    state: web::Data<WebState>,
) -> HttpResponse {
    let next = safe_next(query.next.as_deref());
    if current(&req, &state).await.is_some() {
        return redirect(&next);
    }
    render(&LoginPage {
        error: None,
        email: String::new(),
        next,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

pub async fn login(
    req: HttpRequest,
    form: web::Form<LoginForm>,
    state: web::Data<WebState>,
) -> HttpResponse {
    if let Err(rejection) = csrf::check_origin(&req, &state.trusted_origins) {
        return csrf_failure(&rejection);
    }
    let email = form.email.trim().to_ascii_lowercase();
    let ip = req
        .connection_info()
        .realip_remote_addr()
        .unwrap_or("unknown")
        .to_owned();
    let keys = [
        (format!("email:{email}"), MAX_FAILURES_PER_EMAIL),
        (format!("ip:{ip}"), MAX_FAILURES_PER_IP),
    ];
    if let Err(wait) = state.throttle.check(&keys) {
        return render_status(
            StatusCode::TOO_MANY_REQUESTS,
            &MessagePage {
                title: "Too many sign-in attempts".into(),
                lines: vec![format!(
                    "Sign-in is paused for this account or address. Try again in {} minute(s).",
                    wait.as_secs() / 60 + 1
                )],
            },
        );
    }
    let user = match state.meta.user_by_email(&email).await {
        Ok(user) => user,
        Err(e) => {
            tracing::error!(error = %e, "user lookup failed");
            return HttpResponse::InternalServerError().finish();
        }
    };
    let verified = user.filter(|u| {
        u.is_active
            && u.password_hash
                .as_deref()
                .is_some_and(|h| verify_password(&form.password, h))
    });
    let Some(user) = verified else {
        state.throttle.fail(&keys);
        return render_status(
            StatusCode::OK,
            &LoginPage {
                error: Some("The email or password is not correct.".into()),
                email: form.email.clone(),
                next: safe_next(form.next.as_deref()),
            },
        );
    };
    state.throttle.clear(&keys[0].0);
    start_session(&state, &user, &safe_next(form.next.as_deref())).await
}

/// Signs `user` in: a new session row and its cookie, then on to `next`.
async fn start_session(state: &WebState, user: &User, next: &str) -> HttpResponse {
    let token = generate_token();
    let session = Session {
        user_id: user.id,
        csrf_token: generate_token(),
        expires: Utc::now() + chrono::Duration::days(SESSION_DAYS),
    };
    if let Err(e) = state
        .meta
        .create_session(&session, &hash_token(&token))
        .await
    {
        tracing::error!(error = %e, "cannot create session");
        return HttpResponse::InternalServerError().finish();
    }
    let cookie = Cookie::build(COOKIE, token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.url_prefix.starts_with("https://"))
        .max_age(actix_web::cookie::time::Duration::days(SESSION_DAYS))
        .finish();
    HttpResponse::SeeOther()
        .cookie(cookie)
        .insert_header((header::LOCATION, next))
        .finish()
}

#[derive(Deserialize)]
pub struct TokenForm {
    csrf_token: Option<String>,
}

pub async fn logout(
    req: HttpRequest,
    form: web::Form<TokenForm>,
    state: web::Data<WebState>,
) -> HttpResponse {
    if let Some((session, _)) = current(&req, &state).await {
        if let Err(rejection) = csrf::check_origin(&req, &state.trusted_origins)
            .and_then(|()| csrf::check_token(&session.csrf_token, form.csrf_token.as_deref()))
        {
            return csrf_failure(&rejection);
        }
        if let Some(cookie) = req.cookie(COOKIE) {
            let _ = state.meta.delete_session(&hash_token(cookie.value())).await;
        }
    }
    let mut removal = Cookie::new(COOKIE, "");
    removal.set_path("/");
    removal.make_removal();
    HttpResponse::SeeOther()
        .cookie(removal)
        .insert_header((header::LOCATION, "/auth/login/"))
        .finish()
}

/// The 403 page: which origin was refused and which setting allows it.
pub fn csrf_failure(rejection: &CsrfRejection) -> HttpResponse {
    let lines = match rejection {
        CsrfRejection::UntrustedOrigin { origin, host } => vec![
            format!("This form was sent from {origin}, but Faultline is being served as {host} and does not trust that origin."),
            format!(
                "If {origin} is how people reach Faultline, add it to `csrf.trusted-origins` in config.yml \
                 (or FAULTLINE_CSRF_TRUSTED_ORIGINS), or set `system.url-prefix` to it, then restart."
            ),
            "If you did not send this form yourself, another site tried to act on your behalf; nothing was changed.".into(),
        ],
        CsrfRejection::MissingOrigin => vec![
            "The browser did not say which page sent this form (no Origin or Referer header), so it was refused.".into(),
            "A proxy or browser extension may strip these headers; allow them to pass through.".into(),
        ],
        CsrfRejection::BadToken => vec![
            "This form's security token is missing or belongs to another session (perhaps you signed in again in another tab).".into(),
            "Go back, reload the page and try again.".into(),
        ],
    };
    render_status(
        StatusCode::FORBIDDEN,
        &MessagePage {
            title: "Request refused (CSRF check failed)".into(),
            lines,
        },
    )
}

/// Self-registration is off unless `auth.allow-registration` is set; then
/// anyone may create an account (without organization: an owner invites
/// them to one). Otherwise people join by invitation.
pub async fn register_form(state: web::Data<WebState>) -> HttpResponse {
    if !state.allow_registration {
        return registration_disabled();
    }
    render(&RegisterPage {
        error: None,
        email: String::new(),
    })
}

fn registration_disabled() -> HttpResponse {
    render_status(
        StatusCode::FORBIDDEN,
        &MessagePage {
            title: "Registration is disabled".into(),
            lines: vec![
                "This Faultline does not accept sign-ups. Ask an administrator for an account."
                    .into(),
                "Administrators can allow sign-ups with `auth.allow-registration: true`.".into(),
            ],
        },
    )
}

#[derive(Deserialize)]
pub struct RegisterForm {
    email: String,
    password: String,
}

pub async fn register(
    req: HttpRequest,
    form: web::Form<RegisterForm>,
    state: web::Data<WebState>,
) -> HttpResponse {
    if !state.allow_registration {
        return registration_disabled();
    }
    if let Err(rejection) = csrf::check_origin(&req, &state.trusted_origins) {
        return csrf_failure(&rejection);
    }
    let email = form.email.trim().to_ascii_lowercase();
    let retry = |error: &str| {
        render_status(
            StatusCode::BAD_REQUEST,
            &RegisterPage {
                error: Some(error.to_owned()),
                email: form.email.clone(),
            },
        )
    };
    if !email.contains('@') || email.len() > 254 {
        return retry("Enter a valid email address.");
    }
    if form.password.chars().count() < 8 || form.password.len() > 1024 {
        return retry("Choose a password of 8 characters or more.");
    }
    match state
        .meta
        .create_user(&email, Some(&hash_password(&form.password)), false)
        .await
    {
        Ok(user) => start_session(&state, &user, "/").await,
        Err(faultline_storage::StorageError::Conflict(_)) => {
            retry("An account with this email exists; sign in instead.")
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot create user");
            HttpResponse::InternalServerError().finish()
        }
    }
}
