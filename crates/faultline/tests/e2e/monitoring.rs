//! The monitoring of deploy/: a real Prometheus (Debian's) scrapes the
//! devserver or every service of the stack with the jobs and alert rules
//! of deploy/prometheus/, and every query of every Grafana dashboard in
//! deploy/grafana/dashboards/ is run against it: each must be valid PromQL
//! and the overview's panels must show data after SDK traffic.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Devserver, workspace_root};

/// Prometheus' answer to an instant query: the result, or its error.
fn instant_query(prometheus: &str, query: &str) -> Result<Vec<Value>, String> {
    let response = ureq::get(format!("{prometheus}/api/v1/query"))
        .query("query", query)
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .map_err(|e| e.to_string())?;
    let body: Value = response
        .into_body()
        .read_json()
        .map_err(|e| e.to_string())?;
    if body["status"] != "success" {
        return Err(format!("{}: {}", body["errorType"], body["error"]));
    }
    Ok(body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// A dashboard query as Grafana sends it, with its variables set to "All"
/// and `$__rate_interval` to a window of several scrapes.
fn as_sent(expr: &str) -> String {
    expr.replace("$__rate_interval", "20s")
        .replace("$service", ".*")
        .replace("$instance", ".*")
}

/// Every query of a dashboard: each panel target's `expr`, and each
/// variable's `label_values(selector, label)` as the selector it runs.
fn queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("every target has an expr");
            out.push((
                panel["title"].as_str().unwrap_or("?").to_owned(),
                expr.to_owned(),
            ));
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let query = variable["query"]["query"]
            .as_str()
            .or(variable["query"].as_str())
            .expect("every variable has a query");
        let selector = query
            .strip_prefix("label_values(")
            .and_then(|q| q.rsplit_once(','))
            .map(|(selector, _label)| selector.to_owned())
            .unwrap_or_else(|| {
                panic!("variable query {query} is not label_values(selector, label)")
            });
        out.push((format!("${}", variable["name"].as_str().unwrap()), selector));
    }
    out
}

