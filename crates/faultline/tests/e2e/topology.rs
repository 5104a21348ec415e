//! `faultline run <service>`: relay, ingest-consumer, query and web as
//! separate processes sharing the configured stores, as in production.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;

struct Service {
    child: Child,
    url: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn run(service: &str, dir: &std::path::Path) -> Service {
    let port = free_port();
    let child = Command::new(BIN)
        .args([
            "run",
            service,
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("faultline run starts");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(resp) = ureq::get(format!("{url}/health")).call() {
            assert_eq!(resp.status().as_u16(), 200, "{service} is ready");
            break;
        }
        assert!(Instant::now() < deadline, "{service} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Service { child, url }
}

#[test]
#[ignore = "needs the Python sentry-sdk: run with cargo xtask test"]
fn services_run_as_separate_processes() {
    let mut devserver = Devserver::start();
    devserver.stop();
    let dir = devserver.dir.path();
    let relay = run("relay", dir);
    let _ingest = run("ingest-consumer", dir);
    let _query = run("query", dir);
    let web = run("web", dir);

    let relay_dsn = format!(
        "http://{}@{}/{}",
        devserver.public_key,
        relay.url.trim_start_matches("http://"),
        devserver.project_id
    );
    let ids = python_sdk(&relay_dsn, &["key-error", "--release", "split@1"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let issues = loop {
        let body = ureq::get(format!(
            "{}/api/0/projects/faultline/default/issues/",
            web.url
        ))
        .header("Authorization", format!("Bearer {}", devserver.token))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
        let issues: serde_json::Value = serde_json::from_str(&body).unwrap();
        if issues.as_array().is_some_and(|a| a.len() == 1) {
            break issues;
        }
        assert!(
            Instant::now() < deadline,
            "the event never became an issue: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(issues[0]["title"], "KeyError: 'missing-sku'");
    // The query service stored the event for the web service to show.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let resp = ureq::get(format!(
            "{}/api/0/projects/faultline/default/events/{}/",
            web.url, ids[0]
        ))
        .header("Authorization", format!("Bearer {}", devserver.token))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
        if resp.status().as_u16() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the query service never stored the event"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let metrics = ureq::get(format!("{}/metrics", relay.url))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert!(
        metrics.contains("faultline_relay_accepted_items_total{item_type=\"event\"} 1"),
        "{metrics}"
    );
    // Ingestion is relay's alone: the web service does not take envelopes.
    let resp = ureq::post(format!(
        "{}/api/{}/envelope/",
        web.url, devserver.project_id
    ))
    .config()
    .http_status_as_error(false)
    .build()
    .send("{}")
    .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}
