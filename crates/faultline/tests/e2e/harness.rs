//! A real devserver process and clients for it: the REST API, raw HTTP
//! ingestion, and the official SDKs (Python and Node in subprocesses).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_faultline");

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fixture(path: &str) -> Vec<u8> {
    let full = workspace_root().join("../shared/fixtures/sdk").join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("fixture {}: {e}", full.display()))
}

pub struct Devserver {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub url: String,
    pub dsn: String,
    pub project_id: i64,
    pub public_key: String,
    pub token: String,
    /// The admin password printed on first run.
    pub password: String,
    env: Vec<(String, String)>,
    agent: ureq::Agent,
    /// Set when this is the production topology, not a devserver.
    pub stack: Option<crate::stack::Stack>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

pub use faultline_testkit::free_port;

impl Devserver {
    pub fn start() -> Self {
        Self::start_with_env(&[])
    }

    /// Starts with extra `FAULTLINE_*` settings in the environment.
    pub fn start_with_env(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let mut server = Devserver::attach(dir, port, String::new(), String::new());
        server.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        server.spawn();
        let out = Command::new(BIN)
            .args([
                "token",
                "create",
                "--email",
                "admin@faultline.local",
                "--data-dir",
            ])
            .arg(server.dir.path())
            .envs(server.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("faultline token create runs");
        assert!(
            out.status.success(),
            "token create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        server.token = String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned();
        server
    }

    /// Starts (or restarts) the process on the same port and data directory.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("devserver.log"))
            .expect("log file");
        let mut child = Command::new(BIN)
            .args([
                "devserver",
                "--bind",
                &format!("127.0.0.1:{}", self.port),
                "--data-dir",
            ])
            .arg(self.dir.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("devserver starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("devserver did not print its DSN; log: {}", self.log()));
            if let Some(password) = line.strip_prefix("Admin password:") {
                self.password = password.trim().to_owned();
            }
            if let Some(dsn) = line.strip_prefix("DSN:") {
                self.set_dsn(dsn.trim());
                break;
            }
        }
        self.child = Some(child);
    }

    /// A client for a server started by someone else (the stack).
    pub fn attach(dir: tempfile::TempDir, port: u16, token: String, password: String) -> Self {
        Devserver {
            child: None,
            dir,
            port,
            url: format!("http://127.0.0.1:{port}"),
            dsn: String::new(),
            project_id: 0,
            public_key: String::new(),
            token,
            password,
            env: Vec::new(),
            agent: agent(),
            stack: None,
        }
    }

    pub fn set_dsn(&mut self, dsn: &str) {
        self.dsn = dsn.to_owned();
        let (_, rest) = self.dsn.split_once("://").expect("dsn scheme");
        let (key, hostpath) = rest.split_once('@').expect("dsn key");
        self.public_key = key.to_owned();
        self.project_id = hostpath
            .rsplit('/')
            .next()
            .unwrap()
            .parse()
            .expect("project id");
    }

    pub fn log(&self) -> String {
        match &self.stack {
            Some(stack) => stack.logs(),
            None => {
                std::fs::read_to_string(self.dir.path().join("devserver.log")).unwrap_or_default()
            }
        }
    }

    /// SIGTERM, and waits for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let status = child.wait().expect("devserver exits");
            assert!(
                status.success(),
                "devserver exited with {status}; log: {}",
                self.log()
            );
        }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9");
            child.wait().expect("reaped");
        }
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        let mut resp = self
            .agent
            .get(format!("{}{path}", self.url))
            .header("Authorization", format!("Bearer {}", self.token))
            .call()
            .expect("GET");
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().expect("body");
        (
            status,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }

