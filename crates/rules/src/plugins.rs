//! The channels a rule can send to besides email, as Sentry's legacy
//! project plugins: each has a slug (what `NotifyEventServiceAction`'s
//! `service` names and what `…/plugins/{slug}/` addresses), a title, and
//! the settings fields Sentry's plugin API lists and takes.
//!
//! This module checks settings; the notifier renders and sends.

use serde_json::{Map, Value, json};

/// A chat or webhook channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plugin {
    /// Sentry's legacy webhook JSON to each of several URLs.
    Webhooks,
    Slack,
    Discord,
    /// Microsoft Teams through a Workflows webhook (an adaptive card).
    MsTeams,
    /// A DingTalk group robot, signed with its secret.
    DingTalk,
    /// A Feishu (Lark) group bot, signed with its secret.
    Feishu,
    /// A WeCom (WeChat Work) group robot.
    WeCom,
}

/// How a settings field is entered and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// One http(s) URL.
    Url,
    /// http(s) URLs, one per line.
    Urls,
    /// Never shown once saved; left empty, the saved value stays.
    Secret,
}

impl FieldKind {
    /// The `type` Sentry's plugin API gives the field.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Url => "url",
            FieldKind::Urls => "textarea",
            FieldKind::Secret => "secret",
        }
    }
}

/// One settings field of a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginField {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    pub help: &'static str,
    pub placeholder: &'static str,
}

/// Longest URL taken (chat services' webhook URLs are far shorter).
pub const MAX_URL_LEN: usize = 2048;
/// Most callback URLs of the webhooks plugin.
pub const MAX_WEBHOOK_URLS: usize = 10;
/// Longest secret taken.
pub const MAX_SECRET_LEN: usize = 256;

const fn webhook_field(help: &'static str, placeholder: &'static str) -> PluginField {
    PluginField {
        name: "webhook",
        label: "Webhook URL",
        kind: FieldKind::Url,
        required: true,
        help,
        placeholder,
    }
}

const fn secret_field(help: &'static str) -> PluginField {
    PluginField {
        name: "secret",
        label: "Secret",
        kind: FieldKind::Secret,
        required: false,
        help,
        placeholder: "",
    }
}

const WEBHOOKS_FIELDS: &[PluginField] = &[PluginField {
    name: "urls",
    label: "Callback URLs",
    kind: FieldKind::Urls,
    required: false,
    help: "Enter callback URLs to POST new events to (one per line).",
    placeholder: "https://example.com/callback/url",
}];
const SLACK_FIELDS: &[PluginField] = &[webhook_field(
    "The incoming webhook URL of a Slack app.",
    "https://hooks.slack.com/services/…",
)];
const DISCORD_FIELDS: &[PluginField] = &[webhook_field(
    "A channel's webhook URL (Server settings → Integrations → Webhooks).",
    "https://discord.com/api/webhooks/…",
)];
const MSTEAMS_FIELDS: &[PluginField] = &[webhook_field(
    "The URL of a Teams Workflows \"When a Teams webhook request is received\" flow.",
    "https://….logic.azure.com/workflows/…",
)];
const DINGTALK_FIELDS: &[PluginField] = &[
    webhook_field(
        "The custom robot's webhook URL, with its access_token.",
        "https://oapi.dingtalk.com/robot/send?access_token=…",
    ),
    secret_field("The robot's signing secret (SEC…), when its security setting is \"sign\"."),
];
const FEISHU_FIELDS: &[PluginField] = &[
    webhook_field(
        "The custom bot's webhook URL.",
        "https://open.feishu.cn/open-apis/bot/v2/hook/…",
    ),
    secret_field("The bot's signing secret, when signature verification is on."),
];
const WECOM_FIELDS: &[PluginField] = &[webhook_field(
    "The group robot's webhook URL, with its key.",
    "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
)];

