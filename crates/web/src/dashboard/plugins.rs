//! A project's alert channels (Sentry's legacy integrations page): the
//! list of plugins, and each plugin's page with its settings, enable and
//! disable, and "send test", which shows the service's own answer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use faultline_rules::FieldKind;

use super::error::{PageResult, ShowRefusal};
use super::form_field;
use super::pages::{Ctx, context, form_context};
use super::views::{Nav, render_status};
use crate::WebState;
use crate::ops;
use crate::ops::plugins::{PluginState, TEST_OK};
use crate::scopes;
use faultline_storage::Project;

pub struct PluginRow {
    pub slug: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub enabled: bool,
    pub configured: bool,
}

#[derive(Template)]
#[template(path = "plugins.html")]
pub struct PluginsPage {
    pub nav: Nav,
    pub project_slug: String,
    pub project_name: String,
    pub plugins: Vec<PluginRow>,
}

pub struct FieldRow {
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub placeholder: &'static str,
    /// `url`, `textarea` or `secret`.
    pub kind: &'static str,
    pub required: bool,
    /// The saved value; never a secret's.
    pub value: String,
    pub has_saved_value: bool,
}

#[derive(Template)]
#[template(path = "plugin.html")]
pub struct PluginPage {
    pub nav: Nav,
    pub project_slug: String,
    pub project_name: String,
    pub plugin: PluginRow,
    pub fields: Vec<FieldRow>,
    pub can_write: bool,
    /// What the last action came to: (it worked, what to say).
    pub result: Option<(bool, String)>,
}

fn row(state: &PluginState) -> PluginRow {
    PluginRow {
        slug: state.plugin.slug(),
        title: state.plugin.title(),
        description: state.plugin.description(),
        enabled: state.enabled,
        configured: state.is_configured(),
    }
}

fn fields(state: &PluginState) -> Vec<FieldRow> {
    state
        .plugin
        .fields()
        .iter()
        .map(|f| {
            let saved = state
                .config
                .get(f.name)
                .and_then(|v| v.as_str())
                .unwrap_or("");
            let secret = f.kind == FieldKind::Secret;
            FieldRow {
                name: f.name,
                label: f.label,
                help: f.help,
                placeholder: f.placeholder,
                kind: f.kind.as_str(),
                required: f.required,
                value: if secret {
                    String::new()
                } else {
                    saved.to_owned()
                },
                has_saved_value: !saved.is_empty(),
            }
        })
        .collect()
}

pub async fn list(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = context(&req, &state, &path.0).await?;
    let project = ctx
        .member
        .project(state.meta.as_ref(), &path.1, scopes::PROJECT_READ)
        .await?;
    let plugins = ops::plugins::list(state.alerts.as_ref(), &ctx.member, &project).await?;
    Ok(render_status(
        StatusCode::OK,
        &PluginsPage {
            nav: ctx.nav,
            project_slug: project.slug.clone(),
            project_name: project.name.clone(),
            plugins: plugins.iter().map(row).collect(),
        },
    ))
}

pub async fn detail(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = context(&req, &state, &path.0).await?;
    let project = ctx
        .member
        .project(state.meta.as_ref(), &path.1, scopes::PROJECT_READ)
        .await?;
    let plugin = ops::plugins::get(state.alerts.as_ref(), &ctx.member, &project, &path.2).await?;
    Ok(plugin_page(ctx, &project, &plugin, None))
}

/// The plugin's page, with what the last action came to; 400 when it
/// did not work.
fn plugin_page(
    ctx: Ctx,
    project: &Project,
    plugin: &PluginState,
    result: Option<(bool, String)>,
) -> HttpResponse {
    let status = match &result {
        Some((false, _)) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    render_status(
        status,
        &PluginPage {
            can_write: ctx.member.allows(scopes::PROJECT_WRITE),
            nav: ctx.nav,
            project_slug: project.slug.clone(),
            project_name: project.name.clone(),
            plugin: row(plugin),
            fields: fields(plugin),
            result,
        },
    )
}

/// The page's forms: `save` (the fields), `enable`, `disable`, `test`.
pub async fn update(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = form_context(&req, &state, &path.0, &form).await?;
    let (alerts, member, slug) = (state.alerts.as_ref(), &ctx.member, path.2.as_str());
    let project = member
        .project(state.meta.as_ref(), &path.1, scopes::PROJECT_WRITE)
        .await?;
    let result: Result<(bool, String), String> = match form_field(&form, "action") {
        Some("save") => {
            let body: serde_json::Map<String, serde_json::Value> = form
                .iter()
                .filter(|(k, _)| k != "csrf_token" && k != "action")
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            ops::plugins::configure(alerts, member, &project, slug, &body.into())
                .await
                .or_show()?
                .map(|_| (true, "Saved.".to_owned()))
        }
        Some(action @ ("enable" | "disable")) => {
            let on = action == "enable";
            ops::plugins::set_enabled(alerts, member, &project, slug, on)
                .await
                .or_show()?
                .map(|_| (true, if on { "Enabled." } else { "Disabled." }.to_owned()))
        }
        Some("test") => {
            let detail = ops::plugins::test(
                alerts,
                &state.http,
                member,
                &project,
                &state.url_prefix,
                slug,
            )
            .await?;
            Ok(if detail == TEST_OK {
                (true, format!("Test message sent: {TEST_OK}."))
            } else {
                (false, format!("Test message not delivered: {detail}"))
            })
        }
        _ => Err("Unknown action.".to_owned()),
    };
    let result = result.unwrap_or_else(|refusal| (false, refusal));
    let plugin = ops::plugins::get(alerts, member, &project, slug).await?;
    Ok(plugin_page(ctx, &project, &plugin, Some(result)))
}
