//! ingest-consumer's Prometheus metrics.

use std::sync::{LazyLock, Once};

use faultline_telemetry::prometheus_client::metrics::counter::Counter;
use faultline_telemetry::prometheus_client::metrics::family::Family;

pub type Labels = Vec<(&'static str, &'static str)>;

pub struct IngestMetrics {
    pub events: Family<Labels, Counter>,
}

pub static METRICS: LazyLock<IngestMetrics> = LazyLock::new(|| IngestMetrics {
    events: Family::default(),
});

pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        faultline_telemetry::register(|r| {
            r.register(
                "ingest_events",
                "Events processed by outcome",
                METRICS.events.clone(),
            );
        });
    });
}

pub fn count(outcome: &'static str, n: u64) {
    if n > 0 {
        METRICS
            .events
            .get_or_create(&vec![("outcome", outcome)])
            .inc_by(n);
    }
}
