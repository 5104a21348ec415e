//! One trace per event through a batch: each event's
//! `ingest-consumer.process` span continues the trace relay started (the
//! `traceparent` header of its message) and its context goes on to the
//! `events` and `post-process` messages. A batch is handled together, so
//! every event's spans last the batch's time. Without traces, no spans.

use std::collections::HashMap;

use faultline_protocol::{EventId, ProjectId};
use faultline_storage::{Headers, Message};
use faultline_telemetry::traces;
use tracing::Span;

#[derive(Default)]
pub struct EventSpans(HashMap<EventId, Span>);

impl EventSpans {
    /// A `process` span for each event, continuing its message's trace.
    pub fn open<'a>(events: impl Iterator<Item = (&'a Headers, ProjectId, EventId)>) -> Self {
        if !traces::enabled() {
            return EventSpans::default();
        }
        EventSpans(
            events
                .map(|(headers, project_id, event_id)| {
                    let span = faultline_telemetry::event_span!(
                        "ingest-consumer.process",
                        project_id.0,
                        event_id,
                        headers.traceparent()
                    );
                    (event_id, span)
                })
                .collect(),
        )
    }

    /// The event's `ingest-consumer.group` span, a child of its `process`
    /// one; it ends when dropped.
    pub fn group(&self, project_id: ProjectId, event_id: EventId) -> Span {
        match self.0.get(&event_id) {
            Some(parent) => tracing::info_span!(
                parent: parent,
                "ingest-consumer.group",
                project.id = project_id.0,
                event.id = %event_id,
            ),
            None => Span::none(),
        }
    }

    /// The event's span, to run its work in (a symbolicator call).
    pub fn of(&self, event_id: EventId) -> Span {
        self.0.get(&event_id).cloned().unwrap_or_else(Span::none)
    }

    /// A message for the next topic, carrying the event's trace on.
    pub fn message(&self, event_id: EventId, key: i64, payload: bytes::Bytes) -> Message {
        let traceparent = self.0.get(&event_id).and_then(traces::traceparent);
        Message {
            key,
            payload,
            headers: Headers::traced(traceparent),
        }
    }
}
