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

/// `mapped` and every `Unresolved::code`.
const FRAME_OUTCOMES: [&str; 9] = [
    "mapped",
    "not_a_source_frame",
    "missing_debug_id",
    "no_bundle_with_debug_id",
    "url_not_in_release",
    "map_not_in_bundle",
    "no_mapping_at_position",
    "sourcemap_too_large",
    "malformed_sourcemap",
];

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
        for outcome in FRAME_OUTCOMES {
            let _ = METRICS.frames.get_or_create(&vec![("outcome", outcome)]);
        }
        for source in ["cache", "bundle"] {
            let _ = METRICS.maps.get_or_create(&vec![("source", source)]);
        }
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
