//! Kafka-shaped topics: publish is durable when it returns; consumers in a
//! group read from their committed offset and commit after their work is
//! durable, so a crash replays instead of losing (at-least-once).

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::Result;

/// The topics of contracts §4, named as Sentry names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    IngestEvents,
    IngestAttachments,
    IngestTransactions,
    IngestSessions,
    IngestMonitors,
    IngestFeedback,
    Events,
    Transactions,
    PostProcess,
    Outcomes,
}

impl Topic {
    pub const ALL: [Topic; 10] = [
        Topic::IngestEvents,
        Topic::IngestAttachments,
        Topic::IngestTransactions,
        Topic::IngestSessions,
        Topic::IngestMonitors,
        Topic::IngestFeedback,
        Topic::Events,
        Topic::Transactions,
        Topic::PostProcess,
        Topic::Outcomes,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Topic::IngestEvents => "ingest-events",
            Topic::IngestAttachments => "ingest-attachments",
            Topic::IngestTransactions => "ingest-transactions",
            Topic::IngestSessions => "ingest-sessions",
            Topic::IngestMonitors => "ingest-monitors",
            Topic::IngestFeedback => "ingest-feedback",
            Topic::Events => "events",
            Topic::Transactions => "transactions",
            Topic::PostProcess => "post-process",
            Topic::Outcomes => "outcomes",
        }
    }
}

/// A message to publish. The key (the project id) picks the partition so one
/// project's messages stay ordered.
#[derive(Debug, Clone)]
pub struct Message {
    pub key: i64,
    pub payload: Bytes,
    pub headers: Headers,
}

impl Message {
    pub fn new(key: i64, payload: Bytes) -> Self {
        Message {
            key,
            payload,
            headers: Headers::default(),
        }
    }
}

/// A message as a consumer receives it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub partition: i32,
    pub offset: i64,
    pub key: i64,
    pub payload: Bytes,
    pub headers: Headers,
}

/// A message's headers, as Kafka has them: the trace context travels in
/// `traceparent` (W3C), so one trace follows an event through every
/// consumer. Both queues keep them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

/// The header the W3C trace context travels in.
pub const TRACEPARENT: &str = "traceparent";

impl Headers {
    /// Headers carrying `traceparent`, or none.
    pub fn traced(traceparent: Option<String>) -> Self {
        Headers(
            traceparent
                .map(|value| (TRACEPARENT.to_owned(), value))
                .into_iter()
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn traceparent(&self) -> Option<&str> {
        self.get(TRACEPARENT)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[async_trait]
pub trait EventQueue: Send + Sync + 'static {
    /// Returns once every message is durably stored, in order.
    async fn publish(&self, topic: Topic, messages: Vec<Message>) -> Result<()>;

    /// Joins `group` on `topic`, resuming from the group's committed offsets.
    async fn subscribe(&self, topic: Topic, group: &str) -> Result<Box<dyn QueueConsumer>>;

    /// Checks the backend is reachable (for `/health`).
    async fn ping(&self) -> Result<()>;
}

#[async_trait]
pub trait QueueConsumer: Send {
    /// Up to `max` messages after the last ones returned; waits up to `wait`
    /// for the first one and returns empty if none arrived.
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>>;

    /// Marks everything up to and including these deliveries as done for the
    /// group. Call only after their effects are durable.
    async fn commit(&mut self, deliveries: &[Delivery]) -> Result<()>;

    /// Messages of the topic after the last ones returned (what Kafka
    /// calls the consumer's lag); `None` when the backend cannot tell now.
    async fn lag(&mut self) -> Result<Option<u64>> {
        Ok(None)
    }
}

/// Polls like Kafka's `fetch.min.bytes`/`fetch.wait.max.ms`: when fewer than
/// `min` messages are waiting, lingers up to `linger` for more, so a busy
/// consumer works (and commits, and fsyncs) in batches rather than one
/// message at a time. Returns empty only after `wait` with nothing.
pub async fn poll_batch(
    consumer: &mut dyn QueueConsumer,
    max: usize,
    wait: Duration,
    min: usize,
    linger: Duration,
) -> Result<Vec<Delivery>> {
    let mut batch = consumer.poll(max, wait).await?;
    if batch.is_empty() || batch.len() >= min {
        return Ok(batch);
    }
    let deadline = tokio::time::Instant::now() + linger;
    while batch.len() < min {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if remaining.is_zero() {
            break;
        }
        tokio::time::sleep(remaining.min(Duration::from_millis(5))).await;
        batch.extend(consumer.poll(max - batch.len(), Duration::ZERO).await?);
    }
    Ok(batch)
}
