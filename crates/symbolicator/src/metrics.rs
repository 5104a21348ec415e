//! The symbolicator's Prometheus metrics: frames by outcome (`mapped`, or
//! the reason they were not), and how maps were found in the cache.

use std::sync::{LazyLock, Once};

use faultline_telemetry::prometheus_client::metrics::counter::Counter;
use faultline_telemetry::prometheus_client::metrics::family::Family;

type Labels = Vec<(&'static str, &'static str)>;

struct Metrics {
    frames: Family<Labels, Counter>,
    maps: Family<Labels, Counter>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    frames: Family::default(),
    maps: Family::default(),
});

pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        faultline_telemetry::register(|r| {
            r.register(
                "symbolicator_frames",
                "JavaScript frames looked at, by outcome (mapped, or why not)",
                METRICS.frames.clone(),
            );
            r.register(
                "symbolicator_map_loads",
                "Source map lookups by where the map came from (cache or bundle)",
                METRICS.maps.clone(),
            );
        });
    });
}

pub fn frame(outcome: &'static str) {
    METRICS
        .frames
        .get_or_create(&vec![("outcome", outcome)])
        .inc();
}

pub fn map_load(source: &'static str) {
    METRICS.maps.get_or_create(&vec![("source", source)]).inc();
}
