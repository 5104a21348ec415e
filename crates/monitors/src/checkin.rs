//! A check-in as SDKs send it (a `check_in` envelope item) or as relay
//! builds it from the HTTP endpoint's query string, checked whole: relay
//! refuses what the consumer could not keep.
//!
//! `{"check_in_id": "…", "monitor_slug": "…", "status": "in_progress" | "ok"
//! | "error", "duration": seconds, "environment": "…", "monitor_config":
//! {…}}`.

use faultline_storage::{CheckInStatus, MonitorConfig};
use serde_json::Value;

/// Sentry's limits: slugs of 50 characters, environments of 64.
pub const MAX_SLUG: usize = 50;
pub const MAX_ENVIRONMENT: usize = 64;
/// A job that ran longer than a year did not (a clock went wrong).
const MAX_DURATION_SECONDS: f64 = 365.0 * 86_400.0;

pub const DEFAULT_ENVIRONMENT: &str = "production";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckInError {
    #[error("check-in is not a JSON object")]
    NotAnObject,
    #[error("check-in has no monitor_slug")]
    MissingSlug,
    #[error("check-in status must be in_progress, ok or error")]
    InvalidStatus,
    #[error("check_in_id is not a UUID")]
    InvalidId,
    #[error("duration must be a number of seconds")]
    InvalidDuration,
    #[error("environment must be a string of at most 64 characters")]
    InvalidEnvironment,
    #[error("monitor_config: {0}")]
    InvalidConfig(#[from] crate::config::ConfigError),
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckInPayload {
    /// The job's own id for this run (32 hex digits): its second check-in
    /// finishes the first. `None` when it sent none (or the nil UUID):
    /// then a finishing check-in closes the newest in-progress one.
    pub check_in_id: Option<String>,
    pub monitor_slug: String,
    pub status: CheckInStatus,
    pub duration_ms: Option<i64>,
    pub environment: String,
    /// Creates the monitor, or changes it, when given.
    pub monitor_config: Option<MonitorConfig>,
}

/// A slug as Sentry (Django) makes one of a name: lower case, only ASCII
/// letters, digits, `_` and `-` kept, each run of spaces and dashes one
/// `-`, at most 50 characters.
pub fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len().min(MAX_SLUG));
    let mut dash = false;
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c == '-' || c.is_whitespace() {
            dash = true;
        } else if c.is_ascii_alphanumeric() || c == '_' {
            if dash && !slug.is_empty() {
                slug.push('-');
            }
            dash = false;
            slug.push(c);
        }
        if slug.len() >= MAX_SLUG {
            break;
        }
    }
    slug.truncate(MAX_SLUG);
    slug
}

/// A UUID in any of its spellings as 32 lower-case hex digits; `Ok(None)`
/// for the nil UUID.
pub fn check_in_id(text: &str) -> Result<Option<String>, CheckInError> {
    let id = uuid::Uuid::parse_str(text.trim()).map_err(|_| CheckInError::InvalidId)?;
    Ok((!id.is_nil()).then(|| id.simple().to_string()))
}

fn duration(value: &Value) -> Result<Option<i64>, CheckInError> {
    if value.is_null() {
        return Ok(None);
    }
    let seconds = value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
        .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s <= MAX_DURATION_SECONDS)
        .ok_or(CheckInError::InvalidDuration)?;
    Ok(Some((seconds * 1000.0).round() as i64))
}

fn status(value: Option<&str>) -> Result<CheckInStatus, CheckInError> {
    match value.map(CheckInStatus::parse) {
        Some(Some(
            status @ (CheckInStatus::InProgress | CheckInStatus::Ok | CheckInStatus::Error),
        )) => Ok(status),
        _ => Err(CheckInError::InvalidStatus),
    }
}

fn environment(value: Option<&Value>) -> Result<String, CheckInError> {
    match value {
        None | Some(Value::Null) => Ok(DEFAULT_ENVIRONMENT.to_owned()),
        Some(Value::String(env)) if env.trim().is_empty() => Ok(DEFAULT_ENVIRONMENT.to_owned()),
        Some(Value::String(env))
            if env.chars().count() <= MAX_ENVIRONMENT
                && !env.contains(['\n', '\r', '/'])
                && !env.chars().any(char::is_control) =>
        {
            Ok(env.trim().to_owned())
        }
        Some(_) => Err(CheckInError::InvalidEnvironment),
    }
}

/// A check-in item's payload.
pub fn parse(payload: &[u8]) -> Result<CheckInPayload, CheckInError> {
    let value: Value = serde_json::from_slice(payload).map_err(|_| CheckInError::NotAnObject)?;
    from_value(&value)
}

