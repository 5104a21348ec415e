//! query: the Snuba-like service. Consumes `events` in batches into the event
//! store, which then answers event queries (by id, by issue, by tag). In the
//! devserver the web service calls the event store directly; in the
//! production topology the same queries go over gRPC (proto/query.proto,
//! [`serve_grpc`]).

mod metrics;

use std::sync::Arc;
use std::time::Duration;

use faultline_storage::{
    BatchHandler, BatchPolicy, Delivery, EventQueue, EventReader, EventRecord, EventStore, Probe,
    StorageError, Topic, consume,
};
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

/// The stores the query service uses: it consumes `events` into the event
/// store, which it owns.
#[derive(Clone)]
pub struct Stores {
    pub queue: Arc<dyn EventQueue>,
    pub events: Arc<dyn EventStore>,
}

impl Stores {
    pub fn probes(&self) -> Vec<Probe> {
        vec![
            Probe::Queue(self.queue.clone()),
            Probe::Events(self.events.clone()),
        ]
    }
}

/// The query service as the runner starts it: the consumer, and the gRPC
/// API on `grpc` when it runs alone (in the devserver web reads the event
/// store directly, so there is no listener).
pub fn service(
    stores: Stores,
    grpc: Option<std::net::TcpListener>,
    shutdown: watch::Receiver<bool>,
) -> faultline_service::Service {
    metrics::register();
    let mut service = faultline_service::Service::new("query", stores.probes());
    if let Some(listener) = grpc {
        service = service.with_work(
            "query gRPC server",
            serve_grpc(stores.events.clone(), listener, shutdown.clone()),
        );
    }
    service.with_work("query consumer", run(stores, shutdown))
}

/// Consumes `events` into the event store until `shutdown` becomes true.
pub async fn run(stores: Stores, shutdown: watch::Receiver<bool>) -> Result<(), QueryError> {
    metrics::register();
    let mut handler = Store {
        events: stores.events.clone(),
    };
    consume(
        stores.queue.as_ref(),
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
    events: Arc<dyn EventReader>,
    listener: std::net::TcpListener,
    shutdown: watch::Receiver<bool>,
) -> Result<(), QueryError> {
    listener.set_nonblocking(true).map_err(QueryError::Listen)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(QueryError::Listen)?;
    tracing::info!(addr = ?listener.local_addr().ok(), "gRPC listening");
    tonic::transport::Server::builder()
        .add_service(faultline_storage_grpc::server::service(events))
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            faultline_service::shutdown_requested(shutdown),
        )
        .await
        .map_err(|e| QueryError::Grpc(e.to_string()))
}

struct Store {
    events: Arc<dyn EventStore>,
}

#[async_trait::async_trait]
impl BatchHandler for Store {
    type Error = StorageError;

    async fn handle(&mut self, deliveries: &[Delivery]) -> Result<(), StorageError> {
        let (records, _spans) = records(deliveries);
        let started = std::time::Instant::now();
        match self.events.insert_events(&records).await {
            Ok(()) => {
                metrics::inserted(records.len(), started.elapsed());
                Ok(())
            }
            Err(e) => {
                metrics::insert_failed();
                Err(e)
            }
        }
    }
}

/// A `query.insert` span for the event of `delivery`, continuing its
/// trace (its message's `traceparent`); it ends with the insert. None
/// without traces.
fn insert_span(delivery: &Delivery, record: &EventRecord) -> Option<tracing::Span> {
    faultline_telemetry::traces::enabled().then(|| {
        faultline_telemetry::event_span!(
            "query.insert",
            record.project_id.0,
            record.event_id,
            delivery.headers.traceparent()
        )
    })
}

/// The batch's events; an undecodable message is logged and skipped (the
/// ingest-consumer wrote it, so this means corruption, not bad input).
fn records(deliveries: &[Delivery]) -> (Vec<EventRecord>, Vec<tracing::Span>) {
    let mut spans = Vec::new();
    let records = deliveries
        .iter()
        .filter_map(|d| match EventRecord::from_json(d.payload.clone()) {
            Ok(e) => {
                spans.extend(insert_span(d, &e));
                Some(e)
            }
            Err(e) => {
                tracing::warn!(error = %e, offset = d.offset, "dropping undecodable processed event");
                None
            }
        })
        .collect();
    (records, spans)
}
