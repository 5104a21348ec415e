//! A real devserver process and clients for it: the REST API, raw HTTP
//! ingestion, captured SDK requests replayed, and the official SDKs (Python
//! and Node in subprocesses). Starting the devserver, the HTTP client,
//! envelopes and the fixtures come from faultline-testkit, which xtask's
//! stack and benchmarks use too.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use faultline_testkit::devserver::{self, DevserverCommand};
use faultline_testkit::http::{self, Response};
use faultline_testkit::process;
use serde_json::Value;

pub use faultline_testkit::envelope::{event_envelope as envelope, gzip};
pub use faultline_testkit::fixtures::{Capture, NODE_SDK, PYTHON_SDK, SENTRY_CLI};
pub use faultline_testkit::free_port;

pub const BIN: &str = env!("CARGO_BIN_EXE_faultline");

/// The key the fixtures were captured with (their DSN's), replaced by a
/// server's own when they are replayed.
const CAPTURED_KEY: &str = "sentry_key=publickey";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A captured SDK request of `tests/fixtures/sdk`: `fixture(PYTHON_SDK, "exception")`.
pub fn fixture(sdk: &str, name: &str) -> Capture {
    Capture::load(sdk, name).unwrap_or_else(|e| panic!("fixture {sdk}/{name}: {e}"))
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
    /// Set when this is the production topology, not a devserver.
    pub stack: Option<crate::stack::Stack>,
}

/// A response body as JSON, or as a JSON string when it is not JSON.
fn json_or_text(response: &Response) -> Value {
    serde_json::from_slice(&response.body).unwrap_or_else(|_| Value::String(response.text()))
}

impl Devserver {
    pub fn start() -> Self {
        Self::start_with_env(&[])
    }

    /// Starts with extra `FAULTLINE_*` settings in the environment.
    pub fn start_with_env(env: &[(&str, &str)]) -> Self {
        Self::start_in(tempfile::tempdir().expect("temp dir"), env)
    }

    /// Starts on the data directory `dir` (a file system of the test's).
    pub fn start_in(dir: tempfile::TempDir, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut server = Devserver::attach(dir, port, String::new(), String::new());
        server.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // The default floor is 1 GiB; a CI machine with less free disk must
        // still run the suites (the disk tests set their own floor).
        if !env.iter().any(|(k, _)| *k == "FAULTLINE_STORAGE_MIN_FREE") {
            server.env.push((
                "FAULTLINE_STORAGE_MIN_FREE".into(),
                (64u64 << 20).to_string(),
            ));
        }
        server.spawn();
        let data_dir = ["--data-dir".as_ref(), server.dir.path().as_os_str()];
        server.token = devserver::mint_token(Path::new(BIN), &data_dir, &server.env)
            .unwrap_or_else(|e| panic!("{e}"));
        server
    }

