//! Event attachments: files SDKs send beside an event (`attachment`
//! items: logs, minidumps, screenshots). Their bytes live in the blob
//! store under [`blob_key`]; the metadata store keeps what describes them.

use chrono::{DateTime, Utc};
use faultline_protocol::{EventId, ProjectId};

/// Where an attachment's bytes are in the blob store: per project and
/// event, by content (so a redelivered item writes the same file).
pub fn blob_key(project: ProjectId, event_id: EventId, sha1: &str) -> String {
    format!("attachments/{}/{event_id}/{sha1}", project.0)
}

/// The longest file name kept (longer ones are cut).
pub const MAX_NAME: usize = 256;

/// The attachment type an item without one has.
pub const DEFAULT_TYPE: &str = "event.attachment";

/// The attachment types Sentry's SDKs send; anything else is kept as
/// [`DEFAULT_TYPE`].
pub const KNOWN_TYPES: &[&str] = &[
    "event.attachment",
    "event.minidump",
    "event.applecrashreport",
    "unreal.context",
    "unreal.logs",
    "event.view_hierarchy",
];

#[derive(Debug, Clone, PartialEq)]
pub struct NewAttachment {
    pub project_id: ProjectId,
    pub event_id: EventId,
    /// The item's `filename`, as the SDK named it (shown, never used as a
    /// path).
    pub name: String,
    /// The item's `attachment_type` (`event.attachment` unless the SDK
    /// says `event.minidump`, `event.view_hierarchy`, …).
    pub attachment_type: String,
    pub content_type: String,
    pub size: u64,
    /// Hex SHA-1 of the bytes (Sentry reports it).
    pub sha1: String,
    pub date_created: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub id: i64,
    pub project_id: ProjectId,
    pub event_id: EventId,
    pub name: String,
    pub attachment_type: String,
    pub content_type: String,
    pub size: u64,
    pub sha1: String,
    pub date_created: DateTime<Utc>,
}

impl Attachment {
    pub fn blob_key(&self) -> String {
        blob_key(self.project_id, self.event_id, &self.sha1)
    }
}
