//! ingest-consumer: turns queued SDK events into issues.
//!
//! For each batch from `ingest-events`: decode, normalise, symbolicate
//! (JavaScript frames, through the symbolicator), group, record in
//! the metadata store (one transaction; idempotent on event id), publish the
//! processed events to `events` and their outcome to `post-process`, and
//! only then commit the batch's offsets. A crash anywhere before the commit
//! replays the batch, and the event-id check makes the replay count nothing
//! twice.

mod attachments;
mod feedback;
mod metrics;
mod process;
mod spans;

use std::sync::Arc;

use faultline_storage::{
    BatchHandler, BatchPolicy, Delivery, EventQueue, MetaStore, Probe, StorageError, Topic, consume,
};
use tokio::sync::watch;

pub use process::process_batch;

/// The consumer group name, as Sentry's.
pub const GROUP: &str = "ingest-consumer";

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The batch waits for the symbolicator rather than grouping minified
    /// frames it would have mapped.
    #[error(transparent)]
    Symbolicator(faultline_symbolicator::SymbolicateError),
    /// Attachments wait for a blob store that cannot be written (a full
    /// disk) rather than being lost.
    #[error("blob store: {0}")]
    Blobs(#[from] std::io::Error),
}

/// The stores the ingest-consumer uses: it consumes and publishes, and
/// records issues in the metadata store.
#[derive(Clone)]
pub struct Stores {
    pub queue: Arc<dyn EventQueue>,
    pub meta: Arc<dyn MetaStore>,
    /// In-process in the devserver, the gRPC service in the stack.
    pub symbolicator: Arc<dyn faultline_symbolicator::Symbolicate>,
    /// Where attachments' bytes go.
    pub blobs: faultline_storage::BlobDir,
}

impl Stores {
    /// What its `/health` checks: both, it needs each for every batch.
    pub fn probes(&self) -> Vec<Probe> {
        vec![
            Probe::Queue(self.queue.clone()),
            Probe::Metadata(self.meta.clone()),
        ]
    }
}

/// The ingest-consumer as the runner starts it, alone or in the devserver.
pub fn service(stores: Stores, shutdown: watch::Receiver<bool>) -> faultline_service::Service {
    faultline_service::Service::new("ingest-consumer", stores.probes())
        .with_work("ingest-consumer", run(stores, shutdown))
}

/// Runs until `shutdown` becomes true. Failed batches are retried with
/// back-off and are not committed until they succeed.
pub async fn run(stores: Stores, shutdown: watch::Receiver<bool>) -> Result<(), IngestError> {
    metrics::register();
    let queue = stores.queue.clone();
    let mut events = Ingest {
        stores: stores.clone(),
    };
    let mut reports = Feedback {
        stores: stores.clone(),
    };
    let mut attachments = Attachments { stores };
    tokio::try_join!(
        consume(
            queue.as_ref(),
            Topic::IngestEvents,
            GROUP,
            BatchPolicy::default(),
            shutdown.clone(),
            &mut events,
        ),
        consume(
            queue.as_ref(),
            Topic::IngestFeedback,
            GROUP,
            BatchPolicy::default(),
            shutdown.clone(),
            &mut reports,
        ),
        consume(
            queue.as_ref(),
            Topic::IngestAttachments,
            GROUP,
            BatchPolicy::default(),
            shutdown,
            &mut attachments,
        ),
    )?;
    Ok(())
}

struct Ingest {
    stores: Stores,
}

#[async_trait::async_trait]
impl BatchHandler for Ingest {
    type Error = IngestError;

    async fn handle(&mut self, deliveries: &[Delivery]) -> Result<(), IngestError> {
        process_batch(&self.stores, deliveries).await
    }
}

/// `ingest-feedback`: user reports.
struct Feedback {
    stores: Stores,
}

#[async_trait::async_trait]
impl BatchHandler for Feedback {
    type Error = IngestError;

    async fn handle(&mut self, deliveries: &[Delivery]) -> Result<(), IngestError> {
        feedback::process_batch(&self.stores, deliveries).await
    }
}

/// `ingest-attachments`: files beside events, into the blob store.
struct Attachments {
    stores: Stores,
}

#[async_trait::async_trait]
impl BatchHandler for Attachments {
    type Error = IngestError;

    async fn handle(&mut self, deliveries: &[Delivery]) -> Result<(), IngestError> {
        attachments::process_batch(&self.stores, deliveries).await
    }
}
