//! Full events, the Snuba side of Sentry: stored once per (project, event id),
//! read back by id, by issue, and searched by tag.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use faultline_protocol::{EventId, GroupId, ProcessedEvent, ProjectId};
use serde::Deserialize;

use crate::Result;

pub type StoredEvent = ProcessedEvent;

/// An event ready to store: the fields a store indexes, and the event as
/// the JSON the `events` topic carried, stored as is and never re-encoded.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub project_id: ProjectId,
    pub group_id: GroupId,
    pub event_id: EventId,
    pub timestamp: DateTime<Utc>,
    pub received: DateTime<Utc>,
    pub tags: Vec<(String, String)>,
    /// A serialised [`ProcessedEvent`].
    pub json: Bytes,
}

#[derive(Deserialize)]
struct RecordIndex {
    project_id: ProjectId,
    group_id: GroupId,
    event: EventIndex,
}

#[derive(Deserialize)]
struct EventIndex {
    event_id: EventId,
    timestamp: DateTime<Utc>,
    received: DateTime<Utc>,
    #[serde(default)]
    tags: Vec<(String, String)>,
}

impl EventRecord {
    /// Reads only the indexed fields of a serialised [`ProcessedEvent`];
    /// the rest is skipped without being built.
    pub fn from_json(json: Bytes) -> Result<Self, serde_json::Error> {
        let index: RecordIndex = serde_json::from_slice(&json)?;
        Ok(EventRecord {
            project_id: index.project_id,
            group_id: index.group_id,
            event_id: index.event.event_id,
            timestamp: index.event.timestamp,
            received: index.event.received,
            tags: index.event.tags,
            json,
        })
    }

    pub fn from_event(event: &ProcessedEvent) -> Self {
        EventRecord {
            project_id: event.project_id,
            group_id: event.group_id,
            event_id: event.event.event_id,
            timestamp: event.event.timestamp,
            received: event.event.received,
            tags: event.event.tags.clone(),
            json: Bytes::from(serde_json::to_vec(event).expect("events serialise: plain data")),
        }
    }
}

/// How often one tag value occurred in an issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagValueCount {
    pub key: String,
    pub value: String,
    pub count: u64,
}

/// `key:value` from a search; `negated` for `!key:value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    pub key: String,
    pub value: String,
    pub negated: bool,
}

/// Reading events: what web needs, and what the query service answers
/// over gRPC (a remote reader has nothing else to offer).
#[async_trait]
pub trait EventReader: Send + Sync + 'static {
    async fn ping(&self) -> Result<()>;

    async fn event(&self, project: ProjectId, event_id: EventId) -> Result<Option<StoredEvent>>;

    /// Newest first.
    async fn group_events(
        &self,
        group: GroupId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<StoredEvent>>;

    /// Event counts per issue and time bucket since `since`, as
    /// `(issue, bucket start in unix seconds, count)`; empty buckets are
    /// left out. Buckets are aligned to multiples of `bucket_seconds`.
    async fn group_stats(
        &self,
        groups: &[GroupId],
        since: DateTime<Utc>,
        bucket_seconds: i64,
    ) -> Result<Vec<(GroupId, i64, u64)>>;

    /// The tag values with how many events carried each, most
    /// frequent first, at most `per_key` values per key.
    async fn tag_values(&self, group: GroupId, per_key: usize) -> Result<Vec<TagValueCount>>;

    /// The issues among `projects` that match every filter, a filter being
    /// matched when some event of the issue carries (or, negated, no event
    /// carries) that tag value. As in Sentry's tagstore, different events
    /// may satisfy different filters.
    async fn groups_matching_tags(
        &self,
        projects: &[ProjectId],
        filters: &[TagFilter],
    ) -> Result<Vec<GroupId>>;
}

/// The event store itself: reading plus what only its owners do, the
/// query service (writing) and cron (retention).
#[async_trait]
pub trait EventStore: EventReader {
    /// Idempotent: an event id already stored for its project is skipped.
    async fn insert_events(&self, events: &[EventRecord]) -> Result<()>;

    /// Deletes events older than `cutoff` (and tag values last seen before
    /// it), returning how many events went; then gives the space back.
    async fn delete_before(&self, cutoff: DateTime<Utc>) -> Result<u64>;

    /// Bytes the store's data takes on disk: what `cleanup` reports it gave
    /// back, and what the benchmarks divide by the events kept.
    async fn disk_bytes(&self) -> Result<u64>;
}
