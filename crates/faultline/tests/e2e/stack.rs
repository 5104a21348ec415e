//! The production topology end to end: each service its own process
//! (`faultline run`) on real servers — PostgreSQL, ClickHouse, a
//! Kafka-protocol broker (tansu), Redis — behind deploy/nginx.conf, started by
//! `faultline-testkit` as `cargo xtask stack` starts it. A [`Devserver`]
//! built by [`Devserver::start_stack`] is driven by the same tests as the
//! devserver: one URL for the API and the DSN, as compose publishes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use faultline_testkit::{self as testkit, ServerUrls, ServicePorts};
use serde_json::{Value, json};

use crate::harness::*;

/// The processes of one stack; all stopped when it drops.
pub struct Stack {
    dir: PathBuf,
    config: PathBuf,
    ports: ServicePorts,
    kafka_port: u16,
    broker: Option<Child>,
    /// Its own Redis: relay remembers event ids there, and fixtures reuse
    /// theirs from one stack to the next.
    redis: Option<Child>,
    services: Vec<(&'static str, Child)>,
    nginx: Option<Child>,
    /// Added to every service's environment.
    env: Vec<(String, String)>,
    /// This stack's PostgreSQL database and ClickHouse database.
    postgres_url: String,
    clickhouse_db: String,
}

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests with `cargo xtask test`"))
}

impl Stack {
    /// The ports its services listen on.
    pub fn ports(&self) -> &ServicePorts {
        &self.ports
    }

