//! The ingestion contract under hostile and unlucky conditions: bad input,
//! wrong keys, redelivery, and a crash right after accepting.

use serde_json::{Value, json};

use crate::harness::*;

fn auth(server: &Devserver) -> String {
    server.auth_header()
}

/// Titles the capture scenarios (tests/fixtures/capture) give their events.
const CHAINED_TITLE: &str = "OrderError: could not price order 1234";
const CLI_TITLE: &str = "backup of orders-db finished late";

fn captured_sdk_payloads_are_accepted_and_idempotent(server: Devserver) {
    // The same captured envelope twice: one event, counted once.
    let python = fixture(PYTHON_SDK, "exception");
    let python_id = python.event_id().expect("the capture names its event");
    assert!(
        python_id.len() == 32 && python_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{python_id}"
    );
    for _ in 0..2 {
        let (status, body) = server.replay(&python);
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["id"], python_id.as_str());
    }
    // Brotli, Node (auth in the query, no content type) and sentry-cli,
    // each replayed with the headers its SDK sent.
    let brotli = fixture(PYTHON_SDK, "message_brotli");
    assert_eq!(brotli.header("Content-Encoding"), Some("br"));
    let node = fixture(NODE_SDK, "exception");
    assert!(node.query.contains("sentry_key=") && node.header("X-Sentry-Auth").is_none());
    assert!(node.header("Content-Type").is_none());
    let cli = fixture(SENTRY_CLI, "send_event_full");
    for (what, capture) in [("brotli", &brotli), ("node", &node), ("sentry-cli", &cli)] {
        let (status, body) = server.replay(capture);
        assert_eq!(status, 200, "{what}: {body}");
    }
    // Items that later issues consume are accepted and queued, not refused.
    for (sdk, name) in [
        (PYTHON_SDK, "transaction"),
        (PYTHON_SDK, "session-2"),
        (PYTHON_SDK, "checkin"),
        (PYTHON_SDK, "attachment"),
        (NODE_SDK, "transaction"),
        (NODE_SDK, "feedback"),
    ] {
        let (status, body) = server.replay(&fixture(sdk, name));
        assert_eq!(status, 200, "{sdk}/{name}: {body}");
    }
    // exception + message + node exception + cli message + attachment's event
    let issues = server.wait_for_total(5);
    let orders = by_title(&issues, CHAINED_TITLE);
    assert_eq!(
        orders.len(),
        2,
        "python and node chains are different code paths: {issues:#?}"
    );
    assert!(
        orders.iter().all(|i| count(i) == 1),
        "redelivery counted once: {issues:#?}"
    );
    // sentry-cli's custom fingerprint and template.
    let cli = by_title(&issues, CLI_TITLE);
    assert_eq!(cli.len(), 1, "{issues:#?}");
    assert_eq!(cli[0]["level"], "warning");
}

fn store_endpoint_and_tunnelled_envelopes(server: Devserver) {
    let id = new_event_id();
    let event =
        json!({"event_id": id, "message": "via store", "level": "info", "platform": "python"});
    let store = format!("/api/{}/store/", server.project_id);
    let (status, body) = server.ingest(
        &store,
        &[
            ("X-Sentry-Auth", &auth(&server)),
            ("Content-Type", "application/json"),
        ],
        event.to_string().as_bytes(),
    );
    assert_eq!((status, body["id"].as_str()), (200, Some(id.as_str())));

    // A tunnel forwards the envelope as-is: the DSN is in its header.
    let tunnelled_id = new_event_id();
    let payload = json!({"message": "via tunnel"}).to_string();
    let body = format!(
        "{{\"event_id\":\"{tunnelled_id}\",\"dsn\":\"{}\"}}\n{{\"type\":\"event\"}}\n{payload}\n",
        server.dsn
    );
    let (status, _) = server.ingest(&server.envelope_path(), &[], body.as_bytes());
    assert_eq!(status, 200);

    // CORS for browser SDKs: the preflight, and the answer to the POST.
    let cors = |resp: &ureq::http::Response<ureq::Body>, name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let preflight = ureq::options(format!("{}{}", server.url, server.envelope_path()))
        .header("Origin", "https://shop.example.com")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type")
        .call()
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 200);
    assert_eq!(
        cors(&preflight, "access-control-allow-origin"),
        "https://shop.example.com"
    );
    assert!(cors(&preflight, "access-control-allow-methods").contains("POST"));
    assert!(cors(&preflight, "access-control-allow-headers").contains("content-type"));
    let browser_id = new_event_id();
    let post = ureq::post(format!(
        "{}{}?sentry_key={}",
        server.url,
        server.envelope_path(),
        server.public_key
    ))
    .header("Origin", "https://shop.example.com")
    .header("Content-Type", "text/plain;charset=UTF-8")
    .send(
        &envelope(
            &browser_id,
            &json!({"message": "from a browser", "platform": "javascript"}),
        )[..],
    )
    .unwrap();
    assert_eq!(post.status().as_u16(), 200);
    assert_eq!(
        cors(&post, "access-control-allow-origin"),
        "https://shop.example.com"
    );

    let issues = server.wait_for_total(3);
    assert_eq!(issues.len(), 3);
    assert_eq!(
        server.wait_for("event", |s| s.event(&tunnelled_id))["message"],
        "via tunnel"
    );
}

