//! The dashboard: a real browser flow (headless Chromium), CSRF and
//! registration rules over plain HTTP.

use std::process::Command;

use serde_json::json;

use crate::harness::*;

/// An event whose every displayed field tries to run script.
fn xss_event() -> serde_json::Value {
    let title = "<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\">";
    json!({
        "message": title,
        "level": "error",
        "platform": "javascript",
        "tags": {"evil": "<b onmouseover=alert(1)>tag</b>"},
        "user": {"id": "<img src=x onerror=window.__xss=3>"},
        "breadcrumbs": [{"category": "<i>", "message": "<img src=x onerror=window.__xss=4>"}],
        "exception": {"values": [{
            "value": title,
            "mechanism": {"type": "generic", "synthetic": true},
            "stacktrace": {"frames": [{
                "function": "<svg onload=alert(1)>",
                "filename": "<img src=x onerror=window.__xss=5>",
                "lineno": 3,
                "context_line": "<script>window.__xss=6</script>",
                "vars": {"<b>": "<script>window.__xss=7</script>"},
                "in_app": true
            }]}
        }]}
    })
}

fn dashboard_flow_in_headless_chromium(server: Devserver) {
    python_sdk(&server.dsn, &["exception", "--release", "shop@1.0"]);
    let (status, _) = server.ingest(
        &server.envelope_path(),
        &[("X-Sentry-Auth", &server.auth_header())],
        &envelope(&new_event_id(), &xss_event()),
    );
    assert_eq!(status, 200);
    server.wait_for_total(2);
    server.wait_for("both events stored", |s| {
        let issues = s.issues("");
        issues
            .iter()
            .all(|i| {
                s.get(&format!(
                    "/api/0/issues/{}/events/latest/",
                    i["id"].as_str().unwrap()
                ))
                .0 == 200
            })
            .then_some(())
    });

    let python = test_python();
    // One folder per topology: both runs go at once and each empties its own.
    let topology = if server.stack.is_some() {
        "stack"
    } else {
        "devserver"
    };
    let shots = workspace_root()
        .join("target/browser-screenshots")
        .join(topology);
    let out = Command::new(python)
        .arg(workspace_root().join("tests/browser/dashboard.py"))
        .args([&server.url, "admin@faultline.local", &server.password])
        .arg(&shots)
        .env("SE_AVOID_STATS", "true")
        .output()
        .expect("the browser script runs");
    assert!(
        out.status.success(),
        "browser flow failed (screenshots in {}):\n{}\n{}",
        shots.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, issues) = server.get("/api/0/projects/faultline/default/issues/?query=is:resolved");
    assert_eq!(
        issues[0]["title"], "ZeroDivisionError: division by zero",
        "the browser resolved it"
    );
}

/// The Alerts pages in headless Chromium: create a rule from the form, see
/// it fire for an SDK error in its history, disable and delete it.
#[test]
#[ignore = "needs Chromium, chromedriver and the test venv (selenium, sentry-sdk): run with cargo xtask test"]
fn alert_rules_in_headless_chromium() {
    let server = Devserver::start_with_env(&[("FAULTLINE_MAIL_BACKEND", "dummy")]);
    browser_flow(&server, "alerts", &[&server.dsn]);
}

