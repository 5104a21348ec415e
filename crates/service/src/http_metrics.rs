//! Requests and latencies of every HTTP server, by route: the pattern
//! the request matched (`/api/{project_id}/envelope/`), so made-up paths
//! all count as `unmatched` and the label set stays bounded.

use std::sync::{LazyLock, Once};
use std::time::Duration;

use actix_web::http::Method;
use faultline_telemetry::prometheus_client::metrics::counter::Counter;
use faultline_telemetry::prometheus_client::metrics::family::Family;
use faultline_telemetry::prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

type Labels = Vec<(&'static str, String)>;

struct HttpMetrics {
    requests: Family<Labels, Counter>,
    duration: Family<Labels, Histogram>,
}

static METRICS: LazyLock<HttpMetrics> = LazyLock::new(|| HttpMetrics {
    requests: Family::default(),
    // 0.5 ms to about 4 s.
    duration: Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.0005, 2.0, 14))),
});

/// Registers the families (once per process), so that they are on
/// `/metrics` from the start.
pub(crate) fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        faultline_telemetry::register(|r| {
            r.register(
                "http_requests",
                "HTTP requests answered, by route pattern, method and status code",
                METRICS.requests.clone(),
            );
            r.register(
                "http_request_duration_seconds",
                "Time from a request's arrival to its response, by route pattern",
                METRICS.duration.clone(),
            );
        });
    });
}

pub(crate) fn observe(route: Option<&str>, method: &Method, status: u16, elapsed: Duration) {
    let route = route.unwrap_or("unmatched").to_owned();
    // Only the methods the services route; anything else is one label.
    let method = match *method {
        Method::GET
        | Method::POST
        | Method::PUT
        | Method::DELETE
        | Method::OPTIONS
        | Method::HEAD
        | Method::PATCH => method.as_str().to_owned(),
        _ => "other".to_owned(),
    };
    METRICS
        .requests
        .get_or_create(&vec![
            ("route", route.clone()),
            ("method", method),
            ("status", status.to_string()),
        ])
        .inc();
    METRICS
        .duration
        .get_or_create(&vec![("route", route)])
        .observe(elapsed.as_secs_f64());
}
