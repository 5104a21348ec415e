//! Hostile and careless input (issue 9, findings 5, 8 and 9), sent over HTTP
//! as an attacker or a script would: parameters that used to panic or
//! answer 500, names and platforms the API let through, a data directory
//! anyone on the machine could read, metrics published on the public port,
//! and events that relay accepted and the consumer then dropped.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::dashboard::{csrf_token, page, post_form, sign_in};
use crate::harness::{Devserver, faultline_cli, new_event_id, total_count};

/// A GET that reports a dropped connection (a handler that panicked) as
/// status 0 instead of failing inside the helper.
fn get_status(server: &Devserver, path: &str, cookie: Option<&str>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut req = agent
        .get(format!("{}{path}", server.url))
        .header("Authorization", format!("Bearer {}", server.token));
    if let Some(cookie) = cookie {
        req = req.header("Cookie", cookie);
    }
    match req.call() {
        Ok(mut resp) => (
            resp.status().as_u16(),
            resp.body_mut().read_to_string().unwrap_or_default(),
        ),
        Err(e) => (0, format!("no answer: {e}")),
    }
}

/// The JSON `detail` of an API answer, or the whole body when there is none.
fn detail(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["detail"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.to_owned())
}

const PROJECT_ISSUES: &str = "/api/0/projects/faultline/default/issues/";
const ORG_ISSUES: &str = "/api/0/organizations/faultline/issues/";

#[test]
fn stats_periods_are_bounded_at_90_days_and_never_panic() {
    let server = Devserver::start();
    server.send_event(&json!({"message": "periodic"}));
    server.wait_for_total(1);

    // (path, parameter, value as sent in the URL, what the detail must say)
    let refused = [
        (PROJECT_ISSUES, "statsPeriod", "1%C3%A9", "statsPeriod"),
        (PROJECT_ISSUES, "statsPeriod", "999999999999999d", "90d"),
        (PROJECT_ISSUES, "statsPeriod", "9223372036854775807s", "90d"),
        (PROJECT_ISSUES, "statsPeriod", "91d", "90d"),
        (PROJECT_ISSUES, "statsPeriod", "-1d", "statsPeriod"),
        (PROJECT_ISSUES, "statsPeriod", "d", "statsPeriod"),
        (ORG_ISSUES, "statsPeriod", "1%C3%A9", "statsPeriod"),
        (ORG_ISSUES, "statsPeriod", "999999999999999d", "90d"),
        (ORG_ISSUES, "statsPeriod", "9223372036854775807s", "90d"),
        (
            ORG_ISSUES,
            "groupStatsPeriod",
            "1%C3%A9",
            "groupStatsPeriod",
        ),
        (ORG_ISSUES, "groupStatsPeriod", "999999999999999d", "90d"),
        (
            ORG_ISSUES,
            "groupStatsPeriod",
            "9223372036854775807s",
            "90d",
        ),
        (ORG_ISSUES, "groupStatsPeriod", "13w", "90d"),
    ];
    for (path, param, value, said) in refused {
        let (status, body) = get_status(&server, &format!("{path}?{param}={value}"), None);
        assert_eq!(status, 400, "{path}?{param}={value}: {body}");
        assert!(
            detail(&body).contains(said),
            "{path}?{param}={value}: the detail says {said}: {body}"
        );
    }

    // Up to 90 days is fine: 90 daily points, or hourly ones within 48 hours.
    for (path, param, value, points) in [
        (PROJECT_ISSUES, "statsPeriod", "90d", Some(90)),
        (PROJECT_ISSUES, "statsPeriod", "24h", Some(24)),
        (PROJECT_ISSUES, "statsPeriod", "", None),
        (ORG_ISSUES, "groupStatsPeriod", "12w", Some(84)),
        (ORG_ISSUES, "statsPeriod", "90d", Some(24)),
        (ORG_ISSUES, "statsPeriod", "7776000", Some(24)),
    ] {
        let (status, body) = get_status(&server, &format!("{path}?{param}={value}"), None);
        assert_eq!(status, 200, "{path}?{param}={value}: {body}");
        let issues: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(issues.as_array().unwrap().len(), 1, "{body}");
        let stats = &issues[0]["stats"];
        match points {
            Some(n) => {
                let series = stats
                    .as_object()
                    .and_then(|s| s.values().next())
                    .and_then(Value::as_array)
                    .unwrap_or_else(|| panic!("{path}?{param}={value}: stats {stats}"));
                assert_eq!(series.len(), n, "{path}?{param}={value}: {stats}");
            }
            None => assert!(stats.is_null(), "{stats}"),
        }
    }
}