    /// Starts (or restarts) the process on the same port and data directory.
    pub fn spawn(&mut self) {
        let log = self.dir.path().join("devserver.log");
        let started = DevserverCommand {
            binary: Path::new(BIN),
            port: self.port,
            data_dir: self.dir.path(),
            env: &self.env,
            log: &log,
        }
        .spawn();
        let (child, info) = started.unwrap_or_else(|e| panic!("{e}; log:\n{}", self.log()));
        if let Some(password) = info.admin_password {
            self.password = password;
        }
        self.set_dsn(&info.dsn);
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
            stack: None,
        }
    }

    pub fn set_dsn(&mut self, dsn: &str) {
        let (_, key, project) =
            devserver::parse_dsn(dsn).unwrap_or_else(|e| panic!("the server's DSN: {e}"));
        self.dsn = dsn.to_owned();
        self.public_key = key;
        self.project_id = project.parse().expect("a numeric project id");
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
            let (status, killed) =
                process::stop(&mut child, Duration::from_secs(30)).expect("devserver exits");
            assert!(
                status.success() && !killed,
                "devserver exited with {status} (killed after 30 s: {killed}); log: {}",
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

    /// One request on a connection of its own: a restarted server or a
    /// closed keep-alive connection then never fails the next request.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        http::request(addr, method, path, headers, body)
            .unwrap_or_else(|e| panic!("{e}\nlog:\n{}", self.log()))
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        let auth = format!("Bearer {}", self.token);
        let response = self.request("GET", path, &[("Authorization", &auth)], b"");
        (response.status, json_or_text(&response))
    }

    pub fn send_json(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        assert!(matches!(method, "PUT" | "POST"), "method {method}");
        let auth = format!("Bearer {}", self.token);
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        let response = self.request(method, path, &headers, body.to_string().as_bytes());
        (response.status, json_or_text(&response))
    }

    pub fn delete(&self, path: &str) -> (u16, Value) {
        let auth = format!("Bearer {}", self.token);
        let response = self.request("DELETE", path, &[("Authorization", &auth)], b"");
        (response.status, json_or_text(&response))
    }

    /// A JSON request with another API token than the server's own.
    pub fn send_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let auth = format!("Bearer {token}");
        let body = body.map(Value::to_string).unwrap_or_default();
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        let response = self.request(method, path, &headers, body.as_bytes());
        (response.status, json_or_text(&response))
    }

    /// POSTs raw bytes to the ingestion API.
    pub fn ingest(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
        let response = self.request("POST", path, headers, body);
        (response.status, json_or_text(&response))
    }

    /// Sends a captured SDK request as the SDK sent it (its query, headers
    /// and body) to this server's envelope endpoint, the capture's key
    /// replaced by this server's.
    pub fn replay(&self, capture: &Capture) -> (u16, Value) {
        let own_key = format!("sentry_key={}", self.public_key);
        let with_own_key = |s: &str| s.replace(CAPTURED_KEY, &own_key);
        let mut path = self.envelope_path();
        if !capture.query.is_empty() {
            path = format!("{path}?{}", with_own_key(&capture.query));
        }
        // The connection's own headers are this client's to send.
        let hop = ["host", "content-length", "transfer-encoding", "connection"];
        let headers: Vec<(String, String)> = capture
            .headers
            .iter()
            .filter(|(name, _)| !hop.contains(&name.to_ascii_lowercase().as_str()))
            .map(|(name, value)| (name.clone(), with_own_key(value)))
            .collect();
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        self.ingest(&path, &headers, &capture.body)
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
    let mut cmd = Command::new(test_python());
    cmd.arg(workspace_root().join("tests/sdk/python/send.py"))
        .args(args);
    run_sdk(cmd, dsn)
}

/// Starts a test peer (tests/smtp/server.py, tests/webhooks/receiver.py)
/// and waits for the `ready` line it prints once it listens.
pub fn spawn_ready(cmd: &mut Command, what: &str) -> Child {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("piped stdout")),
        &mut ready,
    )
    .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(ready.trim(), "ready", "{what} did not start");
    child
}

/// Runs the test venv's `sentry-cli` in `dir` against `server` (its URL,
/// token and DSN; organization `faultline`, project `default`); returns its
/// stdout, failing with its output unless it succeeds.
pub fn sentry_cli(server: &Devserver, dir: &Path, args: &[&str]) -> String {
    let cli = test_python().with_file_name("sentry-cli");
    let out = Command::new(&cli)
        .args(args)
        .current_dir(dir)
        .env("SENTRY_URL", &server.url)
        .env("SENTRY_AUTH_TOKEN", &server.token)
        .env("SENTRY_ORG", "faultline")
        .env("SENTRY_PROJECT", "default")
        .env("SENTRY_DSN", &server.dsn)
        .env("SENTRY_DISABLE_UPDATE_CHECK", "true")
        .env("SENTRY_LOAD_DOTENV", "0")
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", cli.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "sentry-cli {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The Python with tests/requirements.txt installed (sentry-sdk, aiosmtpd).
pub fn test_python() -> PathBuf {
    std::env::var_os("FAULTLINE_TEST_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            Some(workspace_root().join("target/sdk/venv/bin/python")).filter(|p| p.exists())
        })
        .expect("no Python with sentry-sdk: run the tests with `cargo xtask test`")
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
        let response = self.request("GET", path, &[], b"");
        (response.status, json_or_text(&response))
    }
}
