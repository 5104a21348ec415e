//! The crash-report page Sentry's browser SDKs open with
//! `showReportDialog`: `GET /api/embed/error-page/?dsn=…&eventId=…` answers
//! a script that shows a dialog asking the user what happened, and the
//! dialog POSTs `name`, `email` and `comments` (form-encoded) to the same
//! URL, which keeps them as a user report about the event. Public like the
//! DSN it names: the key must be active and the event id well formed.
//!
//! The script builds the dialog with DOM calls and `textContent` only, and
//! every text it shows (the options the SDK passed) arrives as a JSON
//! string: nothing a page or a user sends becomes markup.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use faultline_protocol::{Dsn, EventId};
use faultline_storage::{NewUserReport, ProjectKey};
use serde_json::{Value, json};

use crate::WebState;
use crate::error::{ApiError, ApiResult};
use crate::pagination::query_pairs;

/// A form of three short fields; anything larger is not one.
pub const MAX_FORM: usize = 16 * 1024;

/// The texts of the dialog, Sentry's defaults; the SDK may pass its own.
const TEXTS: [(&str, &str); 11] = [
    ("title", "It looks like we're having issues."),
    ("subtitle", "Our team has been notified."),
    (
        "subtitle2",
        "If you'd like to help, tell us what happened below.",
    ),
    ("labelName", "Name"),
    ("labelEmail", "Email"),
    ("labelComments", "What happened?"),
    ("labelClose", "Close"),
    ("labelSubmit", "Submit Crash Report"),
    (
        "errorGeneric",
        "An unknown error occurred while submitting your report. Please try again.",
    ),
    (
        "errorFormEntry",
        "Some fields were invalid. Please correct the errors and try again.",
    ),
    ("successMessage", "Your feedback has been sent. Thank you!"),
];

/// The key and event the query names, or why not.
async fn target(
    state: &WebState,
    query: &HashMap<String, String>,
) -> ApiResult<(ProjectKey, EventId)> {
    let dsn = query
        .get("dsn")
        .ok_or_else(|| ApiError::BadRequest("Missing dsn parameter".into()))?;
    let dsn = Dsn::parse(dsn).map_err(|_| ApiError::BadRequest("Invalid dsn parameter".into()))?;
    let event_id: EventId = query
        .get("eventId")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| ApiError::BadRequest("Missing or invalid parameter: eventId".into()))?;
    let key = state
        .meta
        .key_by_public(&dsn.public_key)
        .await?
        .filter(|k| k.project_id == dsn.project_id)
        .ok_or(ApiError::NotFound)?;
    if !key.is_active {
        return Err(ApiError::Forbidden);
    }
    Ok((key, event_id))
}

fn query_map(req: &HttpRequest) -> HashMap<String, String> {
    query_pairs(req.query_string()).into_iter().collect()
}

/// `GET`: the dialog's script.
pub async fn dialog(req: HttpRequest, state: web::Data<WebState>) -> ApiResult<HttpResponse> {
    let query = query_map(&req);
    target(&state, &query).await?;
    let mut texts = serde_json::Map::new();
    for (key, default) in TEXTS {
        let value = query.get(key).map(String::as_str).unwrap_or(default);
        texts.insert(key.into(), Value::String(value.chars().take(500).collect()));
    }
    let user = json!({
        "name": query.get("name").map(|n| n.chars().take(128).collect::<String>()),
        "email": query.get("email").map(|e| e.chars().take(75).collect::<String>()),
    });
    let endpoint = format!(
        "{}/api/embed/error-page/?{}",
        state.url_prefix,
        req.query_string()
    );
    let config = json!({"texts": texts, "user": user, "endpoint": endpoint});
    let script = DIALOG_JS.replace("__CONFIG__", &script_json(&config));
    Ok(HttpResponse::Ok()
        .content_type("application/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(script))
}

/// JSON safe inside a script: no `</script>`, no HTML comment openers, no
/// line separators older engines end a string at.
fn script_json(value: &Value) -> String {
    serde_json::to_string(value)
        .expect("plain data serialises")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// `POST`: the form, kept as a user report.
pub async fn submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let query = query_map(&req);
    let (key, event_id) = target(&state, &query).await?;
    if body.len() > MAX_FORM {
        return Err(ApiError::TooLarge(format!(
            "the form is larger than {MAX_FORM} bytes"
        )));
    }
    let body = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadRequest("the form is not UTF-8".into()))?;
    let form: HashMap<String, String> = query_pairs(body).into_iter().collect();
    let field = |name: &str| {
        form.get(name)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let (name, email, comments) = (field("name"), field("email"), field("comments"));
    let mut errors = serde_json::Map::new();
    if name.is_empty() {
        errors.insert("name".into(), json!("This field is required."));
    }
    if !plausible_email(&email) {
        errors.insert("email".into(), json!("Enter a valid email address."));
    }
    if comments.is_empty() {
        errors.insert("comments".into(), json!("This field is required."));
    }
    if !errors.is_empty() {
        return Ok(HttpResponse::BadRequest()
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .json(json!({ "errors": errors })));
    }
    let report = NewUserReport {
        project_id: key.project_id,
        event_id,
        name,
        email,
        comments,
        url: None,
        date_created: Utc::now(),
    }
    .capped();
    state.meta.record_user_reports(&[report]).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .json(json!({})))
}

fn plausible_email(email: &str) -> bool {
    email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace)
        })
}

