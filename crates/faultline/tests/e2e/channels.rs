//! Chat and webhook channels end to end: project plugins set up through
//! Sentry's plugin API, then a real `sentry-sdk` error makes the
//! devserver's notifier post to an HTTP receiver on 127.0.0.1
//! (tests/webhooks/receiver.py) that checks each service's documented
//! payload shape and DingTalk's and Feishu's signatures, and answers as
//! the service does. Also: "send test", a target that fails and is retried,
//! a redirect to another host that is not followed, and loopback targets
//! refused unless `notifications.allow-private-targets` is set.

use std::process::{Child, Command};

use serde_json::{Value, json};

use crate::harness::*;

const DINGTALK_SECRET: &str = "SEC0123456789abcdef";
const FEISHU_SECRET: &str = "feishu-secret-42";
const PLUGINS: &str = "/api/0/projects/faultline/default/plugins/";
const RULES: &str = "/api/0/projects/faultline/default/rules/";

/// The receiver, killed when dropped.
struct Receiver {
    port: u16,
    child: Child,
}

impl Receiver {
    fn start() -> Self {
        let port = free_port();
        let child = spawn_ready(
            Command::new(test_python())
                .arg(workspace_root().join("tests/webhooks/receiver.py"))
                .args(["--port", &port.to_string()])
                .args(["--dingtalk-secret", DINGTALK_SECRET])
                .args(["--feishu-secret", FEISHU_SECRET]),
            "the webhook receiver",
        );
        Receiver { port, child }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self) -> Vec<Value> {
        let body: Value = ureq::get(self.url("/_requests"))
            .call()
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap();
        body.as_array().unwrap().clone()
    }

