//! A monitor's configuration from what SDKs send (`monitor_config` of a
//! check-in) and from the monitors API (`config` of a PUT), checked as
//! Sentry checks it.

use faultline_storage::{IntervalUnit, MonitorConfig, Schedule};
use serde_json::{Map, Value};

/// Sentry's bounds, in minutes (margin and run time) and check-ins
/// (thresholds).
pub const MAX_MARGIN: u64 = 40_320;
pub const MAX_RUNTIME: u64 = 40_320;
pub const MAX_THRESHOLD: u64 = 720;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
}

fn invalid(field: &'static str, message: &'static str) -> ConfigError {
    ConfigError::Invalid { field, message }
}

/// `@daily` and friends as the 5-field crontabs they stand for.
fn expand_alias(crontab: &str) -> Option<&'static str> {
    Some(match crontab {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => return None,
    })
}

/// A crontab with its whitespace normalised, checked to be 5 fields that
/// parse.
pub fn crontab(text: &str) -> Result<String, ConfigError> {
    let text = text.trim();
    if text.len() > 256 {
        return Err(invalid("schedule", "Schedule is invalid"));
    }
    let normal = match expand_alias(text) {
        Some(expanded) => expanded.to_owned(),
        None => text.split_whitespace().collect::<Vec<_>>().join(" "),
    };
    if normal.split(' ').count() != 5 {
        return Err(invalid(
            "schedule",
            "Only 5 field crontab syntax is supported",
        ));
    }
    crate::schedule::parse_crontab(&normal)
        .map_err(|_| invalid("schedule", "Schedule is invalid"))?;
    Ok(normal)
}

fn interval(value: &Value, unit: &Value) -> Result<Schedule, ConfigError> {
    let n = value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| invalid("schedule", "Invalid schedule for schedule unit name"))?;
    if n == 0 {
        return Err(invalid("schedule", "Interval must be greater than zero"));
    }
    let n = u32::try_from(n).map_err(|_| invalid("schedule", "Schedule is invalid"))?;
    let unit = unit
        .as_str()
        .and_then(IntervalUnit::parse)
        .ok_or_else(|| invalid("schedule", "Invalid schedule for schedule unit name"))?;
    Ok(Schedule::Interval(n, unit))
}

/// `{"type": "crontab", "value": "0 3 * * *"}` or `{"type": "interval",
/// "value": 2, "unit": "hour"}` (SDKs), or `schedule_type` beside a
/// `schedule` string or `[2, "hour"]` (the API).
fn schedule(object: &Map<String, Value>) -> Result<Option<Schedule>, ConfigError> {
    let Some(value) = object.get("schedule") else {
        return Ok(None);
    };
    let (kind, value, unit) = match value {
        Value::Object(s) => (
            s.get("type").and_then(Value::as_str),
            s.get("value").cloned().unwrap_or(Value::Null),
            s.get("unit").cloned().unwrap_or(Value::Null),
        ),
        Value::Array(pair) if pair.len() == 2 => (
            object
                .get("schedule_type")
                .and_then(Value::as_str)
                .or(Some("interval")),
            pair[0].clone(),
            pair[1].clone(),
        ),
        Value::String(_) => (
            object
                .get("schedule_type")
                .and_then(Value::as_str)
                .or(Some("crontab")),
            value.clone(),
            Value::Null,
        ),
        _ => return Err(invalid("schedule", "Schedule is invalid")),
    };
    match kind {
        Some("crontab") => {
            let text = value
                .as_str()
                .ok_or_else(|| invalid("schedule", "Schedule is invalid"))?;
            Ok(Some(Schedule::Crontab(crontab(text)?)))
        }
        Some("interval") => interval(&value, &unit).map(Some),
        _ => Err(invalid("schedule_type", "Missing or invalid schedule type")),
    }
}

/// A bounded count of minutes or check-ins; `None` for null. Sentry turns
/// a margin of 0 into 1.
fn bounded(
    object: &Map<String, Value>,
    field: &'static str,
    max: u64,
) -> Result<Option<Option<u32>>, ConfigError> {
    let Some(value) = object.get(field) else {
        return Ok(None);
    };
    if value.is_null() {
        return Ok(Some(None));
    }
    let n = value
        .as_u64()
        .or_else(|| value.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        .ok_or_else(|| invalid(field, "Ensure this value is a positive number"))?;
    let n = if field == "checkin_margin" {
        n.max(1)
    } else {
        n
    };
    if n == 0 || n > max {
        return Err(invalid(field, "Ensure this value is within bounds"));
    }
    Ok(Some(Some(n as u32)))
}

fn timezone(object: &Map<String, Value>) -> Result<Option<Option<String>>, ConfigError> {
    match object.get("timezone") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(tz)) if tz.trim().is_empty() => Ok(Some(None)),
        Some(Value::String(tz)) => {
            tz.parse::<chrono_tz::Tz>()
                .map_err(|_| invalid("timezone", "Invalid timezone"))?;
            Ok(Some(Some(tz.clone())))
        }
        Some(_) => Err(invalid("timezone", "Invalid timezone")),
    }
}