/// The dialog. `__CONFIG__` becomes {texts, user, endpoint}; the page's
/// SDK listens for the `__sentry_reportdialog_closed__` message.
const DIALOG_JS: &str = r#"(function () {
  'use strict';
  var config = __CONFIG__;
  var t = config.texts;
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs) { node.setAttribute(k, attrs[k]); }
    if (text) { node.textContent = text; }
    return node;
  }
  var overlay = el('div', {'class': 'sentry-error-embed-wrapper', 'style': 'position:fixed;inset:0;background:rgba(0,0,0,.6);z-index:2147483647;display:flex;align-items:center;justify-content:center'});
  var dialog = el('div', {'class': 'sentry-error-embed', 'role': 'dialog', 'style': 'background:#fff;color:#222;font:14px sans-serif;max-width:480px;width:90%;padding:24px;border-radius:6px'});
  dialog.appendChild(el('h2', {}, t.title));
  dialog.appendChild(el('p', {}, t.subtitle + ' ' + t.subtitle2));
  var form = el('form', {'id': 'sentry-report-form'});
  function field(name, label, type, value) {
    var wrap = el('div', {'style': 'margin:8px 0'});
    wrap.appendChild(el('label', {'for': 'sentry-' + name, 'style': 'display:block'}, label));
    var input = el(type === 'textarea' ? 'textarea' : 'input', {'id': 'sentry-' + name, 'name': name, 'style': 'width:100%'});
    if (type !== 'textarea') { input.setAttribute('type', type); }
    if (value) { input.value = value; }
    wrap.appendChild(input);
    form.appendChild(wrap);
  }
  field('name', t.labelName, 'text', config.user.name);
  field('email', t.labelEmail, 'email', config.user.email);
  field('comments', t.labelComments, 'textarea');
  var message = el('p', {'class': 'sentry-report-message', 'role': 'status'});
  form.appendChild(message);
  var submit = el('button', {'type': 'submit'}, t.labelSubmit);
  var close = el('button', {'type': 'button'}, t.labelClose);
  form.appendChild(submit);
  form.appendChild(close);
  dialog.appendChild(form);
  overlay.appendChild(dialog);
  function closeDialog() {
    if (overlay.parentNode) { overlay.parentNode.removeChild(overlay); }
    window.postMessage('__sentry_reportdialog_closed__', '*');
  }
  close.addEventListener('click', closeDialog);
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var body = new URLSearchParams(new FormData(form));
    fetch(config.endpoint, {method: 'POST', body: body}).then(function (response) {
      if (response.ok) {
        form.parentNode.replaceChild(el('p', {'class': 'sentry-report-success'}, t.successMessage), form);
        setTimeout(closeDialog, 2500);
      } else {
        message.textContent = response.status === 400 ? t.errorFormEntry : t.errorGeneric;
      }
    }, function () { message.textContent = t.errorGeneric; });
  });
  document.body.appendChild(overlay);
})();
"#;
