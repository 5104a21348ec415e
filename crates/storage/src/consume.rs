//! The loop every consumer service runs: poll a batch, process it until it
//! succeeds, commit it. Processing failures are retried with back-off and
//! the batch stays uncommitted meanwhile, so nothing is skipped
//! (at-least-once); consumers make reprocessing harmless (idempotence).

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::Result;
use crate::metrics::GroupMetrics;
use crate::queue::{Delivery, EventQueue, Topic, poll_batch};

/// How a consumer batches its reads.
#[derive(Debug, Clone, Copy)]
pub struct BatchPolicy {
    pub max: usize,
    /// Under load, wait up to `linger` for at least this many messages:
    /// fewer, larger transactions for a few milliseconds of latency.
    pub min: usize,
    pub linger: Duration,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        BatchPolicy {
            max: 1000,
            min: 200,
            linger: Duration::from_millis(20),
        }
    }
}

/// What a consumer does with each batch. Must be safe to repeat: a batch
/// is handed over again after a failure or a crash before its commit.
#[async_trait]
pub trait BatchHandler: Send {
    type Error: std::fmt::Display + Send;
    async fn handle(&mut self, deliveries: &[Delivery]) -> std::result::Result<(), Self::Error>;
}

const IDLE_WAIT: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

async fn report_lag(consumer: &mut dyn crate::queue::QueueConsumer, metrics: &GroupMetrics) {
    match consumer.lag().await {
        Ok(Some(lag)) => metrics.lag(lag),
        Ok(None) => {}
        Err(e) => tracing::debug!(error = %e, "cannot read the consumer's lag"),
    }
}

/// Consumes `topic` as a member of `group` until `shutdown` becomes true.
pub async fn consume(
    queue: &dyn EventQueue,
    topic: Topic,
    group: &str,
    policy: BatchPolicy,
    mut shutdown: watch::Receiver<bool>,
    handler: &mut impl BatchHandler,
) -> Result<()> {
    let mut consumer = queue.subscribe(topic, group).await?;
    let metrics = GroupMetrics::new(topic, group);
    report_lag(consumer.as_mut(), &metrics).await;
    let mut lag_read = std::time::Instant::now();
    tracing::info!(topic = topic.name(), group, "consumer started");
    while !*shutdown.borrow() {
        let polled = tokio::select! {
            polled = poll_batch(consumer.as_mut(), policy.max, IDLE_WAIT, policy.min, policy.linger) => polled,
            _ = shutdown.changed() => break,
        };
        // A queue that cannot be read now (brokers away) is waited for,
        // not given up on: the service stays up and resumes by itself.
        let deliveries = match polled {
            Ok(deliveries) => deliveries,
            Err(e) => {
                tracing::error!(error = %e, topic = topic.name(), group, "polling failed; will retry");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => break,
                }
                continue;
            }
        };
        // Once a second is current enough for a scrape every 15.
        if lag_read.elapsed() >= Duration::from_secs(1) {
            report_lag(consumer.as_mut(), &metrics).await;
            lag_read = std::time::Instant::now();
        }
        if deliveries.is_empty() {
            continue;
        }
        let started = std::time::Instant::now();
        let mut backoff = Duration::from_millis(100);
        while let Err(e) = handler.handle(&deliveries).await {
            metrics.batch_failed();
            // A stuck batch is when the lag matters most: keep it current.
            report_lag(consumer.as_mut(), &metrics).await;
            tracing::error!(error = %e, topic = topic.name(), group, retry_in = ?backoff, "batch failed; will retry");
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => return Ok(()),
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        consumer.commit(&deliveries).await?;
        metrics.batch_done(deliveries.len(), started.elapsed());
    }
    tracing::info!(topic = topic.name(), group, "consumer stopped");
    Ok(())
}
