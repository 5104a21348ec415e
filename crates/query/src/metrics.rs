//! The query service's insert metrics: how many events reached the event
//! store, in how many inserts, how long those took and how many failed
//! (a ClickHouse that refuses writes shows here first).

use std::sync::{LazyLock, Once};
use std::time::Duration;

use faultline_telemetry::prometheus_client::metrics::counter::Counter;
use faultline_telemetry::prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

struct InsertMetrics {
    inserts: Counter,
    rows: Counter,
    errors: Counter,
    seconds: Histogram,
}

static METRICS: LazyLock<InsertMetrics> = LazyLock::new(|| InsertMetrics {
    inserts: Counter::default(),
    rows: Counter::default(),
    errors: Counter::default(),
    // 1 ms to about 16 s.
    seconds: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
});

pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        faultline_telemetry::register(|r| {
            r.register(
                "query_inserts",
                "Batches of events written to the event store",
                METRICS.inserts.clone(),
            );
            r.register(
                "query_inserted_rows",
                "Events written to the event store",
                METRICS.rows.clone(),
            );
            r.register(
                "query_insert_errors",
                "Inserts the event store refused or did not answer (retried)",
                METRICS.errors.clone(),
            );
            r.register(
                "query_insert_duration_seconds",
                "Time one insert into the event store took",
                METRICS.seconds.clone(),
            );
        });
    });
}

pub fn inserted(rows: usize, took: Duration) {
    METRICS.inserts.inc();
    METRICS.rows.inc_by(rows as u64);
    METRICS.seconds.observe(took.as_secs_f64());
}

pub fn insert_failed() {
    METRICS.errors.inc();
}
