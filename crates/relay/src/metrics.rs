//! relay's Prometheus metrics.

use std::sync::{LazyLock, Once};

use faultline_telemetry::prometheus_client::metrics::counter::Counter;
use faultline_telemetry::prometheus_client::metrics::family::Family;
use faultline_telemetry::prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

/// Label pairs; a plain vector keeps the derive macro's crate path out of
/// service crates.
pub type Labels = Vec<(&'static str, String)>;

pub struct RelayMetrics {
    pub requests: Family<Labels, Counter>,
    pub items: Family<Labels, Counter>,
    pub latency: Histogram,
    pub duplicates: Counter,
}

pub static METRICS: LazyLock<RelayMetrics> = LazyLock::new(|| RelayMetrics {
    requests: Family::default(),
    items: Family::default(),
    latency: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
    duplicates: Counter::default(),
});

pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        faultline_telemetry::register(|r| {
            r.register(
                "relay_requests",
                "Ingestion requests by outcome",
                METRICS.requests.clone(),
            );
            r.register(
                "relay_items",
                "Accepted envelope items by type",
                METRICS.items.clone(),
            );
            r.register(
                "relay_duplicate_events",
                "Events answered again but not queued: the project accepted their id already",
                METRICS.duplicates.clone(),
            );
            r.register(
                "relay_request_seconds",
                "Time to a durable answer",
                METRICS.latency.clone(),
            );
        });
    });
}