/// Runs tests/browser/{name}.py against `server` as its admin, with
/// `extra` arguments before the screenshot folder
/// (target/browser-screenshots/{name}); fails with its output and the
/// server's log unless it succeeds.
pub(crate) fn browser_flow(server: &Devserver, name: &str, extra: &[&str]) {
    let shots = workspace_root()
        .join("target/browser-screenshots")
        .join(name);
    let out = Command::new(test_python())
        .arg(workspace_root().join(format!("tests/browser/{name}.py")))
        .args([&server.url, "admin@faultline.local", &server.password])
        .args(extra)
        .arg(&shots)
        .current_dir(workspace_root().join("tests/browser"))
        .env("SE_AVOID_STATS", "true")
        .output()
        .expect("the browser script runs");
    assert!(
        out.status.success(),
        "{name} browser flow failed (screenshots in {}):\n{}\n{}\nlog:\n{}",
        shots.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
}

/// Signs in as the admin over HTTP; returns the session cookie.
pub(crate) fn sign_in(server: &Devserver, origin: &str) -> String {
    sign_in_from(server, origin, "admin@faultline.local", &server.password)
}

pub(crate) fn page(server: &Devserver, cookie: &str, path: &str) -> String {
    ureq::get(format!("{}{path}", server.url))
        .header("Cookie", cookie)
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap()
}

pub(crate) fn csrf_token(html: &str) -> String {
    let start = html
        .find("name=\"csrf_token\" value=\"")
        .expect("a csrf field")
        + 25;
    html[start..start + 64].to_owned()
}

pub(crate) fn post_form(
    server: &Devserver,
    path: &str,
    cookie: &str,
    origin: Option<&str>,
    body: &str,
) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut req = agent
        .post(format!("{}{path}", server.url))
        .header("Cookie", cookie)
        .content_type("application/x-www-form-urlencoded");
    if let Some(origin) = origin {
        req = req.header("Origin", origin);
    }
    let mut resp = req.send(body.to_owned()).unwrap();
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_string().unwrap_or_default(),
    )
}

