//! Alert email end to end: a real `sentry-sdk` error makes the devserver's
//! notifier send mail to a real SMTP server (aiosmtpd, tests/smtp/server.py)
//! over plain SMTP and over STARTTLS with AUTH; a repeat event sends
//! nothing, a regression fires its rule, and a server that is down shows
//! up in the rule's history with its error until the retry gets through.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::*;

/// One message as the SMTP server received it.
pub(crate) struct Mail {
    from: String,
    pub(crate) to: Vec<String>,
    tls: bool,
    authenticated: bool,
    /// Headers unfolded, quoted-printable undone: what a reader sees.
    pub(crate) text: String,
}

/// aiosmtpd on 127.0.0.1, writing what it accepts to a directory.
pub(crate) struct SmtpServer {
    port: u16,
    out: tempfile::TempDir,
    child: Child,
}

impl SmtpServer {
    pub(crate) fn start(port: u16, args: &[&str]) -> Self {
        let out = tempfile::tempdir().unwrap();
        let child = spawn_ready(
            Command::new(test_python())
                .arg(workspace_root().join("tests/smtp/server.py"))
                .args(["--port", &port.to_string(), "--out"])
                .arg(out.path())
                .args(args),
            "the SMTP server",
        );
        SmtpServer { port, out, child }
    }

    fn mails(&self) -> Vec<Mail> {
        let mut files: Vec<_> = std::fs::read_dir(self.out.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files.iter().map(|f| read_mail(f)).collect()
    }

    /// Waits up to two minutes: a delivery claimed by a notifier that was
    /// killed is taken over when its one-minute lease runs out.
    pub(crate) fn wait_for_mails(&self, n: usize, server: &Devserver) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let mails = self.mails();
            if mails.len() >= n {
                return mails;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} mails arrived; log:\n{}",
                mails.len(),
                server.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_mail(path: &Path) -> Mail {
    let record: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let raw = record["message"].as_str().unwrap();
    Mail {
        from: record["from"].as_str().unwrap().to_owned(),
        to: record["to"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect(),
        tls: record["tls"].as_bool().unwrap(),
        authenticated: record["authenticated"].as_bool().unwrap(),
        text: readable(raw),
    }
}

/// Folded header lines joined, and quoted-printable soft breaks and
/// escapes undone (the parts are ASCII here).
fn readable(raw: &str) -> String {
    let raw = raw
        .replace("\r\n", "\n")
        .replace("\n ", " ")
        .replace("=\n", "");
    let mut out = String::with_capacity(raw.len());
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&raw[i + 1..i + 3], 16)
        {
            out.push(b as char);
            i += 3;
            continue;
        }
        out.push(bytes[i] as char);
        i += 1;
    }
    out
}

fn mail_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("FAULTLINE_MAIL_HOST", "127.0.0.1".into()),
        ("FAULTLINE_MAIL_PORT", port.to_string()),
        ("FAULTLINE_MAIL_FROM", "alerts@faultline.test".into()),
    ]
}

