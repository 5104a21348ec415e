//! The notifier's Prometheus metrics: alert rules fired, and deliveries by
//! channel (`email` or a plugin's slug) and outcome (`sent`, `retry`,
//! `failed`) with how long each send took.

use std::sync::{LazyLock, Once};
use std::time::Duration;

use faultline_rules::Plugin;
use faultline_telemetry::prometheus_client::metrics::counter::Counter;
use faultline_telemetry::prometheus_client::metrics::family::Family;
use faultline_telemetry::prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

type Labels = Vec<(&'static str, &'static str)>;

struct NotifierMetrics {
    fires: Counter,
    deliveries: Family<Labels, Counter>,
    seconds: Family<Labels, Histogram>,
}

static METRICS: LazyLock<NotifierMetrics> = LazyLock::new(|| NotifierMetrics {
    fires: Counter::default(),
    deliveries: Family::default(),
    // 5 ms to about 80 s (a send times out well before).
    seconds: Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.005, 2.0, 15))),
});

const OUTCOMES: [&str; 3] = ["sent", "retry", "failed"];

fn channels() -> impl Iterator<Item = &'static str> {
    std::iter::once("email").chain(Plugin::ALL.into_iter().map(Plugin::slug))
}

pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        faultline_telemetry::register(|r| {
            r.register(
                "notifier_alert_fires",
                "Alert rule firings recorded (each owes one delivery per action)",
                METRICS.fires.clone(),
            );
            r.register(
                "notifier_deliveries",
                "Notification sends, by channel and outcome (sent, retry: will be tried again, failed: given up)",
                METRICS.deliveries.clone(),
            );
            r.register(
                "notifier_delivery_duration_seconds",
                "Time one notification send took, by channel",
                METRICS.seconds.clone(),
            );
        });
        for channel in channels() {
            for outcome in OUTCOMES {
                let _ = METRICS
                    .deliveries
                    .get_or_create(&vec![("channel", channel), ("outcome", outcome)]);
            }
        }
    });
}

pub fn fired() {
    METRICS.fires.inc();
}

pub fn delivered(channel: &str, outcome: &'static str, took: Duration) {
    // A channel no longer known still counts, under one label.
    let channel = channels().find(|c| *c == channel).unwrap_or("other");
    METRICS
        .deliveries
        .get_or_create(&vec![("channel", channel), ("outcome", outcome)])
        .inc();
    METRICS
        .seconds
        .get_or_create(&vec![("channel", channel)])
        .observe(took.as_secs_f64());
}
