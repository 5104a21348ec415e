//! Serves an [`EventReader`] over gRPC: what the query service mounts.

use std::sync::Arc;

use chrono::DateTime;
use faultline_protocol::{EventId, GroupId, ProjectId};
use tonic::{Request, Response, Status};

use crate::proto::query_service_server::{QueryService, QueryServiceServer};
use crate::proto::*;
use faultline_storage::{EventReader, StoredEvent};
use faultline_storage::{StorageError, TagFilter};

/// The most events one `GroupEvents` call returns, whatever it asks for.
const MAX_PAGE: u64 = 1000;

pub struct EventStoreService {
    store: Arc<dyn EventReader>,
}

/// A tonic service answering proto/query.proto from `store`.
pub fn service(store: Arc<dyn EventReader>) -> QueryServiceServer<EventStoreService> {
    faultline_telemetry::grpc::register_grpc(
        "query",
        &[
            "Ping",
            "GetEvent",
            "GroupEvents",
            "GroupsMatchingTags",
            "GroupStats",
            "TagValues",
        ],
    );
    QueryServiceServer::new(EventStoreService { store })
        // Events are JSON of up to a few MB; a page of them more.
        .max_encoding_message_size(64 << 20)
}

fn status(e: StorageError) -> Status {
    match e {
        StorageError::Corrupt(m) => Status::data_loss(m),
        StorageError::NotFound => Status::not_found("not found"),
        other => Status::unavailable(other.to_string()),
    }
}

/// The stored JSON as it travelled: events are re-encoded only here, once,
/// because the trait hands out decoded events.
fn encode(event: &StoredEvent) -> Result<Vec<u8>, Status> {
    serde_json::to_vec(event).map_err(|e| Status::internal(e.to_string()))
}

#[tonic::async_trait]
impl QueryService for EventStoreService {
    async fn ping(&self, _: Request<PingRequest>) -> Result<Response<PingResponse>, Status> {
        faultline_telemetry::grpc::observed("query", "Ping", async move {
            self.store.ping().await.map_err(status)?;
            Ok(Response::new(PingResponse {}))
        })
        .await
    }

    async fn get_event(
        &self,
        request: Request<GetEventRequest>,
    ) -> Result<Response<GetEventResponse>, Status> {
        faultline_telemetry::grpc::observed("query", "GetEvent", async move {
            let request = request.into_inner();
            let event_id: EventId = request
                .event_id
                .parse()
                .map_err(|_| Status::invalid_argument("event_id is not 32 hex digits"))?;
            let event = self
                .store
                .event(ProjectId(request.project_id), event_id)
                .await
                .map_err(status)?;
            Ok(Response::new(GetEventResponse {
                event_json: event.as_ref().map(encode).transpose()?,
            }))
        })
        .await
    }

    async fn group_events(
        &self,
        request: Request<GroupEventsRequest>,
    ) -> Result<Response<GroupEventsResponse>, Status> {
        faultline_telemetry::grpc::observed("query", "GroupEvents", async move {
            let request = request.into_inner();
            let events = self
                .store
                .group_events(
                    GroupId(request.group_id),
                    usize::try_from(request.offset).unwrap_or(usize::MAX),
                    request.limit.min(MAX_PAGE) as usize,
                )
                .await
                .map_err(status)?;
            Ok(Response::new(GroupEventsResponse {
                events_json: events.iter().map(encode).collect::<Result<_, _>>()?,
            }))
        })
        .await
    }

    async fn groups_matching_tags(
        &self,
        request: Request<GroupsMatchingTagsRequest>,
    ) -> Result<Response<GroupsMatchingTagsResponse>, Status> {
        faultline_telemetry::grpc::observed("query", "GroupsMatchingTags", async move {
            let request = request.into_inner();
            let projects: Vec<ProjectId> = request.project_ids.into_iter().map(ProjectId).collect();
            let filters: Vec<TagFilter> = request
                .filters
                .into_iter()
                .map(|f| TagFilter {
                    key: f.key,
                    value: f.value,
                    negated: f.negated,
                })
                .collect();
            let groups = self
                .store
                .groups_matching_tags(&projects, &filters)
                .await
                .map_err(status)?;
            Ok(Response::new(GroupsMatchingTagsResponse {
                group_ids: groups.into_iter().map(|g| g.0).collect(),
            }))
        })
        .await
    }

    async fn group_stats(
        &self,
        request: Request<GroupStatsRequest>,
    ) -> Result<Response<GroupStatsResponse>, Status> {
        faultline_telemetry::grpc::observed("query", "GroupStats", async move {
            let request = request.into_inner();
            let groups: Vec<GroupId> = request.group_ids.into_iter().map(GroupId).collect();
            let since = DateTime::from_timestamp_millis(request.since_unix_ms)
                .ok_or_else(|| Status::invalid_argument("since_unix_ms is out of range"))?;
            let mut rows = self
                .store
                .group_stats(&groups, since, request.bucket_seconds)
                .await
                .map_err(status)?;
            rows.sort_unstable();
            let mut out: Vec<GroupStat> = Vec::new();
            for (group, start, count) in rows {
                if out.last().is_none_or(|g| g.group_id != group.0) {
                    out.push(GroupStat {
                        group_id: group.0,
                        buckets: Vec::new(),
                    });
                }
                out.last_mut()
                    .expect("pushed above")
                    .buckets
                    .push(StatBucket {
                        start_unix_seconds: start,
                        count,
                    });
            }
            Ok(Response::new(GroupStatsResponse { groups: out }))
        })
        .await
    }

    async fn tag_values(
        &self,
        request: Request<TagValuesRequest>,
    ) -> Result<Response<TagValuesResponse>, Status> {
        faultline_telemetry::grpc::observed("query", "TagValues", async move {
            let request = request.into_inner();
            let values = self
                .store
                .tag_values(
                    GroupId(request.group_id),
                    usize::try_from(request.per_key).unwrap_or(usize::MAX),
                )
                .await
                .map_err(status)?;
            Ok(Response::new(TagValuesResponse {
                values: values
                    .into_iter()
                    .map(|v| TagValueCount {
                        key: v.key,
                        value: v.value,
                        count: v.count,
                    })
                    .collect(),
            }))
        })
        .await
    }
}