    fn of(&self, service: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r["service"] == service)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(allow_private: bool) -> Devserver {
    Devserver::start_with_env(&[
        // The default rule's email is dropped, not failed for want of a
        // server.
        ("FAULTLINE_MAIL_BACKEND", "dummy"),
        (
            "FAULTLINE_NOTIFICATIONS_ALLOW_PRIVATE_TARGETS",
            if allow_private { "true" } else { "false" },
        ),
    ])
}

/// Saves `config` for `slug` and enables it, as the dashboard does.
fn set_up(server: &Devserver, slug: &str, config: Value) {
    let path = format!("{PLUGINS}{slug}/");
    let (status, body) = server.send_json("PUT", &path, config);
    assert_eq!(status, 200, "{slug}: {body}");
    let (status, _) = server.send_json("POST", &path, json!({}));
    assert_eq!(status, 201, "{slug} enabled");
}

fn set_up_all(server: &Devserver, receiver: &Receiver) {
    set_up(
        server,
        "webhooks",
        json!({"urls": format!("{}\n{}", receiver.url("/webhooks/one"), receiver.url("/webhooks/two"))}),
    );
    set_up(
        server,
        "slack",
        json!({"webhook": receiver.url("/slack/services/T0/B0/x")}),
    );
    set_up(
        server,
        "discord",
        json!({"webhook": receiver.url("/discord/api/webhooks/1/t")}),
    );
    set_up(
        server,
        "msteams",
        json!({"webhook": receiver.url("/msteams/workflows/abc/triggers/manual/paths/invoke")}),
    );
    set_up(
        server,
        "dingtalk",
        json!({"webhook": receiver.url("/dingtalk/robot/send?access_token=tok"), "secret": DINGTALK_SECRET}),
    );
    set_up(
        server,
        "feishu",
        json!({"webhook": receiver.url("/feishu/open-apis/bot/v2/hook/abc"), "secret": FEISHU_SECRET}),
    );
    set_up(
        server,
        "wecom",
        json!({"webhook": receiver.url("/wecom/cgi-bin/webhook/send?key=k")}),
    );
}

/// The whole message a service received, as one string to search.
fn said(request: &Value) -> String {
    let body = request["body"].to_string();
    // JSON escapes `/` never but `"` and `\` yes; markdown channels
    // backslash-escape punctuation: undo both for searching.
    body.replace("\\\\", "").replace("\\\"", "\"")
}

#[test]
#[ignore = "needs the Python sentry-sdk: run with cargo xtask test"]
fn an_sdk_error_reaches_every_channel_signed_and_in_its_shape() {
    let receiver = Receiver::start();
    let server = start(true);
    set_up_all(&server, &receiver);
    let (status, body) = server.send_json(
        "POST",
        RULES,
        json!({
            "name": "Tell the chat rooms",
            "actionMatch": "all",
            "conditions": [{"id": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"}],
            "actions": [{"id": "sentry.rules.actions.notify_event.NotifyEventAction"}],
        }),
    );
    assert_eq!(status, 200, "{body}");
    let rule = body["id"].as_str().unwrap().to_owned();

    python_sdk(
        &server.dsn,
        &[
            "exception",
            "--release",
            "shop@1.0",
            "--environment",
            "production",
        ],
    );
    let issue = server.wait_for_total(1)[0].clone();
    let requests = server.wait_for("a request per channel and webhook URL", |_| {
        let r = receiver.requests();
        (r.len() >= 8).then_some(r)
    });
    let id = issue["id"].as_str().unwrap();
    let link = format!(
        "{}/organizations/faultline/issues/{id}/?referrer=alert",
        server.url
    );
    let culprit = issue["culprit"].as_str().unwrap();
    for request in &requests {
        let service = request["service"].as_str().unwrap();
        assert_eq!(request["ok"], true, "{service}: {}", request["problem"]);
        assert_eq!(request["headers"]["content-type"], "application/json");
        let text = said(request);
        for expected in [
            "ZeroDivisionError: division by zero",
            culprit,
            "error",
            "Default",
            &link,
        ] {
            assert!(
                text.contains(expected),
                "{service}: {expected:?} missing from {text}"
            );
        }
        if service != "webhooks" {
            assert!(
                text.contains("**Events:** 1")
                    || text.contains("Events: 1")
                    || text.contains("\"Events\""),
                "{service}: no count in {text}"
            );
        }
    }
    // DingTalk was signed in the query, Feishu in the body (checked by the
    // receiver; here only that they were there).
    let dingtalk = &receiver.of("dingtalk")[0];
    assert!(dingtalk["query"]["sign"].is_string() && dingtalk["query"]["timestamp"].is_string());
    let feishu = &receiver.of("feishu")[0];
    assert!(feishu["body"]["sign"].is_string());
    // The legacy webhook went to both URLs, with Sentry's keys and the event.
    let hooks = receiver.of("webhooks");
    assert_eq!(hooks.len(), 2);
    let hook = &hooks[0]["body"];
    assert_eq!(hook["id"], id);
    assert_eq!(hook["project"], "default");
    assert_eq!(hook["project_slug"], "default");
    assert_eq!(hook["level"], "error");
    assert_eq!(hook["url"], link);
    assert_eq!(hook["triggering_rules"], json!(["Tell the chat rooms"]));
    assert_eq!(hook["event"]["release"], "shop@1.0");
    assert_eq!(hook["event"]["event_id"], hook["event"]["id"]);
    assert!(hook["event"]["tags"].is_array());

    // The rule's history shows every delivery as sent.
    let (_, history) = server.get(&format!("{RULES}{rule}/group-history/"));
    let deliveries = server.wait_for("every delivery recorded as sent", |s| {
        let (_, history) = s.get(&format!("{RULES}{rule}/group-history/"));
        let deliveries = history[0]["deliveries"].as_array()?.clone();
        deliveries
            .iter()
            .all(|d| d["status"] == "sent")
            .then_some(deliveries)
    });
    assert_eq!(deliveries.len(), 8, "{history}");

    // A second event of the issue sends nothing more.
    python_sdk(&server.dsn, &["exception", "--release", "shop@1.0"]);
    server.wait_for_total(2);
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(receiver.requests().len(), 8);
}

#[test]
#[ignore = "needs the Python test tools: run with cargo xtask test"]
fn plugin_settings_are_checked_and_send_test_reports_the_answer() {
    let receiver = Receiver::start();
    let server = start(true);

    // All seven listed, disabled and unconfigured.
    let (status, list) = server.get(PLUGINS);
    assert_eq!(status, 200);
    let slugs: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap())
        .collect();
    assert_eq!(
        slugs,
        [
            "webhooks", "slack", "discord", "msteams", "dingtalk", "feishu", "wecom"
        ]
    );
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|p| p["enabled"] == false)
    );