#[test]
fn cursors_past_the_bound_are_refused_and_pages_never_wrap() {
    let server = Devserver::start();
    // 26 issues, one more than a dashboard page, and one with two events.
    for n in 0..26 {
        server.send_event(&json!({"message": format!("issue number {n}")}));
    }
    server.send_event(&json!({"message": "issue number 0"}));
    let issues = server.wait_for_total(27);
    let twice = issues
        .iter()
        .find(|i| i["count"] == "2")
        .expect("the issue with two events");
    let issue_id = twice["id"].as_str().unwrap().to_owned();

    for cursor in [
        "0:18446744073709551615:0",
        "0:18446744073709551616:0",
        "0:9223372036854775808:0",
        "0:9223372036854775807:0",
        "0:1000001:0",
        "0:-1:0",
    ] {
        for path in [
            format!("{PROJECT_ISSUES}?cursor={cursor}"),
            format!("{ORG_ISSUES}?cursor={cursor}"),
            format!("/api/0/issues/{issue_id}/events/?cursor={cursor}"),
        ] {
            let (status, body) = get_status(&server, &path, None);
            assert_eq!(status, 400, "{path}: {body}");
            assert!(
                detail(&body).contains("cursor"),
                "{path}: the detail names the cursor: {body}"
            );
        }
    }
    // The bound itself is a valid, empty page.
    let (status, body) = get_status(
        &server,
        &format!("{PROJECT_ISSUES}?cursor=0:1000000:0"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, "[]");

    // The dashboard's stream and issue pages take their own offsets.
    let cookie = sign_in(&server, &server.url);
    for path in [
        "/organizations/faultline/issues/?cursor=18446744073709551615".to_owned(),
        "/organizations/faultline/issues/?cursor=9223372036854775808".to_owned(),
        format!("/organizations/faultline/issues/{issue_id}/?event=18446744073709551615"),
        format!("/organizations/faultline/issues/{issue_id}/?event=9223372036854775808"),
    ] {
        let (status, html) = get_status(&server, &path, Some(&cookie));
        assert_eq!(status, 400, "{path}: {html}");
        assert!(html.contains("1000000"), "{path}: the page names the bound");
    }
    let (status, html) = get_status(
        &server,
        "/organizations/faultline/issues/?cursor=25",
        Some(&cookie),
    );
    assert_eq!(status, 200);
    assert!(
        html.contains("issue number"),
        "the second page lists an issue"
    );
}

#[test]
fn searches_beyond_400_characters_or_50_terms_are_refused_naming_the_limit() {
    let server = Devserver::start();
    server.send_event(&json!({"message": "needle in a haystack"}));
    server.wait_for_total(1);
    let search = |query: &str| {
        let encoded: String = query
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        get_status(&server, &format!("{PROJECT_ISSUES}?query={encoded}"), None)
    };

    // A thousand terms: SQLite's "expression tree is too large" before.
    let (status, body) = search(&"a ".repeat(1000));
    assert_eq!(status, 400, "{body}");
    assert!(detail(&body).contains("400 characters"), "{body}");
    // Short terms, but too many of them.
    let (status, body) = search(&"a ".repeat(51));
    assert_eq!(status, 400, "{body}");
    assert!(detail(&body).contains("50 terms"), "{body}");
    let (status, body) = search(&format!("needle{}", " a".repeat(49)));
    assert_eq!(status, 200, "{body}");
    // Characters, not bytes: 400 two-byte letters fit.
    let (status, body) = search(&"é".repeat(400));
    assert_eq!(status, 200, "{body}");
    let (status, body) = search(&format!("needle {}", "x".repeat(393)));
    assert_eq!(status, 200, "exactly 400 characters: {body}");
    let (status, body) = search(&format!("needle {}", "x".repeat(394)));
    assert_eq!(status, 400, "401 characters: {body}");

    // The dashboard's search box says the same.
    let cookie = sign_in(&server, &server.url);
    let (status, html) = get_status(
        &server,
        &format!(
            "/organizations/faultline/issues/?query={}",
            "a+".repeat(1000)
        ),
        Some(&cookie),
    );
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("400 characters"), "{html}");
}

