//! The queue on Kafka (any broker speaking its protocol), the production
//! backend of [`EventQueue`].
//!
//! Producers use acks=all with idempotence, so a publish returns only when
//! the in-sync replicas have the messages, and a retry cannot duplicate
//! them. Messages are keyed by project id, so one project's messages share
//! a partition and stay in order. Consumers join a group, never commit on
//! their own (`enable.auto.commit=false`) and commit only what
//! [`QueueConsumer::commit`] is given, after the work is durable.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::FutureExt;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers as _, Message as _, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use faultline_storage::{Delivery, EventQueue, Headers, Message, QueueConsumer, Topic};
use faultline_storage::{Result, StorageError};

/// How the queue talks to the brokers; defaults suit one broker.
#[derive(Debug, Clone)]
pub struct KafkaOptions {
    /// `host:port[,host:port…]` (`kafka.brokers`).
    pub brokers: String,
    /// How long a publish may wait for the brokers before it fails, and
    /// relay answers 503 rather than accept what it cannot keep.
    pub delivery_timeout: Duration,
    /// Idempotent producing (`kafka.idempotence`): retries cannot
    /// duplicate a message. On unless the broker mishandles it.
    pub idempotence: bool,
}

impl KafkaOptions {
    pub fn new(brokers: impl Into<String>) -> Self {
        KafkaOptions {
            brokers: brokers.into(),
            delivery_timeout: Duration::from_secs(5),
            idempotence: true,
        }
    }
}

/// How `faultline upgrade` creates the topics.
#[derive(Debug, Clone, Copy)]
pub struct TopicSettings {
    pub partitions: i32,
    pub replication: i32,
    pub retention: Duration,
}

fn kafka_error(e: KafkaError) -> StorageError {
    StorageError::Unavailable(format!("Kafka: {e}"))
}

pub struct KafkaQueue {
    options: KafkaOptions,
    /// Replaced when librdkafka declares it fatally failed (an idempotent
    /// producer can, after deliveries time out while the brokers are away);
    /// a new one starts a new idempotence session.
    producer: std::sync::RwLock<FutureProducer>,
}

fn new_producer(options: &KafkaOptions) -> Result<FutureProducer> {
    ClientConfig::new()
        .set("bootstrap.servers", &options.brokers)
        .set("enable.idempotence", options.idempotence.to_string())
        .set("acks", "all")
        .set("linger.ms", "2")
        .set(
            "message.timeout.ms",
            options.delivery_timeout.as_millis().to_string(),
        )
        .create()
        .map_err(kafka_error)
}

impl KafkaQueue {
    /// Creates the producer and checks a broker answers.
    pub async fn open(options: KafkaOptions) -> Result<Self> {
        let producer = std::sync::RwLock::new(new_producer(&options)?);
        let queue = KafkaQueue { options, producer };
        queue.ping().await?;
        Ok(queue)
    }

    fn replace_producer(&self) -> Result<()> {
        let fresh = new_producer(&self.options)?;
        *self.producer.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    fn producer(&self) -> std::sync::RwLockReadGuard<'_, FutureProducer> {
        self.producer.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates the topics of contracts §4 that do not exist yet; returns the
    /// names it created. Existing topics are left as they are.
    pub async fn create_topics(&self, settings: TopicSettings) -> Result<Vec<&'static str>> {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.options.brokers)
            .create()
            .map_err(kafka_error)?;
        let retention_ms = settings.retention.as_millis().to_string();
        let topics: Vec<NewTopic<'_>> = Topic::ALL
            .iter()
            .map(|t| {
                NewTopic::new(
                    t.name(),
                    settings.partitions,
                    TopicReplication::Fixed(settings.replication),
                )
                .set("retention.ms", &retention_ms)
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = admin
            .create_topics(&topics, &options)
            .await
            .map_err(kafka_error)?;
        let mut created = Vec::new();
        for (result, topic) in results.into_iter().zip(Topic::ALL) {
            match result {
                Ok(_) => created.push(topic.name()),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(StorageError::Unavailable(format!(
                        "Kafka refused to create topic {name}: {code}"
                    )));
                }
            }
        }
        Ok(created)
    }
}

#[async_trait]
impl EventQueue for KafkaQueue {
    async fn publish(&self, topic: Topic, messages: Vec<Message>) -> Result<()> {
        let producer = self.producer().clone();
        let keys: Vec<String> = messages.iter().map(|m| m.key.to_string()).collect();
        let deliveries = messages.iter().zip(&keys).map(|(message, key)| {
            let mut record = FutureRecord::to(topic.name())
                .key(key.as_bytes())
                .payload(&message.payload[..]);
            if let Some(headers) = kafka_headers(&message.headers) {
                record = record.headers(headers);
            }
            producer.send(record, self.options.delivery_timeout)
        });
        let mut failure = None;
        for delivered in futures_util::future::join_all(deliveries).await {
            if let Err((e, _)) = delivered {
                failure.get_or_insert(e);
            }
        }
        match failure {
            None => {
                faultline_storage::metrics::produced(topic, messages.len());
                Ok(())
            }
            Some(e) => {
                // Local errors (timeouts, a full queue) pass with the
                // outage. A fatally failed producer, or a broker refusing
                // this producer's session (one restarted without its
                // idempotence state answers every produce with an error),
                // needs a new producer and session.
                let from_broker = e.rdkafka_error_code().is_some_and(|c| (c as i32) > -100);
                if let Some((code, reason)) = producer.client().fatal_error() {
                    tracing::warn!(
                        ?code,
                        reason,
                        "Kafka producer failed fatally; starting a new one"
                    );
                    self.replace_producer()?;
                } else if from_broker {
                    tracing::warn!(error = %e, "the broker refused the producer; starting a new one");
                    self.replace_producer()?;
                }
                Err(kafka_error(e))
            }
        }
    }

