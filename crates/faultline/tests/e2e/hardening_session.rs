//! Issue 9, sessions and the browser: where sign-in sends people on, how
//! password guessing is throttled (in parallel, behind proxies, by timing,
//! from inside a session), what a password change does to other sessions,
//! and the headers that keep pages from being framed or running injected
//! script. Everything goes over HTTP as a browser or an attacker would.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::dashboard::{csrf_token, page, post_form, sign_in, sign_in_as};
use crate::harness::*;

/// What a request got back: status, `Location` exactly as sent (it may
/// hold bytes a browser would strip), the session cookie if any, all
/// headers, and the body.
struct Answer {
    status: u16,
    location: Option<String>,
    cookie: Option<String>,
    headers: ureq::http::HeaderMap,
    body: String,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn answer(mut resp: ureq::http::Response<ureq::Body>) -> Answer {
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let (location, cookie) = (
        header("location"),
        header("set-cookie").map(|c| c.split(';').next().unwrap_or_default().to_owned()),
    );
    Answer {
        status: resp.status().as_u16(),
        location,
        cookie,
        headers: resp.headers().clone(),
        body: resp.body_mut().read_to_string().unwrap_or_default(),
    }
}

/// Posts the sign-in form of the server at `url` (from the page itself, as
/// the browser's Origin says) with extra `headers`.
fn post_login(url: &str, body: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = agent()
        .post(format!("{url}/auth/login/"))
        .header("Origin", url)
        .content_type("application/x-www-form-urlencoded");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    answer(req.send(body.to_owned()).expect("the devserver answers"))
}

fn get(server: &Devserver, cookie: &str, path: &str) -> Answer {
    answer(
        agent()
            .get(format!("{}{path}", server.url))
            .header("Cookie", cookie)
            .call()
            .expect("the devserver answers"),
    )
}

fn admin_login(password: &str) -> String {
    format!("email=admin%40faultline.local&password={password}")
}

/// Where a browser on `server` goes for `location`: the WHATWG URL parser
/// (as browsers) drops tabs and newlines and reads `\` as `/`.
fn destination(server: &Devserver, location: &str) -> (String, Option<u16>) {
    let target = url::Url::parse(&server.url)
        .unwrap()
        .join(location)
        .unwrap_or_else(|e| panic!("{location:?} is no URL: {e}"));
    (
        target.host_str().unwrap_or_default().to_owned(),
        target.port(),
    )
}

/// `next` values (percent-encoded, as in a link) that try to leave the site.
const HOSTILE_NEXT: &[&str] = &[
    // "/\t/evil.example/": the browser drops the tab and reads //evil.example.
    "%2F%09%2Fevil.example%2F",
    "%2F%0A%2Fevil.example%2F",
    // CR/LF once answered 500 (not a valid Location value).
    "%2F%0D%0A%2Fevil.example%2F",
    "%2F%5Cevil.example%2F",
    "%5C%2Fevil.example%2F",
    "%2F%2Fevil.example%2F",
    "https%3A%2F%2Fevil.example%2F",
    "%20%2F%2Fevil.example%2F",
];

#[test]
fn sign_in_sends_people_on_only_within_the_site() {
    let server = Devserver::start();
    let here = destination(&server, "/");
    let login = admin_login(&server.password);
    for next in HOSTILE_NEXT {
        let signed_in = post_login(&server.url, &format!("{login}&next={next}"), &[]);
        assert_eq!(signed_in.status, 303, "next={next}: {}", signed_in.body);
        let location = signed_in.location.expect("a redirect");
        assert_eq!(
            destination(&server, &location),
            here,
            "next={next} sent the browser to {location:?}"
        );
        // Signed in already, the sign-in page forwards at once: same rule.
        let cookie = signed_in.cookie.expect("a session");
        let again = get(&server, &cookie, &format!("/auth/login/?next={next}"));
        assert_eq!(again.status, 303, "next={next}: {}", again.body);
        let location = again.location.expect("a redirect");
        assert_eq!(destination(&server, &location), here, "{location:?}");
    }
    // A path on the site is where sign-in goes.
    let signed_in = post_login(
        &server.url,
        &format!("{login}&next=%2Fsettings%2Faccount%2F%3Ftab%3D1"),
        &[],
    );
    assert_eq!(
        signed_in.location.as_deref(),
        Some("/settings/account/?tab=1")
    );
}

#[test]
fn parallel_wrong_passwords_get_at_most_five_evaluations() {
    let server = Devserver::start();
    let start = Arc::new(Barrier::new(40));
    let guesses: Vec<_> = (0..40)
        .map(|i| {
            let (url, start) = (server.url.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                post_login(&url, &admin_login(&format!("guess-{i}")), &[]).status
            })
        })
        .collect();
    let statuses: Vec<u16> = guesses.into_iter().map(|g| g.join().unwrap()).collect();
    // 200 is the sign-in page again, "not correct": a guess that was
    // checked. 429 is a guess refused unchecked.
    let checked = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        checked <= 5,
        "{checked} of 40 parallel guesses were checked: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    // The account is paused now, even for its password.
    let right = post_login(&server.url, &admin_login(&server.password), &[]);
    assert_eq!(right.status, 429, "{}", right.body);
}