#[test]
fn key_names_past_64_characters_and_unknown_platforms_are_refused() {
    let server = Devserver::start();
    let keys = "/api/0/projects/faultline/default/keys/";
    let key_path = format!("{keys}{}/", server.public_key);

    // Renaming is held to the same 64 characters as creating.
    let (status, body) = server.send_json("PUT", &key_path, json!({"name": "k".repeat(65)}));
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("64"), "{body}");
    let (status, body) = server.send_json("POST", keys, json!({"name": "k".repeat(65)}));
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("64"), "{body}");
    // Characters, not bytes.
    let long = "é".repeat(64);
    let (status, body) = server.send_json("PUT", &key_path, json!({"name": long}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], long.as_str());

    // Platforms come from the known list.
    let projects = "/api/0/teams/faultline/faultline/projects/";
    let (status, body) = server.send_json(
        "POST",
        projects,
        json!({"name": "Web", "platform": "<img src=x onerror=alert(1)>"}),
    );
    assert_eq!(status, 400, "{body}");
    let said = body["detail"].as_str().unwrap();
    assert!(
        said.contains("platform") && said.contains("python"),
        "{body}"
    );
    let (status, body) = server.send_json(
        "POST",
        projects,
        json!({"name": "Web", "platform": "javascript"}),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["platform"], "javascript");
    let (status, body) = server.send_json("POST", projects, json!({"name": "Plain"}));
    assert_eq!(status, 201, "no platform is fine: {body}");

    // The dashboard's forms keep the same rules.
    let cookie = sign_in(&server, &server.url);
    let settings = "/settings/faultline/projects/default/";
    let token = csrf_token(&page(&server, &cookie, settings));
    let before = server.get("/api/0/projects/faultline/default/").1;
    let post = |path: &str, form: &str| {
        post_form(
            &server,
            path,
            &cookie,
            Some(&server.url),
            &format!("csrf_token={token}&{form}"),
        )
    };
    let (status, html) = post(settings, "action=update&name=Renamed&platform=cobol");
    assert_eq!(status, 400, "{html}");
    assert!(
        html.contains("python"),
        "the page lists the platforms: {html}"
    );
    let (status, html) = post(
        settings,
        &format!("action=update&name={}&platform=python", "n".repeat(65)),
    );
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("64"), "{html}");
    let (status, html) = post(
        settings,
        &format!("action=create_key&name={}", "k".repeat(65)),
    );
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("64"), "{html}");
    let (status, html) = post(
        "/organizations/faultline/projects/",
        "name=Mobile&platform=cobol",
    );
    assert_eq!(status, 400, "{html}");
    let after = server.get("/api/0/projects/faultline/default/").1;
    assert_eq!(after["name"], before["name"]);
    assert_eq!(after["platform"], before["platform"]);
    let (_, keys_now) = server.get(keys);
    assert_eq!(keys_now.as_array().unwrap().len(), 1, "no key was added");
    let (_, all) = server.get("/api/0/organizations/faultline/projects/");
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .all(|p| p["name"] != "Mobile"),
        "{all}"
    );
    let (status, _) = post(settings, "action=update&name=Renamed&platform=rust");
    assert_eq!(status, 303);
    let after = server.get("/api/0/projects/faultline/default/").1;
    assert_eq!(after["platform"], "rust");
}

