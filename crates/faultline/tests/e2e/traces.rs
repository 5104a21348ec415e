//! OpenTelemetry traces, as an operator's collector receives them: an
//! OTLP receiver in the test (HTTP/protobuf for the devserver, gRPC for
//! the production topology, decoded with the `opentelemetry-proto` types)
//! gets, for one SDK event, spans from relay, the ingest-consumer and the
//! query service that share one trace id and name the event.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message as _;
use serde_json::json;

use crate::harness::Devserver;

/// One span as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    trace_id: String,
    attributes: HashMap<String, String>,
}

type Spans = Arc<Mutex<Vec<Received>>>;

fn text(value: &Option<AnyValue>) -> String {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn attributes(list: &[KeyValue]) -> HashMap<String, String> {
    list.iter()
        .map(|kv| (kv.key.clone(), text(&kv.value)))
        .collect()
}

fn keep(spans: &Spans, request: ExportTraceServiceRequest) {
    let mut kept = spans.lock().unwrap();
    for resource in request.resource_spans {
        let service = resource
            .resource
            .as_ref()
            .map(|r| attributes(&r.attributes))
            .and_then(|a| a.get("service.name").cloned())
            .unwrap_or_default();
        for scope in resource.scope_spans {
            for span in scope.spans {
                kept.push(Received {
                    service: service.clone(),
                    name: span.name,
                    trace_id: span.trace_id.iter().map(|b| format!("{b:02x}")).collect(),
                    attributes: attributes(&span.attributes),
                });
            }
        }
    }
}

/// An OTLP/HTTP receiver: `POST /v1/traces` with a protobuf body.
fn http_receiver(spans: Spans) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let spans = spans.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                // Keep-alive: requests one after another on the connection.
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut length = 0usize;
                    loop {
                        let mut header = String::new();
                        reader.read_line(&mut header).unwrap();
                        let header = header.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let status = match (
                        line.starts_with("POST /v1/traces "),
                        ExportTraceServiceRequest::decode(&body[..]),
                    ) {
                        (true, Ok(request)) => {
                            keep(&spans, request);
                            "200 OK"
                        }
                        _ => "400 Bad Request",
                    };
                    let reply = ExportTraceServiceResponse::default().encode_to_vec();
                    write!(
                        stream,
                        "HTTP/1.1 {status}\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
                        reply.len()
                    )
                    .unwrap();
                    stream.write_all(&reply).unwrap();
                }
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

struct Collector(Spans);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        keep(&self.0, request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// An OTLP/gRPC receiver (the collector's TraceService).
fn grpc_receiver(spans: Spans) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(Collector(spans)))
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
                .unwrap();
        });
    });
    format!("http://127.0.0.1:{port}")
}

