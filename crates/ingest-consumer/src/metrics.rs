//! ingest-consumer's Prometheus metrics.

use std::sync::{LazyLock, Once};

use faultline_telemetry::prometheus_client::metrics::counter::Counter;
use faultline_telemetry::prometheus_client::metrics::family::Family;

pub type Labels = Vec<(&'static str, &'static str)>;

pub struct IngestMetrics {
    pub events: Family<Labels, Counter>,
    pub grouping: Family<Labels, Counter>,
}

pub static METRICS: LazyLock<IngestMetrics> = LazyLock::new(|| IngestMetrics {
    events: Family::default(),
    grouping: Family::default(),
});

const OUTCOMES: [&str; 5] = ["grouped", "duplicate", "dropped", "feedback", "attachment"];
const GROUPINGS: [&str; 3] = ["new", "existing", "regression"];

pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        faultline_telemetry::register(|r| {
            r.register(
                "ingest_events",
                "Events processed by outcome",
                METRICS.events.clone(),
            );
            r.register(
                "ingest_grouping",
                "Events grouped (duplicates aside), by what their issue was: new, existing, or a regression of a resolved one",
                METRICS.grouping.clone(),
            );
        });
        for outcome in OUTCOMES {
            let _ = METRICS.events.get_or_create(&vec![("outcome", outcome)]);
        }
        for outcome in GROUPINGS {
            let _ = METRICS.grouping.get_or_create(&vec![("outcome", outcome)]);
        }
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

/// Counts one grouped event by what became of its issue.
pub fn grouped(new_group: bool, regression: bool) {
    let outcome = match (new_group, regression) {
        (true, _) => "new",
        (false, true) => "regression",
        (false, false) => "existing",
    };
    METRICS
        .grouping
        .get_or_create(&vec![("outcome", outcome)])
        .inc();
}