    // Bad settings are refused by field, in Sentry's shape.
    let (status, body) = server.send_json(
        "PUT",
        &format!("{PLUGINS}webhooks/"),
        json!({"urls": "ftp://x.example/"}),
    );
    assert_eq!(
        (status, body),
        (400, json!({"errors": {"urls": "Not a valid URL."}}))
    );
    let (status, body) = server.send_json("PUT", &format!("{PLUGINS}slack/"), json!({}));
    assert_eq!(
        (status, body),
        (
            400,
            json!({"errors": {"webhook": "This field is required."}})
        )
    );
    assert_eq!(server.get(&format!("{PLUGINS}nope/")).0, 404);

    // A secret is saved but never shown; saving again without it keeps it.
    let dingtalk = format!("{PLUGINS}dingtalk/");
    let webhook = receiver.url("/dingtalk/robot/send?access_token=tok");
    let (status, body) = server.send_json(
        "PUT",
        &dingtalk,
        json!({"webhook": webhook, "secret": DINGTALK_SECRET}),
    );
    assert_eq!(status, 200, "{body}");
    assert!(!body.to_string().contains(DINGTALK_SECRET));
    let secret = body["config"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "secret")
        .unwrap()
        .clone();
    assert_eq!(
        (
            secret["type"].clone(),
            secret["hasSavedValue"].clone(),
            secret["value"].clone()
        ),
        (json!("secret"), json!(true), Value::Null)
    );
    let (status, _) = server.send_json("PUT", &dingtalk, json!({"webhook": webhook, "secret": ""}));
    assert_eq!(status, 200);

    // Send test: signed with the kept secret, it gets through.
    let (status, body) = server.send_json("POST", &dingtalk, json!({"test": true}));
    assert_eq!(
        (status, body),
        (200, json!({"detail": "No errors returned"}))
    );
    let sent = receiver.of("dingtalk");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["ok"], true, "{}", sent[0]["problem"]);
    assert!(said(&sent[0]).contains("This is an example notification from Faultline"));

    // A wrong secret: DingTalk's own refusal is reported.
    server.send_json(
        "PUT",
        &dingtalk,
        json!({"webhook": webhook, "secret": "SECwrong"}),
    );
    let (_, body) = server.send_json("POST", &dingtalk, json!({"test": true}));
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("310000") && detail.contains("sign not match"),
        "{detail}"
    );

    // A failing target: the status and the start of its answer.
    server.send_json(
        "PUT",
        &format!("{PLUGINS}slack/"),
        json!({"webhook": receiver.url("/fail/slack")}),
    );
    let (_, body) = server.send_json("POST", &format!("{PLUGINS}slack/"), json!({"test": true}));
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("HTTP 500") && detail.contains("fails on purpose"),
        "{detail}"
    );

    // A redirect to another host is not followed.
    server.send_json(
        "PUT",
        &format!("{PLUGINS}webhooks/"),
        json!({"urls": receiver.url("/redirect/away")}),
    );
    let (_, body) = server.send_json(
        "POST",
        &format!("{PLUGINS}webhooks/"),
        json!({"test": true}),
    );
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("302") && detail.contains("not followed"),
        "{detail}"
    );
    assert!(
        receiver.of("webhooks").is_empty(),
        "the redirect was followed"
    );

    // Disabling keeps the settings.
    server.send_json("POST", &dingtalk, json!({}));
    assert_eq!(server.get(&dingtalk).1["enabled"], true);
    assert_eq!(server.delete(&dingtalk).0, 204);
    let (_, body) = server.get(&dingtalk);
    assert_eq!(body["enabled"], false);
    assert_eq!(body["config"][0]["value"], webhook);
}

#[test]
#[ignore = "needs the Python test tools: run with cargo xtask test"]
fn loopback_targets_are_refused_unless_allowed() {
    let receiver = Receiver::start();
    let server = start(false);
    let slack = format!("{PLUGINS}slack/");
    for url in [
        receiver.url("/slack/x"),
        format!("http://localhost:{}/slack/x", receiver.port),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
    ] {
        let (status, _) = server.send_json("PUT", &slack, json!({ "webhook": url }));
        assert_eq!(status, 200, "saving is allowed; sending is not");
        let (_, body) = server.send_json("POST", &slack, json!({"test": true}));
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains("refused") && detail.contains("notifications.allow-private-targets"),
            "{url}: {detail}"
        );
    }
    assert!(
        receiver.requests().is_empty(),
        "nothing reached the receiver"
    );
}