/// Every file directly in `dir` but the harness's own log, with its mode.
fn modes(dir: &Path) -> Vec<(String, u32)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            (entry.file_name().to_string_lossy().into_owned(), mode)
        })
        // Written by this test process, not by Faultline.
        .filter(|(name, _)| name != "devserver.log")
        .collect()
}

fn assert_private(dir: &Path, expected: &[&str]) {
    let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{} is mode {mode:o}", dir.display());
    let files = modes(dir);
    for name in expected {
        assert!(
            files.iter().any(|(n, _)| n == name),
            "{name} is in {}: {files:?}",
            dir.display()
        );
    }
    for (name, mode) in &files {
        assert_eq!(mode & 0o077, 0, "{name} is mode {mode:o}");
    }
}

#[test]
fn the_data_directory_and_every_file_in_it_are_private() {
    let mut server = Devserver::start();
    server.send_event(&json!({"message": "secret stuff"}));
    server.wait_for_total(1);
    // While it runs, SQLite's WAL and shared-memory files exist beside each
    // store: they hold the same data (keys, password hashes, events).
    let running = [
        "config.yml",
        "meta.sqlite",
        "meta.sqlite-wal",
        "meta.sqlite-shm",
        "events.sqlite",
        "events.sqlite-wal",
        "events.sqlite-shm",
        "queue.sqlite",
        "queue.sqlite-wal",
        "queue.sqlite-shm",
    ];
    assert_private(server.dir.path(), &running);

    // An install made before this fix is tightened when it starts.
    server.stop();
    let dir = server.dir.path().to_owned();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (name, _) in modes(&dir) {
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    server.spawn();
    server.send_event(&json!({"message": "secret stuff"}));
    server.wait_for_total(2);
    assert_private(&dir, &running);

    // A data directory the CLI creates is private from the start.
    let fresh = dir.join("nested/data");
    let (ok, _, stderr) = faultline_cli(&["upgrade", "--noinput"], &fresh);
    assert!(ok, "{stderr}");
    assert_private(&fresh, &["config.yml", "meta.sqlite", "events.sqlite"]);
}

#[test]
#[ignore = "needs PostgreSQL, ClickHouse, Redis, tansu and nginx: run with cargo xtask test"]
fn metrics_and_health_are_not_published_through_the_public_port() {
    let server = Devserver::start_stack();
    for path in [
        "/metrics",
        "/metrics/",
        "/metrics?format=text",
        "/%6Detrics",
        "//metrics",
        "/api/1/store/../../../metrics",
        "/metrics%3F",
        "/metrics;",
        "/health",
        "/health/",
    ] {
        let (status, body) = get_status(&server, path, None);
        assert_eq!(status, 404, "{path} through nginx: {body}");
        assert!(!body.contains("faultline_"), "{path}: {body}");
        assert_eq!(
            detail(&body),
            "The requested resource does not exist",
            "{path}: a JSON 404 like Faultline's own"
        );
    }
    // Prometheus scrapes each service on its own port, which still answers.
    let stack = server.stack.as_ref().unwrap();
    for service in ["web", "relay"] {
        let (status, body) = stack.service_get(service, "/metrics");
        assert_eq!(status, 200, "{service}: {body}");
        assert!(!body.contains("<html"), "{service}: {body}");
        assert_eq!(stack.health(service), 200, "{service}'s /health");
    }
    let (_, relay) = stack.service_get("relay", "/metrics");
    assert!(relay.contains("faultline_relay_"), "{relay}");
    // The rest of the site is unaffected: ingestion and the API.
    server.send_event(&json!({"message": "through nginx"}));
    server.wait_for_total(1);
    let (status, body) = server.get("/api/0/");
    assert_eq!(status, 200, "{body}");
}

#[test]
fn every_event_item_without_an_id_gets_its_own() {
    let server = Devserver::start();
    let auth = server.auth_header();
    // As many items as an envelope may hold, none naming its event id.
    let mut body = b"{}\n".to_vec();
    for n in 0..1000 {
        let payload = json!({"message": "an item without an id", "extra": {"n": n}}).to_string();
        body.extend_from_slice(b"{\"type\":\"event\"}\n");
        body.extend_from_slice(payload.as_bytes());
        body.push(b'\n');
    }
    let (status, reply) =
        server.ingest(&server.envelope_path(), &[("X-Sentry-Auth", &auth)], &body);
    assert_eq!(status, 200, "{reply}");
    assert!(reply["id"].is_string(), "{reply}");
    server.wait_for_total_within(1000, Duration::from_secs(60));

    // The envelope's own id goes to one item; an item naming that id
    // itself keeps it, and the others get new ones.
    let header_id = new_event_id();
    let body = format!(
        "{{\"event_id\":\"{header_id}\"}}\n\
         {{\"type\":\"event\"}}\n{{\"message\":\"first without an id\"}}\n\
         {{\"type\":\"event\"}}\n{{\"message\":\"with the header's id\",\"event_id\":\"{header_id}\"}}\n\
         {{\"type\":\"event\"}}\n{{\"message\":\"second without an id\"}}\n"
    );
    let (status, reply) = server.ingest(
        &server.envelope_path(),
        &[("X-Sentry-Auth", &auth)],
        body.as_bytes(),
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["id"], header_id.as_str());
    server.wait_for_total(1003);
    let event = server.wait_for("the item naming the header's id", |s| s.event(&header_id));
    assert_eq!(event["message"], "with the header's id", "{event}");
}

/// `{"message": …, "extra": {"nest": [[…]]}}` nested `depth` levels deep,
/// counting the event object itself as the first.
fn nested_event(message: &str, depth: usize) -> String {
    let arrays = depth - 2;
    format!(
        "{{\"message\":\"{message}\",\"extra\":{{\"nest\":{}{}}}}}",
        "[".repeat(arrays),
        "]".repeat(arrays)
    )
}

fn raw_envelope(id: &str, item_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"{item_type}\",\"length\":{}}}\n",
        payload.len()
    )
    .into_bytes();
    body.extend_from_slice(payload);
    body.push(b'\n');
    body
}

