//! The `faultline` admin commands, run beside a live devserver as contracts §2
//! promises, and the endpoints every service has.

use std::process::Command;

use crate::harness::*;

#[test]
fn createuser_and_token_work_beside_a_running_devserver() {
    let server = Devserver::start();
    let dir = server.dir.path();
    let (ok, out, err) = faultline_cli(
        &[
            "createuser",
            "--email",
            "dev@example.com",
            "--password",
            "s3cret-pass",
            "--no-input",
        ],
        dir,
    );
    assert!(ok, "{out} {err}");
    let (ok, _, err) = faultline_cli(
        &[
            "createuser",
            "--email",
            "dev@example.com",
            "--password",
            "another-long-password",
            "--no-input",
        ],
        dir,
    );
    assert!(!ok, "a second user with the same email is refused");
    assert!(err.contains("dev@example.com"), "{err}");
    let (ok, token, err) = faultline_cli(&["token", "create", "--email", "dev@example.com"], dir);
    assert!(ok, "{err}");
    assert_eq!(token.len(), 64);

    // The new member sees the organization through the API with their token.
    let resp = ureq::get(format!("{}/api/0/organizations/", server.url))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .expect("organizations");
    let orgs: serde_json::Value =
        serde_json::from_str(&resp.into_body().read_to_string().unwrap()).unwrap();
    assert_eq!(orgs[0]["slug"], "faultline");

    let (ok, _, err) = faultline_cli(&["token", "create", "--email", "nobody@example.com"], dir);
    assert!(!ok && err.contains("nobody@example.com"), "{err}");
    let (ok, out, _) = faultline_cli(&["upgrade", "--noinput"], dir);
    assert!(ok && out.contains("Migrations applied"), "{out}");
}

