//! An [`EventReader`] that asks the query service over gRPC.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use faultline_protocol::{EventId, GroupId, ProjectId};
use tonic::transport::{Channel, Endpoint};

use crate::proto::query_service_client::QueryServiceClient;
use crate::proto::*;
use faultline_storage::{EventReader, StoredEvent, TagFilter, TagValueCount};
use faultline_storage::{Result, StorageError};

/// How long one query may take before the caller gets an error instead of
/// a hung page.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct RemoteEventReader {
    client: QueryServiceClient<Channel>,
}

impl RemoteEventReader {
    /// Connects lazily: the query service may start after its callers, and
    /// the channel reconnects by itself when it restarts.
    pub fn connect(url: &str) -> Result<Self> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| StorageError::Unavailable(format!("bad query.url `{url}`: {e}")))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(REQUEST_TIMEOUT);
        let client =
            QueryServiceClient::new(endpoint.connect_lazy()).max_decoding_message_size(64 << 20);
        Ok(RemoteEventReader { client })
    }

    fn client(&self) -> QueryServiceClient<Channel> {
        self.client.clone()
    }
}

fn storage_error(status: tonic::Status) -> StorageError {
    match status.code() {
        tonic::Code::DataLoss => StorageError::Corrupt(status.message().to_owned()),
        tonic::Code::NotFound => StorageError::NotFound,
        _ => StorageError::Unavailable(format!("query service: {}", status.message())),
    }
}

fn decode(json: &[u8]) -> Result<StoredEvent> {
    serde_json::from_slice(json).map_err(|e| StorageError::Corrupt(e.to_string()))
}

#[async_trait]
impl EventReader for RemoteEventReader {
    async fn ping(&self) -> Result<()> {
        self.client()
            .ping(PingRequest {})
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn event(&self, project: ProjectId, event_id: EventId) -> Result<Option<StoredEvent>> {
        let response = self
            .client()
            .get_event(faultline_telemetry::traces::grpc_request(GetEventRequest {
                project_id: project.0,
                event_id: event_id.to_string(),
            }))
            .await
            .map_err(storage_error)?
            .into_inner();
        response.event_json.as_deref().map(decode).transpose()
    }

    async fn group_events(
        &self,
        group: GroupId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<StoredEvent>> {
        let response = self
            .client()
            .group_events(faultline_telemetry::traces::grpc_request(
                GroupEventsRequest {
                    group_id: group.0,
                    offset: offset as u64,
                    limit: limit as u64,
                },
            ))
            .await
            .map_err(storage_error)?
            .into_inner();
        response.events_json.iter().map(|e| decode(e)).collect()
    }

    async fn group_stats(
        &self,
        groups: &[GroupId],
        since: DateTime<Utc>,
        bucket_seconds: i64,
    ) -> Result<Vec<(GroupId, i64, u64)>> {
        let response = self
            .client()
            .group_stats(faultline_telemetry::traces::grpc_request(
                GroupStatsRequest {
                    group_ids: groups.iter().map(|g| g.0).collect(),
                    since_unix_ms: since.timestamp_millis(),
                    bucket_seconds,
                },
            ))
            .await
            .map_err(storage_error)?
            .into_inner();
        Ok(response
            .groups
            .into_iter()
            .flat_map(|g| {
                g.buckets
                    .into_iter()
                    .map(move |b| (GroupId(g.group_id), b.start_unix_seconds, b.count))
            })
            .collect())
    }

    async fn tag_values(&self, group: GroupId, per_key: usize) -> Result<Vec<TagValueCount>> {
        let response = self
            .client()
            .tag_values(faultline_telemetry::traces::grpc_request(
                TagValuesRequest {
                    group_id: group.0,
                    per_key: per_key as u64,
                },
            ))
            .await
            .map_err(storage_error)?
            .into_inner();
        Ok(response
            .values
            .into_iter()
            .map(|v| TagValueCount {
                key: v.key,
                value: v.value,
                count: v.count,
            })
            .collect())
    }

    async fn groups_matching_tags(
        &self,
        projects: &[ProjectId],
        filters: &[TagFilter],
    ) -> Result<Vec<GroupId>> {
        let response = self
            .client()
            .groups_matching_tags(faultline_telemetry::traces::grpc_request(
                GroupsMatchingTagsRequest {
                    project_ids: projects.iter().map(|p| p.0).collect(),
                    filters: filters
                        .iter()
                        .map(|f| crate::proto::TagFilter {
                            key: f.key.clone(),
                            value: f.value.clone(),
                            negated: f.negated,
                        })
                        .collect(),
                },
            ))
            .await
            .map_err(storage_error)?
            .into_inner();
        Ok(response.group_ids.into_iter().map(GroupId).collect())
    }
}