fn start_with(env: &[(&'static str, String)]) -> Devserver {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Devserver::start_with_env(&env)
}

const RULES: &str = "/api/0/projects/faultline/default/rules/";

/// The id of the default project's rule named `name`.
fn rule_id(server: &Devserver, name: &str) -> String {
    let (_, rules) = server.get(RULES);
    rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no rule {name} in {rules}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn history(server: &Devserver, rule: &str) -> Vec<Value> {
    let (status, body) = server.get(&format!("{RULES}{rule}/group-history/"));
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

const DEFAULT_RULE: &str = "Send a notification for new issues";

#[test]
#[ignore = "needs the Python sentry-sdk and aiosmtpd: run with cargo xtask test"]
fn a_new_issue_emails_the_team_once_and_a_regression_fires_its_rule() {
    let smtp = SmtpServer::start(free_port(), &[]);
    let server = start_with(&mail_env(smtp.port));
    let (status, body) = server.send_json(
        "POST",
        RULES,
        json!({
            "name": "Regressions",
            "actionMatch": "all",
            "conditions": [{"id": "sentry.rules.conditions.regression_event.RegressionEventCondition"}],
            "actions": [{"id": "sentry.mail.actions.NotifyEmailAction", "targetType": "IssueOwners", "fallthroughType": "AllMembers"}]
        }),
    );
    assert_eq!(status, 200, "{body}");

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
    let mails = smtp.wait_for_mails(1, &server);
    let issue = server.wait_for_total(1)[0].clone();
    let id = issue["id"].as_str().unwrap();
    let mail = &mails[0];
    assert_eq!(mail.from, "alerts@faultline.test");
    assert_eq!(mail.to, ["admin@faultline.local"]);
    assert!(!mail.tls && !mail.authenticated);
    let text = &mail.text;
    assert!(
        text.contains("Subject: [Faultline] DEFAULT-1 - ZeroDivisionError: division by zero"),
        "{text}"
    );
    let link = format!(
        "{}/organizations/faultline/issues/{id}/?referrer=alert",
        server.url
    );
    for expected in [
        issue["culprit"].as_str().unwrap(),
        "Project: Default (default)",
        "Level: error",
        "Environment: production",
        "Release: shop@1.0",
        "compute_ratio",
        &link,
        "Content-Type: text/html",
        "Content-Type: text/plain",
        DEFAULT_RULE,
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }

    // A second event of the issue is no new issue: nothing is sent.
    python_sdk(&server.dsn, &["exception", "--release", "shop@1.0"]);
    server.wait_for_total(2);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(smtp.mails().len(), 1, "a repeat event sends nothing");

    // Resolved, then seen again: the regression rule fires, the default
    // rule does not.
    let (status, _) = server.send_json(
        "PUT",
        &format!("/api/0/issues/{id}/"),
        json!({"status": "resolved"}),
    );
    assert_eq!(status, 200);
    python_sdk(&server.dsn, &["exception", "--release", "shop@1.1"]);
    let mails = smtp.wait_for_mails(2, &server);
    assert!(mails[1].text.contains("Regressions"), "{}", mails[1].text);
    assert!(mails[1].text.contains("Release: shop@1.1"));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(smtp.mails().len(), 2);

    // Each rule's history names the issue and what its delivery did.
    let fired = history(&server, &rule_id(&server, DEFAULT_RULE));
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0]["group"]["id"], id);
    assert_eq!(fired[0]["count"], 1);
    assert_eq!(fired[0]["deliveries"][0]["status"], "sent");
    assert_eq!(fired[0]["deliveries"][0]["target"], "admin@faultline.local");
    let regressions = history(&server, &rule_id(&server, "Regressions"));
    assert_eq!(regressions.len(), 1);
    let (_, rules) = server.get(RULES);
    assert!(
        rules
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["lastTriggered"].is_string())
    );
}

#[test]
#[ignore = "needs the Python sentry-sdk and aiosmtpd: run with cargo xtask test"]
fn a_mail_server_that_is_down_is_shown_and_retried() {
    // Nothing listens on the port yet.
    let port = free_port();
    let server = start_with(&mail_env(port));
    python_sdk(&server.dsn, &["exception"]);
    let rule = rule_id(&server, DEFAULT_RULE);
    let failed = server.wait_for("the failed attempt in the history", |s| {
        let fired = history(s, &rule);
        let delivery = fired.first()?["deliveries"][0].clone();
        delivery["lastError"].is_string().then_some(delivery)
    });
    assert_eq!(failed["status"], "pending", "{failed}");
    assert_eq!(failed["attempts"], 1);
    let error = failed["lastError"].as_str().unwrap();
    assert!(
        error.to_lowercase().contains("connection refused"),
        "{error}"
    );

    // The server comes up; the retry gets through.
    let smtp = SmtpServer::start(port, &[]);
    let mails = smtp.wait_for_mails(1, &server);
    assert_eq!(mails[0].to, ["admin@faultline.local"]);
    let sent = server.wait_for("the delivery recorded as sent", |s| {
        let delivery = history(s, &rule)[0]["deliveries"][0].clone();
        (delivery["status"] == "sent").then_some(delivery)
    });
    assert_eq!(sent["attempts"], 2);
}

#[test]
#[ignore = "needs the Python sentry-sdk and aiosmtpd: run with cargo xtask test"]
fn a_refusing_mail_server_fails_the_delivery_with_its_answer() {
    let smtp = SmtpServer::start(free_port(), &["--reject", "550"]);
    let server = start_with(&mail_env(smtp.port));
    python_sdk(&server.dsn, &["exception"]);
    let rule = rule_id(&server, DEFAULT_RULE);
    let failed = server.wait_for("the refused delivery", |s| {
        let delivery = history(s, &rule).first()?["deliveries"][0].clone();
        (delivery["status"] == "failed").then_some(delivery)
    });
    let error = failed["lastError"].as_str().unwrap();
    assert!(
        error.contains("550") && error.contains("Mailbox unavailable"),
        "{error}"
    );
    assert_eq!(failed["attempts"], 1, "a permanent refusal is not retried");
}

/// A certificate authority and a server certificate for 127.0.0.1 signed
/// by it, made with openssl: (CA certificate, server certificate, key).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let openssl = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .stderr(Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(status.success(), "openssl {args:?}");
    };
    let (ca, ca_key) = (path("ca.pem"), path("ca-key.pem"));
    let (cert, key, csr) = (path("cert.pem"), path("key.pem"), path("cert.csr"));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=Faultline test CA",
        "-keyout",
        &ca_key,
        "-out",
        &ca,
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &key,
        "-out",
        &csr,
    ]);
    let ext = path("ext.cnf");
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        &ext,
        "-out",
        &cert,
    ]);
    (ca.into(), cert.into(), key.into())
}

