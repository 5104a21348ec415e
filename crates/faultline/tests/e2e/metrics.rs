//! Every service's `/metrics` is valid Prometheus text, as Prometheus and
//! `promtool check metrics` read it, after real traffic.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::json;

use crate::harness::Devserver;

/// `promtool check metrics` on `body`: its complaints, if any.
fn promtool_problems(body: &str) -> Option<String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (apt-get install prometheus; .ci/run does this)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (!out.status.success()).then(|| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The value of the sample `series` (`name{labels}` exactly as written),
/// if the page has it.
pub fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// Every service's page, scraped twice as Prometheus does (the second one
/// counts the first).
fn scrape_all(server: &Devserver) -> Vec<(String, String)> {
    match &server.stack {
        Some(stack) => faultline_testkit::SERVICES
            .iter()
            .map(|service| {
                stack.service_get(service, "/metrics");
                let (status, body) = stack.service_get(service, "/metrics");
                assert_eq!(status, 200, "{service}: {body}");
                (service.to_string(), body)
            })
            .collect(),
        None => {
            server.request("GET", "/metrics", &[], b"");
            let response = server.request("GET", "/metrics", &[], b"");
            assert_eq!(response.status, 200);
            vec![("devserver".into(), response.text())]
        }
    }
}

/// Series each service has from start-up (at 0 until it moves), so that a
/// dashboard's rate() is 0 rather than "no data" on a quiet system.
const AT_START_UP: &[(&str, &str)] = &[
    (
        "relay",
        "faultline_relay_accepted_items_total{item_type=\"event\"}",
    ),
    (
        "relay",
        "faultline_relay_rejected_requests_total{reason=\"rate_limited\"}",
    ),
    ("relay", "faultline_relay_duplicate_events_total"),
    (
        "relay",
        "faultline_queue_produced_messages_total{topic=\"ingest-events\"}",
    ),
    (
        "ingest-consumer",
        "faultline_ingest_grouping_total{outcome=\"regression\"}",
    ),
    (
        "ingest-consumer",
        "faultline_ingest_events_total{outcome=\"dropped\"}",
    ),
    (
        "ingest-consumer",
        "faultline_queue_batch_failures_total{topic=\"ingest-events\",group=\"ingest-consumer\"}",
    ),
    ("query", "faultline_query_insert_errors_total"),
    (
        "notifier",
        "faultline_notifier_deliveries_total{channel=\"email\",outcome=\"failed\"}",
    ),
    ("notifier", "faultline_notifier_alert_fires_total"),
    (
        "symbolicator",
        "faultline_symbolicator_frames_total{outcome=\"mapped\"}",
    ),
    ("cron", "faultline_cron_retention_deleted_events_total"),
];

/// Series that must have moved after one SDK event and one bad envelope.
const AFTER_TRAFFIC: &[(&str, &str)] = &[
    (
        "relay",
        "faultline_relay_accepted_items_total{item_type=\"event\"}",
    ),
    (
        "relay",
        "faultline_relay_rejected_requests_total{reason=\"invalid_envelope\"}",
    ),
    ("relay", "faultline_relay_body_size_bytes_count"),
    ("relay", "faultline_relay_request_duration_seconds_count"),
    (
        "ingest-consumer",
        "faultline_ingest_grouping_total{outcome=\"new\"}",
    ),
    (
        "ingest-consumer",
        "faultline_queue_consumed_messages_total{topic=\"ingest-events\",group=\"ingest-consumer\"}",
    ),
    (
        "ingest-consumer",
        "faultline_queue_batch_messages_count{topic=\"ingest-events\",group=\"ingest-consumer\"}",
    ),
    (
        "ingest-consumer",
        "faultline_queue_produced_messages_total{topic=\"events\"}",
    ),
    ("query", "faultline_query_inserted_rows_total"),
    ("query", "faultline_query_insert_duration_seconds_count"),
    (
        "query",
        "faultline_queue_consumed_messages_total{topic=\"events\",group=\"query-consumer\"}",
    ),
];

fn every_metrics_page_passes_promtool(server: Devserver) {
    let quiet = scrape_all(&server);
    for (service, series) in AT_START_UP {
        let Some((name, body)) = quiet
            .iter()
            .find(|(name, _)| name == "devserver" || name == service)
        else {
            continue;
        };
        assert_eq!(
            sample(body, series),
            Some(0.0),
            "{name}: {series} should be registered at start-up and read 0:\n{body}"
        );
    }

    // The gRPC servers (the stack's query service and symbolicator)
    // count their requests by method from start-up.
    if server.stack.is_some() {
        for (service, series) in [
            (
                "query",
                "faultline_grpc_requests_total{service=\"query\",method=\"GroupEvents\",code=\"OK\"}",
            ),
            (
                "symbolicator",
                "faultline_grpc_requests_total{service=\"symbolicator\",method=\"Symbolicate\",code=\"OK\"}",
            ),
        ] {
            let (_, body) = quiet.iter().find(|(name, _)| name == service).unwrap();
            assert!(
                sample(body, series).is_some(),
                "{service}: no {series}:\n{body}"
            );
        }
    }

    server.send_event(&json!({"message": "for the metrics"}));
    server.wait_for_total(1);
    let (status, _) = server.ingest(&server.envelope_path(), &[], b"not an envelope");
    assert_eq!(status, 400);
    // The query service inserts after the issue is counted: wait for it
    // (a loaded CI machine may take a while).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let pages = loop {
        let pages = scrape_all(&server);
        let inserted = pages
            .iter()
            .filter(|(name, _)| name == "devserver" || name == "query")
            .any(|(_, body)| sample(body, "faultline_query_inserted_rows_total") >= Some(1.0));
        if inserted || std::time::Instant::now() > deadline {
            break pages;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let page = |service: &str| {
        pages
            .iter()
            .find(|(name, _)| name == "devserver" || name == service)
            .map(|(_, body)| body.as_str())
            .unwrap()
    };
    for (service, series) in AFTER_TRAFFIC {
        let value = sample(page(service), series);
        assert!(
            value.is_some_and(|v| v >= 1.0),
            "{service}: {series} is {value:?} after traffic:\n{}",
            page(service)
        );
    }
    // Every consumer group reports its lag, and has caught up.
    for (service, topic, group) in [
        ("ingest-consumer", "ingest-events", "ingest-consumer"),
        ("query", "events", "query-consumer"),
        ("notifier", "post-process", "notifier"),
    ] {
        let series =
            format!("faultline_queue_consumer_lag_messages{{topic=\"{topic}\",group=\"{group}\"}}");
        assert!(
            sample(page(service), &series).is_some(),
            "{service}: no {series}:\n{}",
            page(service)
        );
    }
    // The metadata store's pool, on whichever database it is.
    assert!(
        page("web").contains("faultline_db_pool_max_connections{pool=\"meta\"}"),
        "{}",
        page("web")
    );
    for (service, body) in &pages {
        if service == "devserver" || service == "relay" {
            assert!(
                body.contains(
                    "faultline_http_requests_total{route=\"/api/{project_id}/envelope/\",method=\"POST\",status=\"200\"}"
                ),
                "{service}: {body}"
            );
        }
        // Every server counts its requests by route; the API's reads went
        // through web.
        if service == "devserver" || service == "web" {
            assert!(
                body.contains("faultline_http_requests_total{route=\"/api/0/"),
                "{service}: {body}"
            );
        }
        assert!(
            body.contains("# TYPE faultline_http_request_duration_seconds histogram"),
            "{service}: {body}"
        );
        // Every process says what it uses (an idle one may not have used
        // a tick of CPU yet).
        for (name, least) in [
            ("process_resident_memory_bytes", 1e6),
            ("process_open_fds", 3.0),
            ("process_cpu_seconds_total", 0.0),
        ] {
            assert!(
                sample(body, name).is_some_and(|v| v >= least),
                "{service}: {name}:\n{body}"
            );
        }
        if let Some(problems) = promtool_problems(body) {
            panic!("{service}'s /metrics fails promtool check metrics:\n{problems}\n{body}");
        }
    }
}

crate::on_devserver_and_stack!(
    #[ignore = "needs promtool (Debian's prometheus): run with cargo xtask test"]
    every_metrics_page_passes_promtool
);
