//! OpenTelemetry traces, configured only by the standard `OTEL_*`
//! variables: `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) turns
//! them on, `OTEL_EXPORTER_OTLP_PROTOCOL` picks `http/protobuf` (the
//! default) or `grpc`, `OTEL_SERVICE_NAME` names the service (default
//! `faultline-<service>`), `OTEL_TRACES_SAMPLER[_ARG]` samples (the SDK
//! reads them). Unset, nothing is exported and no per-event span is made.
//!
//! Context crosses processes as a W3C `traceparent`: services put
//! [`traceparent`] of their span into queue message headers and gRPC
//! metadata, and the receiving side starts its span with [`continue_trace`].

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The header (and gRPC metadata key) trace context travels in.
pub const TRACEPARENT: &str = "traceparent";

static ENABLED: AtomicBool = AtomicBool::new(false);
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Whether spans are exported: callers skip per-event spans otherwise.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

#[derive(Debug, thiserror::Error)]
pub enum TraceConfigError {
    #[error(
        "OTEL_EXPORTER_OTLP_PROTOCOL={0} is not supported: use http/protobuf (the default) or grpc"
    )]
    Protocol(String),
    #[error("cannot set up the OTLP exporter: {0}")]
    Exporter(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    HttpProtobuf,
    Grpc,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Traces are wanted: an endpoint is set, and neither `OTEL_SDK_DISABLED`
/// nor `OTEL_TRACES_EXPORTER=none` says otherwise.
fn wanted() -> bool {
    let endpoint =
        env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| env("OTEL_EXPORTER_OTLP_ENDPOINT"));
    let disabled = env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let exporter_none = env("OTEL_TRACES_EXPORTER").is_some_and(|v| v == "none");
    endpoint.is_some() && !disabled && !exporter_none
}

fn protocol() -> Result<Protocol, TraceConfigError> {
    let value =
        env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"));
    match value.as_deref() {
        None | Some("http/protobuf") => Ok(Protocol::HttpProtobuf),
        Some("grpc") => Ok(Protocol::Grpc),
        Some(other) => Err(TraceConfigError::Protocol(other.to_owned())),
    }
}

/// The tracing layer that exports spans, when the variables ask for it.
/// Must be called inside the tokio runtime (the gRPC exporter's channel
/// lives there).
pub(crate) fn layer<S>(
    service: &str,
) -> Result<
    Option<tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>>,
    TraceConfigError,
>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    if !wanted() {
        return Ok(None);
    }
    let exporter = match protocol()? {
        Protocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build(),
        Protocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build(),
    }
    .map_err(|e| TraceConfigError::Exporter(e.to_string()))?;
    let name = env("OTEL_SERVICE_NAME").unwrap_or_else(|| format!("faultline-{service}"));
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(name)
                .build(),
        )
        .build();
    let tracer = provider.tracer("faultline");
    let _ = PROVIDER.set(provider);
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    ENABLED.store(true, Ordering::Relaxed);
    // Only the fields Faultline sets: no source locations, thread names
    // or busy/idle timings on every span.
    Ok(Some(
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false),
    ))
}

/// Sends what is still buffered; call before the process exits.
pub fn flush() {
    if let Some(provider) = PROVIDER.get()
        && let Err(e) = provider.force_flush()
    {
        eprintln!("warning: traces not all exported: {e}");
    }
}

struct Carrier(HashMap<String, String>);

impl Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

impl Extractor for Carrier {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// `span`'s context as a W3C traceparent, to send along; `None` when
/// traces are off or the span is not sampled.
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    if !enabled() {
        return None;
    }
    let mut carrier = Carrier(HashMap::new());
    TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
    carrier.0.remove(TRACEPARENT)
}

/// Makes `span` continue the trace `traceparent` names (from a message
/// header or gRPC metadata); a missing or malformed one starts a new trace.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(traceparent) = traceparent.filter(|_| enabled()) else {
        return;
    };
    // A header from outside is at most a line; anything longer is not one.
    if traceparent.len() > 128 {
        return;
    }
    let carrier = Carrier(HashMap::from([(
        TRACEPARENT.to_owned(),
        traceparent.to_owned(),
    )]));
    let context = TraceContextPropagator::new().extract(&carrier);
    let _ = span.set_parent(context);
}

/// A gRPC request carrying the current span's trace context in its
/// metadata (`traceparent`), so the server's span joins the trace.
pub fn grpc_request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(value) = traceparent(&tracing::Span::current())
        && let Ok(value) = value.parse()
    {
        request.metadata_mut().insert(TRACEPARENT, value);
    }
    request
}

/// Makes `span` continue the trace a gRPC request's metadata names.
pub fn continue_grpc_trace<T>(span: &tracing::Span, request: &tonic::Request<T>) {
    let traceparent = request
        .metadata()
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok());
    continue_trace(span, traceparent);
}

/// The span of one event a consumer took off the queue: named `$name`
/// (its service first: `query.insert`), with `project.id` and `event.id`,
/// continuing the trace `$traceparent` names (the message's header).
/// `Span::none()` without traces.
#[macro_export]
macro_rules! event_span {
    ($name:literal, $project_id:expr, $event_id:expr, $traceparent:expr) => {{
        if $crate::traces::enabled() {
            let span = ::tracing::info_span!(
                parent: None,
                $name,
                otel.kind = "consumer",
                project.id = $project_id,
                event.id = %$event_id,
            );
            $crate::traces::continue_trace(&span, $traceparent);
            span
        } else {
            ::tracing::Span::none()
        }
    }};
}