    async fn subscribe(&self, topic: Topic, group: &str) -> Result<Box<dyn QueueConsumer>> {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.options.brokers)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            // A consumer killed without leaving hands its partitions on
            // after this long.
            .set("session.timeout.ms", "6000")
            // Also the rebalance timeout: how long a rebalance waits for
            // members to rejoin. Some brokers (tansu) wait that long for a
            // member that was killed, so librdkafka's 5 minutes would stall
            // the group; a batch taking longer than this is handed over
            // (and, being idempotent, handled again).
            .set("max.poll.interval.ms", "30000")
            .create()
            .map_err(kafka_error)?;
        consumer.subscribe(&[topic.name()]).map_err(kafka_error)?;
        Ok(Box::new(KafkaConsumer {
            consumer: Arc::new(consumer),
            topic,
        }))
    }

    async fn ping(&self) -> Result<()> {
        let producer = self.producer().clone();
        tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(None, Duration::from_secs(3))
                .map(|_| ())
        })
        .await
        .map_err(|e| StorageError::Unavailable(e.to_string()))?
        .map_err(kafka_error)
    }
}

struct KafkaConsumer {
    consumer: Arc<StreamConsumer>,
    topic: Topic,
}

fn delivery(message: &rdkafka::message::BorrowedMessage<'_>) -> Delivery {
    let key = message
        .key()
        .and_then(|k| std::str::from_utf8(k).ok())
        .and_then(|k| k.parse().ok())
        .unwrap_or_default();
    let headers = message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .filter_map(|h| {
                    Some((h.key.to_owned(), String::from_utf8(h.value?.to_vec()).ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    Delivery {
        partition: message.partition(),
        offset: message.offset(),
        key,
        payload: Bytes::copy_from_slice(message.payload().unwrap_or_default()),
        headers: Headers(headers),
    }
}

fn kafka_headers(headers: &Headers) -> Option<OwnedHeaders> {
    if headers.is_empty() {
        return None;
    }
    Some(
        headers
            .0
            .iter()
            .fold(OwnedHeaders::new(), |all, (key, value)| {
                all.insert(Header {
                    key,
                    value: Some(value.as_bytes()),
                })
            }),
    )
}

#[async_trait]
impl QueueConsumer for KafkaConsumer {
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        let mut out = Vec::new();
        if max == 0 {
            return Ok(out);
        }
        match tokio::time::timeout(wait, self.consumer.recv()).await {
            Err(_) => return Ok(out),
            // Brokers away, a rebalance: librdkafka reconnects and resumes
            // by itself, so these are reported, not fatal.
            Ok(Err(e)) => {
                tracing::warn!(error = %e, topic = self.topic.name(), "kafka consumer error");
                // Errors queue up while brokers are away; drain them quickly.
                tokio::time::sleep(wait.min(Duration::from_millis(20))).await;
                return Ok(out);
            }
            Ok(Ok(message)) => out.push(delivery(&message)),
        }
        // Then whatever has already arrived, without waiting.
        while out.len() < max {
            match self.consumer.recv().now_or_never() {
                Some(Ok(message)) => out.push(delivery(&message)),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "kafka consumer error");
                    break;
                }
                None => break,
            }
        }
        Ok(out)
    }

    async fn commit(&mut self, deliveries: &[Delivery]) -> Result<()> {
        let mut next: HashMap<i32, i64> = HashMap::new();
        for d in deliveries {
            let offset = next.entry(d.partition).or_insert(0);
            *offset = (*offset).max(d.offset + 1);
        }
        let mut list = TopicPartitionList::new();
        for (partition, offset) in next {
            list.add_partition_offset(self.topic.name(), partition, Offset::Offset(offset))
                .map_err(kafka_error)?;
        }
        let consumer = self.consumer.clone();
        let committed =
            tokio::task::spawn_blocking(move || consumer.commit(&list, CommitMode::Sync))
                .await
                .map_err(|e| StorageError::Unavailable(e.to_string()))?;
        // A failed commit loses nothing: the batch is delivered again (to
        // this consumer or, after a rebalance, to another) and handled
        // idempotently. So it is worth a warning, not stopping the service.
        if let Err(e) = committed {
            tracing::warn!(error = %e, topic = self.topic.name(), "offset commit failed; the batch may be delivered again");
        }
        Ok(())
    }

    async fn lag(&mut self) -> Result<Option<u64>> {
        // The position after the last message handed over is librdkafka's
        // own state; each partition's end is asked of its leader.
        let positions = self.consumer.position().map_err(kafka_error)?;
        let consumer = self.consumer.clone();
        let lag = tokio::task::spawn_blocking(move || {
            let mut lag = None;
            for element in positions.elements() {
                let Offset::Offset(position) = element.offset() else {
                    continue;
                };
                let Ok((_, high)) = consumer.fetch_watermarks(
                    element.topic(),
                    element.partition(),
                    Duration::from_secs(1),
                ) else {
                    continue;
                };
                let behind = u64::try_from(high.saturating_sub(position)).unwrap_or(0);
                lag = Some(lag.unwrap_or(0) + behind);
            }
            lag
        })
        .await
        .map_err(|e| StorageError::Unavailable(e.to_string()))?;
        Ok(lag)
    }
}