#[test]
fn commands_explain_bad_input_in_one_line() {
    let out = Command::new(BIN)
        .args(["config", "generate-secret-key"])
        .output()
        .unwrap();
    let key = String::from_utf8(out.stdout).unwrap();
    assert_eq!(key.trim().len(), 50);
    let other = Command::new(BIN)
        .args(["config", "generate-secret-key"])
        .output()
        .unwrap();
    assert_ne!(key, String::from_utf8(other.stdout).unwrap());

    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = faultline_cli(
        &["createuser", "--email", "a@example.com", "--no-input"],
        &dir.path().join("missing"),
    );
    assert!(!ok && err.contains("no Faultline data"), "{err}");

    std::fs::write(dir.path().join("config.yml"), "retention.days: soon\n").unwrap();
    let (ok, _, err) = faultline_cli(&["upgrade", "--noinput"], dir.path());
    assert!(!ok);
    assert!(
        err.contains("retention.days") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn health_metrics_and_json_404s() {
    let server = Devserver::start();
    let (status, body) = server.get("/health");
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    server.ingest(
        &server.envelope_path(),
        &[("X-Sentry-Auth", &server.auth_header())],
        &envelope(&new_event_id(), &serde_json::json!({"message": "m"})),
    );
    server.wait_for_total(1);
    let metrics = ureq::get(format!("{}/metrics", server.url))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert!(
        metrics.contains("faultline_relay_accepted_items_total{item_type=\"event\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("faultline_ingest_events_total{outcome=\"grouped\"} 1"),
        "{metrics}"
    );
    let (status, body) = server.get("/api/0/no-such-endpoint/");
    assert_eq!(status, 404);
    assert!(body["detail"].is_string(), "{body}");
}

/// The real `sentry-cli` (from the test venv) against the REST API and relay.
#[test]
#[ignore = "needs sentry-cli (the test venv): run with cargo xtask test"]
fn sentry_cli_works_against_faultline() {
    let server = Devserver::start();
    let run = |args: &[&str]| sentry_cli(&server, server.dir.path(), args);
    assert!(run(&["info"]).contains("admin@faultline.local"));
    let projects = run(&["projects", "list", "-o", "faultline"]);
    assert!(
        projects.contains("default") && projects.contains("Faultline"),
        "{projects}"
    );
    run(&["send-event", "-m", "sent by sentry-cli"]);
    server.wait_for_total(1);
    assert!(
        run(&["issues", "list", "-o", "faultline", "-p", "default"]).contains("sent by sentry-cli")
    );
    run(&[
        "issues",
        "resolve",
        "-o",
        "faultline",
        "-p",
        "default",
        "--all",
    ]);
    assert!(server.issues("is:unresolved").is_empty());
    assert_eq!(server.issues("is:resolved").len(), 1);
}

#[test]
fn cleanup_deletes_old_events_and_issues() {
    let server = Devserver::start();
    let old = (chrono::Utc::now() - chrono::Duration::days(3)).to_rfc3339();
    let send = |message: &str, timestamp: Option<&str>| {
        let id = new_event_id();
        let mut event = serde_json::json!({"message": message});
        if let Some(ts) = timestamp {
            event["timestamp"] = serde_json::json!(ts);
        }
        let (status, _) = server.ingest(
            &server.envelope_path(),
            &[("X-Sentry-Auth", &server.auth_header())],
            &envelope(&id, &event),
        );
        assert_eq!(status, 200);
        id
    };
    for _ in 0..3 {
        send("only old", Some(&old));
    }
    let mixed_old = send("mixed", Some(&old));
    let mixed_new = send("mixed", None);
    send("only new", None);
    server.wait_for_total(6);
    server.wait_for("stored events", |s| s.event(&mixed_new).map(|_| ()));

    let (ok, _, err) = faultline_cli(&["cleanup", "--days", "0"], server.dir.path());
    assert!(!ok && err.contains("--days"), "{err}");
    let (ok, out, err) = faultline_cli(&["cleanup", "--days", "2"], server.dir.path());
    assert!(ok, "{err}");
    assert!(
        out.starts_with("Deleted 4 events and 1 issues older than 2 days"),
        "{out}"
    );

    let titles: Vec<String> = server
        .issues("")
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        titles.contains(&"mixed".to_owned()) && titles.contains(&"only new".to_owned()),
        "{titles:?}"
    );
    assert!(!titles.contains(&"only old".to_owned()), "{titles:?}");
    assert!(server.event(&mixed_old).is_none());
    assert!(server.event(&mixed_new).is_some());
    // The devserver keeps working on the compacted files.
    send("after cleanup", None);
    server.wait_for("the next event", |s| {
        s.issues("")
            .iter()
            .any(|i| i["title"] == "after cleanup")
            .then_some(())
    });
}

/// A fresh database on the test PostgreSQL server.
fn postgres_database() -> String {
    let admin_url = std::env::var("FAULTLINE_TEST_POSTGRES_URL")
        .expect("FAULTLINE_TEST_POSTGRES_URL is not set: run the tests with `cargo xtask test`");
    let name = format!("faultline_test_{}", new_event_id());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let admin = sqlx::PgPool::connect(&admin_url)
            .await
            .expect("the test PostgreSQL server answers");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
    });
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

#[test]
#[ignore = "needs PostgreSQL and the Python sentry-sdk: run with cargo xtask test"]
fn devserver_keeps_its_metadata_in_postgresql_when_configured() {
    let url = postgres_database();
    let server = Devserver::start_with_env(&[("FAULTLINE_DATABASE_URL", &url)]);
    python_sdk(
        &server.dsn,
        &["key-error", "--release", "pg@1", "--count", "2"],
    );
    let issues = server.wait_for_total(2);
    assert_eq!(issues[0]["title"], "KeyError: 'missing-sku'");
    // `upgrade` reaches the same server, and the issue is really there.
    let out = Command::new(BIN)
        .args(["upgrade", "--noinput", "--data-dir"])
        .arg(server.dir.path())
        .env("FAULTLINE_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let count: i64 = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT count FROM issues")
            .fetch_one(&pool)
            .await
            .unwrap()
    });
    assert_eq!(count, 2);
}

#[test]
fn an_unreachable_database_is_named_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["devserver", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env(
            "FAULTLINE_DATABASE_URL",
            "postgres://faultline:secret@127.0.0.1:1/nowhere",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot reach PostgreSQL at database.url"),
        "{err}"
    );
    assert!(
        !err.contains("secret"),
        "the password stays out of messages: {err}"
    );
}