#[test]
fn csrf_refuses_forged_posts_and_trusts_configured_origins() {
    let trusted = "http://errors.example.com:8080";
    let server = Devserver::start_with_env(&[("FAULTLINE_CSRF_TRUSTED_ORIGINS", trusted)]);
    let id = server.first_issue("csrf target");
    let status_of = |s: &Devserver| {
        s.get(&format!("/api/0/issues/{id}/")).1["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    let cookie = sign_in(&server, &server.url);
    let path = format!("/organizations/faultline/issues/{id}/");
    let token = csrf_token(&page(&server, &cookie, &path));
    let body = format!("csrf_token={token}&action=resolved");

    // Another site posting with the victim's cookie and even the right token.
    let (status, html) = post_form(
        &server,
        &path,
        &cookie,
        Some("http://evil.example.net"),
        &body,
    );
    assert_eq!(status, 403);
    assert!(
        html.contains("http://evil.example.net") && html.contains("csrf.trusted-origins"),
        "{html}"
    );
    // No origin at all, or the right origin without the session's token.
    assert_eq!(post_form(&server, &path, &cookie, None, &body).0, 403);
    let (status, html) = post_form(
        &server,
        &path,
        &cookie,
        Some(&server.url),
        "csrf_token=wrong&action=resolved",
    );
    assert_eq!(status, 403, "{html}");
    assert_eq!(status_of(&server), "unresolved");

    // A proxy's public name on another host and port, from csrf.trusted-origins.
    assert_eq!(
        post_form(&server, &path, &cookie, Some(trusted), &body).0,
        303
    );
    assert_eq!(status_of(&server), "resolved");
    // The host the browser actually used (here 127.0.0.1:port) is same-origin.
    let body = format!("csrf_token={token}&action=unresolved");
    assert_eq!(
        post_form(&server, &path, &cookie, Some(&server.url), &body).0,
        303
    );
    assert_eq!(status_of(&server), "unresolved");

    // Login itself is protected against cross-site posts.
    let (status, _) = post_form(
        &server,
        "/auth/login/",
        "",
        Some("http://evil.example.net"),
        "email=a%40b.c&password=x",
    );
    assert_eq!(status, 403);
}

#[test]
fn registration_is_off_by_default_and_guessing_is_throttled() {
    let server = Devserver::start();
    let resp = ureq::get(format!("{}/auth/register/", server.url))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert!(
        resp.into_body()
            .read_to_string()
            .unwrap()
            .contains("auth.allow-registration")
    );

    let body = "email=admin%40faultline.local&password=guess";
    for _ in 0..5 {
        assert_eq!(
            post_form(&server, "/auth/login/", "", Some(&server.url), body).0,
            200
        );
    }
    let (status, html) = post_form(&server, "/auth/login/", "", Some(&server.url), body);
    assert_eq!(status, 429, "{html}");
    // Even the right password waits out the pause.
    let right = format!("email=admin%40faultline.local&password={}", server.password);
    assert_eq!(
        post_form(&server, "/auth/login/", "", Some(&server.url), &right).0,
        429
    );
    // Pages need a session.
    let resp = ureq::get(format!("{}/organizations/faultline/issues/", server.url))
        .config()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
}

pub(crate) fn sign_in_as(server: &Devserver, email: &str, password: &str) -> String {
    sign_in_from(server, &server.url, email, password)
}

/// Signs in over HTTP from `origin`; returns the session cookie.
pub(crate) fn sign_in_from(
    server: &Devserver,
    origin: &str,
    email: &str,
    password: &str,
) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let resp = agent
        .post(format!("{}/auth/login/", server.url))
        .header("Origin", origin)
        .content_type("application/x-www-form-urlencoded")
        .send(format!(
            "email={}&password={password}",
            email.replace('@', "%40")
        ))
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303, "{email} signs in");
    let cookie = resp
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

#[test]
fn invitations_roles_and_assignment() {
    let server = Devserver::start();
    let id = server.first_issue("assign me");

    // An admin invites a member; the link works once.
    let admin = sign_in(&server, &server.url);
    let members = "/settings/faultline/members/";
    let token = csrf_token(&page(&server, &admin, members));
    let (status, html) = post_form(
        &server,
        members,
        &admin,
        Some(&server.url),
        &format!("csrf_token={token}&action=invite&email=dev%40example.com&role=member"),
    );
    assert_eq!(status, 200, "{html}");
    let start = html.find("/accept-invite/").expect("an invite link");
    let link = &html[start..start + "/accept-invite/".len() + 65];
    assert!(link.ends_with('/'), "{link}");
    assert!(page(&server, "", link).contains("dev@example.com"));
    let (status, _) = post_form(&server, link, "", Some(&server.url), "password=short");
    assert_eq!(status, 400);
    let (status, _) = post_form(
        &server,
        link,
        "",
        Some(&server.url),
        "password=correct-horse-1",
    );
    assert_eq!(status, 303);
    let (status, _) = post_form(
        &server,
        link,
        "",
        Some(&server.url),
        "password=correct-horse-1",
    );
    assert_eq!(status, 404, "an invitation is used once");

    // A member sees issues but cannot manage projects.
    let dev = sign_in_as(&server, "dev@example.com", "correct-horse-1");
    assert!(page(&server, &dev, "/organizations/faultline/issues/").contains("assign me"));
    let projects = page(&server, &dev, "/organizations/faultline/projects/");
    assert!(!projects.contains("create-project"));
    let dev_token = csrf_token(&page(&server, &dev, "/organizations/faultline/issues/"));
    let (status, _) = post_form(
        &server,
        "/organizations/faultline/projects/",
        &dev,
        Some(&server.url),
        &format!("csrf_token={dev_token}&name=Sneaky&platform=python"),
    );
    assert_eq!(status, 404);

    // The REST API applies the same roles to a member's token.
    let out = Command::new(BIN)
        .args([
            "token",
            "create",
            "--email",
            "dev@example.com",
            "--data-dir",
        ])
        .arg(server.dir.path())
        .output()
        .unwrap();
    let dev_api = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let resp = ureq::post(format!(
        "{}/api/0/teams/faultline/faultline/projects/",
        server.url
    ))
    .config()
    .http_status_as_error(false)
    .build()
    .header("Authorization", format!("Bearer {dev_api}"))
    .send_json(json!({"name": "Sneaky"}))
    .unwrap();
    assert_eq!(resp.status().as_u16(), 403);

    // Assignment through the API, Sentry's way, and the search terms.
    let (status, issue) = server.send_json(
        "PUT",
        &format!("/api/0/issues/{id}/"),
        json!({"assignedTo": "dev@example.com"}),
    );
    assert_eq!(status, 200, "{issue}");
    assert_eq!(issue["assignedTo"]["email"], "dev@example.com");
    assert_eq!(issue["assignedTo"]["type"], "user");
    assert_eq!(server.issues("is:assigned").len(), 1);
    assert!(server.issues("is:unassigned").is_empty());
    let (status, _) = server.send_json(
        "PUT",
        &format!("/api/0/issues/{id}/"),
        json!({"assignedTo": "stranger@example.com"}),
    );
    assert_eq!(status, 400);
    let (_, issue) = server.send_json(
        "PUT",
        &format!("/api/0/issues/{id}/"),
        json!({"assignedTo": null}),
    );
    assert!(issue["assignedTo"].is_null());

    // Assignment from the issue page shows in the stream.
    let html = page(
        &server,
        &admin,
        &format!("/organizations/faultline/issues/{id}/"),
    );
    let option = html
        .find(">dev@example.com</option>")
        .expect("dev is offered");
    let value_start = html[..option].rfind("value=\"").unwrap() + 7;
    let user_id: String = html[value_start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let (status, _) = post_form(
        &server,
        &format!("/organizations/faultline/issues/{id}/"),
        &admin,
        Some(&server.url),
        &format!("csrf_token={token}&action=assign&assignee={user_id}"),
    );
    assert_eq!(status, 303);
    assert!(
        page(&server, &admin, "/organizations/faultline/issues/")
            .contains("assigned to dev@example.com")
    );

    // Roles: promoted to admin, the member may manage projects; an admin
    // cannot hand out ownership.
    let (status, _) = post_form(
        &server,
        members,
        &admin,
        Some(&server.url),
        &format!("csrf_token={token}&action=role&user={user_id}&role=admin"),
    );
    assert_eq!(status, 303);
    assert!(page(&server, &dev, "/organizations/faultline/projects/").contains("create-project"));
    let (status, html) = post_form(
        &server,
        members,
        &dev,
        Some(&server.url),
        &format!("csrf_token={dev_token}&action=role&user={user_id}&role=owner"),
    );
    assert_eq!(status, 400, "{html}");

    // Teams: an admin creates one and files a new project under it.
    let teams = "/settings/faultline/teams/";
    assert!(page(&server, &dev, teams).contains("#faultline"));
    let (status, _) = post_form(
        &server,
        teams,
        &dev,
        Some(&server.url),
        &format!("csrf_token={dev_token}&name=Mobile"),
    );
    assert_eq!(status, 303);
    let (status, _) = post_form(
        &server,
        "/organizations/faultline/projects/",
        &dev,
        Some(&server.url),
        &format!("csrf_token={dev_token}&name=iOS&platform=other&team=mobile"),
    );
    assert_eq!(status, 303);
    let html = page(&server, &dev, teams);
    let mobile = &html[html.find("#mobile").expect("the new team")..];
    assert!(
        mobile[..mobile.find("</tr>").unwrap()].contains("ios"),
        "{mobile}"
    );
}

#[test]
fn registration_when_allowed_creates_a_signed_in_account() {
    let server = Devserver::start_with_env(&[("FAULTLINE_AUTH_ALLOW_REGISTRATION", "true")]);
    assert!(page(&server, "", "/auth/register/").contains("Create an account"));
    let (status, _) = post_form(
        &server,
        "/auth/register/",
        "",
        Some(&server.url),
        "email=new%40example.com&password=short",
    );
    assert_eq!(status, 400);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let resp = agent
        .post(format!("{}/auth/register/", server.url))
        .header("Origin", &server.url)
        .content_type("application/x-www-form-urlencoded")
        .send("email=new%40example.com&password=long-enough-1")
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let cookie = resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    // Signed in, but in no organization until an owner invites them.
    assert!(page(&server, &cookie, "/").contains("No organization yet"));
    let (status, _) = post_form(
        &server,
        "/auth/register/",
        "",
        Some(&server.url),
        "email=new%40example.com&password=long-enough-1",
    );
    assert_eq!(status, 400, "an email registers once");
    let (status, _) = post_form(
        &server,
        "/auth/register/",
        "",
        Some("http://evil.example.net"),
        "email=x%40example.com&password=long-enough-1",
    );
    assert_eq!(status, 403);
}

crate::on_devserver_and_stack!(
    #[ignore = "needs Chromium, chromedriver and the test venv (selenium, sentry-sdk): run with cargo xtask test"]
    dashboard_flow_in_headless_chromium
);