#[test]
fn events_the_consumer_would_drop_are_refused_with_a_400() {
    let server = Devserver::start();
    let auth = server.auth_header();
    let headers = [("X-Sentry-Auth", auth.as_str())];
    let store = format!("/api/{}/store/", server.project_id);
    let envelope_path = server.envelope_path();

    // (what, endpoint, item type, payload, what the detail must say)
    let deep = nested_event("too deep", 101);
    let very_deep = nested_event("deeper than serde_json's own limit", 200);
    let cases: Vec<(&str, &str, &str, Vec<u8>, &str)> = vec![
        (
            "invalid UTF-8 in a string",
            &envelope_path,
            "event",
            b"{\"message\":\"caf\xe9 cr\xe8me\"}".to_vec(),
            "UTF-8",
        ),
        (
            "invalid UTF-8 in a key",
            &envelope_path,
            "event",
            b"{\"message\":\"x\",\"extra\":{\"\xff\":1}}".to_vec(),
            "UTF-8",
        ),
        (
            "a lone surrogate escape",
            &envelope_path,
            "event",
            br#"{"message":"\ud800"}"#.to_vec(),
            "not valid JSON",
        ),
        (
            "nested one level past the limit",
            &envelope_path,
            "event",
            deep.clone().into_bytes(),
            "100 levels",
        ),
        (
            "nested 200 levels",
            &envelope_path,
            "event",
            very_deep.clone().into_bytes(),
            "100 levels",
        ),
        (
            "a transaction nested past the limit",
            &envelope_path,
            "transaction",
            deep.clone().into_bytes(),
            "100 levels",
        ),
        (
            "invalid UTF-8 through /store/",
            &store,
            "",
            b"{\"message\":\"caf\xe9\"}".to_vec(),
            "UTF-8",
        ),
        (
            "nested past the limit through /store/",
            &store,
            "",
            deep.clone().into_bytes(),
            "100 levels",
        ),
    ];
    let mut accepted = Vec::new();
    for (what, path, item_type, payload, said) in cases {
        let body = if item_type.is_empty() {
            payload
        } else {
            raw_envelope(&new_event_id(), item_type, &payload)
        };
        let (status, reply) = server.ingest(path, &headers, &body);
        assert_eq!(status, 400, "{what}: {reply}");
        let text = reply["detail"].as_str().unwrap_or_default();
        assert!(
            text.contains(said),
            "{what}: the detail says {said}: {reply}"
        );
        accepted.push(server.send_event(&json!({"message": "still alive"})));
    }

    // As deep as the limit allows, and text that is valid UTF-8, are kept.
    let at_limit = new_event_id();
    let (status, reply) = server.ingest(
        &envelope_path,
        &headers,
        &raw_envelope(
            &at_limit,
            "event",
            nested_event("deep but allowed", 100).as_bytes(),
        ),
    );
    assert_eq!(status, 200, "{reply}");
    let (status, reply) = server.ingest(
        &store,
        &headers,
        "{\"message\":\"café crème \\ud83d\\ude00\"}".as_bytes(),
    );
    assert_eq!(status, 200, "{reply}");
    let unicode = reply["id"].as_str().unwrap().to_owned();

    let expected = accepted.len() as u64 + 2;
    server.wait_for_total(expected);
    let event = server.wait_for("the deep event", |s| s.event(&at_limit));
    assert_eq!(event["message"], "deep but allowed", "{event}");
    let mut nest = &event["context"]["nest"];
    let mut levels = 0;
    while let Some(inner) = nest.as_array() {
        levels += 1;
        match inner.first() {
            Some(next) => nest = next,
            None => break,
        }
    }
    assert_eq!(levels, 98, "the nesting is stored whole");
    let event = server.wait_for("the unicode event", |s| s.event(&unicode));
    assert_eq!(event["message"], "café crème 😀");

    // Nothing refused was queued behind the answers.
    for id in &accepted {
        assert!(server.event(id).is_some(), "{id} was kept");
    }
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(total_count(&server.issues("")), expected);
}

