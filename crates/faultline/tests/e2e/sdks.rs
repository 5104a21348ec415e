//! Official SDKs (Python `sentry-sdk`, `@sentry/node`, the `sentry` crate)
//! against a devserver: grouping, titles, culprits, counts and users.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::harness::*;

fn python_sdk_events_become_grouped_issues(server: Devserver) {
    let dsn = &server.dsn;
    let first = python_sdk(
        dsn,
        &[
            "exception",
            "--release",
            "shop@1.0",
            "--user",
            "alice",
            "--count",
            "2",
        ],
    );
    python_sdk(
        dsn,
        &["exception", "--release", "shop@1.0", "--user", "bob"],
    );
    python_sdk(dsn, &["exception-other-path", "--release", "shop@1.0"]);
    python_sdk(
        dsn,
        &[
            "key-error",
            "--release",
            "shop@1.0",
            "--environment",
            "staging",
        ],
    );
    python_sdk(dsn, &["chained", "--release", "shop@1.0"]);
    python_sdk(dsn, &["message", "--release", "shop@1.0", "--count", "2"]);
    python_sdk(
        dsn,
        &["log-template", "--release", "shop@1.0", "--param", "1"],
    );
    python_sdk(
        dsn,
        &["log-template", "--release", "shop@1.0", "--param", "2"],
    );
    python_sdk(
        dsn,
        &["fingerprint", "--release", "shop@1.0", "--variant", "a"],
    );
    python_sdk(
        dsn,
        &["fingerprint", "--release", "shop@1.0", "--variant", "b"],
    );
    let issues = server.wait_for_total(12);

    // Same error from the same code path: one issue, counted per event and
    // per distinct user; another code path: another issue.
    let zero_div = by_title(&issues, "ZeroDivisionError: division by zero");
    assert_eq!(zero_div.len(), 2, "{issues:#?}");
    let main_path = zero_div
        .iter()
        .find(|i| count(i) == 3)
        .expect("the handle_order issue has 3 events");
    assert_eq!(main_path["userCount"], 2);
    assert_eq!(main_path["culprit"], "__main__ in compute_ratio");
    assert_eq!(main_path["level"], "error");
    assert_eq!(main_path["status"], "unresolved");
    assert_eq!(main_path["metadata"]["type"], "ZeroDivisionError");
    assert!(
        main_path["shortId"]
            .as_str()
            .unwrap()
            .starts_with("DEFAULT-")
    );
    // Events over the last 24 hours, hourly, as Sentry's `stats`.
    let stats = server.wait_for("stats", |s| {
        let issue = s
            .issues("")
            .into_iter()
            .find(|i| i["id"] == main_path["id"])?;
        let points = issue["stats"]["24h"].as_array()?.clone();
        (points.iter().map(|p| p[1].as_u64().unwrap()).sum::<u64>() == 3).then_some(points)
    });
    assert_eq!(stats.len(), 24);
    assert!(
        stats
            .windows(2)
            .all(|w| w[1][0].as_i64().unwrap() - w[0][0].as_i64().unwrap() == 3600)
    );
    let other = zero_div
        .iter()
        .find(|i| count(i) == 1)
        .expect("the refund path is its own issue");
    assert!(
        other["culprit"].as_str().unwrap().contains("lookup_refund"),
        "{other}"
    );

    assert_eq!(by_title(&issues, "KeyError: 'missing-sku'").len(), 1);
    assert_eq!(
        by_title(&issues, "OrderError: failed to process order 1234").len(),
        1
    );
    let message = by_title(&issues, "Cart total exceeds soft limit");
    assert_eq!(message.len(), 1);
    assert_eq!(count(message[0]), 2);
    assert_eq!(message[0]["level"], "warning");

    // Log records group by their template, not by the formatted text.
    let logs: Vec<&Value> = issues
        .iter()
        .filter(|i| i["title"].as_str().unwrap().starts_with("order "))
        .collect();
    assert_eq!(logs.len(), 1, "{issues:#?}");
    assert_eq!(count(logs[0]), 2);

    // The custom fingerprint wins over different exception types.
    let fingerprinted: Vec<&Value> = issues
        .iter()
        .filter(|i| {
            i["title"].as_str().unwrap().starts_with("ValueError")
                || i["title"].as_str().unwrap().starts_with("TypeError")
        })
        .collect();
    assert_eq!(fingerprinted.len(), 1, "{issues:#?}");
    assert_eq!(count(fingerprinted[0]), 2);

    // Search: level, environment, release, free text.
    assert_eq!(server.issues("level:warning").len(), 1);
    let staging = server.wait_for("environment search", |s| {
        let found = s.issues("environment:staging");
        (found.len() == 1).then_some(found)
    });
    assert_eq!(staging[0]["title"], "KeyError: 'missing-sku'");
    // Tag search reads the event store, which the query service fills a
    // moment after the issue counts (as Snuba trails Sentry's database).
    server.wait_for("every event in the event store", |s| {
        (s.issues("!environment:staging").len() == 6).then_some(())
    });
    assert_eq!(
        server
            .issues("release:shop@1.0 !environment:staging level:error")
            .len(),
        5
    );
    server.wait_for("release search", |s| {
        (s.issues("release:shop@1.0").len() == 7).then_some(())
    });
    assert!(server.issues("release:other@2").is_empty());
    assert_eq!(server.issues("is:unresolved ZeroDivisionError").len(), 2);

    // The event itself, with its exception chain and frames.
    let event = server.wait_for("the event", |s| s.event(&first[0]));
    assert_eq!(event["eventID"], first[0].as_str());
    assert_eq!(event["groupID"], main_path["id"]);
    let exception = event["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "exception")
        .unwrap();
    let frames = exception["data"]["values"][0]["stacktrace"]["frames"]
        .as_array()
        .unwrap();
    assert!(
        frames
            .iter()
            .any(|f| f["function"] == "compute_ratio" && f["inApp"] == true)
    );
    assert!(
        event["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "release" && t["value"] == "shop@1.0")
    );
    assert_eq!(event["user"]["id"], "alice");

    // Issue events and the latest event.
    let (status, events) = server.get(&format!(
        "/api/0/issues/{}/events/",
        main_path["id"].as_str().unwrap()
    ));
    assert_eq!(status, 200);
    assert_eq!(events.as_array().unwrap().len(), 3);
    let (status, latest) = server.get(&format!(
        "/api/0/issues/{}/events/latest/",
        main_path["id"].as_str().unwrap()
    ));
    assert_eq!(status, 200);
    assert_eq!(latest["groupID"], main_path["id"]);
}

fn node_sdk_events_become_grouped_issues(server: Devserver) {
    let dsn = &server.dsn;
    node_sdk(dsn, &["exception", "--user", "carol", "--count", "2"]);
    node_sdk(dsn, &["exception-other-path"]);
    node_sdk(dsn, &["chained"]);
    node_sdk(dsn, &["message", "--text", "first message"]);
    node_sdk(dsn, &["message", "--text", "second message"]);
    node_sdk(dsn, &["message", "--text", "first message"]);
    node_sdk(dsn, &["fingerprint", "--variant", "a"]);
    node_sdk(dsn, &["fingerprint", "--variant", "b"]);
    let issues = server.wait_for_total(9);

    let load_order: Vec<&Value> = issues
        .iter()
        .filter(|i| i["culprit"] == "loadOrder(send)")
        .collect();
    assert_eq!(load_order.len(), 1, "{issues:#?}");
    assert_eq!(count(load_order[0]), 2);
    assert_eq!(load_order[0]["userCount"], 1);
    assert!(
        load_order[0]["title"]
            .as_str()
            .unwrap()
            .starts_with("TypeError: ")
    );
    assert!(
        issues
            .iter()
            .any(|i| i["title"].as_str().unwrap().starts_with("OrderError: "))
    );

    // Messages group by their text, even though the Node SDK attaches a
    // synthetic stack trace from the same call site.
    assert_eq!(count(by_title(&issues, "first message")[0]), 2);
    assert_eq!(count(by_title(&issues, "second message")[0]), 1);
    let fingerprinted = issues.iter().filter(|i| {
        count(i) == 2 && i["culprit"] != "loadOrder(send)" && i["title"] != "first message"
    });
    assert_eq!(fingerprinted.count(), 1, "{issues:#?}");
    assert_eq!(issues.len(), 6, "{issues:#?}");
}

#[derive(Debug)]
struct PaymentDeclined {
    code: u32,
}

impl std::fmt::Display for PaymentDeclined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "card declined with code {}", self.code)
    }
}

