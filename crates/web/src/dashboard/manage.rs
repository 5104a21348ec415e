//! The installation admin's mail page (`/manage/status/mail/`, as Sentry's):
//! the `mail.*` settings the services run with (the password never shown)
//! and a test email to oneself that reports the SMTP server's own answer,
//! so mail that would never arrive is found before an alert is missed.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;

use super::error::{PageError, PageResult};
use super::settings::{check, signed_in_at};
use super::views::{Nav, render_status};
use crate::WebState;

#[derive(Template)]
#[template(path = "manage_mail.html")]
pub struct MailPage {
    pub nav: Nav,
    pub settings: Vec<(&'static str, String)>,
    /// The last test's outcome: (succeeded, the server's answer or error).
    pub result: Option<(bool, String)>,
}

fn settings(state: &WebState) -> Vec<(&'static str, String)> {
    let mail = &state.mail;
    let unset = || "(not set)".to_owned();
    vec![
        ("mail.backend", mail.backend.as_str().to_owned()),
        ("mail.host", mail.host.clone().unwrap_or_else(unset)),
        ("mail.port", mail.port.to_string()),
        ("mail.username", mail.username.clone().unwrap_or_else(unset)),
        (
            "mail.password",
            match mail.password {
                Some(_) => "(set, hidden)".to_owned(),
                None => unset(),
            },
        ),
        ("mail.use-tls", mail.use_tls.to_string()),
        ("mail.use-ssl", mail.use_ssl.to_string()),
        ("mail.from", mail.from.clone()),
        ("mail.subject-prefix", mail.subject_prefix.clone()),
    ]
}

/// The superuser signed in, or the stranger's 404 (the sign-in page when
/// nobody is).
async fn admin(
    req: &HttpRequest,
    state: &WebState,
) -> Result<(faultline_storage::Session, faultline_storage::User, Nav), PageError> {
    let signed_in = signed_in_at(req, state, "/manage/status/mail/").await?;
    if !signed_in.1.is_superuser {
        return Err(PageError::NotFound);
    }
    Ok(signed_in)
}

pub async fn mail(req: HttpRequest, state: web::Data<WebState>) -> PageResult {
    let (_, _, nav) = admin(&req, &state).await?;
    Ok(render_status(
        StatusCode::OK,
        &MailPage {
            nav,
            settings: settings(&state),
            result: None,
        },
    ))
}

/// Sends the test email to the admin and shows what the server said.
pub async fn send_test(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> PageResult {
    let (session, user, nav) = admin(&req, &state).await?;
    check(&req, &state, &session, &form)?;
    let result = match &state.mailer {
        Ok(mailer) => match mailer.send_test(&user.email).await {
            Ok(answer) => (
                true,
                format!("Sent to {}: the server answered {answer}", user.email),
            ),
            Err(error) => (false, format!("Not sent to {}: {error}", user.email)),
        },
        Err(error) => (false, format!("The mail settings are wrong: {error}")),
    };
    let status = if result.0 {
        StatusCode::OK
    } else {
        StatusCode::BAD_GATEWAY
    };
    Ok(render_status(
        status,
        &MailPage {
            nav,
            settings: settings(&state),
            result: Some(result),
        },
    ))
}
