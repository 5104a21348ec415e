//! query: the Snuba-like service. Consumes `events` in batches into the event
//! store, which then answers event queries (by id, by issue, by tag). In the
//! devserver the web service calls the event store directly; in the
//! production topology the same queries go over gRPC (proto/query.proto).

use faultline_storage::{
    Backends, BatchHandler, BatchPolicy, Delivery, EventRecord, StorageError, Topic, consume,
};
use tokio::sync::watch;

pub const GROUP: &str = "query-consumer";

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Storage(#[from] StorageError),
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
        BatchPolicy::default(),
        shutdown,
        &mut handler,
    )
    .await?;
    Ok(())
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