fn bad_input_gets_the_right_status_and_loses_nothing_accepted(server: Devserver) {
    let path = server.envelope_path();
    let auth = auth(&server);
    let good = |server: &Devserver| {
        let id = new_event_id();
        let (status, body) = server.ingest(
            &path,
            &[("X-Sentry-Auth", &auth)],
            &envelope(&id, &json!({"message": "still alive", "level": "error"})),
        );
        assert_eq!(status, 200, "{body}");
        id
    };
    let mut accepted = vec![good(&server)];
    let with_auth = [("X-Sentry-Auth", auth.as_str())];
    let gz = [
        ("X-Sentry-Auth", auth.as_str()),
        ("Content-Encoding", "gzip"),
    ];
    let valid = envelope(&new_event_id(), &json!({"message": "x"}));

    // (what, request headers, body, expected status)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u16);
    let cases: Vec<Case> = vec![
        (
            "garbage",
            with_auth.to_vec(),
            b"\x00\x01garbage\xff".to_vec(),
            400,
        ),
        (
            "event that is not JSON",
            with_auth.to_vec(),
            b"{}\n{\"type\":\"event\"}\nnot json\n".to_vec(),
            400,
        ),
        (
            "event that is a JSON array",
            with_auth.to_vec(),
            b"{}\n{\"type\":\"event\"}\n[1,2]\n".to_vec(),
            400,
        ),
        (
            "length past the end",
            with_auth.to_vec(),
            b"{}\n{\"type\":\"event\",\"length\":999}\n{}\n".to_vec(),
            400,
        ),
        (
            "truncated gzip",
            gz.to_vec(),
            {
                let z = gzip(&valid);
                z[..z.len() / 2].to_vec()
            },
            400,
        ),
        (
            "gzip bomb",
            gz.to_vec(),
            gzip(&vec![b'{'; 200 * 1024 * 1024]),
            413,
        ),
        (
            "oversized event",
            with_auth.to_vec(),
            envelope(
                &new_event_id(),
                &json!({"message": "x".repeat(1100 * 1024)}),
            ),
            413,
        ),
        (
            "oversized body",
            with_auth.to_vec(),
            vec![b' '; 21 * 1024 * 1024],
            413,
        ),
        (
            "unknown encoding",
            vec![
                ("X-Sentry-Auth", auth.as_str()),
                ("Content-Encoding", "compress"),
            ],
            valid.clone(),
            415,
        ),
        ("no auth", vec![], valid.clone(), 401),
        (
            "unknown key",
            vec![(
                "X-Sentry-Auth",
                "Sentry sentry_key=0123456789abcdef0123456789abcdef, sentry_version=7",
            )],
            valid.clone(),
            401,
        ),
        (
            "malformed auth",
            vec![("X-Sentry-Auth", "Sentry nonsense")],
            valid.clone(),
            401,
        ),
    ];
    for (name, headers, body, expected) in cases {
        let (status, reply) = server.ingest(&path, &headers, &body);
        assert_eq!(status, expected, "{name}: {reply}");
        assert!(
            reply["detail"].is_string(),
            "{name}: errors are JSON with a detail: {reply}"
        );
        accepted.push(good(&server));
    }
    let (status, _) = server.ingest("/api/not-a-number/envelope/", &with_auth, &valid);
    assert_eq!(status, 400);

    // Unknown item types are skipped; the event beside them is kept.
    let id = new_event_id();
    let mixed = format!(
        "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"telepathy\"}}\n{{}}\n{{\"type\":\"event\"}}\n{}\n",
        json!({"message": "next to an unknown item"})
    );
    assert_eq!(server.ingest(&path, &with_auth, mixed.as_bytes()).0, 200);
    accepted.push(id);

    // Still healthy after all that. On the stack /health is asked on
    // relay's own port: nginx does not publish it.
    let status = match &server.stack {
        Some(stack) => stack.health("relay"),
        None => server.get("/health").0,
    };
    assert_eq!(status, 200);
    let issues = server.wait_for_total(accepted.len() as u64);
    assert_eq!(issues.len(), 2);
    for id in &accepted {
        assert!(
            server
                .wait_for("accepted event", |s| s.event(id))
                .is_object()
        );
    }
}

