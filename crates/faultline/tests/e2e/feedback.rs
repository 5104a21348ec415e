//! User feedback from the official SDKs: `captureFeedback` of @sentry/node
//! (a `feedback` item about an error) and a Python SDK `user_report` item
//! reach Sentry's user-feedback API, with the issue of the event they are
//! about, and the issue counts them (`userReportCount`); the Feedback page
//! and the issue page show them in headless Chromium.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{
    Devserver, free_port, new_event_id, node_sdk, python_sdk, test_python, workspace_root,
};

/// The project's user feedback once it has `n` reports.
fn wait_for_reports(server: &Devserver, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = server.get("/api/0/projects/faultline/default/user-feedback/");
        assert_eq!(status, 200, "{body}");
        let reports = body.as_array().cloned().unwrap_or_default();
        if reports.len() >= n {
            return reports;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} reports arrived: {body:#}\nlog:\n{}",
            reports.len(),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn sdk_feedback_reaches_the_api_and_its_issue(server: Devserver) {
    let node = node_sdk(
        &server.dsn,
        &[
            "feedback",
            "--text",
            "The <b>export</b> button does nothing.",
        ],
    );
    let python = python_sdk(
        &server.dsn,
        &["user-report", "--text", "Checkout failed twice."],
    );
    server.wait_for_total(2);
    let reports = wait_for_reports(&server, 2);
    assert_eq!(reports.len(), 2, "{reports:#?}");
    let about = |id: &str| {
        reports
            .iter()
            .find(|r| r["eventID"] == id)
            .unwrap_or_else(|| panic!("no report about {id}: {reports:#?}"))
            .clone()
    };
    let from_node = about(&node[0]);
    assert_eq!(from_node["name"], "Jane Doe");
    assert_eq!(from_node["email"], "jane@example.com");
    // The text as written: JSON strings, escaped where they are shown.
    assert_eq!(
        from_node["comments"],
        "The <b>export</b> button does nothing."
    );
    assert_eq!(from_node["event"]["eventID"], node[0].as_str());
    let from_python = about(&python[0]);
    assert_eq!(
        (
            &from_python["name"],
            &from_python["email"],
            &from_python["comments"]
        ),
        (
            &"John Smith".into(),
            &"john@example.com".into(),
            &"Checkout failed twice.".into()
        )
    );
    for report in [&from_node, &from_python] {
        assert!(
            report["id"].as_str().is_some_and(|id| !id.is_empty()),
            "{report}"
        );
        assert!(report["dateCreated"].as_str().is_some(), "{report}");
        let issue = &report["issue"];
        assert!(
            issue["id"].is_string(),
            "the report names its event's issue: {report:#}"
        );
        // The issue counts its reports, in the list and on its own.
        let (status, detail) =
            server.get(&format!("/api/0/issues/{}/", issue["id"].as_str().unwrap()));
        assert_eq!(status, 200);
        assert_eq!(detail["userReportCount"], 1, "{detail:#}");
    }
    let issues = server.issues("");
    assert!(
        issues.iter().all(|i| i["userReportCount"] == 1),
        "{issues:#?}"
    );
    // A project that does not exist (or that the caller may not see) is
    // a 404, as Sentry answers.
    let (status, _) = server.get("/api/0/projects/faultline/no-such-project/user-feedback/");
    assert_eq!(status, 404);

    // The Feedback page and the issue page, in a browser.
    crate::dashboard::browser_flow(&server, "feedback", &[&node[0]]);
}

/// `showReportDialog`'s crash-report page: the script it loads, and the
/// form the dialog posts, kept as a report about the event.
fn the_crash_report_page_keeps_what_the_user_wrote(server: Devserver) {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let event_id = new_event_id();
    let hostile = "</script><img src=x onerror=alert(1)>";
    let page = |query: &str| format!("/api/embed/error-page/?{query}");
    let query = format!(
        "dsn={}&eventId={event_id}&title={}&name=Ann",
        encode(&server.dsn),
        encode(hostile)
    );
    let script = server.request("GET", &page(&query), &[], b"");
    assert_eq!(script.status, 200, "{}", script.text());
    assert!(
        script
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/javascript")),
        "{:?}",
        script.header("content-type")
    );
    let text = script.text();
    assert!(text.contains("sentry-error-embed") && text.contains("__sentry_reportdialog_closed__"));
    // The page's options are data, never markup or code.
    assert!(
        !text.contains("</script") && !text.contains("<img"),
        "{text}"
    );
    assert!(text.contains("\\u003c/script\\u003e\\u003cimg"), "{text}");

    // Refused: a malformed event id, an unknown key.
    let bad_id = format!("dsn={}&eventId=nope", encode(&server.dsn));
    assert_eq!(server.request("GET", &page(&bad_id), &[], b"").status, 400);
    let stranger = server.dsn.replacen(&server.public_key, &"0".repeat(32), 1);
    let unknown = format!("dsn={}&eventId={event_id}", encode(&stranger));
    assert_eq!(server.request("GET", &page(&unknown), &[], b"").status, 404);

    // The form: all three fields are needed, and a valid email.
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let refused = server.request(
        "POST",
        &page(&query),
        &form,
        b"name=Ann&email=nope&comments=",
    );
    assert_eq!(refused.status, 400);
    let errors: Value = serde_json::from_str(&refused.text()).unwrap();
    assert!(
        errors["errors"]["email"].is_string() && errors["errors"]["comments"].is_string(),
        "{errors}"
    );
    let too_big = vec![b'a'; 20_000];
    assert_eq!(
        server
            .request("POST", &page(&query), &form, &too_big)
            .status,
        413
    );
    let kept = server.request(
        "POST",
        &page(&query),
        &form,
        b"name=Ann+Lee&email=ann%40example.com&comments=It+crashed+on+%3Csave%3E.",
    );
    assert_eq!(kept.status, 200, "{}", kept.text());
    let reports = wait_for_reports(&server, 1);
    assert_eq!(reports[0]["eventID"], event_id.as_str());
    assert_eq!(
        (
            &reports[0]["name"],
            &reports[0]["email"],
            &reports[0]["comments"]
        ),
        (
            &"Ann Lee".into(),
            &"ann@example.com".into(),
            &"It crashed on <save>.".into()
        )
    );
}

crate::on_devserver_and_stack!(
    #[ignore = "needs @sentry/node, the Python sentry-sdk and Chromium: run with cargo xtask test"]
    sdk_feedback_reaches_the_api_and_its_issue,
    the_crash_report_page_keeps_what_the_user_wrote,
);

/// The official @sentry/browser's `showReportDialog` on a page of ours:
/// the dialog Faultline's crash-report page draws, filled in and sent in
/// headless Chromium, becomes a report about the error the page captured.
#[test]
#[ignore = "needs @sentry/browser, esbuild and Chromium: run with cargo xtask test"]
fn the_browser_sdks_report_dialog_keeps_what_the_user_wrote() {
    let server = Devserver::start();
    let node = std::env::var_os("FAULTLINE_TEST_NODE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("tests/sdk/node"));
    let site = tempfile::tempdir().unwrap();
    let source = workspace_root().join("tests/browser/report_dialog");
    let built = Command::new(node.join("node_modules/.bin/esbuild"))
        .arg(source.join("page.js"))
        .args(["--bundle", "--format=iife"])
        .arg(format!(
            "--outfile={}",
            site.path().join("bundle.js").display()
        ))
        // The page's imports resolve in the tests' node_modules.
        .env("NODE_PATH", node.join("node_modules"))
        .output()
        .expect("esbuild runs (cargo xtask test installs it)");
    assert!(
        built.status.success(),
        "esbuild: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    std::fs::copy(source.join("index.html"), site.path().join("index.html")).unwrap();
    let port = free_port();
    let mut web_server = Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(site.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 serves the page");
    faultline_testkit::wait_for_port("the page's server", port, Duration::from_secs(10)).unwrap();
    let shots = workspace_root().join("target/browser-screenshots/report-dialog");
    let out = Command::new(test_python())
        .arg(workspace_root().join("tests/browser/report_dialog.py"))
        .arg(format!("http://127.0.0.1:{port}/index.html"))
        .arg(&server.dsn)
        .arg(&shots)
        .current_dir(workspace_root().join("tests/browser"))
        .env("SE_AVOID_STATS", "true")
        .output()
        .expect("the browser script runs");
    let _ = web_server.kill();
    let _ = web_server.wait();
    assert!(
        out.status.success(),
        "report dialog flow failed (screenshots in {}):\n{}\n{}\nlog:\n{}",
        shots.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    let event_id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let reports = wait_for_reports(&server, 1);
    assert_eq!(reports[0]["eventID"], event_id.as_str(), "{reports:#?}");
    assert_eq!(
        (
            &reports[0]["name"],
            &reports[0]["email"],
            &reports[0]["comments"]
        ),
        (
            &"Ann Lee".into(),
            &"ann@example.com".into(),
            &"I pressed Pay and it crashed.".into()
        )
    );
    // The error itself arrived too, and its issue counts the report.
    server.wait_for_total(1);
    let issue = &reports[0]["issue"];
    assert!(issue["id"].is_string(), "{reports:#?}");
}