impl Plugin {
    pub const ALL: [Plugin; 7] = [
        Plugin::Webhooks,
        Plugin::Slack,
        Plugin::Discord,
        Plugin::MsTeams,
        Plugin::DingTalk,
        Plugin::Feishu,
        Plugin::WeCom,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Plugin::Webhooks => "webhooks",
            Plugin::Slack => "slack",
            Plugin::Discord => "discord",
            Plugin::MsTeams => "msteams",
            Plugin::DingTalk => "dingtalk",
            Plugin::Feishu => "feishu",
            Plugin::WeCom => "wecom",
        }
    }

    pub fn parse(slug: &str) -> Option<Plugin> {
        Plugin::ALL.into_iter().find(|p| p.slug() == slug)
    }

    pub fn title(self) -> &'static str {
        match self {
            Plugin::Webhooks => "WebHooks",
            Plugin::Slack => "Slack",
            Plugin::Discord => "Discord",
            Plugin::MsTeams => "Microsoft Teams",
            Plugin::DingTalk => "DingTalk",
            Plugin::Feishu => "Feishu / Lark",
            Plugin::WeCom => "WeCom",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Plugin::Webhooks => "Trigger outgoing HTTP POST requests with the issue and its event.",
            Plugin::Slack => "Post alerts to a Slack channel through an incoming webhook.",
            Plugin::Discord => "Post alerts to a Discord channel through its webhook.",
            Plugin::MsTeams => "Post alerts to a Microsoft Teams channel as an adaptive card.",
            Plugin::DingTalk => "Post alerts to a DingTalk group through a custom robot.",
            Plugin::Feishu => "Post alerts to a Feishu or Lark group through a custom bot.",
            Plugin::WeCom => "Post alerts to a WeCom group through a group robot.",
        }
    }

    pub fn fields(self) -> &'static [PluginField] {
        match self {
            Plugin::Webhooks => WEBHOOKS_FIELDS,
            Plugin::Slack => SLACK_FIELDS,
            Plugin::Discord => DISCORD_FIELDS,
            Plugin::MsTeams => MSTEAMS_FIELDS,
            Plugin::DingTalk => DINGTALK_FIELDS,
            Plugin::Feishu => FEISHU_FIELDS,
            Plugin::WeCom => WECOM_FIELDS,
        }
    }

    /// Whether saved settings name somewhere to send to.
    pub fn is_configured(self, config: &Map<String, Value>) -> bool {
        !self.targets(config).is_empty()
    }

    /// Where a notification goes: each callback URL, or the webhook.
    pub fn targets(self, config: &Map<String, Value>) -> Vec<String> {
        match self {
            Plugin::Webhooks => split_lines(text(config, "urls")),
            _ => split_lines(text(config, "webhook")),
        }
    }

    /// The settings to save from a `PUT …/plugins/{slug}/` body: each
    /// field checked as Sentry's plugin API checks it; a secret left empty
    /// keeps the `saved` one. Fields the plugin does not have are ignored.
    pub fn check_config(
        self,
        input: &Map<String, Value>,
        saved: &Map<String, Value>,
    ) -> Result<Map<String, Value>, ConfigErrors> {
        let mut errors = ConfigErrors::default();
        let mut out = Map::new();
        for field in self.fields() {
            let value = match input.get(field.name) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.trim().to_owned(),
                Some(_) => {
                    errors.add(field.name, "Expected a string.");
                    continue;
                }
            };
            let value = match field.kind {
                FieldKind::Secret if value.is_empty() => text(saved, field.name).to_owned(),
                _ => value,
            };
            if value.is_empty() {
                if field.required {
                    errors.add(field.name, "This field is required.");
                }
                continue;
            }
            let checked = match field.kind {
                FieldKind::Url => check_url(&value).map(|()| value),
                FieldKind::Urls => check_urls(&value),
                FieldKind::Secret if value.len() > MAX_SECRET_LEN => Err(format!(
                    "Ensure this value has at most {MAX_SECRET_LEN} characters."
                )),
                FieldKind::Secret if value.chars().any(char::is_control) => {
                    Err("Not a valid secret.".to_owned())
                }
                FieldKind::Secret => Ok(value),
            };
            match checked {
                Ok(value) => {
                    out.insert(field.name.to_owned(), Value::String(value));
                }
                Err(message) => errors.add(field.name, message),
            }
        }
        if errors.0.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }
}

fn text<'a>(config: &'a Map<String, Value>, name: &str) -> &'a str {
    config.get(name).and_then(Value::as_str).unwrap_or("")
}