fn a_key_only_writes_to_its_own_project(server: Devserver) {
    let (status, project) = server.send_json(
        "POST",
        "/api/0/teams/faultline/faultline/projects/",
        json!({"name": "Checkout API", "platform": "python"}),
    );
    assert_eq!(status, 201, "{project}");
    assert_eq!(project["slug"], "checkout-api");
    let other_id = project["id"].as_str().unwrap().to_owned();
    assert_eq!(project["team"]["slug"], "faultline");
    let (status, _) = server.send_json(
        "POST",
        "/api/0/teams/faultline/no-such-team/projects/",
        json!({"name": "Orphan"}),
    );
    assert_eq!(status, 404);
    let (status, team) = server.send_json(
        "POST",
        "/api/0/organizations/faultline/teams/",
        json!({"name": "Mobile Apps"}),
    );
    assert_eq!((status, team["slug"].as_str()), (201, Some("mobile-apps")));
    let (_, teams) = server.get("/api/0/organizations/faultline/teams/");
    let faultline_team = teams
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["slug"] == "faultline")
        .unwrap();
    let slugs: Vec<&str> = faultline_team["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, vec!["checkout-api", "default"]);
    assert_eq!(
        server.get("/api/0/teams/faultline/mobile-apps/projects/").1,
        json!([])
    );
    let (status, keys) = server.get("/api/0/projects/faultline/checkout-api/keys/");
    assert_eq!(status, 200);
    let other_key = keys[0]["public"].as_str().unwrap().to_owned();
    assert!(
        keys[0]["dsn"]["public"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{other_id}"))
    );

    let event = |msg: &str| envelope(&new_event_id(), &json!({"message": msg}));
    // Project A's key aimed at project B.
    let (status, body) = server.ingest(
        &format!("/api/{other_id}/envelope/"),
        &[("X-Sentry-Auth", &server.auth_header())],
        &event("A into B"),
    );
    assert_eq!(status, 403, "{body}");
    // B's own key works, and its issue is not in A.
    let b_auth = format!("Sentry sentry_key={other_key}, sentry_version=7");
    assert_eq!(
        server
            .ingest(
                &format!("/api/{other_id}/envelope/"),
                &[("X-Sentry-Auth", &b_auth)],
                &event("B event")
            )
            .0,
        200
    );
    let b_issues = server.wait_for("B's issue", |s| {
        let (_, list) = s.get("/api/0/projects/faultline/checkout-api/issues/");
        (list.as_array().map_or(0, Vec::len) == 1).then_some(list)
    });
    assert_eq!(b_issues[0]["title"], "B event");
    assert!(server.issues("").is_empty());
    let (_, org_issues) = server.get(&format!(
        "/api/0/organizations/faultline/issues/?project={other_id}&query="
    ));
    assert_eq!(org_issues.as_array().unwrap().len(), 1);

    // Without a token, nothing; with a bogus one, 401.
    let (status, _) = server.get_unauthenticated("/api/0/organizations/");
    assert_eq!(status, 401);
    let (status, orgs) = server.get("/api/0/organizations/");
    assert_eq!(status, 200);
    assert_eq!(orgs[0]["slug"], "faultline");
}

#[test]
fn accepted_events_survive_kill_9() {
    let mut server = Devserver::start();
    let path = server.envelope_path();
    let auth = server.auth_header();
    let mut accepted = Vec::new();
    for i in 0..200 {
        let id = new_event_id();
        let (status, body) = server.ingest(
            &path,
            &[("X-Sentry-Auth", &auth)],
            &envelope(&id, &json!({"message": format!("crash test {}", i % 3)})),
        );
        assert_eq!(status, 200, "{body}");
        accepted.push(id);
    }
    server.kill9();
    server.spawn();
    let issues = server.wait_for_total(accepted.len() as u64);
    assert_eq!(issues.len(), 3);
    for id in &accepted {
        let event: Value = server.wait_for("every accepted event", |s| s.event(id));
        assert_eq!(event["eventID"], id.as_str());
    }
}

fn disabled_keys_are_refused_and_rate_limits_answer_429(server: Devserver) {
    let path = server.envelope_path();
    let auth = server.auth_header();
    let key_url = format!(
        "/api/0/projects/faultline/default/keys/{}/",
        server.public_key
    );
    let send = || {
        server.ingest(
            &path,
            &[("X-Sentry-Auth", &auth)],
            &envelope(&new_event_id(), &json!({"message": "limited"})),
        )
    };

    let (status, key) = server.send_json(
        "PUT",
        &key_url,
        json!({"rateLimit": {"count": 2, "window": 60}}),
    );
    assert_eq!(status, 200, "{key}");
    assert_eq!(key["rateLimit"], json!({"count": 2, "window": 60}));
    // The relay caches keys for two seconds.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(send().0, 200);
    assert_eq!(send().0, 200);
    let mut req = ureq::post(format!("{}{path}", server.url))
        .config()
        .http_status_as_error(false)
        .build();
    req = req.header("X-Sentry-Auth", &auth);
    let resp = req
        .send(&envelope(&new_event_id(), &json!({"message": "limited"}))[..])
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let retry_after: u64 = resp
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert!(
        resp.headers()
            .get("x-sentry-rate-limits")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(&format!("{retry_after}:"))
    );

    let (status, key) = server.send_json(
        "PUT",
        &key_url,
        json!({"isActive": false, "rateLimit": null}),
    );
    assert_eq!(status, 200, "{key}");
    assert_eq!(
        (key["isActive"].as_bool(), key["rateLimit"].is_null()),
        (Some(false), true)
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (status, body) = send();
    assert_eq!(status, 403, "{body}");

    server.send_json("PUT", &key_url, json!({"isActive": true}));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(send().0, 200);
    assert_eq!(total_count(&server.wait_for_total(3)), 3);
}

crate::on_devserver_and_stack!(
    captured_sdk_payloads_are_accepted_and_idempotent,
    store_endpoint_and_tunnelled_envelopes,
    bad_input_gets_the_right_status_and_loses_nothing_accepted,
    a_key_only_writes_to_its_own_project,
    disabled_keys_are_refused_and_rate_limits_answer_429,
    debug_meta_images_reach_the_event,
);

/// The SDK's `debug_meta` images (what `sentry-cli sourcemaps inject` puts
/// in browser and Node events: each bundle's debug id) are kept on the way
/// in and shown as Sentry's `debugmeta` entry, for symbolication.
fn debug_meta_images_reach_the_event(server: Devserver) {
    let debug_id = "c941d872-b1a4-4b16-8f6b-1b7ac5f3c0a1";
    let id = server.send_event(&json!({
        "platform": "node",
        "exception": {"values": [{"type": "TypeError", "value": "o is not a function",
            "stacktrace": {"frames": [{"abs_path": "app:///dist/app.min.js", "filename": "app:///dist/app.min.js", "function": "r", "lineno": 1, "colno": 278}]}}]},
        "debug_meta": {"images": [
            {"type": "sourcemap", "code_file": "app:///dist/app.min.js", "debug_id": debug_id},
            {"no": "type"}
        ]}
    }));
    let event = server.wait_for("the event", |s| s.event(&id));
    let entries = event["entries"].as_array().unwrap();
    let debugmeta = entries
        .iter()
        .find(|e| e["type"] == "debugmeta")
        .unwrap_or_else(|| panic!("no debugmeta entry in {event}"));
    assert_eq!(
        debugmeta["data"]["images"],
        json!([{"type": "sourcemap", "code_file": "app:///dist/app.min.js", "debug_id": debug_id}])
    );
}
