//! query: the Snuba-like service. Consumes `events` in batches into the event
//! store, which then answers event queries (by id, by issue, by tag). In the
//! devserver the web service calls the event store directly; in the
//! production topology the same queries go over gRPC (proto/query.proto).

use std::time::Duration;

use faultline_storage::{Backends, EventRecord, StorageError, Topic, poll_batch};
use tokio::sync::watch;

pub const GROUP: &str = "query-consumer";
const BATCH: usize = 1000;
/// Under load, wait this long for at least `MIN_BATCH` messages: fewer,
/// larger transactions for a few milliseconds of latency.
const MIN_BATCH: usize = 200;
const LINGER: Duration = Duration::from_millis(20);

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Consumes `events` until `shutdown` becomes true.
pub async fn run(
    backends: Backends,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), QueryError> {
    let mut consumer = backends.queue.subscribe(Topic::Events, GROUP).await?;
    tracing::info!("query consumer started");
    while !*shutdown.borrow() {
        let deliveries = tokio::select! {
            polled = poll_batch(consumer.as_mut(), BATCH, Duration::from_millis(500), MIN_BATCH, LINGER) => polled?,
            _ = shutdown.changed() => break,
        };
        if deliveries.is_empty() {
            continue;
        }
        let events: Vec<EventRecord> = deliveries
            .iter()
            .filter_map(|d| match EventRecord::from_json(d.payload.clone()) {
                Ok(e) => Some(e),
                Err(e) => {
                    tracing::warn!(error = %e, offset = d.offset, "dropping undecodable processed event");
                    None
                }
            })
            .collect();
        let mut backoff = Duration::from_millis(100);
        while let Err(e) = backends.events.insert_events(&events).await {
            tracing::error!(error = %e, retry_in = ?backoff, "event store write failed; will retry");
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => return Ok(()),
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
        consumer.commit(&deliveries).await?;
    }
    tracing::info!("query consumer stopped");
    Ok(())
}