#[test]
fn line_numbers_at_the_end_of_u64_are_shown_not_overflowed() {
    let server = Devserver::start();
    let frame = json!({
        "filename": "app.py", "function": "edge", "in_app": true,
        "lineno": u64::MAX, "context_line": "raise Edge()",
        "pre_context": ["before"], "post_context": ["after", "later"],
    });
    let id = server.send_event(
        &json!({"exception": {"values": [{"type": "Edge", "value": "of u64",
            "stacktrace": {"frames": [frame]}}]}}),
    );
    let issue = server.wait_for_total(1)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let event = server.wait_for("the event", |s| s.event(&id));
    let context = &event["entries"][0]["data"]["values"][0]["stacktrace"]["frames"][0]["context"];
    assert_eq!(
        context,
        &json!([
            [u64::MAX - 1, "before"],
            [u64::MAX, "raise Edge()"],
            [u64::MAX, "after"],
            [u64::MAX, "later"]
        ]),
        "{event}"
    );
    let (status, _) = get_status(
        &server,
        &format!("/api/0/issues/{issue}/events/latest/"),
        None,
    );
    assert_eq!(status, 200);
    let cookie = sign_in(&server, &server.url);
    let (status, html) = get_status(
        &server,
        &format!("/organizations/faultline/issues/{issue}/"),
        Some(&cookie),
    );
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("raise Edge()"), "the frame's source is shown");
}