pub fn from_value(value: &Value) -> Result<CheckInPayload, CheckInError> {
    let object = value.as_object().ok_or(CheckInError::NotAnObject)?;
    let monitor_slug = object
        .get("monitor_slug")
        .and_then(Value::as_str)
        .map(slugify)
        .filter(|s| !s.is_empty())
        .ok_or(CheckInError::MissingSlug)?;
    let check_in_id = match object.get("check_in_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => check_in_id(id)?,
        Some(_) => return Err(CheckInError::InvalidId),
    };
    let monitor_config = match object.get("monitor_config") {
        None | Some(Value::Null) => None,
        Some(config) => Some(crate::config::parse(config)?),
    };
    Ok(CheckInPayload {
        check_in_id,
        monitor_slug,
        status: status(object.get("status").and_then(Value::as_str))?,
        duration_ms: duration(object.get("duration").unwrap_or(&Value::Null))?,
        environment: environment(object.get("environment"))?,
        monitor_config,
    })
}

/// The check-in item relay writes for the HTTP endpoint: the JSON body
/// (a POST may send one with `monitor_config`), with the query's
/// `status`, `check_in_id`, `environment` and `duration` over it, for
/// the monitor of the URL.
pub fn from_http(
    slug: &str,
    query: &[(String, String)],
    body: Option<&Value>,
) -> Result<Value, CheckInError> {
    let mut object = match body {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(object)) => object.clone(),
        Some(_) => return Err(CheckInError::NotAnObject),
    };
    for (key, value) in query {
        let key = key.as_str();
        if matches!(key, "status" | "check_in_id" | "environment" | "duration") {
            object.insert(key.to_owned(), Value::from(value.as_str()));
        }
    }
    object.insert("monitor_slug".to_owned(), Value::from(slug));
    let value = Value::Object(object);
    from_value(&value)?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sdk_check_ins_parse() {
        let c = parse(
            json!({"check_in_id": "83a7c03e-d0a0-4e1b-97e2-e3b18d38f244",
                "monitor_slug": "Nightly Backup", "status": "ok", "duration": 1.25,
                "monitor_config": {"schedule": {"type": "crontab", "value": "0 3 * * *"}}})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            c.check_in_id.as_deref(),
            Some("83a7c03ed0a04e1b97e2e3b18d38f244")
        );
        assert_eq!(c.monitor_slug, "nightly-backup");
        assert_eq!(c.duration_ms, Some(1250));
        assert_eq!(c.environment, "production");
        assert!(c.monitor_config.is_some());
        let nil = parse(br#"{"check_in_id": "00000000000000000000000000000000", "monitor_slug": "a", "status": "ok"}"#).unwrap();
        assert_eq!(nil.check_in_id, None);
    }

    #[test]
    fn what_would_be_dropped_is_refused() {
        for (bad, error) in [
            (json!([]), CheckInError::NotAnObject),
            (json!({"status": "ok"}), CheckInError::MissingSlug),
            (
                json!({"monitor_slug": "!!!", "status": "ok"}),
                CheckInError::MissingSlug,
            ),
            (
                json!({"monitor_slug": "a", "status": "missed"}),
                CheckInError::InvalidStatus,
            ),
            (json!({"monitor_slug": "a"}), CheckInError::InvalidStatus),
            (
                json!({"monitor_slug": "a", "status": "ok", "check_in_id": "x"}),
                CheckInError::InvalidId,
            ),
            (
                json!({"monitor_slug": "a", "status": "ok", "duration": -1}),
                CheckInError::InvalidDuration,
            ),
            (
                json!({"monitor_slug": "a", "status": "ok", "environment": "x".repeat(65)}),
                CheckInError::InvalidEnvironment,
            ),
        ] {
            assert_eq!(parse(bad.to_string().as_bytes()), Err(error), "{bad}");
        }
        assert!(matches!(
            parse(
                br#"{"monitor_slug": "a", "status": "ok", "monitor_config": {"schedule": "bad"}}"#
            ),
            Err(CheckInError::InvalidConfig(_))
        ));
    }

    #[test]
    fn http_query_overrides_the_body() {
        let query = vec![
            ("status".to_owned(), "error".to_owned()),
            ("sentry_key".to_owned(), "k".to_owned()),
        ];
        let item = from_http(
            "job",
            &query,
            Some(&json!({"status": "ok", "environment": "staging"})),
        )
        .unwrap();
        let c = from_value(&item).unwrap();
        assert_eq!(c.status, CheckInStatus::Error);
        assert_eq!(c.environment, "staging");
        assert_eq!(c.monitor_slug, "job");
        assert!(item.get("sentry_key").is_none());
        assert!(
            from_http("job", &[], None).is_err(),
            "a check-in needs a status"
        );
    }

    #[test]
    fn slugs_are_bounded() {
        assert_eq!(slugify(&"a".repeat(80)).len(), MAX_SLUG);
        assert_eq!(slugify("  My Job -- 2 "), "my-job-2");
        assert_eq!(slugify("Nightly: Backup!"), "nightly-backup");
    }
}
