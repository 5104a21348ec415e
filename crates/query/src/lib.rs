//! query: the Snuba-like service. Consumes `events` in batches into the event
//! store, which then answers event queries (by id, by issue, by tag). In the
//! devserver the web service calls the event store directly; in the
//! production topology the same queries go over gRPC (proto/query.proto,
//! [`serve_grpc`]).

use faultline_storage::{
    Backends, BatchHandler, BatchPolicy, Delivery, EventRecord, StorageError, Topic, consume,
};
use std::sync::Arc;
use std::time::Duration;

use faultline_storage::EventStore;
use tokio::sync::watch;

pub const GROUP: &str = "query-consumer";

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("cannot listen for gRPC: {0}")]
    Listen(std::io::Error),
    #[error("gRPC server failed: {0}")]
    Grpc(String),
}

/// Consumes `events` into the event store until `shutdown` becomes true.
pub async fn run(backends: Backends, shutdown: watch::Receiver<bool>) -> Result<(), QueryError> {
    let mut handler = Store {
        backends: backends.clone(),
    };
    consume(
        backends.queue.as_ref(),
        Topic::Events,
        GROUP,
        // Column stores like few large inserts: under load, wait a little
        // for a full batch.
        BatchPolicy {
            max: 5000,
            min: 1000,
            linger: Duration::from_millis(100),
        },
        shutdown,
        &mut handler,
    )
    .await?;
    Ok(())
}

/// Answers event queries over gRPC on `listener` until `shutdown`.
pub async fn serve_grpc(
    events: Arc<dyn EventStore>,
    listener: std::net::TcpListener,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), QueryError> {
    listener.set_nonblocking(true).map_err(QueryError::Listen)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(QueryError::Listen)?;
    tracing::info!(addr = ?listener.local_addr().ok(), "gRPC listening");
    tonic::transport::Server::builder()
        .add_service(faultline_storage::grpc::server::service(events))
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            async move {
                while !*shutdown.borrow() {
                    if shutdown.changed().await.is_err() {
                        break;
                    }
                }
            },
        )
        .await
        .map_err(|e| QueryError::Grpc(e.to_string()))
}

struct Store {
    backends: Backends,
}

#[async_trait::async_trait]
impl BatchHandler for Store {
    type Error = StorageError;

    async fn handle(&mut self, deliveries: &[Delivery]) -> Result<(), StorageError> {
        self.backends
            .events
            .insert_events(&records(deliveries))
            .await
    }
}

/// The batch's events; an undecodable message is logged and skipped (the
/// ingest-consumer wrote it, so this means corruption, not bad input).
fn records(deliveries: &[Delivery]) -> Vec<EventRecord> {
    deliveries
        .iter()
        .filter_map(|d| match EventRecord::from_json(d.payload.clone()) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(error = %e, offset = d.offset, "dropping undecodable processed event");
                None
            }
        })
        .collect()
}