/// Where a key's `dsn` entry sends events: a DSN's envelope endpoint with
/// its key (and secret), or a URL's own path on this server.
fn advertised_endpoint(server: &Devserver, name: &str, value: &str) -> (String, String) {
    let (_, rest) = value.split_once("://").expect("a URL or DSN");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.split_once('@') {
        Some((key, host)) => {
            assert_eq!(host, server.url.split_once("://").unwrap().1, "{name}");
            let auth = match key.split_once(':') {
                Some((public, secret)) => {
                    format!("Sentry sentry_key={public}, sentry_secret={secret}, sentry_version=7")
                }
                None => format!("Sentry sentry_key={key}, sentry_version=7"),
            };
            (format!("/api{path}/envelope/"), auth)
        }
        None => {
            assert_eq!(authority, server.url.split_once("://").unwrap().1, "{name}");
            (path.to_owned(), String::new())
        }
    }
}

/// A key's JSON advertises only what relay serves (issue 10: `minidump`,
/// `security` and `csp` answered 404); what it does not serve is null.
#[test]
fn every_endpoint_a_key_advertises_answers() {
    let server = Devserver::start();
    let (status, keys) = server.get("/api/0/projects/faultline/default/keys/");
    assert_eq!(status, 200, "{keys}");
    let dsn = keys[0]["dsn"].as_object().expect("a dsn object");
    // What Sentry's clients (sentry-cli among them) read.
    assert!(
        dsn["public"].is_string() && dsn["secret"].is_string(),
        "{dsn:?}"
    );
    for missing in ["minidump", "security", "csp"] {
        assert!(dsn[missing].is_null(), "{missing} is not served: {dsn:?}");
    }
    for (name, value) in dsn {
        let Some(value) = value.as_str() else {
            assert!(value.is_null(), "{name}: {value}");
            continue;
        };
        let (path, auth) = advertised_endpoint(&server, name, value);
        let mut headers = vec![("Content-Type", "application/x-sentry-envelope")];
        if !auth.is_empty() {
            headers.push(("X-Sentry-Auth", &auth));
        }
        let event = crate::harness::envelope(&new_event_id(), &json!({"message": name}));
        let response = server.request("POST", &path, &headers, &event);
        assert_ne!(
            response.status,
            404,
            "{name} ({value}): {}",
            response.snippet()
        );
        assert_eq!(
            response.status,
            200,
            "{name} ({value}): {}",
            response.snippet()
        );
    }
}

/// `X-Hits` is how many issues match, as Sentry's, not the page's length
/// (issue 10), with Sentry's `X-Max-Hits` beside it.
#[test]
fn x_hits_counts_every_matching_issue_across_pages() {
    let server = Devserver::start();
    for n in 0..5 {
        server.send_event(&json!({"message": format!("hit number {n}")}));
    }
    server.wait_for_total(5);
    let auth = format!("Bearer {}", server.token);
    let hits = |path: &str| {
        let response = server.request("GET", path, &[("Authorization", &auth)], b"");
        assert_eq!(response.status, 200, "{path}: {}", response.snippet());
        let shown = serde_json::from_slice::<Value>(&response.body)
            .unwrap()
            .as_array()
            .map(Vec::len)
            .unwrap();
        assert_eq!(response.header("x-max-hits"), Some("1000"), "{path}");
        (shown, response.header("x-hits").map(str::to_owned))
    };
    for (cursor, shown) in [("", 2), ("0:2:0", 2), ("0:4:0", 1), ("0:9:0", 0)] {
        for list in [PROJECT_ISSUES, ORG_ISSUES] {
            let path = format!("{list}?limit=2&cursor={cursor}");
            assert_eq!(hits(&path), (shown, Some("5".into())), "{path}");
        }
    }
    // A search counts what it matches.
    let path = format!("{PROJECT_ISSUES}?limit=2&query=%22number+3%22");
    assert_eq!(hits(&path), (1, Some("1".into())));
}