/// An SDK error mailed through aiosmtpd with TLS and AUTH: `server_tls`
/// is its flag (`--starttls` or `--tls`), `client_tls` the key that turns
/// the matching mode on.
fn mail_over_tls(server_tls: &str, client_tls: &'static str) {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(certs.path());
    let smtp = SmtpServer::start(
        free_port(),
        &[
            server_tls,
            cert.to_str().unwrap(),
            key.to_str().unwrap(),
            "--auth",
            "alerts:s3cret-pass",
        ],
    );
    let mut env = mail_env(smtp.port);
    env.extend([
        (client_tls, "true".to_owned()),
        ("FAULTLINE_MAIL_USERNAME", "alerts".to_owned()),
        ("FAULTLINE_MAIL_PASSWORD", "s3cret-pass".to_owned()),
        // The test CA is the one the system trusts.
        ("SSL_CERT_FILE", ca.to_str().unwrap().to_owned()),
    ]);
    let server = start_with(&env);
    python_sdk(&server.dsn, &["exception"]);
    let mails = smtp.wait_for_mails(1, &server);
    assert!(mails[0].tls, "TLS was used");
    assert!(mails[0].authenticated, "AUTH was used");
    assert!(mails[0].text.contains("ZeroDivisionError"));
}

#[test]
#[ignore = "needs the Python sentry-sdk and aiosmtpd: run with cargo xtask test"]
fn alert_email_goes_over_starttls_with_auth() {
    mail_over_tls("--starttls", "FAULTLINE_MAIL_USE_TLS");
}

#[test]
#[ignore = "needs the Python sentry-sdk and aiosmtpd: run with cargo xtask test"]
fn alert_email_goes_over_implicit_tls_with_auth() {
    mail_over_tls("--tls", "FAULTLINE_MAIL_USE_SSL");
}

