//! Messages on the topics between services (contracts §4). Every message carries
//! the project id and event id so consumers can be idempotent.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::ids::{EventId, GroupId, ProjectId};

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("message has no header line")]
    MissingHeader,
    #[error("message header is invalid: {0}")]
    InvalidHeader(#[from] serde_json::Error),
}

/// What relay puts on an `ingest-*` topic: the item as the SDK sent it plus
/// what relay learned from the request. The payload is not re-encoded so
/// relay stays cheap.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestHeader {
    pub project_id: ProjectId,
    pub event_id: EventId,
    /// The envelope item type (`event`, `transaction`, `attachment`, …).
    pub item_type: String,
    pub received: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_addr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// An attachment item's `attachment_type` (`event.minidump`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_type: Option<String>,
    /// Which part of an attachment this message holds: relay splits
    /// attachments into [`ATTACHMENT_CHUNK_SIZE`] pieces so that no message
    /// outgrows a Kafka broker's default message size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<Chunk>,
}

/// The bytes of one attachment message at most (Kafka's producers and
/// brokers refuse messages over about 1 MB by default).
pub const ATTACHMENT_CHUNK_SIZE: usize = 768 * 1024;

/// The place of one message among an attachment's: the chunks of one
/// attachment share `id` and go to the same partition, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// Names the attachment among the event's (relay makes it up).
    pub id: String,
    /// 0-based.
    pub index: u32,
    pub count: u32,
    /// The whole attachment's bytes.
    pub size: u64,
}

#[derive(Debug, Clone)]
pub struct IngestMessage {
    pub header: IngestHeader,
    pub payload: Bytes,
}

impl IngestMessage {
    /// One JSON header line, a newline, then the raw payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(&self.header).expect("header serialises: plain data");
        out.reserve(1 + self.payload.len());
        out.push(b'\n');
        out.extend_from_slice(&self.payload);
        out
    }

    pub fn decode(bytes: Bytes) -> Result<Self, MessageError> {
        let newline = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(MessageError::MissingHeader)?;
        let header = serde_json::from_slice(&bytes[..newline])?;
        Ok(IngestMessage {
            header,
            payload: bytes.slice(newline + 1..),
        })
    }
}

/// What the ingest-consumer puts on `events`: the normalised event with the
/// issue it was grouped into.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessedEvent {
    pub project_id: ProjectId,
    pub group_id: GroupId,
    pub title: String,
    pub culprit: String,
    pub event: Event,
}

/// What the ingest-consumer puts on `post-process` for each grouped event,
/// and the notifier reads: the issue, what grouping did to it, and the
/// event the alert rules look at (without its breadcrumbs, extra data and
/// modules, which no rule reads; see [`PostProcessOut`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostProcessMessage {
    #[serde(flatten)]
    pub header: PostProcessHeader,
    /// Absent in messages queued by releases before the notifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
}

/// A `post-process` message without its event: all most messages need
/// read (the notifier reads the event only when a rule is triggered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostProcessHeader {
    pub project_id: ProjectId,
    pub group_id: GroupId,
    pub event_id: EventId,
    pub is_new: bool,
    pub is_regression: bool,
    /// An issue ignored until a time, a count or a number of users came
    /// back (absent in messages queued before snoozes existed).
    #[serde(default)]
    pub is_reappeared: bool,
}

/// A `post-process` message as written, borrowing the event: the
/// ingest-consumer takes the parts no rule reads out of the event before,
/// so nothing is copied.
#[derive(Debug, Serialize)]
pub struct PostProcessOut<'a> {
    #[serde(flatten)]
    pub header: PostProcessHeader,
    pub event: &'a Event,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_message_roundtrip() {
        let msg = IngestMessage {
            header: IngestHeader {
                project_id: ProjectId(3),
                event_id: EventId::new_random(),
                item_type: "event".into(),
                received: Utc::now(),
                remote_addr: Some("127.0.0.1".into()),
                filename: None,
                content_type: None,
                attachment_type: None,
                chunk: None,
            },
            payload: Bytes::from_static(b"{\"a\":\n1}"),
        };
        let back = IngestMessage::decode(Bytes::from(msg.encode())).unwrap();
        assert_eq!(back.header.event_id, msg.header.event_id);
        assert_eq!(back.payload, msg.payload);
        assert!(IngestMessage::decode(Bytes::from_static(b"no newline")).is_err());
    }
}
