//! `ingest-feedback`: what people wrote about errors becomes user reports.
//! `user_report` items (older SDKs, the crash-report page) name their
//! event; `feedback` items (`captureFeedback`, the feedback widget) are
//! events whose `contexts.feedback` holds the message and, when the user
//! was looking at an error, its `associated_event_id`.

use faultline_protocol::{EventId, IngestHeader, IngestMessage};
use faultline_storage::{Delivery, NewUserReport};
use serde_json::Value;

use crate::metrics::count;
use crate::{IngestError, Stores};

pub async fn process_batch(stores: &Stores, deliveries: &[Delivery]) -> Result<(), IngestError> {
    let mut reports = Vec::with_capacity(deliveries.len());
    let mut dropped = 0;
    for delivery in deliveries {
        match report(&delivery.payload) {
            Some(report) => reports.push(report.capped()),
            None => dropped += 1,
        }
    }
    count("dropped", dropped);
    stores.meta.record_user_reports(&reports).await?;
    count("feedback", reports.len() as u64);
    Ok(())
}

/// The report a message holds; `None` (logged) for one that holds none:
/// relay checked it is a JSON object, so this means no comments at all.
fn report(payload: &bytes::Bytes) -> Option<NewUserReport> {
    let message = match IngestMessage::decode(payload.clone()) {
        Ok(message) => message,
        Err(e) => {
            tracing::warn!(error = %e, "dropping undecodable feedback message");
            return None;
        }
    };
    let body: Value = serde_json::from_slice(&message.payload).ok()?;
    let header = &message.header;
    let report = match header.item_type.as_str() {
        "user_report" => user_report(header, &body),
        "feedback" => feedback(header, &body),
        other => {
            tracing::warn!(
                item_type = other,
                "dropping a feedback message of another item type"
            );
            None
        }
    };
    if report.is_none() {
        tracing::warn!(event_id = %header.event_id, "dropping feedback without comments");
    }
    report
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn event_id(value: &Value, key: &str) -> Option<EventId> {
    value.get(key)?.as_str()?.parse().ok()
}

/// `{"event_id", "name", "email", "comments"}`.
fn user_report(header: &IngestHeader, body: &Value) -> Option<NewUserReport> {
    let comments = text(body, "comments");
    if comments.trim().is_empty() {
        return None;
    }
    Some(NewUserReport {
        project_id: header.project_id,
        event_id: event_id(body, "event_id").unwrap_or(header.event_id),
        name: text(body, "name"),
        email: text(body, "email"),
        comments,
        url: None,
        date_created: header.received,
    })
}

/// An event with `contexts.feedback` {`message`, `contact_email`, `name`,
/// `url`, `associated_event_id`}; the user's name and email fall back to
/// the event's `user`.
fn feedback(header: &IngestHeader, body: &Value) -> Option<NewUserReport> {
    let context = body.get("contexts")?.get("feedback")?;
    let comments = text(context, "message");
    if comments.trim().is_empty() {
        return None;
    }
    let user = body.get("user").cloned().unwrap_or(Value::Null);
    let or_user = |own: String, key: &str| {
        if own.is_empty() {
            text(&user, key)
        } else {
            own
        }
    };
    let url = text(context, "url");
    Some(NewUserReport {
        project_id: header.project_id,
        event_id: event_id(context, "associated_event_id").unwrap_or(header.event_id),
        name: or_user(text(context, "name"), "name"),
        email: or_user(text(context, "contact_email"), "email"),
        comments,
        url: (!url.is_empty()).then_some(url),
        date_created: header.received,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use faultline_protocol::ProjectId;
    use serde_json::json;

    fn header(item_type: &str) -> IngestHeader {
        IngestHeader {
            project_id: ProjectId(7),
            event_id: EventId::new_random(),
            item_type: item_type.into(),
            received: Utc::now(),
            remote_addr: None,
            filename: None,
            content_type: None,
            attachment_type: None,
            chunk: None,
        }
    }

    #[test]
    fn a_user_report_names_its_event() {
        let about = EventId::new_random();
        let report = user_report(
            &header("user_report"),
            &json!({"event_id": about.to_string(), "name": "Jane", "email": "j@x.io", "comments": "Broke."}),
        )
        .unwrap();
        assert_eq!(
            (report.event_id, report.comments.as_str()),
            (about, "Broke.")
        );
        assert!(
            user_report(
                &header("user_report"),
                &json!({"event_id": about.to_string()})
            )
            .is_none()
        );
    }

    #[test]
    fn feedback_is_about_its_associated_event_or_itself() {
        let about = EventId::new_random();
        let own = header("feedback");
        let with = feedback(
            &own,
            &json!({"contexts": {"feedback": {"message": "Export does nothing.", "contact_email": "jane@example.com",
                "name": "Jane Doe", "url": "https://shop.example.com/admin", "associated_event_id": about.to_string()}}}),
        )
        .unwrap();
        assert_eq!(with.event_id, about);
        assert_eq!(with.url.as_deref(), Some("https://shop.example.com/admin"));
        let without = feedback(
            &own,
            &json!({"contexts": {"feedback": {"message": "Hi"}}, "user": {"email": "u@x.io", "name": "U"}}),
        )
        .unwrap();
        assert_eq!(
            (
                without.event_id,
                without.email.as_str(),
                without.name.as_str()
            ),
            (own.event_id, "u@x.io", "U")
        );
    }
}