#[test]
#[ignore = "needs the Python sentry-sdk and aiosmtpd: run with cargo xtask test"]
fn a_notifier_killed_while_sending_sends_each_alert_once_after_restart() {
    // A slow server: the devserver is killed while it waits for RCPT.
    let smtp = SmtpServer::start(free_port(), &["--delay-rcpt", "4"]);
    let mut server = start_with(&mail_env(smtp.port));
    python_sdk(&server.dsn, &["exception"]);
    let rule = rule_id(&server, DEFAULT_RULE);
    server.wait_for("the delivery being sent", |s| {
        let delivery = history(s, &rule).first()?["deliveries"][0].clone();
        (delivery["status"] == "sending").then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    server.kill9();
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        smtp.mails().is_empty(),
        "the cut conversation delivered nothing"
    );

    // Restarted, the notifier takes the claim over once it runs out, and
    // the replayed post-process message fires nothing new.
    server.spawn();
    let mails = smtp.wait_for_mails(1, &server);
    assert_eq!(mails[0].to, ["admin@faultline.local"]);
    server.wait_for("the delivery recorded as sent", |s| {
        let fired = history(s, &rule);
        (fired[0]["deliveries"][0]["status"] == "sent").then_some(())
    });
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(smtp.mails().len(), 1, "sent exactly once");
    let fired = history(&server, &rule);
    assert_eq!(fired.len(), 1);
    assert_eq!(
        fired[0]["count"], 1,
        "one firing, however often the message came"
    );
    assert_eq!(fired[0]["deliveries"].as_array().unwrap().len(), 1);
}

#[test]
#[ignore = "needs the Python sentry-sdk and aiosmtpd: run with cargo xtask test"]
fn a_burst_of_new_issues_sends_one_summary_instead_of_an_email_each() {
    let smtp = SmtpServer::start(free_port(), &[]);
    let server = start_with(&mail_env(smtp.port));
    // A bad deploy: 45 new issues within seconds.
    for i in 0..45 {
        server.send_event(&json!({
            "message": format!("Deploy broke checkout step {i}"),
            "level": "error",
            "fingerprint": [format!("burst-{i}")],
        }));
    }
    server.wait_for_total(45);
    let rule = rule_id(&server, DEFAULT_RULE);
    server.wait_for("every issue's firing", |s| {
        (history(s, &rule).len() == 45).then_some(())
    });
    let mails = smtp.wait_for_mails(31, &server);
    std::thread::sleep(Duration::from_secs(3));
    let mails_now = smtp.mails();
    assert_eq!(
        mails_now.len(),
        31,
        "30 alerts and one summary, not 45 emails"
    );
    let summaries: Vec<&Mail> = mails_now
        .iter()
        .filter(|m| m.text.contains("more than 30 alerts in one minute"))
        .collect();
    assert_eq!(summaries.len(), 1, "{}", mails[0].text);
    assert!(
        summaries[0]
            .text
            .contains("Subject: [Faultline] DEFAULT - more than 30 alerts in one minute")
    );
    assert!(
        summaries[0]
            .text
            .contains("/organizations/faultline/issues/?project=")
    );
}

#[test]
#[ignore = "needs the Python sentry-sdk and aiosmtpd: run with cargo xtask test"]
fn a_member_who_turned_alert_emails_off_gets_none() {
    use crate::dashboard::{csrf_token, page, post_form, sign_in};
    let smtp = SmtpServer::start(free_port(), &[]);
    let server = start_with(&mail_env(smtp.port));
    let cookie = sign_in(&server, &server.url);
    let settings = page(&server, &cookie, "/settings/account/notifications/");
    assert!(settings.contains("faultline / default"), "{settings}");
    let project = server.get("/api/0/projects/faultline/default/").1["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = format!(
        "csrf_token={}&project={project}&alert_emails=off",
        csrf_token(&settings)
    );
    let (status, _) = post_form(
        &server,
        "/settings/account/notifications/",
        &cookie,
        Some(&server.url),
        &body,
    );
    assert_eq!(status, 303);
    let settings = page(&server, &cookie, "/settings/account/notifications/");
    assert!(settings.contains("Turn on"), "alert emails shown as off");

    // The default rule fires, with nobody to email.
    python_sdk(&server.dsn, &["exception"]);
    let rule = rule_id(&server, DEFAULT_RULE);
    server.wait_for("the firing", |s| {
        (!history(s, &rule).is_empty()).then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        smtp.mails().is_empty(),
        "no email for a member who turned them off"
    );
    assert_eq!(history(&server, &rule)[0]["deliveries"], json!([]));
    // Another project's form cannot be used on one the user is not in.
    let body = format!(
        "csrf_token={}&project=999999&alert_emails=off",
        csrf_token(&settings)
    );
    let (status, _) = post_form(
        &server,
        "/settings/account/notifications/",
        &cookie,
        Some(&server.url),
        &body,
    );
    assert_eq!(status, 404);
}

#[test]
#[ignore = "needs the Python sentry-sdk and aiosmtpd: run with cargo xtask test"]
fn the_admin_mail_page_shows_the_settings_and_the_servers_answer_to_a_test() {
    use crate::dashboard::{csrf_token, page, post_form, sign_in};
    let smtp = SmtpServer::start(free_port(), &[]);
    let server = start_with(&mail_env(smtp.port));
    let cookie = sign_in(&server, &server.url);
    let html = page(&server, &cookie, "/manage/status/mail/");
    assert!(
        html.contains("127.0.0.1") && html.contains(&smtp.port.to_string()),
        "{html}"
    );
    assert!(html.contains("alerts@faultline.test"));
    let body = format!("csrf_token={}", csrf_token(&html));
    let (status, html) = post_form(
        &server,
        "/manage/status/mail/",
        &cookie,
        Some(&server.url),
        &body,
    );
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("the server answered 250"), "{html}");
    let mails = smtp.wait_for_mails(1, &server);
    assert!(
        mails[0].text.contains("Subject: [Faultline] Test email"),
        "{}",
        mails[0].text
    );
    assert_eq!(mails[0].to, ["admin@faultline.local"]);

    // A server that refuses: its answer, word for word.
    let refusing = SmtpServer::start(free_port(), &["--reject", "550"]);
    let mut env = mail_env(refusing.port);
    env.push(("FAULTLINE_MAIL_PASSWORD", "never-shown-secret".to_owned()));
    let server = start_with(&env);
    let cookie = sign_in(&server, &server.url);
    let html = page(&server, &cookie, "/manage/status/mail/");
    assert!(html.contains("(set, hidden)") && !html.contains("never-shown-secret"));
    let body = format!("csrf_token={}", csrf_token(&html));
    let (status, html) = post_form(
        &server,
        "/manage/status/mail/",
        &cookie,
        Some(&server.url),
        &body,
    );
    assert_eq!(status, 502);
    assert!(
        html.contains("550") && html.contains("Mailbox unavailable"),
        "{html}"
    );
    assert!(refusing.mails().is_empty());
}

/// A rule that emails a team mails the members on that team and nobody
/// else; who is on it is set through Sentry's member-team endpoints.
#[test]
#[ignore = "needs the Python sentry-sdk and aiosmtpd: run with cargo xtask test"]
fn a_team_target_emails_the_members_on_the_team() {
    let smtp = SmtpServer::start(free_port(), &[]);
    let server = start_with(&mail_env(smtp.port));
    let (ok, out, err) = faultline_cli(
        &[
            "createuser",
            "--email",
            "oncall@example.com",
            "--password",
            "on-call-password",
            "--no-input",
        ],
        server.dir.path(),
    );
    assert!(ok, "{out} {err}");
    let (status, team) = server.send_json(
        "POST",
        "/api/0/organizations/faultline/teams/",
        json!({"name": "On call"}),
    );
    assert_eq!(status, 201, "{team}");
    let slug = team["slug"].as_str().unwrap().to_owned();
    let (_, members) = server.get("/api/0/organizations/faultline/members/");
    let id_of = |email: &str| {
        members
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["email"] == email)
            .unwrap_or_else(|| panic!("{email} in {members}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (admin, oncall) = (id_of("admin@faultline.local"), id_of("oncall@example.com"));
    // The admin who made the team is on it; swap them for the on-call user.
    let membership =
        |member: &str| format!("/api/0/organizations/faultline/members/{member}/teams/{slug}/");
    assert_eq!(
        server.send_json("POST", &membership(&oncall), json!({})).0,
        201
    );
    assert_eq!(server.delete(&membership(&admin)).0, 200);
    let (_, on_team) = server.get(&format!("/api/0/teams/faultline/{slug}/members/"));
    let emails: Vec<&str> = on_team
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["oncall@example.com"]);

    // Only the team rule: the default one would mail everyone.
    let default = rule_id(&server, DEFAULT_RULE);
    server.send_json(
        "PUT",
        &format!("{RULES}{default}/"),
        json!({"status": "disabled"}),
    );
    let (status, body) = server.send_json(
        "POST",
        RULES,
        json!({
            "name": "Page the on-call team",
            "actionMatch": "all",
            "conditions": [{"id": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"}],
            "actions": [{"id": "sentry.mail.actions.NotifyEmailAction", "targetType": "Team", "targetIdentifier": team["id"]}],
        }),
    );
    assert_eq!(status, 200, "{body}");
    python_sdk(&server.dsn, &["exception"]);
    let mails = smtp.wait_for_mails(1, &server);
    assert_eq!(mails[0].to, ["oncall@example.com"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(smtp.mails().len(), 1, "nobody else was mailed");
}