    fn log_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }

    /// Every service's log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        let logs = testkit::SERVICES
            .iter()
            .map(|service| (*service, self.log_dir().join(format!("{service}.log"))))
            .chain([("broker", self.dir.join("tansu/tansu.log"))]);
        for (service, path) in logs {
            let log = std::fs::read_to_string(path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            out.push_str(&format!("--- {service} (last lines) ---\n"));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    pub fn start_service(&mut self, service: &'static str) {
        let child = testkit::start_service_with_env(
            Path::new(BIN),
            service,
            &self.config,
            &self.ports,
            &self.log_dir(),
            &self.env,
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", self.logs()));
        self.services.push((service, child));
    }

    /// SIGKILL: the service gets no chance to finish or commit anything.
    pub fn kill9_service(&mut self, service: &str) {
        let at = self
            .services
            .iter()
            .position(|(name, _)| *name == service)
            .expect("the service runs");
        let (_, mut child) = self.services.remove(at);
        child.kill().expect("kill -9");
        child.wait().expect("reaped");
    }

    pub fn stop_broker(&mut self) {
        if let Some(mut broker) = self.broker.take() {
            broker.kill().expect("kill the broker");
            broker.wait().expect("reaped");
        }
    }

    pub fn start_broker(&mut self) {
        self.broker = Some(
            testkit::start_tansu(
                Path::new(&env("FAULTLINE_TEST_TANSU")),
                &self.dir.join("tansu"),
                self.kafka_port,
            )
            .expect("tansu starts"),
        );
    }

    /// One query on this stack's PostgreSQL database; its first value.
    pub fn postgres_value(&self, sql: &str) -> String {
        let out = Command::new("psql")
            .arg(&self.postgres_url)
            .args(["-qAtc", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    /// One query on the test ClickHouse server, in this stack's database.
    pub fn clickhouse_value(&self, sql: &str) -> String {
        let url = format!(
            "{}/?database={}",
            env("FAULTLINE_TEST_CLICKHOUSE_URL"),
            self.clickhouse_db
        );
        ureq::post(url)
            .send(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .body_mut()
            .read_to_string()
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Runs `faultline` on this stack's config.yml; its output.
    pub fn faultline(&self, args: &[&str]) -> String {
        faultline(&self.config, args)
    }

    /// `GET /health` of a service.
    pub fn health(&self, service: &str) -> u16 {
        ureq::get(format!(
            "http://127.0.0.1:{}/health",
            self.ports.http(service)
        ))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
    }

    /// `GET path` on a service's own HTTP port (not through nginx), as
    /// Prometheus reaches it on the compose network: status and body.
    pub fn service_get(&self, service: &str, path: &str) -> (u16, String) {
        match ureq::get(format!(
            "http://127.0.0.1:{}{path}",
            self.ports.http(service)
        ))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        {
            Ok(mut resp) => (
                resp.status().as_u16(),
                resp.body_mut().read_to_string().unwrap_or_default(),
            ),
            Err(e) => (0, format!("no answer: {e}")),
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(mut nginx) = self.nginx.take() {
            testkit::terminate(&mut nginx, Duration::from_secs(5));
        }
        for (_, child) in self.services.iter_mut().rev() {
            testkit::terminate(child, Duration::from_secs(10));
        }
        self.stop_broker();
        if let Some(mut redis) = self.redis.take() {
            testkit::terminate(&mut redis, Duration::from_secs(5));
        }
    }
}

fn faultline(config: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("FAULTLINE_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("faultline runs");
    assert!(
        out.status.success(),
        "faultline {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

impl Devserver {
    /// The production topology, fresh: its own PostgreSQL database,
    /// ClickHouse database and broker.
    pub fn start_stack() -> Self {
        Self::start_stack_with("")
    }

    /// The production topology with `extra` lines (`key: value`) added to
    /// its config.yml.
    pub fn start_stack_with(extra: &str) -> Self {
        Self::start_stack_with_env(extra, &[])
    }

    /// The production topology with `extra` config lines and `env` in
    /// every service's environment.
    pub fn start_stack_with_env(extra: &str, service_env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let name = format!("faultline_test_{}", new_event_id());
        let postgres_admin = env("FAULTLINE_TEST_POSTGRES_URL");
        let created = Command::new("psql")
            .arg(&postgres_admin)
            .args(["-qc", &format!("CREATE DATABASE {name}")])
            .status()
            .expect("psql runs");
        assert!(created.success(), "cannot create the test database");
        let (base, _) = postgres_admin
            .rsplit_once('/')
            .expect("URL with a database");

        let mut stack = Stack {
            dir: dir.path().to_path_buf(),
            config: dir.path().join("config.yml"),
            ports: ServicePorts::free(),
            kafka_port: free_port(),
            broker: None,
            redis: None,
            services: Vec::new(),
            nginx: None,
            env: service_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            postgres_url: format!("{base}/{name}"),
            clickhouse_db: name.clone(),
        };
        std::fs::create_dir_all(stack.log_dir()).expect("log dir");
        stack.start_broker();
        let redis_port = free_port();
        stack.redis = Some(
            testkit::start_redis(&dir.path().join("redis"), redis_port)
                .expect("redis-server starts"),
        );
        let public_port = free_port();
        let urls = ServerUrls {
            postgres: format!("{base}/{name}"),
            clickhouse: format!("{}/{name}", env("FAULTLINE_TEST_CLICKHOUSE_URL")),
            kafka: format!("127.0.0.1:{}", stack.kafka_port),
            redis: format!("redis://127.0.0.1:{redis_port}"),
        };
        let secret = "e2e-stack-secret-key-of-at-least-32-characters";
        std::fs::write(
            &stack.config,
            testkit::stack_config(&urls, &stack.ports, public_port, secret) + extra,
        )
        .expect("config.yml");
        faultline(&stack.config, &["upgrade", "--noinput"]);
        let password = "stack-admin-password";
        faultline(
            &stack.config,
            &[
                "createuser",
                "--email",
                "admin@faultline.local",
                "--password",
                password,
                "--superuser",
                "--no-input",
            ],
        );
        for service in testkit::SERVICES {
            stack.start_service(service);
        }
        stack.nginx = Some(
            testkit::start_nginx(
                &workspace_root().join("deploy/nginx.conf"),
                &dir.path().join("nginx"),
                public_port,
                stack.ports.relay,
                stack.ports.web,
            )
            .expect("nginx starts (apt-get install nginx-light)"),
        );
        let token = faultline(
            &stack.config,
            &["token", "create", "--email", "admin@faultline.local"],
        )
        .trim()
        .to_owned();
        let mut server = Devserver::attach(dir, public_port, token, password.to_owned());
        let (status, keys) = server.get("/api/0/projects/faultline/default/keys/");
        assert_eq!(status, 200, "{keys}");
        server.set_dsn(keys[0]["dsn"]["public"].as_str().expect("a DSN"));
        server.stack = Some(stack);
        server
    }

    pub fn stack(&mut self) -> &mut Stack {
        self.stack.as_mut().expect("started with start_stack")
    }
}

/// Sends `n` events with distinct ids in `k` issues through the raw
/// envelope endpoint; returns the accepted ids.
fn send_events(server: &Devserver, n: usize, k: usize, prefix: &str) -> Vec<String> {
    let path = server.envelope_path();
    let auth = server.auth_header();
    (0..n)
        .map(|i| {
            let id = new_event_id();
            let (status, body) = server.ingest(
                &path,
                &[("X-Sentry-Auth", &auth)],
                &envelope(&id, &json!({"message": format!("{prefix} {}", i % k)})),
            );
            assert_eq!(status, 200, "{body}\n{}", server.log());
            id
        })
        .collect()
}

#[test]
#[ignore = "needs PostgreSQL, ClickHouse, Redis, tansu and nginx: run with cargo xtask test"]
fn killing_the_ingest_consumer_mid_stream_loses_and_double_counts_nothing() {
    let mut server = Devserver::start_stack();
    let first = send_events(&server, 150, 3, "stream");
    // Kill it while it works through the burst, keep sending while it is
    // down, then start it again: the uncommitted batch is delivered again.
    std::thread::sleep(Duration::from_millis(300));
    server.stack().kill9_service("ingest-consumer");
    let second = send_events(&server, 150, 3, "stream");
    // Start the new consumer once the killed member's session (6 s) has
    // run out. Kafka hands a dead member's partitions over whenever the
    // new one joins; tansu 0.6 evicts a dead member only when someone joins
    // after its session ended, and a member that joined before that can
    // sit with no partitions for good (seen here and in CI).
    std::thread::sleep(Duration::from_secs(8));
    server.stack().start_service("ingest-consumer");

    let issues = server.wait_for_total_within(300, Duration::from_secs(120));
    assert_eq!(issues.len(), 3, "{issues:#?}");
    for issue in &issues {
        assert_eq!(count(issue), 100, "{issue}");
    }
    for id in first.iter().chain(&second).step_by(7) {
        let event: Value = server.wait_for("an accepted event in ClickHouse", |s| s.event(id));
        assert_eq!(event["eventID"], id.as_str());
    }
    // Events pages come from ClickHouse through the query service.
    let id = issues[0]["id"].as_str().unwrap();
    let (status, events) = server.get(&format!("/api/0/issues/{id}/events/?limit=100"));
    assert_eq!(status, 200);
    assert_eq!(events.as_array().unwrap().len(), 100, "each event once");
}

#[test]
#[ignore = "needs PostgreSQL, ClickHouse, Redis, tansu and nginx: run with cargo xtask test"]
fn relay_answers_503_while_the_broker_is_down_and_recovers() {
    let mut server = Devserver::start_stack();
    let before = send_events(&server, 5, 1, "before the outage");
    server.stack().stop_broker();

    let path = server.envelope_path();
    let auth = server.auth_header();
    let started = Instant::now();
    let (status, body) = server.ingest(
        &path,
        &[("X-Sentry-Auth", &auth)],
        &envelope(&new_event_id(), &json!({"message": "during the outage"})),
    );
    assert_eq!(
        status, 503,
        "relay must not accept what it cannot keep: {body}"
    );
    assert!(body["detail"].is_string(), "{body}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(
        server.stack().health("relay"),
        503,
        "readiness reflects the broker"
    );
    // web neither publishes nor consumes: the dashboard and API stay up.
    assert_eq!(server.stack().health("web"), 200);
    let (status, _) = server.get("/api/0/projects/faultline/default/issues/");
    assert_eq!(status, 200, "the API still answers");

    server.stack().start_broker();
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.stack().health("relay") != 200 {
        assert!(
            Instant::now() < deadline,
            "relay did not become ready again"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The first publish after the outage may still fail while the producer
    // reconnects; an SDK's next event then gets through.
    let resumed = loop {
        let id = new_event_id();
        let (status, body) = server.ingest(
            &path,
            &[("X-Sentry-Auth", &auth)],
            &envelope(&id, &json!({"message": "after the outage 0"})),
        );
        match status {
            200 => break id,
            503 => assert!(
                Instant::now() < deadline,
                "relay never accepted again: {body}\n{}",
                server.log()
            ),
            other => panic!("{other} {body}"),
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let mut after = send_events(&server, 4, 1, "after the outage");
    after.push(resumed);
    let issues = server.wait_for_total(10);
    assert_eq!(issues.len(), 2, "{issues:#?}");
    for id in before.iter().chain(&after) {
        server.wait_for("every accepted event", |s| s.event(id));
    }
}

#[test]
#[ignore = "needs PostgreSQL, ClickHouse, Redis, tansu and nginx: run with cargo xtask test"]
fn relays_share_rate_limits_and_seen_event_ids_through_redis() {
    let mut server = Devserver::start_stack();
    // A second relay, as compose would scale it, on the same config.
    let second = testkit::ServicePorts {
        relay: free_port(),
        ..server.stack().ports
    };
    let log_dir = server.stack().dir.join("second-relay");
    std::fs::create_dir_all(&log_dir).unwrap();
    let child = testkit::start_service(
        Path::new(BIN),
        "relay",
        &server.stack().config,
        &second,
        &log_dir,
    )
    .expect("a second relay starts");
    server.stack().services.push(("relay", child));

    let (status, keys) = server.get("/api/0/projects/faultline/default/keys/");
    assert_eq!(status, 200);
    let key_url = format!(
        "/api/0/projects/faultline/default/keys/{}/",
        keys[0]["id"].as_str().unwrap()
    );
    let (status, key) = server.send_json(
        "PUT",
        &key_url,
        json!({"rateLimit": {"count": 4, "window": 60}}),
    );
    assert_eq!(status, 200, "{key}");
    // Relays keep a key for two seconds themselves.
    std::thread::sleep(Duration::from_millis(2100));

    let path = server.envelope_path();
    let auth = server.auth_header();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let post = |port: u16, id: &str| -> u16 {
        agent
            .post(format!("http://127.0.0.1:{port}{path}"))
            .header("X-Sentry-Auth", &auth)
            .send(&envelope(id, &json!({"message": "shared limit"}))[..])
            .map(|r| r.status().as_u16())
            .expect("relay answers")
    };
    let first_relay = server.stack().ports.relay;
    let ids: Vec<String> = (0..4).map(|_| new_event_id()).collect();
    assert_eq!(post(first_relay, &ids[0]), 200);
    assert_eq!(post(first_relay, &ids[1]), 200);
    assert_eq!(post(second.relay, &ids[2]), 200);
    // A retry of an accepted event at the other relay: answered, not queued
    // again, and not counted against the limit.
    assert_eq!(post(second.relay, &ids[0]), 200);
    assert_eq!(post(second.relay, &ids[3]), 200);
    assert_eq!(
        post(first_relay, &new_event_id()),
        429,
        "the limit is one across relays"
    );
    assert_eq!(post(second.relay, &new_event_id()), 429);

    let issues = server.wait_for_total(4);
    assert_eq!(count(&issues[0]), 4);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        total_count(&server.issues("")),
        4,
        "the retried event counted once"
    );
}

/// Bytes of the per-event tables on PostgreSQL: with their indexes, and
/// their rows alone.
fn per_event_tables_bytes(stack: &Stack) -> (u64, u64) {
    let bytes = |sql: &str| stack.postgres_value(sql).parse::<u64>().unwrap();
    (
        bytes(
            "SELECT pg_total_relation_size('seen_events') + pg_total_relation_size('issue_users')",
        ),
        bytes("SELECT pg_relation_size('seen_events') + pg_relation_size('issue_users')"),
    )
}

fn clickhouse_bytes(stack: &Stack) -> u64 {
    stack
        .clickhouse_value(
            "SELECT toUInt64(sum(bytes_on_disk)) FROM system.parts \
             WHERE database = currentDatabase() AND active",
        )
        .parse()
        .unwrap()
}

#[test]
#[ignore = "needs PostgreSQL, ClickHouse, Redis, tansu and nginx: run with cargo xtask test"]
fn retention_gives_postgresql_and_clickhouse_space_back() {
    let mut server = Devserver::start_stack();
    let count = 1500;
    // Days of churn: each round loads a day's events that retention then
    // deletes, as the cron service does every day.
    let mut peaks = Vec::new();
    for round in 0..4 {
        let at = (chrono::Utc::now() - chrono::Duration::days(3)).to_rfc3339();
        crate::disk::send_many(&server, count, 4, |i, event| {
            crate::disk::vary(i, event);
            event["timestamp"] = json!(at);
        });
        server.wait_for_total_within(count as u64, Duration::from_secs(180));
        // Four senders finish in no set order, and the query service
        // inserts in batches: wait for ClickHouse to hold every event, not
        // for the last ids sent.
        server.wait_for("every event in ClickHouse", |s| {
            let stored: usize = s
                .stack
                .as_ref()
                .expect("a stack")
                .clickhouse_value("SELECT count() FROM events FINAL")
                .parse()
                .ok()?;
            (stored == count).then_some(())
        });
        let stack = server.stack();
        let (postgres_before, clickhouse_before) =
            (per_event_tables_bytes(stack), clickhouse_bytes(stack));
        let out = stack.faultline(&["cleanup", "--days", "2"]);
        let (postgres_after, clickhouse_after) =
            (per_event_tables_bytes(stack), clickhouse_bytes(stack));
        eprintln!(
            "round {round}: {count} events: ClickHouse {clickhouse_before} bytes ({} per event), \
             PostgreSQL per-event tables {postgres_before:?} bytes (with indexes, rows; {} per \
             event), {postgres_after:?} after cleanup; {out}",
            clickhouse_before / count as u64,
            postgres_before.0 / count as u64
        );
        assert!(
            out.starts_with(&format!(
                "Deleted {count} events and 20 issues older than 2 days"
            )),
            "{out}"
        );
        assert_eq!(
            clickhouse_after, 0,
            "ClickHouse kept {clickhouse_after} of {clickhouse_before} bytes of parts"
        );
        // The rows' pages go back to the file system; the indexes' empty
        // pages stay in the files, for the next day's entries.
        assert!(
            postgres_after.1 * 4 <= postgres_before.1,
            "PostgreSQL's per-event rows went from {} to {} bytes",
            postgres_before.1,
            postgres_after.1
        );
        peaks.push(postgres_before.0);
    }
    // The indexes' pages deleted one day are reused from the next: the
    // tables stay flat across days of churn.
    assert!(
        peaks[3] * 10 <= peaks[1] * 12,
        "the per-event tables peaked at {peaks:?} bytes over days of churn"
    );
}

#[test]
#[ignore = "needs PostgreSQL, ClickHouse, Redis, tansu and nginx: run with cargo xtask test"]
fn a_clickhouse_that_refuses_inserts_makes_the_consumer_wait_not_drop() {
    let mut server = Devserver::start_stack();
    let before = send_events(&server, 5, 1, "before");
    for id in &before {
        server.wait_for("events in ClickHouse", |s| s.event(id).map(|_| ()));
    }
    // The events table goes away under the query service: every insert
    // fails, as on a full or broken ClickHouse disk.
    server.stack().clickhouse_value("DETACH TABLE events");
    let during = send_events(&server, 40, 2, "while ClickHouse refuses");
    assert_eq!(server.stack().health("relay"), 200, "relay keeps accepting");
    // The query consumer retries with back-off meanwhile; what reads the
    // event store answers 503, not 500.
    std::thread::sleep(Duration::from_secs(3));
    let (status, body) = server.get("/api/0/projects/faultline/default/issues/?statsPeriod=24h");
    assert_eq!(status, 503, "{body}");
    assert!(body["detail"].is_string(), "{body}");
    server.stack().clickhouse_value("ATTACH TABLE events");
    server.wait_for_total(45);
    for id in before.iter().chain(&during) {
        server.wait_for("every accepted event in ClickHouse", |s| {
            s.event(id).map(|_| ())
        });
    }
    let stored: u64 = server
        .stack()
        .clickhouse_value("SELECT count() FROM events FINAL")
        .parse()
        .unwrap();
    assert_eq!(stored, 45, "each accepted event once");
}
