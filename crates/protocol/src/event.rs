//! The normalised event: what the ingest-consumer produces and every later
//! stage (grouping, storage, API) reads. Its serde form is the Sentry event
//! JSON shape, so stored events can be returned as SDKs sent them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::EventId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Fatal,
}

impl Level {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "debug" | "trace" => Level::Debug,
            "info" | "log" => Level::Info,
            "warning" | "warn" => Level::Warning,
            "error" => Level::Error,
            "fatal" | "critical" => Level::Fatal,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The template (`"hello %s"`); grouping uses this, not the formatted text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
}

impl LogEntry {
    /// The text a person reads: formatted if known, else the template.
    pub fn text(&self) -> Option<&str> {
        self.formatted.as_deref().or(self.message.as_deref())
    }
}

/// One image of Sentry's `debug_meta`: a source map's debug id for a
/// bundle (`type: sourcemap`, `code_file`), or a native module. What
/// symbolication looks frames up by.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DebugImage {
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_addr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_vmaddr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abs_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineno: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colno: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_context: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_line: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_context: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_app: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vars: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction_addr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// Set by symbolication, as Sentry's `data`: whether and how the frame
    /// was mapped (`symbolicated`, `resolved_with`, `sourcemap`), or why
    /// not (`unresolved_reason`, `unresolved_detail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stacktrace {
    /// Oldest call first, the frame that raised last, as SDKs send them.
    pub frames: Vec<Frame>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Exception {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacktrace: Option<Stacktrace>,
    /// The frames as the SDK sent them, kept when symbolication changed
    /// any (Sentry's `raw_stacktrace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_stacktrace: Option<Stacktrace>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub event_id: EventId,
    pub timestamp: DateTime<Utc>,
    /// When relay accepted it; the clock Faultline trusts.
    pub received: DateTime<Utc>,
    pub level: Level,
    pub platform: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logger: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dist: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logentry: Option<LogEntry>,
    /// The chain, cause first and the exception that was raised last, as
    /// Sentry orders `exception.values`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exception: Vec<Exception>,
    /// Ordered key/value pairs, SDK tags first, then the ones Faultline derives.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub contexts: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breadcrumbs: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk: Option<Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub modules: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Vec<String>>,
    /// `debug_meta.images`, kept for symbolication.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub debug_images: Vec<DebugImage>,
}

impl Event {
    /// The exception that was raised last: what titles and culprits describe.
    pub fn main_exception(&self) -> Option<&Exception> {
        self.exception.last()
    }

    /// Sentry's event type: `error` with an exception, `default` otherwise.
    pub fn event_type(&self) -> &'static str {
        if self.exception.is_empty() {
            "default"
        } else {
            "error"
        }
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The identity used for "users affected": id, else email, else username,
    /// else IP address, written as Sentry's `user` tag (`id:42`).
    pub fn user_tag(&self) -> Option<String> {
        let user = self.user.as_ref()?;
        for (field, prefix) in [
            ("id", "id"),
            ("email", "email"),
            ("username", "username"),
            ("ip_address", "ip"),
        ] {
            if let Some(v) = user
                .get(field)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
            {
                return Some(format!("{prefix}:{v}"));
            }
        }
        None
    }
}
