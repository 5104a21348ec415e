//! Sentry's legacy webhook: the issue and its event as the WebHooks plugin
//! posts them (`id`, `project`, `project_name`, `project_slug`, `logger`,
//! `level`, `culprit`, `message`, `url`, `triggering_rules`, `event`), so
//! receivers written for Sentry keep working.

use serde_json::{Value, json};

use crate::message::{Notification, Payload, Summary};

pub fn body(payload: &Payload) -> Value {
    match payload {
        Payload::Alert(n) => alert(n),
        Payload::Summary { summary } => summary_body(summary),
    }
}

fn alert(n: &Notification) -> Value {
    let event = n.event.clone().unwrap_or_else(|| json!({}));
    let tag = |key: &str| {
        event["tags"].as_array().and_then(|tags| {
            tags.iter()
                .find(|t| t[0] == key)
                .and_then(|t| t[1].as_str())
                .map(str::to_owned)
        })
    };
    let logger = event["logger"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| tag("logger"));
    // Sentry's `event.message`: the log message, else the title.
    let message = event["logentry"]["formatted"]
        .as_str()
        .or_else(|| event["logentry"]["message"].as_str())
        .unwrap_or(&n.title)
        .to_owned();
    let mut event = event;
    if let Some(object) = event.as_object_mut() {
        object.insert("id".into(), json!(n.event_id));
        object.insert("event_id".into(), json!(n.event_id));
    }
    json!({
        "id": n.group_id.to_string(),
        "project": n.project_slug,
        "project_name": n.project_name,
        "project_slug": n.project_slug,
        "logger": logger,
        "level": n.level,
        "culprit": n.culprit,
        "message": message,
        "url": n.link,
        "triggering_rules": n.rules,
        "event": event,
    })
}

/// A burst's summary in the same keys, without an issue or event.
fn summary_body(s: &Summary) -> Value {
    json!({
        "id": null,
        "project": s.project_slug,
        "project_name": s.project_name,
        "project_slug": s.project_slug,
        "logger": null,
        "level": "warning",
        "culprit": "",
        "message": format!("More than {} alerts fired within a minute; the rest are held back.", s.limit),
        "url": s.link,
        "triggering_rules": [],
        "event": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::tests::notification;

    #[test]
    fn the_legacy_payload_has_sentrys_keys_and_the_event() {
        let mut n = notification();
        n.event = Some(json!({
            "event_id": "0123456789abcdef0123456789abcdef",
            "logger": "checkout",
            "tags": [["level", "error"], ["server_name", "web-1"]],
            "logentry": {"formatted": "payment failed"}
        }));
        let body = body(&Payload::Alert(Box::new(n)));
        assert_eq!(body["id"], "7");
        assert_eq!(body["project"], "web");
        assert_eq!(body["project_name"], "Web");
        assert_eq!(body["logger"], "checkout");
        assert_eq!(body["message"], "payment failed");
        assert_eq!(
            body["triggering_rules"][0],
            "Send a notification for new issues"
        );
        assert_eq!(body["event"]["id"], "0123456789abcdef0123456789abcdef");
        assert_eq!(body["event"]["tags"][1][1], "web-1");
        assert!(body["url"].as_str().unwrap().contains("/issues/7/"));
    }
}
