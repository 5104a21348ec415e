//! ingest-consumer: turns queued SDK events into issues.
//!
//! For each batch from `ingest-events`: decode, normalise, group, record in
//! the metadata store (one transaction; idempotent on event id), publish the
//! processed events to `events` and their outcome to `post-process`, and
//! only then commit the batch's offsets. A crash anywhere before the commit
//! replays the batch, and the event-id check makes the replay count nothing
//! twice.

mod metrics;
mod process;

use faultline_storage::{
    Backends, BatchHandler, BatchPolicy, Delivery, StorageError, Topic, consume,
};
use tokio::sync::watch;

pub use process::{PostProcessMessage, process_batch};

/// The consumer group name, as Sentry's.
pub const GROUP: &str = "ingest-consumer";

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Runs until `shutdown` becomes true. Failed batches are retried with
/// back-off and are not committed until they succeed.
pub async fn run(backends: Backends, shutdown: watch::Receiver<bool>) -> Result<(), IngestError> {
    metrics::register();
    let queue = backends.queue.clone();
    let mut handler = Ingest { backends };
    consume(
        queue.as_ref(),
        Topic::IngestEvents,
        GROUP,
        BatchPolicy::default(),
        shutdown,
        &mut handler,
    )
    .await?;
    Ok(())
}

struct Ingest {
    backends: Backends,
}

#[async_trait::async_trait]
impl BatchHandler for Ingest {
    type Error = IngestError;

    async fn handle(&mut self, deliveries: &[Delivery]) -> Result<(), IngestError> {
        process_batch(&self.backends, deliveries).await
    }
}
