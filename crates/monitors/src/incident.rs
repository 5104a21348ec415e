//! The issue a failing monitor opens: each failure while the monitor is
//! over its threshold is an event on `ingest-events`, grouped by a
//! fingerprint of the monitor and environment, so it is one issue per
//! monitor environment that reopens like any other and that alert rules
//! see like any other.

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use faultline_protocol::{EventId, IngestHeader, IngestMessage, NormalizeOptions, normalize_event};
use faultline_storage::{Message, Monitor, Topic};
use serde_json::{Value, json};

use crate::{MonitorError, MonitorStores};

/// Why a monitor failed, and what it says about it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Failure {
    /// No check-in came by the expected time plus the margin.
    Missed {
        expected: DateTime<Utc>,
        margin_minutes: i64,
    },
    /// A run stayed in progress longer than the maximum run time.
    Timeout {
        started: DateTime<Utc>,
        max_runtime_minutes: i64,
    },
    /// The job said it failed.
    Error,
}

impl Failure {
    fn reason(&self) -> &'static str {
        match self {
            Failure::Missed { .. } => "missed_checkin",
            Failure::Timeout { .. } => "timeout",
            Failure::Error => "error",
        }
    }

    fn explain(&self) -> String {
        let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        match self {
            Failure::Missed {
                expected,
                margin_minutes,
            } => format!(
                "A missed check-in was detected: expected at {} (margin {margin_minutes} min)",
                time(expected)
            ),
            Failure::Timeout {
                started,
                max_runtime_minutes,
            } => format!(
                "A check-in timed out: in progress since {}, longer than the maximum run time of {max_runtime_minutes} min",
                time(started)
            ),
            Failure::Error => "An error check-in was detected".to_owned(),
        }
    }
}

fn fingerprint(monitor: &Monitor, environment: &str) -> Value {
    json!(["monitor-failure", monitor.guid, environment])
}

/// The failure event of this monitor environment.
fn event(monitor: &Monitor, environment: &str, failure: Failure, now: DateTime<Utc>) -> Value {
    json!({
        "event_id": EventId::new_random().to_string(),
        "timestamp": now.timestamp_millis() as f64 / 1000.0,
        "platform": "other",
        "level": "error",
        "logger": "monitors",
        "environment": environment,
        "transaction": monitor.slug,
        "message": format!("Cron failure: {}\n{}", monitor.name, failure.explain()),
        "fingerprint": fingerprint(monitor, environment),
        "tags": {
            "monitor.id": monitor.guid,
            "monitor.slug": monitor.slug,
            "monitor.failure": failure.reason(),
        },
        "contexts": {
            "monitor": {
                "id": monitor.guid,
                "slug": monitor.slug,
                "name": monitor.name,
                "failure": failure.reason(),
                "config": crate::config::to_json(&monitor.config),
            }
        },
    })
}

/// The grouping hash of the environment's failure issue (to resolve it
/// when the monitor recovers).
pub fn failure_hash(monitor: &Monitor, environment: &str) -> Result<String, MonitorError> {
    let now = Utc::now();
    let payload = event(monitor, environment, Failure::Error, now).to_string();
    let event = normalize_event(payload.as_bytes(), &NormalizeOptions::new(now))
        .map_err(|e| MonitorError::Event(e.to_string()))?;
    Ok(faultline_grouping::group(&event).hash)
}

/// Queues one failure event of the monitor environment's issue.
pub(crate) async fn publish(
    stores: &MonitorStores,
    monitor: &Monitor,
    environment: &str,
    failure: Failure,
) -> Result<(), MonitorError> {
    // Real time, even when the sweep runs on a fast test clock: the
    // event is stored with the time it was made.
    let now = Utc::now();
    let body = event(monitor, environment, failure, now);
    let event_id = body["event_id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(EventId::new_random);
    let message = IngestMessage {
        header: IngestHeader {
            project_id: monitor.project_id,
            event_id,
            item_type: "event".to_owned(),
            received: now,
            remote_addr: None,
            filename: None,
            content_type: None,
            attachment_type: None,
            chunk: None,
        },
        payload: Bytes::from(body.to_string()),
    };
    stores
        .queue
        .publish(
            Topic::IngestEvents,
            vec![Message::new(
                monitor.project_id.0,
                Bytes::from(message.encode()),
            )],
        )
        .await?;
    tracing::info!(
        monitor = monitor.slug,
        environment,
        reason = failure.reason(),
        %event_id,
        "monitor failure event queued"
    );
    Ok(())
}
