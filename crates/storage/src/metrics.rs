//! The queue's Prometheus metrics, the same for Kafka and the embedded
//! queue: messages published per topic, and for every consumer group what
//! it read, how its batches went and how far behind it is (its lag).

use std::sync::{LazyLock, Once};
use std::time::Duration;

use faultline_telemetry::prometheus_client::metrics::counter::Counter;
use faultline_telemetry::prometheus_client::metrics::family::Family;
use faultline_telemetry::prometheus_client::metrics::gauge::Gauge;
use faultline_telemetry::prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use crate::queue::Topic;

type Labels = Vec<(&'static str, String)>;

struct QueueMetrics {
    produced: Family<Labels, Counter>,
    consumed: Family<Labels, Counter>,
    lag: Family<Labels, Gauge>,
    batch_messages: Family<Labels, Histogram>,
    batch_seconds: Family<Labels, Histogram>,
    batch_failures: Family<Labels, Counter>,
    pool_connections: Family<Labels, Gauge>,
    pool_max: Family<Labels, Gauge>,
}

static METRICS: LazyLock<QueueMetrics> = LazyLock::new(|| QueueMetrics {
    produced: Family::default(),
    consumed: Family::default(),
    lag: Family::default(),
    // 1 to 1,024 messages.
    batch_messages: Family::new_with_constructor(|| {
        Histogram::new(exponential_buckets(1.0, 2.0, 11))
    }),
    // 1 ms to about 16 s.
    batch_seconds: Family::new_with_constructor(|| {
        Histogram::new(exponential_buckets(0.001, 2.0, 15))
    }),
    batch_failures: Family::default(),
    pool_connections: Family::default(),
    pool_max: Family::default(),
});

/// Registers the families, with every topic's publish counter at 0.
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        faultline_telemetry::register(|r| {
            r.register(
                "queue_produced_messages",
                "Messages published, by topic",
                METRICS.produced.clone(),
            );
            r.register(
                "queue_consumed_messages",
                "Messages a consumer group handled and committed, by topic and group",
                METRICS.consumed.clone(),
            );
            r.register(
                "queue_consumer_lag_messages",
                "Messages of the topic the group has not read yet",
                METRICS.lag.clone(),
            );
            r.register(
                "queue_batch_messages",
                "Messages per batch a consumer handled, by topic and group",
                METRICS.batch_messages.clone(),
            );
            r.register(
                "queue_batch_duration_seconds",
                "Time a consumer took to handle a batch (retries included), by topic and group",
                METRICS.batch_seconds.clone(),
            );
            r.register(
                "queue_batch_failures",
                "Batches whose handling failed and was retried, by topic and group",
                METRICS.batch_failures.clone(),
            );
            r.register(
                "db_pool_connections",
                "Connections of a database pool, by pool and state (busy: lent out, idle)",
                METRICS.pool_connections.clone(),
            );
            r.register(
                "db_pool_max_connections",
                "The most connections a database pool opens, by pool",
                METRICS.pool_max.clone(),
            );
        });
        for topic in Topic::ALL {
            let _ = METRICS.produced.get_or_create(&topic_labels(topic));
        }
    });
}

fn topic_labels(topic: Topic) -> Labels {
    vec![("topic", topic.name().to_owned())]
}

fn group_labels(topic: Topic, group: &str) -> Labels {
    vec![
        ("topic", topic.name().to_owned()),
        ("group", group.to_owned()),
    ]
}

/// Called by every queue backend once `n` messages are durably published.
pub fn produced(topic: Topic, n: usize) {
    METRICS
        .produced
        .get_or_create(&topic_labels(topic))
        .inc_by(n as u64);
}

/// One consumer group's metrics, created (at 0) when it subscribes.
pub(crate) struct GroupMetrics {
    consumed: Counter,
    lag: Gauge,
    batch_messages: Histogram,
    batch_seconds: Histogram,
    batch_failures: Counter,
}

impl GroupMetrics {
    pub(crate) fn new(topic: Topic, group: &str) -> Self {
        register();
        let labels = group_labels(topic, group);
        GroupMetrics {
            consumed: METRICS.consumed.get_or_create(&labels).clone(),
            lag: METRICS.lag.get_or_create(&labels).clone(),
            batch_messages: METRICS.batch_messages.get_or_create(&labels).clone(),
            batch_seconds: METRICS.batch_seconds.get_or_create(&labels).clone(),
            batch_failures: METRICS.batch_failures.get_or_create(&labels).clone(),
        }
    }

    pub(crate) fn batch_done(&self, messages: usize, took: Duration) {
        self.consumed.inc_by(messages as u64);
        self.batch_messages.observe(messages as f64);
        self.batch_seconds.observe(took.as_secs_f64());
    }

    pub(crate) fn batch_failed(&self) {
        self.batch_failures.inc();
    }

    pub(crate) fn lag(&self, messages: u64) {
        self.lag.set(i64::try_from(messages).unwrap_or(i64::MAX));
    }
}

/// A database pool's state at one moment.
#[derive(Debug, Clone, Copy)]
pub struct PoolState {
    /// Connections open, lent out or idle.
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

/// Reports the pool `name` (`meta`, `events`, `queue`, `redis`) on every
/// scrape from `state`: saturation is busy connections reaching `max`.
/// The last pool opened under a name is the one reported.
pub fn watch_pool(name: &'static str, state: impl Fn() -> PoolState + Send + Sync + 'static) {
    register();
    faultline_telemetry::on_scrape(format!("db-pool:{name}"), move || {
        let now = state();
        let busy = now.open.saturating_sub(now.idle);
        for (label, value) in [("busy", busy), ("idle", now.idle)] {
            METRICS
                .pool_connections
                .get_or_create(&vec![
                    ("pool", name.to_owned()),
                    ("state", label.to_owned()),
                ])
                .set(i64::from(value));
        }
        METRICS
            .pool_max
            .get_or_create(&vec![("pool", name.to_owned())])
            .set(i64::from(now.max));
    });
}
