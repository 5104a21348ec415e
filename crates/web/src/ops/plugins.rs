//! A project's plugins (the chat and webhook channels of alert rules), as
//! Sentry's legacy plugin API has them: settings saved field by field,
//! enabled and disabled apart from their settings, and a test message.

use faultline_notifier::HttpClient;
use faultline_notifier::message::{Notification, Payload};
use faultline_rules::Plugin;
use faultline_storage::{AlertStore, Project};
use serde_json::{Map, Value};

use super::{Member, OpError, OpResult};
use crate::scopes;

/// One plugin as a project has it.
#[derive(Debug, Clone)]
pub struct PluginState {
    pub plugin: Plugin,
    pub enabled: bool,
    pub config: Map<String, Value>,
}

impl PluginState {
    pub fn is_configured(&self) -> bool {
        self.plugin.is_configured(&self.config)
    }
}

fn find(slug: &str) -> OpResult<Plugin> {
    Plugin::parse(slug).ok_or(OpError::NotFound)
}

/// Every plugin, with the project's settings where it has them.
pub async fn list(
    alerts: &dyn AlertStore,
    member: &Member,
    project: &Project,
) -> OpResult<Vec<PluginState>> {
    member.require(scopes::PROJECT_READ)?;
    member.check_project(project)?;
    let saved = alerts.plugins(project.id).await?;
    Ok(Plugin::ALL
        .into_iter()
        .map(|plugin| {
            let settings = saved.iter().find(|s| s.slug == plugin.slug());
            PluginState {
                plugin,
                enabled: settings.is_some_and(|s| s.enabled),
                config: settings
                    .and_then(|s| s.config.as_object().cloned())
                    .unwrap_or_default(),
            }
        })
        .collect())
}

pub async fn get(
    alerts: &dyn AlertStore,
    member: &Member,
    project: &Project,
    slug: &str,
) -> OpResult<PluginState> {
    let plugin = find(slug)?;
    list(alerts, member, project)
        .await?
        .into_iter()
        .find(|p| p.plugin == plugin)
        .ok_or(OpError::NotFound)
}

/// Saves the plugin's settings from Sentry's `PUT` body (its fields by
/// name), each checked; a secret left empty keeps the saved one.
pub async fn configure(
    alerts: &dyn AlertStore,
    member: &Member,
    project: &Project,
    slug: &str,
    body: &Value,
) -> OpResult<PluginState> {
    member.require(scopes::PROJECT_WRITE)?;
    let current = get(alerts, member, project, slug).await?;
    let input = body
        .as_object()
        .ok_or_else(|| OpError::invalid("body", "the body is an object of the plugin's fields"))?;
    let config = current
        .plugin
        .check_config(input, &current.config)
        .map_err(OpError::PluginConfig)?;
    let saved = alerts
        .save_plugin_config(project.id, slug, &Value::Object(config.clone()))
        .await?;
    Ok(PluginState {
        plugin: current.plugin,
        enabled: saved.enabled,
        config,
    })
}

/// Enables (Sentry's `POST`) or disables (`DELETE`) the plugin.
pub async fn set_enabled(
    alerts: &dyn AlertStore,
    member: &Member,
    project: &Project,
    slug: &str,
    enabled: bool,
) -> OpResult<PluginState> {
    // Sentry asks project:admin to disable a plugin, project:write to
    // enable one.
    member.require(if enabled {
        scopes::PROJECT_WRITE
    } else {
        scopes::PROJECT_ADMIN
    })?;
    let current = get(alerts, member, project, slug).await?;
    let saved = alerts.set_plugin_enabled(project.id, slug, enabled).await?;
    Ok(PluginState {
        enabled: saved.enabled,
        ..current
    })
}

/// What Sentry's test answers when the test message got through.
pub const TEST_OK: &str = "No errors returned";

/// Sends an example notification through the plugin's saved settings, as
/// deliveries are sent, and says how it went: [`TEST_OK`], or the error
/// (the service's own answer where it gave one).
pub async fn test(
    alerts: &dyn AlertStore,
    http: &Result<HttpClient, String>,
    member: &Member,
    project: &Project,
    url_prefix: &str,
    slug: &str,
) -> OpResult<String> {
    member.require(scopes::PROJECT_WRITE)?;
    let current = get(alerts, member, project, slug).await?;
    let http = match http {
        Ok(http) => http,
        Err(e) => return Ok(format!("There is no HTTP client: {e}")),
    };
    let targets = current.plugin.targets(&current.config);
    if targets.is_empty() {
        return Ok(format!(
            "The {} plugin has no webhook URL yet: save its settings first.",
            current.plugin.title()
        ));
    }
    let payload = Payload::Alert(Box::new(Notification::example(
        project,
        &member.org,
        url_prefix,
    )));
    let mut failures = Vec::new();
    for target in &targets {
        if let Err(e) = faultline_notifier::channels::send(
            http,
            current.plugin,
            &current.config,
            target,
            &payload,
        )
        .await
        {
            let message = match e {
                faultline_notifier::deliver::SendError::Transient(m)
                | faultline_notifier::deliver::SendError::Permanent(m) => m,
            };
            failures.push(if targets.len() > 1 {
                format!("{target}: {message}")
            } else {
                message
            });
        }
    }
    Ok(if failures.is_empty() {
        TEST_OK.to_owned()
    } else {
        failures.join("\n")
    })
}

/// Clears the plugin's settings (Sentry's `POST {"reset": true}`).
pub async fn reset(
    alerts: &dyn AlertStore,
    member: &Member,
    project: &Project,
    slug: &str,
) -> OpResult<PluginState> {
    member.require(scopes::PROJECT_WRITE)?;
    let current = get(alerts, member, project, slug).await?;
    let saved = alerts
        .save_plugin_config(project.id, slug, &Value::Object(Map::new()))
        .await?;
    Ok(PluginState {
        enabled: saved.enabled,
        config: Map::new(),
        ..current
    })
}