impl std::error::Error for PaymentDeclined {}

fn charge_card(hub: &sentry::Hub, code: u32) -> sentry::types::Uuid {
    hub.capture_error(&PaymentDeclined { code })
}

fn rust_sdk_events_become_grouped_issues(server: Devserver) {
    let mut options = sentry::ClientOptions::default();
    options.release = Some("billing@2.1.0".into());
    options.environment = Some("production".into());
    options.attach_stacktrace = true;
    options.dsn = Some(
        server
            .dsn
            .parse()
            .expect("the devserver prints a valid DSN"),
    );
    // What `sentry::init` does: the default transport and integrations.
    let client = Arc::new(sentry::Client::from(sentry::apply_defaults(options)));
    let hub = sentry::Hub::new(Some(client.clone()), Arc::new(sentry::Scope::default()));
    let a = charge_card(&hub, 51);
    let b = charge_card(&hub, 51);
    hub.capture_message("nightly export finished late", sentry::Level::Warning);
    assert!(
        client.flush(Some(Duration::from_secs(10))),
        "the sentry crate delivered everything"
    );
    let issues = server.wait_for_total(3);
    assert_eq!(issues.len(), 2, "{issues:#?}");
    let error = issues
        .iter()
        .find(|i| count(i) == 2)
        .expect("both errors in one issue");
    assert!(
        error["title"]
            .as_str()
            .unwrap()
            .contains("card declined with code 51"),
        "{error}"
    );
    assert_eq!(
        by_title(&issues, "nightly export finished late")[0]["level"],
        "warning"
    );
    for id in [a, b] {
        let id = id.simple().to_string();
        let event = server.wait_for("rust event", |s| s.event(&id));
        assert_eq!(event["platform"], "native");
        assert_eq!(event["release"]["version"], "billing@2.1.0");
    }
}

