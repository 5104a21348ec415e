//! relay's Prometheus metrics: what it accepted, by item type, what it
//! refused, by reason, and the sizes of the bodies SDKs send. Every label
//! value is known up front and registered at 0, so a rate over a counter
//! that has not moved yet is 0, not "no data".

use std::sync::{LazyLock, Once};

use faultline_telemetry::prometheus_client::metrics::counter::Counter;
use faultline_telemetry::prometheus_client::metrics::family::Family;
use faultline_telemetry::prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

/// Label pairs; a plain vector keeps the derive macro's crate path out of
/// service crates.
pub type Labels = Vec<(&'static str, &'static str)>;

pub struct RelayMetrics {
    pub accepted_items: Family<Labels, Counter>,
    pub rejected: Family<Labels, Counter>,
    pub body_bytes: Histogram,
    pub latency: Histogram,
    pub duplicates: Counter,
}

pub static METRICS: LazyLock<RelayMetrics> = LazyLock::new(|| RelayMetrics {
    accepted_items: Family::default(),
    rejected: Family::default(),
    // 256 bytes to 64 MiB.
    body_bytes: Histogram::new(exponential_buckets(256.0, 4.0, 10)),
    latency: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
    duplicates: Counter::default(),
});

/// The item types relay queues (`ItemType::as_str`); others are skipped.
pub const ITEM_TYPES: [&str; 10] = [
    "event",
    "transaction",
    "span",
    "attachment",
    "session",
    "sessions",
    "client_report",
    "check_in",
    "feedback",
    "user_report",
];

pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        faultline_telemetry::register(|r| {
            r.register(
                "relay_accepted_items",
                "Envelope items queued, by item type",
                METRICS.accepted_items.clone(),
            );
            r.register(
                "relay_rejected_requests",
                "Ingestion requests refused, by reason",
                METRICS.rejected.clone(),
            );
            r.register(
                "relay_duplicate_events",
                "Events answered again but not queued: the project accepted their id already",
                METRICS.duplicates.clone(),
            );
            r.register(
                "relay_body_size_bytes",
                "Ingestion request bodies as received (before decompression)",
                METRICS.body_bytes.clone(),
            );
            r.register(
                "relay_request_duration_seconds",
                "Time from an ingestion request's arrival to its durable answer (accepted requests)",
                METRICS.latency.clone(),
            );
        });
        for item_type in ITEM_TYPES {
            let _ = METRICS
                .accepted_items
                .get_or_create(&vec![("item_type", item_type)]);
        }
        for reason in crate::RelayError::REASONS {
            let _ = METRICS.rejected.get_or_create(&vec![("reason", reason)]);
        }
    });
}

pub fn accepted(item_type: &str, n: u64) {
    // Only known types are queued; the lookup keeps labels 'static.
    if let Some(item_type) = ITEM_TYPES.iter().find(|t| **t == item_type) {
        METRICS
            .accepted_items
            .get_or_create(&vec![("item_type", *item_type)])
            .inc_by(n);
    }
}

pub fn rejected(reason: &'static str) {
    METRICS
        .rejected
        .get_or_create(&vec![("reason", reason)])
        .inc();
}
