//! One test suite for every `EventQueue`: the embedded SQLite queue and
//! Kafka (a real broker; `FAULTLINE_TEST_KAFKA_BROKERS`, which `cargo xtask
//! test` provides by starting one).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use faultline_storage::{Delivery, EventQueue, Headers, Message, QueueConsumer, Topic};
use faultline_storage_kafka::{KafkaOptions, KafkaQueue, TopicSettings};

async fn sqlite() -> (Option<tempfile::TempDir>, Arc<dyn EventQueue>) {
    let dir = tempfile::tempdir().unwrap();
    let queue = faultline_storage_sql::sqlite::SqliteQueue::open(&dir.path().join("queue.sqlite"))
        .await
        .unwrap();
    (Some(dir), Arc::new(queue))
}

async fn kafka() -> (Option<tempfile::TempDir>, Arc<dyn EventQueue>) {
    let brokers = std::env::var("FAULTLINE_TEST_KAFKA_BROKERS")
        .expect("FAULTLINE_TEST_KAFKA_BROKERS is not set: run the tests with `cargo xtask test`");
    let queue = KafkaQueue::open(KafkaOptions::new(brokers)).await.unwrap();
    queue
        .create_topics(TopicSettings {
            partitions: 2,
            replication: 1,
            retention: Duration::from_secs(3600),
        })
        .await
        .unwrap();
    (None, Arc::new(queue))
}

macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(#[tokio::test] async fn $name() { let (_dir, queue) = super::sqlite().await; super::$name(queue).await; })*
        }
        mod kafka_backend {
            $(#[tokio::test] #[ignore = "needs a Kafka broker (tansu): run with cargo xtask test"] async fn $name() { let (_dir, queue) = super::kafka().await; super::$name(queue).await; })*
        }
    };
}

on_every_backend!(
    resumes_from_the_committed_offset_in_order,
    a_consumer_reports_how_far_behind_it_is
);

/// A key no other test (or earlier run on the same broker) uses.
fn unique_key() -> i64 {
    (uuid::Uuid::new_v4().as_u128() as i64).abs()
}

/// Polls until `n` messages with `key` arrived; returns those, in order.
async fn collect(consumer: &mut dyn QueueConsumer, key: i64, n: usize) -> Vec<Delivery> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = Vec::new();
    while got.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} messages arrived",
            got.len()
        );
        let batch = consumer
            .poll(100, Duration::from_millis(500))
            .await
            .unwrap();
        got.extend(batch.into_iter().filter(|d| d.key == key));
    }
    got
}

fn payloads(deliveries: &[Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .map(|d| String::from_utf8(d.payload.to_vec()).unwrap())
        .collect()
}

/// Every other message carries a trace context, the rest no headers.
fn headers_of(payload: &str) -> Headers {
    let n: u32 = payload.rsplit(' ').next().unwrap().parse().unwrap();
    Headers::traced(
        n.is_multiple_of(2)
            .then(|| format!("00-{:032x}-{:016x}-01", n + 1, n + 1)),
    )
}

async fn resumes_from_the_committed_offset_in_order(queue: Arc<dyn EventQueue>) {
    let key = unique_key();
    let group = format!("test-{key}");
    let sent: Vec<String> = (0..30).map(|i| format!("message {i}")).collect();
    for chunk in sent.chunks(10) {
        let messages = chunk
            .iter()
            .map(|p| Message {
                key,
                payload: Bytes::from(p.clone()),
                headers: headers_of(p),
            })
            .collect();
        queue.publish(Topic::Outcomes, messages).await.unwrap();
    }

    let mut first = queue.subscribe(Topic::Outcomes, &group).await.unwrap();
    let got = collect(first.as_mut(), key, 30).await;
    assert_eq!(payloads(&got), sent, "one key's messages arrive in order");
    for delivery in &got {
        let payload = String::from_utf8(delivery.payload.to_vec()).unwrap();
        assert_eq!(
            delivery.headers,
            headers_of(&payload),
            "headers come with their message"
        );
    }
    first.commit(&got[..12]).await.unwrap();
    drop(first);

    // A restarted consumer of the group resumes after the commit: the
    // uncommitted messages come again, the committed ones do not.
    let mut second = queue.subscribe(Topic::Outcomes, &group).await.unwrap();
    let again = collect(second.as_mut(), key, 18).await;
    assert_eq!(payloads(&again), sent[12..]);
}

async fn publish_n(queue: &dyn EventQueue, topic: Topic, key: i64, n: usize) {
    let messages = (0..n)
        .map(|i| Message::new(key, Bytes::from(format!("message {i}"))))
        .collect();
    queue.publish(topic, messages).await.unwrap();
}

async fn a_consumer_reports_how_far_behind_it_is(queue: Arc<dyn EventQueue>) {
    // A topic no other test of this suite publishes to, so the lag is ours.
    let topic = Topic::IngestFeedback;
    let key = unique_key();
    let group = format!("test-{key}");
    publish_n(queue.as_ref(), topic, key, 20).await;
    let mut consumer = queue.subscribe(topic, &group).await.unwrap();
    collect(consumer.as_mut(), key, 20).await;
    // Whatever earlier runs left in the topic, read to the end.
    while !consumer
        .poll(1000, Duration::from_millis(500))
        .await
        .unwrap()
        .is_empty()
    {}
    assert_eq!(consumer.lag().await.unwrap(), Some(0), "caught up");

    publish_n(queue.as_ref(), topic, key, 7).await;
    assert_eq!(
        consumer.lag().await.unwrap(),
        Some(7),
        "seven published since the last poll"
    );
    let got = collect(consumer.as_mut(), key, 7).await;
    assert_eq!(got.len(), 7);
    assert_eq!(consumer.lag().await.unwrap(), Some(0), "caught up again");
}