/// A wrong password for another (unknown) account each time, so only the
/// per-address limit (20) can stop them.
fn guess_for_stranger(url: &str, n: usize, headers: &[(&str, &str)]) -> u16 {
    post_login(
        url,
        &format!("email=stranger{n}%40example.com&password=guess"),
        headers,
    )
    .status
}

#[test]
fn an_untrusted_peer_cannot_reset_its_limit_with_x_forwarded_for() {
    let server = Devserver::start();
    for n in 0..20 {
        let claimed = format!("198.51.100.{n}");
        assert_eq!(
            guess_for_stranger(&server.url, n, &[("X-Forwarded-For", &claimed)]),
            200
        );
    }
    // No proxy is trusted by default: a fresh claimed address changes nothing.
    assert_eq!(
        guess_for_stranger(&server.url, 99, &[("X-Forwarded-For", "198.51.100.99")]),
        429
    );
    assert_eq!(guess_for_stranger(&server.url, 100, &[]), 429);
}

#[test]
fn behind_a_trusted_proxy_each_client_has_its_own_limit() {
    // The devserver's peer is 127.0.0.1, standing in for nginx.
    let server = Devserver::start_with_env(&[("FAULTLINE_SYSTEM_TRUSTED_PROXIES", "127.0.0.1")]);
    let attacker = [("X-Forwarded-For", "203.0.113.7")];
    for n in 0..20 {
        assert_eq!(guess_for_stranger(&server.url, n, &attacker), 200);
    }
    assert_eq!(guess_for_stranger(&server.url, 20, &attacker), 429);
    // A client to the left of the proxy's entry is the attacker's own claim.
    assert_eq!(
        guess_for_stranger(
            &server.url,
            21,
            &[("X-Forwarded-For", "192.0.2.1, 203.0.113.7")]
        ),
        429
    );
    // Someone else behind the same proxy is not locked out.
    let colleague = post_login(
        &server.url,
        &admin_login(&server.password),
        &[("X-Forwarded-For", "203.0.113.8")],
    );
    assert_eq!(colleague.status, 303, "{}", colleague.body);
}

#[test]
fn unknown_emails_take_as_long_as_wrong_passwords() {
    let server = Devserver::start();
    // The fastest of three, so a busy machine does not decide.
    let fastest = |emails: [&str; 3]| {
        emails
            .iter()
            .map(|email| {
                let started = Instant::now();
                let answer = post_login(
                    &server.url,
                    &format!("email={email}&password=a-wrong-guess"),
                    &[],
                );
                assert_eq!(answer.status, 200, "{}", answer.body);
                started.elapsed()
            })
            .min()
            .unwrap()
    };
    let known = fastest(["admin%40faultline.local"; 3]);
    let unknown = fastest([
        "ghost1%40example.com",
        "ghost2%40example.com",
        "ghost3%40example.com",
    ]);
    // Skipping the hash check for unknown emails answers them in a few
    // milliseconds, against Argon2's tens to hundreds.
    assert!(
        unknown * 3 >= known,
        "unknown email {unknown:?}, known email {known:?}: the time tells which emails have accounts"
    );
}

fn change_password(server: &Devserver, cookie: &str, current: &str, new: &str) -> (u16, String) {
    let token = csrf_token(&page(server, cookie, "/settings/account/"));
    post_form(
        server,
        "/settings/account/",
        cookie,
        Some(&server.url),
        &format!("csrf_token={token}&action=password&current={current}&new={new}&confirm={new}"),
    )
}

#[test]
fn changing_the_password_signs_out_every_other_session() {
    let server = Devserver::start();
    let laptop = sign_in(&server, &server.url);
    let stolen = sign_in(&server, &server.url);
    assert_eq!(get(&server, &stolen, "/settings/account/").status, 200);

    let (status, html) = change_password(&server, &laptop, &server.password, "brand-new-secret");
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("password was changed"), "{html}");

    let signed_out = get(&server, &stolen, "/settings/account/");
    assert_eq!(signed_out.status, 303, "the other session ended");
    assert!(
        signed_out
            .location
            .is_some_and(|l| l.starts_with("/auth/login/")),
        "to the sign-in page"
    );
    assert_eq!(
        get(&server, &laptop, "/settings/account/").status,
        200,
        "the session that changed it stays signed in"
    );
    sign_in_as(&server, "admin@faultline.local", "brand-new-secret");
}