fn dashboards() -> Vec<(String, Value)> {
    let dir = workspace_root().join("deploy/grafana/dashboards");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("deploy/grafana/dashboards exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let board: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
            (name, board)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Prometheus, stopped when the test ends, passed or not.
struct Prometheus(std::process::Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        faultline_testkit::terminate(&mut self.0, Duration::from_secs(5));
    }
}

fn start_prometheus(server: &Devserver, dir: &Path) -> (Prometheus, String) {
    let port = faultline_testkit::free_port();
    let deploy = workspace_root().join("deploy/prometheus");
    let config = match &server.stack {
        Some(stack) => faultline_testkit::native_prometheus_config(
            &std::fs::read_to_string(deploy.join("prometheus.yml")).unwrap(),
            stack.ports(),
            port,
            "1s",
        ),
        None => faultline_testkit::devserver_prometheus_config(
            &format!("127.0.0.1:{}", server.port),
            "1s",
        ),
    };
    let alerts = std::fs::read_to_string(deploy.join("alerts.yml")).unwrap();
    let child = faultline_testkit::start_prometheus(dir, &config, &alerts, port)
        .expect("prometheus starts (apt-get install prometheus; .ci/run does this)");
    (Prometheus(child), format!("http://127.0.0.1:{port}"))
}

/// Waits until `check` holds, or panics with what it last said.
fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(()) => return,
            Err(e) if Instant::now() > deadline => panic!("{what}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

fn dashboards_and_alerts_work_on_a_real_prometheus(server: Devserver) {
    let dir = tempfile::tempdir().unwrap();
    let (_prometheus, url) = start_prometheus(&server, dir.path());
    let jobs = match &server.stack {
        Some(_) => faultline_testkit::SERVICES.len() + 1,
        None => 1,
    };
    // Every Faultline target (and, on the stack, Prometheus itself) up.
    eventually("every target scraped", Duration::from_secs(30), || {
        let up = instant_query(&url, "up == 1")?;
        (up.len() == jobs).then_some(()).ok_or(format!("{up:?}"))
    });

    for i in 0..5 {
        server.send_event(&json!({"message": format!("monitored {i}")}));
    }
    server.wait_for_total(5);
    let (status, _) = server.ingest(&server.envelope_path(), &[], b"not an envelope");
    assert_eq!(status, 400);

    // The traffic reached Prometheus: the overview's ingest rate moved.
    eventually(
        "the ingest rate shows the events",
        Duration::from_secs(30),
        || {
            let rate = instant_query(
                &url,
                "sum(rate(faultline_relay_accepted_items_total{item_type=\"event\"}[20s])) > 0",
            )?;
            (!rate.is_empty()).then_some(()).ok_or("no rate yet".into())
        },
    );
    eventually(
        "the query service's inserts show",
        Duration::from_secs(30),
        || {
            let rows = instant_query(&url, "sum(faultline_query_inserted_rows_total) >= 5")?;
            (!rows.is_empty())
                .then_some(())
                .ok_or("fewer than 5 rows".into())
        },
    );

    let boards = dashboards();
    assert!(
        boards.len() >= 8,
        "the overview and one per service: {boards:?}"
    );
    for (name, board) in &boards {
        assert_eq!(
            board["uid"].as_str().map(|u| u.starts_with("faultline-")),
            Some(true),
            "{name}"
        );
    }
    // Series born with the traffic (a route's first request) need two
    // scrapes before a rate() over them has a value.
    eventually(
        "every dashboard query is valid and the overview shows data",
        Duration::from_secs(20),
        || {
            let mut problems = Vec::new();
            for (name, board) in &boards {
                for (panel, expr) in queries(board) {
                    match instant_query(&url, &as_sent(&expr)) {
                        Err(e) => problems.push(format!("{name} / {panel}: {expr}: refused: {e}")),
                        Ok(result) if result.is_empty() && name == "overview.json" => {
                            problems.push(format!("{name} / {panel}: {expr}: no data"))
                        }
                        Ok(_) => {}
                    }
                }
            }
            problems.is_empty().then_some(()).ok_or(problems.join("\n"))
        },
    );

    // The alert rules load and evaluate without error.
    eventually("the alert rules evaluate", Duration::from_secs(30), || {
        let rules: Value = ureq::get(format!("{url}/api/v1/rules"))
            .call()
            .map_err(|e| e.to_string())?
            .into_body()
            .read_json()
            .map_err(|e| e.to_string())?;
        let rules: Vec<&Value> = rules["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().into_iter().flatten())
            .collect();
        if rules.len() < 6 {
            return Err(format!("{} rules loaded", rules.len()));
        }
        let unhealthy: Vec<String> = rules
            .iter()
            .filter(|r| r["health"] != "ok")
            .map(|r| format!("{}: {} {}", r["name"], r["health"], r["lastError"]))
            .collect();
        unhealthy
            .is_empty()
            .then_some(())
            .ok_or(unhealthy.join("; "))
    });
    // A quiet, healthy system fires none of them.
    let firing = instant_query(&url, "ALERTS{alertstate=\"firing\"}").unwrap();
    assert!(
        firing.is_empty(),
        "alerts firing on a healthy system: {firing:?}"
    );
}

crate::on_devserver_and_stack!(
    #[ignore = "needs Debian's prometheus: run with cargo xtask test"]
    dashboards_and_alerts_work_on_a_real_prometheus
);

/// promtool accepts the configuration and the rules compose mounts.
#[test]
#[ignore = "needs promtool (Debian's prometheus): run with cargo xtask test"]
fn prometheus_configuration_and_rules_pass_promtool() {
    let deploy = workspace_root().join("deploy/prometheus");
    let out = std::process::Command::new("promtool")
        .args(["check", "config"])
        .arg(deploy.join("prometheus.yml"))
        .output()
        .expect("promtool runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("6 rules found"), "{stdout}");
}

/// Grafana's provisioning names the data source the dashboards use, and
/// the dashboard provider's path is where compose mounts them.
#[test]
fn grafana_provisioning_matches_the_dashboards() {
    let grafana = workspace_root().join("deploy/grafana");
    let datasources: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(grafana.join("provisioning/datasources/prometheus.yml")).unwrap(),
    )
    .unwrap();
    let source = &datasources["datasources"][0];
    assert_eq!(source["url"].as_str(), Some("http://prometheus:9090"));
    let uid = source["uid"].as_str().unwrap();
    let providers: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(grafana.join("provisioning/dashboards/faultline.yml")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        providers["providers"][0]["options"]["path"].as_str(),
        Some("/var/lib/grafana/dashboards")
    );
    for (name, board) in dashboards() {
        let mut sources = Vec::new();
        for panel in board["panels"].as_array().unwrap() {
            sources.push(&panel["datasource"]["uid"]);
            for target in panel["targets"].as_array().unwrap() {
                sources.push(&target["datasource"]["uid"]);
            }
        }
        for variable in board["templating"]["list"].as_array().unwrap() {
            sources.push(&variable["datasource"]["uid"]);
        }
        assert!(
            sources.iter().all(|s| s.as_str() == Some(uid)),
            "{name} uses a data source other than {uid}"
        );
        let names: Vec<&str> = board["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v["name"].as_str())
            .collect();
        assert_eq!(names, ["service", "instance"], "{name}");
    }
}