fn resolved_issue_reopens_on_a_new_event(server: Devserver) {
    python_sdk(&server.dsn, &["key-error", "--release", "r@1"]);
    let issues = server.wait_for_total(1);
    let id = issues[0]["id"].as_str().unwrap().to_owned();

    let (status, body) = server.send_json(
        "PUT",
        &format!("/api/0/issues/{id}/"),
        serde_json::json!({"status": "resolved"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "resolved");
    assert!(server.issues("is:unresolved").is_empty());
    assert_eq!(server.issues("is:resolved").len(), 1);

    python_sdk(&server.dsn, &["key-error", "--release", "r@1"]);
    server.wait_for_total(2);
    let (_, issue) = server.get(&format!("/api/0/issues/{id}/"));
    assert_eq!(issue["status"], "unresolved");
    assert_eq!(issue["count"], "2");
    assert_eq!(server.issues("is:unresolved").len(), 1);

    let (status, body) = server.send_json(
        "PUT",
        &format!("/api/0/issues/{id}/"),
        serde_json::json!({"status": "ignored"}),
    );
    assert_eq!((status, body["status"].as_str()), (200, Some("ignored")));
    assert_eq!(server.issues("is:ignored").len(), 1);
    let (status, _) = server.send_json(
        "PUT",
        &format!("/api/0/issues/{id}/"),
        serde_json::json!({"status": "sideways"}),
    );
    assert_eq!(status, 400);
}

crate::on_devserver_and_stack!(
    #[ignore = "needs the Python sentry-sdk: run with cargo xtask test"]
    python_sdk_events_become_grouped_issues,
    #[ignore = "needs @sentry/node: run with cargo xtask test"]
    node_sdk_events_become_grouped_issues,
    rust_sdk_events_become_grouped_issues,
    #[ignore = "needs the Python sentry-sdk: run with cargo xtask test"]
    resolved_issue_reopens_on_a_new_event,
);
