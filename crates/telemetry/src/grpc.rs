//! Requests and latencies of the gRPC servers (the query service's event
//! reads, the symbolicator), by method and status code, as the HTTP
//! middleware of `faultline-service` counts HTTP requests.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Instant;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

type Labels = Vec<(&'static str, &'static str)>;

struct GrpcMetrics {
    requests: Family<Labels, Counter>,
    seconds: Family<Labels, Histogram>,
}

static METRICS: LazyLock<GrpcMetrics> = LazyLock::new(|| {
    let metrics = GrpcMetrics {
        requests: Family::default(),
        // 0.5 ms to about 8 s.
        seconds: Family::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 15))
        }),
    };
    crate::register(|r| {
        r.register(
            "grpc_requests",
            "gRPC requests answered, by service, method and status code",
            metrics.requests.clone(),
        );
        r.register(
            "grpc_request_duration_seconds",
            "Time a gRPC request took to answer, by service and method",
            metrics.seconds.clone(),
        );
    });
    metrics
});

/// Registers `service`'s `methods` at 0 (answered `OK`), so a quiet
/// server's rates are 0 rather than absent.
pub fn register_grpc(service: &'static str, methods: &[&'static str]) {
    for method in methods {
        let _ = METRICS.requests.get_or_create(&vec![
            ("service", service),
            ("method", method),
            ("code", "OK"),
        ]);
    }
}

/// Runs one request's `work`, counting and timing it.
pub async fn observed<T>(
    service: &'static str,
    method: &'static str,
    work: impl Future<Output = Result<T, tonic::Status>>,
) -> Result<T, tonic::Status> {
    let started = Instant::now();
    let result = work.await;
    let code = match &result {
        Ok(_) => "OK",
        Err(status) => code_name(status.code()),
    };
    METRICS
        .requests
        .get_or_create(&vec![
            ("service", service),
            ("method", method),
            ("code", code),
        ])
        .inc();
    METRICS
        .seconds
        .get_or_create(&vec![("service", service), ("method", method)])
        .observe(started.elapsed().as_secs_f64());
    result
}

/// gRPC's names for its codes (`NOT_FOUND`), bounded labels.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}