fn split_lines(value: &str) -> Vec<String> {
    value
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An http(s) URL with a host, as Sentry's `validate_urls` asks, and no
/// credentials (they would be shown on the settings page).
fn check_url(url: &str) -> Result<(), String> {
    let invalid = || Err("Not a valid URL.".to_owned());
    if url.len() > MAX_URL_LEN || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid();
    }
    let Ok(parsed) = url::Url::parse(url) else {
        return invalid();
    };
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.host_str().is_none_or(str::is_empty)
        || !parsed.username().is_empty()
        || parsed.password().is_some()
    {
        return invalid();
    }
    Ok(())
}

fn check_urls(value: &str) -> Result<String, String> {
    let urls = split_lines(value);
    if urls.len() > MAX_WEBHOOK_URLS {
        return Err(format!("Enter at most {MAX_WEBHOOK_URLS} URLs."));
    }
    for url in &urls {
        check_url(url)?;
    }
    Ok(urls.join("\n"))
}

/// What is wrong with a plugin's settings, by field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<(String, String)>);

impl ConfigErrors {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_owned(), message.into()));
    }

    /// Sentry's plugin API shape: `{"errors": {field: message}}`.
    pub fn to_json(&self) -> Value {
        let errors: Map<String, Value> = self
            .0
            .iter()
            .map(|(f, m)| (f.clone(), Value::String(m.clone())))
            .collect();
        json!({ "errors": errors })
    }
}

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, m)| format!("{k}: {m}")).collect();
        f.write_str(&parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn every_slug_reads_back_and_rules_may_name_it() {
        for plugin in Plugin::ALL {
            assert_eq!(Plugin::parse(plugin.slug()), Some(plugin));
            assert!(crate::SERVICES.contains(&plugin.slug()));
        }
        assert_eq!(Plugin::parse("mail"), None);
    }

    #[test]
    fn webhook_urls_are_checked_and_kept_one_per_line() {
        let saved = Map::new();
        let ok = Plugin::Webhooks
            .check_config(
                &map(json!({"urls": " https://a.example/x \n\nhttp://10.0.0.5:8080/hook\n"})),
                &saved,
            )
            .unwrap();
        assert_eq!(ok["urls"], "https://a.example/x\nhttp://10.0.0.5:8080/hook");
        assert_eq!(Plugin::Webhooks.targets(&ok).len(), 2);
        for bad in [
            "ftp://a.example/",
            "https://",
            "https://user:pw@a.example/",
            "javascript:alert(1)",
            "https://a.example/ x",
        ] {
            let err = Plugin::Webhooks
                .check_config(&map(json!({ "urls": bad })), &saved)
                .unwrap_err();
            assert_eq!(
                err.to_json(),
                json!({"errors": {"urls": "Not a valid URL."}}),
                "{bad}"
            );
        }
        // The webhooks plugin may be saved empty, as Sentry's.
        let empty = Plugin::Webhooks.check_config(&Map::new(), &saved).unwrap();
        assert!(!Plugin::Webhooks.is_configured(&empty));
    }

    #[test]
    fn a_chat_webhook_is_required_and_an_empty_secret_keeps_the_saved_one() {
        let err = Plugin::DingTalk
            .check_config(&Map::new(), &Map::new())
            .unwrap_err();
        assert_eq!(
            err.to_json(),
            json!({"errors": {"webhook": "This field is required."}})
        );
        let saved = map(
            json!({"webhook": "https://oapi.dingtalk.com/robot/send?access_token=a", "secret": "SECold"}),
        );
        let kept = Plugin::DingTalk
            .check_config(
                &map(json!({"webhook": "https://oapi.dingtalk.com/robot/send?access_token=b", "secret": ""})),
                &saved,
            )
            .unwrap();
        assert_eq!(kept["secret"], "SECold");
        assert!(kept["webhook"].as_str().unwrap().ends_with("=b"));
        let err = Plugin::Slack
            .check_config(&map(json!({"webhook": 7})), &Map::new())
            .unwrap_err();
        assert_eq!(err.0[0].0, "webhook");
    }
}