#[test]
fn each_service_names_the_backend_it_cannot_reach() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.yml"),
        "system.secret-key: 'a-test-secret-key-of-at-least-32-characters'\n",
    )
    .unwrap();
    // A closed port on 127.0.0.1: refused at once.
    let closed = free_port();
    for (service, key, value, message) in [
        (
            "relay",
            "FAULTLINE_KAFKA_BROKERS",
            format!("127.0.0.1:{closed}"),
            "cannot reach Kafka at kafka.brokers",
        ),
        (
            "query",
            "FAULTLINE_CLICKHOUSE_URL",
            format!("http://faultline:secret@127.0.0.1:{closed}/faultline"),
            "cannot reach ClickHouse at clickhouse.url",
        ),
        (
            "web",
            "FAULTLINE_REDIS_URL",
            format!("redis://127.0.0.1:{closed}"),
            "cannot reach Redis at redis.url",
        ),
    ] {
        let started = std::time::Instant::now();
        let out = Command::new(BIN)
            .args(["run", service, "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env(key, &value)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{service} must not start");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{service}: {err}");
        assert!(!err.contains("secret"), "the password stays out: {err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{service} took {:?} to give up",
            started.elapsed()
        );
    }
}

/// The dashboard shows a refusal as a sentence; the command line prints
/// the same rule as a phrase after its context (`cannot create user …: `).
fn as_phrase(sentence: &str) -> String {
    let mut chars = sentence.trim().trim_end_matches('.').chars();
    chars
        .next()
        .map(|first| first.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The error the registration form shows for `form`.
fn registration_refusal(server: &Devserver, form: &str) -> String {
    let response = server.request(
        "POST",
        "/auth/register/",
        &[
            ("Origin", &server.url),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        form.as_bytes(),
    );
    assert_eq!(response.status, 400, "{}", response.snippet());
    let html = response.text();
    let marker = "id=\"register-error\">";
    let start = html.find(marker).expect("the form's error") + marker.len();
    html[start..start + html[start..].find('<').unwrap()].to_owned()
}

/// `createuser` holds emails and passwords to the dashboard's rules, in the
/// dashboard's words (issue 10: it took a one-character password).
#[test]
fn createuser_refuses_what_the_dashboard_refuses_in_its_words() {
    let server = Devserver::start_with_env(&[("FAULTLINE_AUTH_ALLOW_REGISTRATION", "true")]);
    let dir = server.dir.path();
    let createuser = |email: &str, password: &str| {
        faultline_cli(
            &[
                "createuser",
                "--email",
                email,
                "--password",
                password,
                "--no-input",
            ],
            dir,
        )
    };

    let said = registration_refusal(&server, "email=web%40example.com&password=x");
    assert!(said.contains("8 characters"), "{said}");
    let (ok, _, err) = createuser("cli@example.com", "x");
    assert!(!ok, "a one-character password is refused");
    assert!(
        err.contains(&format!(
            "cannot create user cli@example.com: {}",
            as_phrase(&said)
        )),
        "the dashboard says {said:?}; the command line: {err}"
    );
    let (ok, _, err) = faultline_cli(&["token", "create", "--email", "cli@example.com"], dir);
    assert!(!ok && err.contains("no user"), "nothing was created: {err}");

    let said = registration_refusal(&server, "email=not-an-address&password=long-enough-1");
    let (ok, _, err) = createuser("not-an-address", "long-enough-1");
    assert!(!ok);
    assert!(
        err.contains(&as_phrase(&said)),
        "the dashboard says {said:?}; {err}"
    );

    // An address as typed with capitals is kept as sign-in looks it up.
    let (ok, out, err) = createuser("CLI@Example.com", "long-enough-1");
    assert!(ok, "{out} {err}");
    assert!(out.contains("cli@example.com"), "{out}");
    crate::dashboard::sign_in_as(&server, "cli@example.com", "long-enough-1");
    let (ok, _, err) = createuser("cli@example.com", "another-long-1");
    assert!(!ok);
    assert!(
        err.contains(
            "cannot create user cli@example.com: an account with this email already exists"
        ),
        "{err}"
    );
}
