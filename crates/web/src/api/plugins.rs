//! Project plugins, as Sentry's legacy plugin API: `GET …/plugins/` and
//! `GET|PUT|POST|DELETE /api/0/projects/{org}/{project}/plugins/{slug}/`
//! (`PUT` saves the settings, `POST` enables, `POST {"test": true}` sends
//! a test message, `POST {"reset": true}` clears the settings, `DELETE`
//! disables).

use actix_web::{HttpRequest, HttpResponse, web};
use faultline_rules::FieldKind;
use serde_json::{Value, json};

use super::orgs::resolve_project;
use crate::WebState;
use crate::error::{ApiError, ApiResult};
use crate::ops;
use crate::ops::plugins::PluginState;
use crate::scopes;

/// Sentry's `PluginWithConfigSerializer`: the plugin, whether it is
/// enabled, and its fields with their saved values (never a secret's).
pub fn plugin_json(state: &PluginState) -> Value {
    let plugin = state.plugin;
    let config: Vec<Value> = plugin
        .fields()
        .iter()
        .map(|field| {
            let saved = state.config.get(field.name).and_then(Value::as_str);
            let mut out = json!({
                "name": field.name,
                "label": field.label,
                "type": field.kind.as_str(),
                "required": field.required,
                "help": field.help,
                "placeholder": (!field.placeholder.is_empty()).then_some(field.placeholder),
                "choices": null,
                "readonly": false,
                "defaultValue": null,
                "value": null,
                "isDeprecated": false,
                "isHidden": false,
            });
            if field.kind == FieldKind::Secret {
                out["hasSavedValue"] = json!(saved.is_some_and(|s| !s.is_empty()));
                out["prefix"] = json!("");
            } else {
                out["value"] = json!(saved);
            }
            out
        })
        .collect();
    json!({
        "id": plugin.slug(),
        "name": plugin.title(),
        "slug": plugin.slug(),
        "shortName": plugin.title(),
        "type": "notification",
        "canDisable": true,
        "isTestable": true,
        "hasConfiguration": true,
        "metadata": {},
        "contexts": [],
        "status": "unknown",
        "assets": [],
        "doc": "",
        "firstPartyAlternative": null,
        "deprecationDate": null,
        "altIsSentryApp": null,
        "enabled": state.enabled,
        "isConfigured": state.is_configured(),
        "version": env!("CARGO_PKG_VERSION"),
        "author": {"name": "Faultline", "url": "https://github.com/faultline"},
        "isDeprecated": false,
        "isHidden": false,
        "description": plugin.description(),
        "features": ["alert-rule"],
        "featureDescriptions": [{
            "description": "Send notifications when alert rules fire.",
            "featureGate": "alert-rule",
        }],
        "config": config,
    })
}

pub async fn list(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::PROJECT_READ).await?;
    let plugins = ops::plugins::list(state.alerts.as_ref(), &member, &project).await?;
    Ok(HttpResponse::Ok().json(plugins.iter().map(plugin_json).collect::<Vec<_>>()))
}

pub async fn detail(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::PROJECT_READ).await?;
    let plugin = ops::plugins::get(state.alerts.as_ref(), &member, &project, &path.2).await?;
    Ok(HttpResponse::Ok().json(plugin_json(&plugin)))
}

pub async fn configure(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: web::Json<Value>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::PROJECT_WRITE).await?;
    let plugin =
        ops::plugins::configure(state.alerts.as_ref(), &member, &project, &path.2, &body).await?;
    Ok(HttpResponse::Ok().json(plugin_json(&plugin)))
}

/// `POST`: `{"test": true}` sends a test message and answers
/// `{"detail": …}` (200 whether or not it got through, as Sentry);
/// `{"reset": true}` clears the settings; anything else (an empty body
/// too) enables the plugin, answered with an empty 201.
pub async fn post(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::PROJECT_WRITE).await?;
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))?
    };
    let truthy = |key: &str| {
        body.get(key)
            .is_some_and(|v| v.as_bool() == Some(true) || v == "1" || v == 1)
    };
    if truthy("test") {
        let detail = ops::plugins::test(
            state.alerts.as_ref(),
            &state.http,
            &member,
            &project,
            &state.url_prefix,
            &path.2,
        )
        .await?;
        return Ok(HttpResponse::Ok().json(json!({ "detail": detail })));
    }
    if truthy("reset") {
        let plugin = ops::plugins::reset(state.alerts.as_ref(), &member, &project, &path.2).await?;
        return Ok(HttpResponse::Ok().json(plugin_json(&plugin)));
    }
    ops::plugins::set_enabled(state.alerts.as_ref(), &member, &project, &path.2, true).await?;
    Ok(HttpResponse::Created().finish())
}

pub async fn disable(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (member, project) =
        resolve_project(&req, &state, &path.0, &path.1, scopes::PROJECT_READ).await?;
    ops::plugins::set_enabled(state.alerts.as_ref(), &member, &project, &path.2, false).await?;
    Ok(HttpResponse::NoContent().finish())
}