#[test]
#[ignore = "needs the Python sentry-sdk: run with cargo xtask test"]
fn a_failing_webhook_is_retried_and_a_disabled_plugin_says_so() {
    let receiver = Receiver::start();
    let server = start(true);
    set_up(
        &server,
        "webhooks",
        json!({"urls": receiver.url("/fail/hook")}),
    );
    // Slack is named by the rule but never enabled.
    let (status, body) = server.send_json(
        "POST",
        RULES,
        json!({
            "name": "Hooks",
            "actionMatch": "all",
            "conditions": [{"id": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"}],
            "actions": [
                {"id": "sentry.rules.actions.notify_event_service.NotifyEventServiceAction", "service": "webhooks"},
                {"id": "sentry.rules.actions.notify_event_service.NotifyEventServiceAction", "service": "slack"},
            ],
        }),
    );
    assert_eq!(status, 200, "{body}");
    let rule = body["id"].as_str().unwrap().to_owned();
    python_sdk(&server.dsn, &["exception"]);
    let deliveries = server.wait_for("both deliveries tried", |s| {
        let (_, history) = s.get(&format!("{RULES}{rule}/group-history/"));
        let deliveries = history.get(0)?["deliveries"].as_array()?.clone();
        deliveries
            .iter()
            .all(|d| d["lastError"].is_string())
            .then_some(deliveries)
    });
    let hook = deliveries
        .iter()
        .find(|d| d["channel"] == "webhooks")
        .unwrap();
    assert_eq!(hook["status"], "pending", "a 500 is retried: {hook}");
    assert!(
        hook["lastError"].as_str().unwrap().contains("HTTP 500"),
        "{hook}"
    );
    let slack = deliveries.iter().find(|d| d["channel"] == "slack").unwrap();
    assert_eq!(slack["status"], "failed");
    assert_eq!(
        slack["lastError"],
        "the Slack plugin is not enabled for this project"
    );
    assert_eq!(receiver.of("fail").len(), 1);
}

/// The alert channel pages in headless Chromium: set up Slack, enable it
/// and send a test that arrives; a DingTalk test with a wrong secret shows
/// DingTalk's refusal.
#[test]
#[ignore = "needs Chromium, chromedriver and the test venv: run with cargo xtask test"]
fn alert_channels_in_headless_chromium() {
    let receiver = Receiver::start();
    let server = start(true);
    crate::dashboard::browser_flow(&server, "plugins", &[&receiver.url("")]);
    let slack = receiver.of("slack");
    assert_eq!(slack.len(), 1, "the test message reached the receiver");
    assert_eq!(slack[0]["ok"], true, "{}", slack[0]["problem"]);
    assert_eq!(
        receiver.of("dingtalk")[0]["ok"],
        false,
        "the wrong secret was refused"
    );
}

/// Frequency conditions, from counts the notifier keeps: "seen more than 2
/// times in one minute" fires once when the third event comes, and not
/// again within its action interval however many follow; "more than 1
/// user in an hour" fires when a second user hits the issue.
#[test]
#[ignore = "needs the Python sentry-sdk: run with cargo xtask test"]
fn frequency_rules_fire_once_per_interval() {
    let receiver = Receiver::start();
    let server = start(true);
    set_up(
        &server,
        "webhooks",
        json!({"urls": receiver.url("/webhooks/spike")}),
    );
    let hook = json!({"id": "sentry.rules.actions.notify_event_service.NotifyEventServiceAction", "service": "webhooks"});
    for (name, condition) in [
        (
            "Spike",
            json!({"id": "sentry.rules.conditions.event_frequency.EventFrequencyCondition", "value": 2, "interval": "1m"}),
        ),
        (
            "Users",
            json!({"id": "sentry.rules.conditions.event_frequency.EventUniqueUserFrequencyCondition", "value": 1, "interval": "1h"}),
        ),
    ] {
        let (status, body) = server.send_json(
            "POST",
            RULES,
            json!({"name": name, "actionMatch": "all", "frequency": 30, "conditions": [condition], "actions": [hook]}),
        );
        assert_eq!(status, 200, "{body}");
    }
    let fired = |rule: &str| -> Vec<Value> {
        receiver
            .of("webhooks")
            .into_iter()
            .filter(|r| r["body"]["triggering_rules"][0] == rule)
            .collect()
    };

    // Two events of one user: neither rule.
    python_sdk(&server.dsn, &["exception", "--user", "1", "--count", "2"]);
    server.wait_for_total(2);
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(
        receiver.of("webhooks").is_empty(),
        "{:?}",
        receiver.requests()
    );
    // The third: more than two in the minute.
    python_sdk(&server.dsn, &["exception", "--user", "1"]);
    server.wait_for("the spike rule fired", |_| {
        (fired("Spike").len() == 1).then_some(())
    });
    // Three more: within its action interval, it does not fire again.
    python_sdk(&server.dsn, &["exception", "--user", "1", "--count", "3"]);
    server.wait_for_total(6);
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(fired("Spike").len(), 1, "once per interval");
    assert!(fired("Users").is_empty(), "one user so far");
    // A second user: more than one user in the hour.
    python_sdk(&server.dsn, &["exception", "--user", "2"]);
    server.wait_for("the users rule fired", |_| {
        (fired("Users").len() == 1).then_some(())
    });
    assert_eq!(fired("Spike").len(), 1);
}

/// The reappeared condition: an issue ignored "until it happens 2 more
/// times" comes back (unresolved) with the second event and fires the
/// rule; ignored for a while, it comes back once the time has passed;
/// ignored forever, it stays ignored and fires nothing.
#[test]
#[ignore = "needs the Python sentry-sdk: run with cargo xtask test"]
fn an_ignored_issue_that_comes_back_fires_the_reappeared_rule() {
    let receiver = Receiver::start();
    let server = start(true);
    set_up(
        &server,
        "webhooks",
        json!({"urls": receiver.url("/webhooks/back")}),
    );
    let (status, body) = server.send_json(
        "POST",
        RULES,
        json!({
            "name": "Back again",
            "actionMatch": "all",
            "frequency": 5,
            "conditions": [{"id": "sentry.rules.conditions.reappeared_event.ReappearedEventCondition"}],
            "actions": [{"id": "sentry.rules.actions.notify_event_service.NotifyEventServiceAction", "service": "webhooks"}],
        }),
    );
    assert_eq!(status, 200, "{body}");
    let ignore = |id: &str, details: Value| {
        let (status, body) = server.send_json(
            "PUT",
            &format!("/api/0/issues/{id}/"),
            json!({"status": "ignored", "statusDetails": details}),
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "ignored");
        body
    };
    let status_of = |id: &str| server.get(&format!("/api/0/issues/{id}/")).1["status"].clone();

    python_sdk(&server.dsn, &["exception"]);
    let id = server.wait_for_total(1)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = ignore(&id, json!({"ignoreCount": 2}));
    assert_eq!(body["statusDetails"]["ignoreCount"], 2);
    python_sdk(&server.dsn, &["exception"]);
    server.wait_for_total(2);
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(status_of(&id), "ignored", "one more event is not two");
    assert!(receiver.of("webhooks").is_empty());
    python_sdk(&server.dsn, &["exception"]);
    server.wait_for("the reappeared rule fired", |_| {
        (receiver.of("webhooks").len() == 1).then_some(())
    });
    assert_eq!(status_of(&id), "unresolved");
    assert_eq!(
        receiver.of("webhooks")[0]["body"]["triggering_rules"],
        json!(["Back again"])
    );

    // Ignored forever: events do not bring it back.
    ignore(&id, json!({}));
    python_sdk(&server.dsn, &["exception", "--count", "2"]);
    server.wait_for_total(5);
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(status_of(&id), "ignored");
    assert_eq!(receiver.of("webhooks").len(), 1);

    // Ignored until a moment that has passed: the next event brings it
    // back (the rule's action interval keeps this one quiet).
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    ignore(&id, json!({"ignoreUntil": soon}));
    std::thread::sleep(std::time::Duration::from_secs(2));
    python_sdk(&server.dsn, &["exception"]);
    server.wait_for("the issue back", |_| {
        (status_of(&id) == "unresolved").then_some(())
    });

    // Hostile details are refused.
    let (status, _) = server.send_json(
        "PUT",
        &format!("/api/0/issues/{id}/"),
        json!({"status": "ignored", "statusDetails": {"ignoreDuration": 0}}),
    );
    assert_eq!(status, 400);
}

/// The latest-release filter: a rule for new issues "from the latest
/// release" fires for an issue first seen in the newest release, not for
/// one from a release that is no longer the newest.
#[test]
#[ignore = "needs the Python sentry-sdk: run with cargo xtask test"]
fn the_latest_release_filter_passes_only_the_newest_release() {
    let receiver = Receiver::start();
    let server = start(true);
    set_up(
        &server,
        "webhooks",
        json!({"urls": receiver.url("/webhooks/latest")}),
    );
    let (status, body) = server.send_json(
        "POST",
        RULES,
        json!({
            "name": "Latest only",
            "actionMatch": "all",
            "conditions": [{"id": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"}],
            "filters": [{"id": "sentry.rules.filters.latest_release.LatestReleaseFilter"}],
            "actions": [{"id": "sentry.rules.actions.notify_event_service.NotifyEventServiceAction", "service": "webhooks"}],
        }),
    );
    assert_eq!(status, 200, "{body}");
    // The first release seen is the latest: its new issue passes.
    python_sdk(&server.dsn, &["exception", "--release", "shop@1.0"]);
    server.wait_for("the first issue's webhook", |_| {
        (receiver.of("webhooks").len() == 1).then_some(())
    });
    // shop@2.0 comes out; a new issue still on shop@1.0 does not pass.
    python_sdk(&server.dsn, &["message", "--release", "shop@2.0"]);
    server.wait_for("shop@2.0's issue announced", |_| {
        (receiver.of("webhooks").len() == 2).then_some(())
    });
    python_sdk(&server.dsn, &["key-error", "--release", "shop@1.0"]);
    server.wait_for_total(3);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let hooks = receiver.of("webhooks");
    assert_eq!(
        hooks.len(),
        2,
        "the old release's new issue is filtered out"
    );
    assert_eq!(hooks[1]["body"]["event"]["release"], "shop@2.0");
}

/// The notifier on the production topology (`faultline run notifier`,
/// post-process on the Kafka-protocol broker, rules and the outbox in
/// PostgreSQL): a real SDK error is mailed through aiosmtpd and posted to
/// a webhook, once each.
#[test]
#[ignore = "needs PostgreSQL, ClickHouse, Redis, tansu, nginx, sentry-sdk and aiosmtpd: run with cargo xtask test"]
fn the_stack_notifier_mails_and_posts_an_sdk_error_once() {
    use crate::notifications::SmtpServer;
    let smtp_port = free_port();
    let smtp = SmtpServer::start(smtp_port, &[]);
    let receiver = Receiver::start();
    let server = Devserver::start_stack_with(&format!(
        "mail.host: 127.0.0.1\nmail.port: {smtp_port}\nmail.from: alerts@faultline.test\n\
         notifications.allow-private-targets: true\n"
    ));
    set_up(
        &server,
        "slack",
        json!({"webhook": receiver.url("/slack/services/T/B/stack")}),
    );
    let (status, body) = server.send_json(
        "POST",
        RULES,
        json!({
            "name": "Stack chat",
            "actionMatch": "all",
            "conditions": [{"id": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"}],
            "actions": [{"id": "sentry.rules.actions.notify_event_service.NotifyEventServiceAction", "service": "slack"}],
        }),
    );
    assert_eq!(status, 200, "{body}");
    python_sdk(&server.dsn, &["exception"]);
    let mails = smtp.wait_for_mails(1, &server);
    assert_eq!(mails[0].to, ["admin@faultline.local"]);
    assert!(
        mails[0]
            .text
            .contains("ZeroDivisionError: division by zero"),
        "{}",
        mails[0].text
    );
    server.wait_for("the Slack message", |_| {
        (receiver.of("slack").len() == 1).then_some(())
    });
    let slack = &receiver.of("slack")[0];
    assert_eq!(slack["ok"], true, "{}", slack["problem"]);
    assert!(said(slack).contains(&format!("{}/organizations/faultline/issues/", server.url)));
    // A repeat sends nothing more.
    python_sdk(&server.dsn, &["exception"]);
    server.wait_for_total(2);
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(receiver.of("slack").len(), 1);
}