#[test]
fn guessing_the_current_password_in_a_session_is_throttled() {
    let server = Devserver::start();
    let cookie = sign_in(&server, &server.url);
    for n in 0..5 {
        let (status, html) =
            change_password(&server, &cookie, &format!("guess{n}"), "taken-over-1");
        assert_eq!(status, 400, "{html}");
        assert!(html.contains("current password is not correct"), "{html}");
    }
    let (status, html) = change_password(&server, &cookie, "guess5", "taken-over-1");
    assert_eq!(status, 429, "{html}");
    assert!(html.contains("Too many"), "{html}");
    // Paused: even the right password is not checked until the window ends.
    let (status, _) = change_password(&server, &cookie, &server.password, "taken-over-1");
    assert_eq!(status, 429);
    sign_in_as(&server, "admin@faultline.local", &server.password);
}

fn header<'a>(headers: &'a ureq::http::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap_or("(not text)"))
        .unwrap_or("(missing)")
}

/// The `on…=` attributes and inline `<script>` blocks of `html` (tags
/// only: text from events is escaped, so it holds no `<`).
fn inline_script(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for tag in html.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or_default();
        let lower = tag.to_ascii_lowercase();
        if lower.starts_with("script") && !lower.contains(" src=") {
            found.push(format!("<{tag}>"));
        }
        if lower
            .split_whitespace()
            .skip(1)
            .any(|attr| attr.starts_with("on") && attr.contains('='))
        {
            found.push(format!("<{tag}>"));
        }
    }
    found
}

#[test]
fn dashboard_pages_refuse_framing_and_inline_script() {
    let server = Devserver::start();
    let id = server.first_issue("frame me");
    let cookie = sign_in(&server, &server.url);
    let issue = format!("/organizations/faultline/issues/{id}/");
    let mut scripts = Vec::new();
    for (path, cookie) in [
        ("/auth/login/", ""),
        ("/organizations/faultline/issues/", cookie.as_str()),
        (issue.as_str(), cookie.as_str()),
        ("/organizations/faultline/projects/", cookie.as_str()),
        ("/settings/faultline/projects/default/", cookie.as_str()),
        ("/settings/account/", cookie.as_str()),
    ] {
        let Answer {
            status,
            headers,
            body: html,
            ..
        } = get(&server, cookie, path);
        assert_eq!(status, 200, "{path}");
        let policy = header(&headers, "content-security-policy");
        let directive = |name: &str| {
            policy
                .split(';')
                .map(str::trim)
                .find(|d| d.split_whitespace().next() == Some(name))
                .unwrap_or("(missing)")
                .to_owned()
        };
        assert_eq!(
            directive("script-src"),
            "script-src 'self'",
            "{path}: {policy}"
        );
        assert_eq!(
            directive("frame-ancestors"),
            "frame-ancestors 'none'",
            "{path}: {policy}"
        );
        assert_eq!(header(&headers, "x-frame-options"), "DENY", "{path}");
        assert_eq!(
            header(&headers, "x-content-type-options"),
            "nosniff",
            "{path}"
        );
        assert_eq!(header(&headers, "referrer-policy"), "same-origin", "{path}");
        // The policy would block inline script, so pages must have none.
        assert_eq!(inline_script(&html), Vec::<String>::new(), "{path}");
        for tag in html.split("<script src=\"").skip(1) {
            scripts.push(tag.split('"').next().unwrap().to_owned());
        }
    }
    scripts.sort();
    scripts.dedup();
    assert_eq!(scripts.len(), 1, "one script file: {scripts:?}");
    let script = &scripts[0];
    assert!(script.starts_with("/_static/"), "{script}");
    let Answer {
        status,
        headers,
        body,
        ..
    } = get(&server, "", script);
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").contains("javascript"));
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert!(body.contains("select-all"), "the dashboard's script");

    // The API's JSON (events hold what anyone with a DSN sent) is never
    // sniffed into HTML either.
    let api = get(&server, "", &format!("/api/0/issues/{id}/"));
    assert_eq!(header(&api.headers, "x-content-type-options"), "nosniff");
}

#[test]
#[ignore = "needs Chromium, chromedriver and the test venv (selenium): run with cargo xtask test"]
fn another_site_cannot_frame_a_signed_in_page_in_headless_chromium() {
    let server = Devserver::start();
    let id = server.first_issue("click me");
    let out = std::process::Command::new(test_python())
        .arg(workspace_root().join("tests/browser/framing.py"))
        .args([
            &server.url,
            "admin@faultline.local",
            &server.password,
            &format!("/organizations/faultline/issues/{id}/"),
        ])
        .env("SE_AVOID_STATS", "true")
        .output()
        .expect("the browser script runs");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, issue) = server.get(&format!("/api/0/issues/{id}/"));
    assert_eq!(issue["status"], "unresolved");
}
