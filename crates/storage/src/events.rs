//! Full events, the Snuba side of Sentry: stored once per (project, event id),
//! read back by id, by issue, and searched by tag.

use async_trait::async_trait;
use faultline_protocol::{EventId, GroupId, ProcessedEvent, ProjectId};

use crate::Result;

pub type StoredEvent = ProcessedEvent;

/// `key:value` from a search; `negated` for `!key:value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    pub key: String,
    pub value: String,
    pub negated: bool,
}

#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    async fn ping(&self) -> Result<()>;

    /// Idempotent: an event id already stored for its project is skipped.
    async fn insert_events(&self, events: &[StoredEvent]) -> Result<()>;

    async fn event(&self, project: ProjectId, event_id: EventId) -> Result<Option<StoredEvent>>;

    /// Newest first.
    async fn group_events(
        &self,
        group: GroupId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<StoredEvent>>;

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
