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

use std::time::Duration;

use faultline_storage::{Backends, StorageError, Topic, poll_batch};
use tokio::sync::watch;

pub use process::{PostProcessMessage, process_batch};

/// The consumer group name, as Sentry's.
pub const GROUP: &str = "ingest-consumer";
const BATCH: usize = 1000;
/// Under load, wait this long for at least `MIN_BATCH` messages: fewer,
/// larger transactions for a few milliseconds of latency.
const MIN_BATCH: usize = 200;
const LINGER: Duration = Duration::from_millis(20);

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Runs until `shutdown` becomes true. Storage errors are retried with
/// back-off; the batch is not committed until it succeeds.
pub async fn run(
    backends: Backends,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), IngestError> {
    metrics::register();
    let mut consumer = backends.queue.subscribe(Topic::IngestEvents, GROUP).await?;
    tracing::info!("ingest-consumer started");
    while !*shutdown.borrow() {
        let deliveries = tokio::select! {
            polled = poll_batch(consumer.as_mut(), BATCH, Duration::from_millis(500), MIN_BATCH, LINGER) => polled?,
            _ = shutdown.changed() => break,
        };
        if deliveries.is_empty() {
            continue;
        }
        let mut backoff = Duration::from_millis(100);
        loop {
            match process_batch(&backends, &deliveries).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!(error = %e, retry_in = ?backoff, "ingest batch failed; will retry");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => return Ok(()),
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
        consumer.commit(&deliveries).await?;
    }
    tracing::info!("ingest-consumer stopped");
    Ok(())
}