/// Every span of the trace relay started for `event_id`, once it has one
/// span of each step: relay's request, the ingest-consumer's processing
/// and grouping, the query service's insert, and the notifier's
/// evaluation and delivery (the default rule alerts on a new issue).
fn trace_of(spans: &Spans, event_id: &str, within: Duration) -> Vec<Received> {
    let deadline = Instant::now() + within;
    let wanted = [
        "relay.envelope",
        "ingest-consumer.process",
        "ingest-consumer.group",
        "query.insert",
        "notifier.evaluate",
        "notifier.deliver",
    ];
    loop {
        let all = spans.lock().unwrap().clone();
        let root = all.iter().find(|s| {
            s.name == "relay.envelope"
                && s.attributes.get("event.id").map(String::as_str) == Some(event_id)
        });
        if let Some(root) = root {
            let trace: Vec<Received> = all
                .iter()
                .filter(|s| s.trace_id == root.trace_id)
                .cloned()
                .collect();
            if wanted.iter().all(|w| trace.iter().any(|s| s.name == *w)) {
                return trace;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the trace of event {event_id} lacks spans; got {:#?}",
            all.iter()
                .map(|s| (&s.service, &s.name, &s.trace_id, &s.attributes))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn one_trace_follows_an_event_through_every_service(on_stack: bool) {
    let spans: Spans = Arc::default();
    let (endpoint, protocol) = if on_stack {
        (grpc_receiver(spans.clone()), "grpc")
    } else {
        (http_receiver(spans.clone()), "http/protobuf")
    };
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        // Export within a fraction of a second instead of 5 s.
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ];
    let server = if on_stack {
        Devserver::start_stack_with_env("", &env)
    } else {
        Devserver::start_with_env(&env)
    };
    let event_id = server.send_event(&json!({"message": "traced", "level": "error"}));
    server.wait_for_total(1);

    let trace = trace_of(&spans, &event_id, Duration::from_secs(30));
    // Every span naming the event is in that one trace.
    let all = spans.lock().unwrap().clone();
    let elsewhere: Vec<&Received> = all
        .iter()
        .filter(|s| s.attributes.get("event.id") == Some(&event_id))
        .filter(|s| s.trace_id != trace[0].trace_id)
        .collect();
    assert!(
        elsewhere.is_empty(),
        "spans of the event in other traces: {elsewhere:#?}"
    );
    let project = server.project_id.to_string();
    for span in &trace {
        // Span names start with their service, and name the project.
        let service = span.name.split('.').next().unwrap();
        assert!(
            [
                "relay",
                "ingest-consumer",
                "query",
                "symbolicator",
                "notifier"
            ]
            .contains(&service),
            "{span:?}"
        );
        assert_eq!(
            span.attributes.get("project.id"),
            Some(&project),
            "{span:?}"
        );
        let expected = if on_stack {
            format!("faultline-{service}")
        } else {
            "faultline-devserver".to_owned()
        };
        assert_eq!(span.service, expected, "{span:?}");
    }
    for span in trace.iter().filter(|s| s.name != "notifier.deliver") {
        assert_eq!(span.attributes.get("event.id"), Some(&event_id), "{span:?}");
    }
}

#[test]
fn one_trace_follows_an_event_through_the_devserver() {
    one_trace_follows_an_event_through_every_service(false);
}

#[test]
#[ignore = "needs PostgreSQL, ClickHouse, Redis, tansu and nginx: run with cargo xtask test"]
fn one_trace_follows_an_event_through_the_production_topology() {
    one_trace_follows_an_event_through_every_service(true);
}

/// The standard sampler variable is obeyed: `always_off` exports nothing.
#[test]
fn an_always_off_sampler_exports_no_spans() {
    let spans: Spans = Arc::default();
    let endpoint = http_receiver(spans.clone());
    let server = Devserver::start_with_env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_TRACES_SAMPLER", "always_off"),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ]);
    server.send_event(&json!({"message": "not traced"}));
    server.wait_for_total(1);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        spans.lock().unwrap().is_empty(),
        "{:?}",
        spans.lock().unwrap()
    );
}

/// An unsupported protocol is refused at start-up, naming the variable.
#[test]
fn an_unsupported_otlp_protocol_stops_start_up() {
    let out = std::process::Command::new(crate::harness::BIN)
        .args(["devserver", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(tempfile::tempdir().unwrap().path())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL=http/json"),
        "{stderr}"
    );
}

/// `system.internal-dsn`: one Faultline reports its own errors, through
/// the `sentry` crate, to a project of another, as to any Sentry.
#[test]
fn faultline_reports_its_own_errors_to_the_internal_dsn() {
    let watcher = Devserver::start();
    let watched = Devserver::start_with_env(&[("FAULTLINE_SYSTEM_INTERNAL_DSN", &watcher.dsn)]);
    // A new issue on the watched one alerts by email, which it cannot
    // send (no mail.host): an error it logs, and so reports.
    watched.send_event(&json!({"message": "to alert on"}));
    watched.wait_for_total(1);
    let deadline = Instant::now() + Duration::from_secs(30);
    let reported = loop {
        let issues = watcher.issues("");
        if let Some(issue) = issues.iter().find(|i| {
            i["title"]
                .as_str()
                .is_some_and(|t| t.contains("notification failed"))
        }) {
            break issue.clone();
        }
        assert!(
            Instant::now() < deadline,
            "nothing reported; the watcher has {issues:#?}\nwatched log:\n{}",
            watched.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(reported["level"], "error", "{reported:#}");
    // Sent by the official SDK, tagged with the service that failed.
    let id = reported["id"].as_str().unwrap();
    // The event store has it a moment after the issue counts it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let event = loop {
        let (status, event) = watcher.get(&format!("/api/0/issues/{id}/events/latest/"));
        if status == 200 {
            break event;
        }
        assert!(Instant::now() < deadline, "{status} {event}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(event["sdk"]["name"], "sentry.rust", "{event:#}");
    let tags = event["tags"].as_array().unwrap();
    assert!(
        tags.iter()
            .any(|t| t["key"] == "service" && t["value"] == "devserver"),
        "{event:#}"
    );
}