/// Sets on `config` each key `object` has (a partial update).
fn merge(config: &mut MonitorConfig, object: &Map<String, Value>) -> Result<(), ConfigError> {
    if let Some(s) = schedule(object)? {
        config.schedule = s;
    }
    if let Some(v) = bounded(object, "checkin_margin", MAX_MARGIN)? {
        config.checkin_margin = v;
    }
    if let Some(v) = bounded(object, "max_runtime", MAX_RUNTIME)? {
        config.max_runtime = v;
    }
    if let Some(v) = bounded(object, "failure_issue_threshold", MAX_THRESHOLD)? {
        config.failure_issue_threshold = v;
    }
    if let Some(v) = bounded(object, "recovery_threshold", MAX_THRESHOLD)? {
        config.recovery_threshold = v;
    }
    if let Some(v) = timezone(object)? {
        config.timezone = v;
    }
    Ok(())
}

/// A whole configuration (a check-in's `monitor_config`): the schedule is
/// required.
pub fn parse(value: &Value) -> Result<MonitorConfig, ConfigError> {
    let object = value
        .as_object()
        .ok_or_else(|| invalid("monitor_config", "Expected an object"))?;
    let schedule =
        schedule(object)?.ok_or_else(|| invalid("schedule", "This field is required"))?;
    let mut config = MonitorConfig {
        schedule,
        checkin_margin: None,
        max_runtime: None,
        timezone: None,
        failure_issue_threshold: None,
        recovery_threshold: None,
    };
    merge(&mut config, object)?;
    Ok(config)
}

/// `config` with the keys of `value` changed (the API's PUT).
pub fn update(config: &MonitorConfig, value: &Value) -> Result<MonitorConfig, ConfigError> {
    let object = value
        .as_object()
        .ok_or_else(|| invalid("config", "Expected an object"))?;
    let mut changed = config.clone();
    merge(&mut changed, object)?;
    Ok(changed)
}

/// The configuration as Sentry's API shows it.
pub fn to_json(config: &MonitorConfig) -> Value {
    let schedule = match &config.schedule {
        Schedule::Crontab(text) => Value::from(text.as_str()),
        Schedule::Interval(n, unit) => serde_json::json!([n, unit]),
    };
    serde_json::json!({
        "schedule_type": config.schedule.kind(),
        "schedule": schedule,
        "checkin_margin": config.checkin_margin,
        "max_runtime": config.max_runtime,
        "timezone": config.timezone.as_deref().unwrap_or("UTC"),
        "failure_issue_threshold": config.failure_issue_threshold,
        "recovery_threshold": config.recovery_threshold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sdk_and_api_shapes_parse_to_one_config() {
        let sdk = parse(
            &json!({"schedule": {"type": "crontab", "value": "0  3 * * *"},
            "checkin_margin": 5, "max_runtime": 30, "timezone": "Europe/Vienna"}),
        )
        .unwrap();
        assert_eq!(sdk.schedule, Schedule::Crontab("0 3 * * *".into()));
        assert_eq!(sdk.timezone.as_deref(), Some("Europe/Vienna"));
        let api = parse(&json!({"schedule_type": "interval", "schedule": [2, "hour"]})).unwrap();
        assert_eq!(api.schedule, Schedule::Interval(2, IntervalUnit::Hour));
        assert_eq!(to_json(&api)["schedule"], json!([2, "hour"]));
        let daily = parse(&json!({"schedule": {"type": "crontab", "value": "@daily"}})).unwrap();
        assert_eq!(daily.schedule, Schedule::Crontab("0 0 * * *".into()));
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        for (bad, field) in [
            (
                json!({"schedule": {"type": "crontab", "value": "* * * * * *"}}),
                "schedule",
            ),
            (
                json!({"schedule": {"type": "crontab", "value": "99 * * * *"}}),
                "schedule",
            ),
            (
                json!({"schedule": {"type": "interval", "value": 0, "unit": "hour"}}),
                "schedule",
            ),
            (
                json!({"schedule": {"type": "interval", "value": 1, "unit": "second"}}),
                "schedule",
            ),
            (json!({"schedule": {"type": "weekly"}}), "schedule_type"),
            (
                json!({"schedule": "0 3 * * *", "timezone": "Mars/Olympus"}),
                "timezone",
            ),
            (
                json!({"schedule": "0 3 * * *", "max_runtime": 50_000}),
                "max_runtime",
            ),
            (
                json!({"schedule": "0 3 * * *", "failure_issue_threshold": -1}),
                "failure_issue_threshold",
            ),
            (json!({"checkin_margin": 5}), "schedule"),
        ] {
            match parse(&bad) {
                Err(ConfigError::Invalid { field: got, .. }) => assert_eq!(got, field, "{bad}"),
                Ok(c) => panic!("{bad} parsed as {c:?}"),
            }
        }
    }

    #[test]
    fn updates_change_only_what_they_name() {
        let config = parse(&json!({"schedule": "0 3 * * *", "checkin_margin": 5})).unwrap();
        let changed = update(&config, &json!({"max_runtime": 10, "checkin_margin": 0})).unwrap();
        assert_eq!(changed.schedule, config.schedule);
        assert_eq!(changed.checkin_margin, Some(1));
        assert_eq!(changed.max_runtime, Some(10));
    }
}
