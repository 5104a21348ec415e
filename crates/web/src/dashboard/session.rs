//! Signing in and out: sessions as cookies naming a row in the metadata
//! store. Sign-in attempts are throttled (`throttle.rs`) per account and
//! per client address.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use faultline_storage::{Session, User};
use serde::Deserialize;

use super::csrf::{self, CsrfRejection};
use super::error::{PageError, PageResult, ShowRefusal};
use super::throttle::Limit;
use super::views::{LoginPage, MessagePage, RegisterPage, render, render_status};
use crate::WebState;
use crate::auth::{generate_token, hash_token};
use crate::client_ip::client_ip;
use crate::ops::users::{self, NewAccount};
use crate::password::check_password;

pub const COOKIE: &str = "faultline_session";
const SESSION_DAYS: i64 = 14;

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

/// Where to go after signing in: only a path on this site, so a login
/// link cannot bounce users elsewhere. Browsers drop tabs and newlines from
/// URLs and read `\` as `/`, so `/\t/evil.example` or `/\evil.example`
/// would mean the host `evil.example`: those are normalised the same way
/// before the check. Anything else becomes `/`. The result is always a
/// valid `Location` value (other bytes are percent-encoded).
fn safe_next(next: Option<&str>) -> String {
    let path: String = next
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '\\' { '/' } else { c })
        .collect();
    if !path.starts_with('/') || path.starts_with("//") {
        return "/".to_owned();
    }
    let mut encoded = String::with_capacity(path.len());
    for c in path.chars() {
        if c.is_ascii_graphic() {
            encoded.push(c);
        } else {
            let mut utf8 = [0; 4];
            for byte in c.encode_utf8(&mut utf8).bytes() {
                encoded.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    encoded
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
) -> PageResult {
    csrf::check_origin(&req, &state.trusted_origins).map_err(PageError::Csrf)?;
    let email = form.email.trim().to_ascii_lowercase();
    let address = client_ip(&req, &state.trusted_proxies)
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let (account, from) = (
        Limit::sign_in_email(&email),
        Limit::sign_in_address(&address),
    );
    if let Err(wait) = state.throttle.reserve(&[account.clone(), from.clone()]) {
        return Ok(render_status(
            StatusCode::TOO_MANY_REQUESTS,
            &MessagePage {
                title: "Too many sign-in attempts".into(),
                lines: vec![format!(
                    "Sign-in is paused for this account or address. Try again in {} minute(s).",
                    wait.as_secs() / 60 + 1
                )],
            },
        ));
    }
    let user = state
        .meta
        .user_by_email(&email)
        .await?
        .filter(|u| u.is_active);
    // Unknown and inactive accounts are checked against a dummy hash, so
    // the answer takes as long as for a real account's wrong password.
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let verified = check_password(form.password.clone(), hash).await;
    let Some(user) = user.filter(|_| verified) else {
        return Ok(render_status(
            StatusCode::OK,
            &LoginPage {
                error: Some("The email or password is not correct.".into()),
                email: form.email.clone(),
                next: safe_next(form.next.as_deref()),
            },
        ));
    };
    state.throttle.refund(&from);
    state.throttle.forgive(&account);
    start_session(&state, &user, &safe_next(form.next.as_deref())).await
}

/// Signs `user` in: a new session row and its cookie, then on to `next`.
async fn start_session(state: &WebState, user: &User, next: &str) -> PageResult {
    let token = generate_token();
    let session = Session {
        user_id: user.id,
        csrf_token: generate_token(),
        expires: Utc::now() + chrono::Duration::days(SESSION_DAYS),
    };
    state
        .meta
        .create_session(&session, &hash_token(&token))
        .await?;
    let cookie = Cookie::build(COOKIE, token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.url_prefix.starts_with("https://"))
        .max_age(actix_web::cookie::time::Duration::days(SESSION_DAYS))
        .finish();
    Ok(HttpResponse::SeeOther()
        .cookie(cookie)
        .insert_header((header::LOCATION, next))
        .finish())
}

#[derive(Deserialize)]
pub struct TokenForm {
    csrf_token: Option<String>,
}

pub async fn logout(
    req: HttpRequest,
    form: web::Form<TokenForm>,
    state: web::Data<WebState>,
) -> PageResult {
    if let Some((session, _)) = current(&req, &state).await {
        csrf::check_origin(&req, &state.trusted_origins)
            .and_then(|()| csrf::check_token(&session.csrf_token, form.csrf_token.as_deref()))
            .map_err(PageError::Csrf)?;
        if let Some(cookie) = req.cookie(COOKIE) {
            let _ = state.meta.delete_session(&hash_token(cookie.value())).await;
        }
    }
    let mut removal = Cookie::new(COOKIE, "");
    removal.set_path("/");
    removal.make_removal();
    Ok(HttpResponse::SeeOther()
        .cookie(removal)
        .insert_header((header::LOCATION, "/auth/login/"))
        .finish())
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
) -> PageResult {
    if !state.allow_registration {
        return Ok(registration_disabled());
    }
    csrf::check_origin(&req, &state.trusted_origins).map_err(PageError::Csrf)?;
    let created = async {
        let account = NewAccount::new(&form.email, Some(&form.password))?;
        users::create(state.meta.as_ref(), account).await
    }
    .await
    .or_show()?;
    match created {
        Ok(user) => start_session(&state, &user, "/").await,
        Err(refusal) => Ok(render_status(
            StatusCode::BAD_REQUEST,
            &RegisterPage {
                error: Some(refusal),
                email: form.email.clone(),
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        for (next, expected) in [
            (
                Some("/organizations/acme/issues/?query=is:unresolved"),
                "/organizations/acme/issues/?query=is:unresolved",
            ),
            (Some("/settings/account/"), "/settings/account/"),
            (None, "/"),
            (Some(""), "/"),
            (Some("settings/account/"), "/"),
            (Some("https://evil.example/"), "/"),
            (Some("//evil.example/"), "/"),
            (Some("/\\evil.example/"), "/"),
            (Some("\\/evil.example/"), "/"),
            (Some("\\\\evil.example/"), "/"),
            // `?next=%2F%09%2Fevil.example%2F`, decoded.
            (Some("/\t/evil.example/"), "/"),
            (Some("/\r\n/evil.example/"), "/"),
            (Some(" //evil.example/"), "/"),
            (Some("javascript:alert(1)"), "/"),
        ] {
            assert_eq!(safe_next(next), expected, "{next:?}");
        }
    }

    #[test]
    fn next_is_always_a_valid_location() {
        assert_eq!(
            safe_next(Some("/a\r\nSet-Cookie: x=1")),
            "/aSet-Cookie:%20x=1"
        );
        assert_eq!(safe_next(Some("/a\\b")), "/a/b");
        assert_eq!(safe_next(Some("/caf\u{e9}/")), "/caf%C3%A9/");
        for next in ["/a\r\nb", "/\u{7f}x", "/ä ö"] {
            let location = safe_next(Some(next));
            assert!(
                actix_web::http::header::HeaderValue::from_str(&location).is_ok(),
                "{location}"
            );
        }
    }
}