    pub fn send_json(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let url = format!("{}{path}", self.url);
        let auth = format!("Bearer {}", self.token);
        let mut resp = match method {
            "PUT" => self
                .agent
                .put(url)
                .header("Authorization", auth)
                .send_json(body),
            "POST" => self
                .agent
                .post(url)
                .header("Authorization", auth)
                .send_json(body),
            other => panic!("method {other}"),
        }
        .expect("request");
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// POSTs raw bytes to the ingestion API.
    pub fn ingest(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
        let mut req = self.agent.post(format!("{}{path}", self.url));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut resp = req.send(body).expect("POST");
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub fn auth_header(&self) -> String {
        format!(
            "Sentry sentry_key={}, sentry_version=7, sentry_client=e2e/1",
            self.public_key
        )
    }

    pub fn envelope_path(&self) -> String {
        format!("/api/{}/envelope/", self.project_id)
    }

    /// Issues of the default project for a search query.
    pub fn issues(&self, query: &str) -> Vec<Value> {
        let (status, body) = self.get(&format!(
            "/api/0/projects/faultline/default/issues/?query={}",
            query
                .replace(' ', "+")
                .replace(':', "%3A")
                .replace('"', "%22")
        ));
        assert_eq!(status, 200, "{body}");
        body.as_array().expect("issue list").clone()
    }

    /// Waits until `check` returns Some, polling the API.
    pub fn wait_for<T>(&self, what: &str, mut check: impl FnMut(&Self) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(v) = check(self) {
                return v;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the default project's issues (any status) add up to `n` events.
    pub fn wait_for_total(&self, n: u64) -> Vec<Value> {
        self.wait_for_total_within(n, Duration::from_secs(30))
    }

    /// The same, for up to `timeout`.
    pub fn wait_for_total_within(&self, n: u64, timeout: Duration) -> Vec<Value> {
        let mut last = Vec::new();
        let deadline = Instant::now() + timeout;
        loop {
            let issues = self.issues("");
            if total_count(&issues) == n {
                return issues;
            }
            if Instant::now() > deadline {
                let summary: Vec<String> = last
                    .iter()
                    .map(|i: &Value| format!("{} x{}", i["title"], i["count"]))
                    .collect();
                panic!(
                    "timed out waiting for {n} events; issues: {summary:#?}\nlog:\n{}",
                    self.log()
                );
            }
            last = issues;
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn event(&self, event_id: &str) -> Option<Value> {
        let (status, body) = self.get(&format!(
            "/api/0/projects/faultline/default/events/{event_id}/"
        ));
        (status == 200).then_some(body)
    }
}

impl Drop for Devserver {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            faultline_testkit::terminate(&mut child, Duration::from_secs(10));
        }
    }
}

pub fn total_count(issues: &[Value]) -> u64 {
    issues.iter().map(count).sum()
}

pub fn count(issue: &Value) -> u64 {
    issue["count"]
        .as_str()
        .and_then(|c| c.parse().ok())
        .expect("count is a string of digits")
}

pub fn by_title<'a>(issues: &'a [Value], title: &str) -> Vec<&'a Value> {
    issues.iter().filter(|i| i["title"] == title).collect()
}

fn run_sdk(mut cmd: Command, dsn: &str) -> Vec<String> {
    cmd.env("SENTRY_DSN", dsn).stdin(Stdio::null());
    let out = cmd.output().expect("SDK script runs");
    assert!(
        out.status.success(),
        "SDK script failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Runs tests/sdk/python/send.py with the real `sentry-sdk`; returns event ids.
pub fn python_sdk(dsn: &str, args: &[&str]) -> Vec<String> {
    let python = std::env::var_os("FAULTLINE_TEST_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            Some(workspace_root().join("target/sdk/venv/bin/python")).filter(|p| p.exists())
        })
        .expect("no Python with sentry-sdk: run the tests with `cargo xtask test`");
    let mut cmd = Command::new(python);
    cmd.arg(workspace_root().join("tests/sdk/python/send.py"))
        .args(args);
    run_sdk(cmd, dsn)
}

/// Runs tests/sdk/node/send.js with the real `@sentry/node`; returns event ids.
pub fn node_sdk(dsn: &str, args: &[&str]) -> Vec<String> {
    let dir = std::env::var_os("FAULTLINE_TEST_NODE_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            Some(workspace_root().join("tests/sdk/node"))
                .filter(|d| d.join("node_modules").exists())
        })
        .expect("no @sentry/node installed: run the tests with `cargo xtask test`");
    let mut cmd = Command::new("node");
    cmd.arg(Path::new(&dir).join("send.js"))
        .args(args)
        .current_dir(&dir);
    run_sdk(cmd, dsn)
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

/// A minimal envelope with one event item.
pub fn envelope(event_id: &str, event: &Value) -> Vec<u8> {
    let payload = event.to_string();
    format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
        payload.len()
    )
    .into_bytes()
}

/// Runs a `faultline` command on `dir`: (succeeded, stdout, stderr), trimmed.
pub fn faultline_cli(args: &[&str], dir: &Path) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .expect("faultline runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    )
}

pub fn new_event_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Devserver {
    /// Sends one event in an envelope, as an SDK would; returns its event id.
    pub fn send_event(&self, event: &Value) -> String {
        let id = new_event_id();
        let (status, body) = self.ingest(
            &self.envelope_path(),
            &[("X-Sentry-Auth", &self.auth_header())],
            &envelope(&id, event),
        );
        assert_eq!(status, 200, "{body}");
        id
    }

    /// Sends one message event to a project without issues; returns the id
    /// of its issue once the API lists it.
    pub fn first_issue(&self, message: &str) -> String {
        self.send_event(&serde_json::json!({ "message": message }));
        self.wait_for_total(1)[0]["id"]
            .as_str()
            .expect("an issue id")
            .to_owned()
    }

    pub fn get_unauthenticated(&self, path: &str) -> (u16, Value) {
        let mut resp = self
            .agent
            .get(format!("{}{path}", self.url))
            .call()
            .expect("GET");
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }
}
