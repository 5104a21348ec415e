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

fn every_metrics_page_passes_promtool(server: Devserver) {
    // Traffic first, so that the labelled families have samples.
    server.send_event(&json!({"message": "for the metrics"}));
    server.wait_for_total(1);
    let (status, _) = server.ingest(&server.envelope_path(), &[], b"not an envelope");
    assert_eq!(status, 400);
    let pages: Vec<(String, String)> = match &server.stack {
        Some(stack) => faultline_testkit::SERVICES
            .iter()
            .map(|service| {
                // A second scrape, as Prometheus makes them: the first is
                // counted (a family shows once it has a sample).
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
    };
    for (service, body) in pages {
        if service == "devserver" || service == "relay" {
            assert!(
                body.contains("# HELP faultline_relay_requests_total"),
                "{service}: {body}"
            );
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
        if let Some(problems) = promtool_problems(&body) {
            panic!("{service}'s /metrics fails promtool check metrics:\n{problems}\n{body}");
        }
    }
}

crate::on_devserver_and_stack!(
    #[ignore = "needs promtool (Debian's prometheus): run with cargo xtask test"]
    every_metrics_page_passes_promtool
);
