//! proto/symbolicator.proto, both ends: [`service`] serves any
//! [`Symbolicate`] over gRPC (what `faultline run symbolicator` mounts on
//! port 3021), and [`RemoteSymbolicator`] is a `Symbolicate` that asks
//! that service (what the ingest-consumer uses in the production
//! topology).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use faultline_protocol::{Event, ProjectId};
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};
use tracing::Instrument as _;

use crate::{Symbolicate, SymbolicateError};

/// The code generated from proto/symbolicator.proto.
#[allow(clippy::all, missing_docs)]
pub mod proto {
    tonic::include_proto!("faultline.symbolicator.v1");
}

use proto::symbolicator_service_client::SymbolicatorServiceClient;
use proto::symbolicator_service_server::{SymbolicatorService, SymbolicatorServiceServer};
use proto::{PingRequest, PingResponse, SymbolicateRequest, SymbolicateResponse};

/// Events are JSON of up to a few MB (relay's limit is 1 MiB before
/// normalisation; mapped frames gain context lines).
const MAX_MESSAGE: usize = 16 << 20;
/// A cold map of tens of MB parses in seconds; more means it is stuck.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Readiness of the symbolicator's stores, for `Ping`.
#[async_trait]
pub trait Ready: Send + Sync {
    async fn ready(&self) -> Result<(), SymbolicateError>;
}

pub struct Server {
    symbolicator: Arc<dyn Symbolicate>,
    ready: Arc<dyn Ready>,
}

/// A tonic service answering proto/symbolicator.proto with `symbolicator`.
pub fn service(
    symbolicator: Arc<dyn Symbolicate>,
    ready: Arc<dyn Ready>,
) -> SymbolicatorServiceServer<Server> {
    faultline_telemetry::grpc::register_grpc("symbolicator", &["Ping", "Symbolicate"]);
    SymbolicatorServiceServer::new(Server {
        symbolicator,
        ready,
    })
    .max_decoding_message_size(MAX_MESSAGE)
    .max_encoding_message_size(MAX_MESSAGE)
}

fn status(e: SymbolicateError) -> Status {
    match e {
        SymbolicateError::Unavailable(m) => Status::unavailable(m),
        SymbolicateError::Invalid(m) => Status::invalid_argument(m),
    }
}

#[tonic::async_trait]
impl SymbolicatorService for Server {
    async fn ping(&self, _: Request<PingRequest>) -> Result<Response<PingResponse>, Status> {
        faultline_telemetry::grpc::observed("symbolicator", "Ping", async move {
            self.ready.ready().await.map_err(status)?;
            Ok(Response::new(PingResponse {}))
        })
        .await
    }

    async fn symbolicate(
        &self,
        request: Request<SymbolicateRequest>,
    ) -> Result<Response<SymbolicateResponse>, Status> {
        faultline_telemetry::grpc::observed("symbolicator", "Symbolicate", async move {
            let span = if faultline_telemetry::traces::enabled() {
                let span = tracing::info_span!(
                    "symbolicator.symbolicate",
                    otel.kind = "server",
                    project.id = request.get_ref().project_id,
                );
                faultline_telemetry::traces::continue_grpc_trace(&span, &request);
                span
            } else {
                tracing::Span::none()
            };
            let request = request.into_inner();
            let event: Event = serde_json::from_slice(&request.event)
                .map_err(|e| Status::invalid_argument(format!("not an event: {e}")))?;
            let event = self
                .symbolicator
                .symbolicate(ProjectId(request.project_id), event)
                .instrument(span)
                .await
                .map_err(status)?;
            let event = serde_json::to_vec(&event).map_err(|e| Status::internal(e.to_string()))?;
            Ok(Response::new(SymbolicateResponse { event }))
        })
        .await
    }
}

/// A [`Symbolicate`] that asks the symbolicator service at `symbolicator.url`.
#[derive(Clone)]
pub struct RemoteSymbolicator {
    client: SymbolicatorServiceClient<Channel>,
}

impl RemoteSymbolicator {
    /// Connects lazily: the symbolicator may start after the consumer, and
    /// the channel reconnects by itself when it restarts.
    pub fn connect(url: &str) -> Result<Self, SymbolicateError> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| SymbolicateError::Invalid(format!("bad symbolicator.url `{url}`: {e}")))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(REQUEST_TIMEOUT);
        let client = SymbolicatorServiceClient::new(endpoint.connect_lazy())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        Ok(RemoteSymbolicator { client })
    }

    pub async fn ping(&self) -> Result<(), SymbolicateError> {
        self.client
            .clone()
            .ping(PingRequest {})
            .await
            .map_err(remote_error)?;
        Ok(())
    }
}

fn remote_error(status: Status) -> SymbolicateError {
    match status.code() {
        tonic::Code::InvalidArgument => SymbolicateError::Invalid(status.message().to_owned()),
        _ => SymbolicateError::Unavailable(format!("symbolicator: {}", status.message())),
    }
}

#[async_trait]
impl Symbolicate for RemoteSymbolicator {
    async fn symbolicate(
        &self,
        project: ProjectId,
        event: Event,
    ) -> Result<Event, SymbolicateError> {
        let body =
            serde_json::to_vec(&event).map_err(|e| SymbolicateError::Invalid(e.to_string()))?;
        let response = self
            .client
            .clone()
            .symbolicate(faultline_telemetry::traces::grpc_request(
                SymbolicateRequest {
                    project_id: project.0,
                    event: body,
                },
            ))
            .await
            .map_err(remote_error)?;
        serde_json::from_slice(&response.into_inner().event)
            .map_err(|e| SymbolicateError::Unavailable(format!("symbolicator answered: {e}")))
    }
}
