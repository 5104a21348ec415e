//! `cargo xtask bench ingest [--events N] [--clients C] [--release-binary PATH]`:
//! an ingestion benchmark against a release-built devserver.
//!
//! 1. Unless `--release-binary PATH` is given, runs `cargo build --release -p
//!    faultline` and uses `target/release/faultline`.
//! 2. Starts `faultline devserver` on a free port of 127.0.0.1 with a fresh
//!    data directory under `target/bench/`, its stdout and stderr going to
//!    `target/bench/devserver.log`, and reads the DSN it prints; then mints an
//!    API token with `faultline token create`.
//! 3. Prepares N request bodies (default 20000) from the captured Python SDK
//!    envelope `exception.body` (`--fixture PATH` to use another): each has a
//!    fresh random event id in the envelope header and the event, and is
//!    gzipped. This happens before timing, so client CPU is not measured.
//! 4. C client threads (default 16), each with one keep-alive HTTP/1.1
//!    connection, share the N `POST /api/<project>/envelope/` requests.
//!    Reported: accepted envelopes/s at the relay (N / wall time of the send
//!    phase) and p50/p90/p99/max latency of the 200 responses; any other
//!    status, or a transport error, is counted and reported as an error.
//! 5. End to end: from the first send, polls the project's issue list every
//!    100 ms until the issues' `count`s add up to the number of accepted
//!    envelopes (N when there were no errors; the events group into one
//!    issue); end-to-end events/s = that number / the time from the first send
//!    until all were counted. Gives up after 5 minutes.
//! 6. Samples the devserver's VmRSS every 50 ms (and its VmHWM at the end) and
//!    reports the peak, along with the CPU time it used.
//!
//! The summary is printed and written to `target/bench/ingest.txt`; then the
//! devserver is stopped with SIGTERM and its data directory deleted. The exit
//! status is a failure when requests failed or not every event was counted.
//! Timings are reported, never asserted on.
//!
//! The client is a minimal HTTP/1.1 one over `std::net::TcpStream`, to keep
//! xtask free of an async runtime and an HTTP crate.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::Value;

/// The envelope replayed: an exception event captured from sentry-python.
const DEFAULT_FIXTURE: &str = "/work/shared/fixtures/sdk/python-sentry-sdk-2.75.0/exception.body";
/// The user `faultline devserver` creates on its first run.
const ADMIN_EMAIL: &str = "admin@faultline.local";
const DEFAULT_EVENTS: usize = 20_000;
const DEFAULT_CLIENTS: usize = 16;
/// How long the devserver may take to print its DSN.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long to wait for every event to show up in the issue counts.
const E2E_TIMEOUT: Duration = Duration::from_secs(5 * 60);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
const RSS_INTERVAL: Duration = Duration::from_millis(50);
/// How long a request may wait for its response before it counts as failed.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// `cargo xtask bench ...`
pub fn bench(args: &[String]) -> Result<ExitCode> {
    match args.first().map(String::as_str) {
        Some("ingest") => ingest(&IngestArgs::parse(&args[1..])?),
        Some(other) => bail!("unknown benchmark `{other}`\n{}", crate::USAGE),
        None => bail!("which benchmark?\n{}", crate::USAGE),
    }
}

struct IngestArgs {
    events: usize,
    clients: usize,
    binary: Option<PathBuf>,
    fixture: PathBuf,
}

impl IngestArgs {
    fn parse(args: &[String]) -> Result<IngestArgs> {
        let mut parsed = IngestArgs {
            events: DEFAULT_EVENTS,
            clients: DEFAULT_CLIENTS,
            binary: None,
            fixture: PathBuf::from(DEFAULT_FIXTURE),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            // Accept both `--flag VALUE` and `--flag=VALUE`.
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
                _ => (arg.as_str(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next().cloned())
                    .with_context(|| format!("{flag} needs a value"))
            };
            match flag {
                "--events" => parsed.events = positive(flag, &value()?)?,
                "--clients" => parsed.clients = positive(flag, &value()?)?,
                "--release-binary" => parsed.binary = Some(PathBuf::from(value()?)),
                "--fixture" => parsed.fixture = PathBuf::from(value()?),
                other => bail!(
                    "unknown option `{other}` for bench ingest\n{}",
                    crate::USAGE
                ),
            }
        }
        Ok(parsed)
    }
}

fn positive(flag: &str, value: &str) -> Result<usize> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("{flag} takes a positive integer, not `{value}`"),
    }
}

fn ingest(args: &IngestArgs) -> Result<ExitCode> {
    let root = crate::workspace_root();
    let bench_dir = root.join("target/bench");
    fs::create_dir_all(&bench_dir).with_context(|| format!("creating {}", bench_dir.display()))?;

    let binary = match &args.binary {
        Some(path) => path.clone(),
        None => {
            eprintln!("xtask: running cargo build --release -p faultline");
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            crate::run_cmd(
                Command::new(cargo)
                    .args(["build", "--release", "-p", "faultline"])
                    .current_dir(&root),
            )?;
            root.join("target/release/faultline")
        }
    };
    if !binary.is_file() {
        bail!("no faultline binary at {}", binary.display());
    }

    // Bodies first: if the fixture is unusable there is no server to stop.
    let template = Template::load(&args.fixture)?;
    eprintln!(
        "xtask: preparing {} gzipped envelopes from {}",
        args.events,
        args.fixture.display()
    );
    let prepare_started = Instant::now();
    let bodies = template.bodies(args.events)?;
    let gzip_bytes: usize = bodies.iter().map(Vec::len).sum();
    eprintln!(
        "xtask: prepared in {:.2} s (average {} bytes gzipped, {} bytes raw)",
        prepare_started.elapsed().as_secs_f64(),
        gzip_bytes / bodies.len(),
        template.raw_len()
    );

    let log_path = bench_dir.join("devserver.log");
    let mut server = Devserver::start(&binary, &bench_dir, &log_path)?;
    eprintln!(
        "xtask: devserver pid {} at {} (data in {}, log in {})",
        server.pid(),
        server.info.addr,
        server.data_dir.display(),
        log_path.display()
    );
    let token = mint_token(&binary, &server.data_dir)?;
    let run = measure(&server, &token, bodies, args.clients)?;
    let hwm_kb = proc_status_kb(server.pid(), "VmHWM");
    let disk = dir_sizes(&server.data_dir);
    let cpu = proc_cpu_seconds(server.pid());

    let summary = Summary {
        args,
        binary: &binary,
        template: &template,
        gzip_avg: gzip_bytes / args.events,
        run: &run,
        hwm_kb,
        cpu,
        disk,
    };
    let text = summary.render();
    println!("{text}");
    let report = bench_dir.join("ingest.txt");
    fs::write(&report, &text).with_context(|| format!("writing {}", report.display()))?;

    let stop = server.stop();
    match &stop {
        Ok((status, took)) => eprintln!(
            "xtask: devserver stopped in {:.2} s ({status}); summary in {}",
            took.as_secs_f64(),
            report.display()
        ),
        Err(e) => eprintln!("xtask: stopping the devserver: {e:#}"),
    }
    stop?;

    let mut failures = Vec::new();
    if run.errors() > 0 {
        failures.push(format!(
            "{} of {} requests failed",
            run.errors(),
            args.events
        ));
    }
    match &run.e2e {
        E2e::Done { counted, .. } if *counted == run.accepted() as u64 => {}
        E2e::Done { counted, .. } => failures.push(format!(
            "the issues count {counted} events, {} were accepted",
            run.accepted()
        )),
        E2e::TimedOut { counted, .. } => failures.push(format!(
            "only {counted} of {} accepted events were counted after {} s",
            run.accepted(),
            E2E_TIMEOUT.as_secs()
        )),
        E2e::Failed(e) => failures.push(format!("polling the issues failed: {e}")),
    }
    if failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "xtask: error: {} (see {})",
            failures.join("; "),
            log_path.display()
        );
        Ok(ExitCode::FAILURE)
    }
}

// ---------------------------------------------------------------------------
// Request bodies

/// The fixture envelope, decoded: header, item header and event payload.
struct Template {
    header: Value,
    item_header: Value,
    event: Value,
    raw_len: usize,
}

impl Template {
    fn load(path: &Path) -> Result<Template> {
        let gz = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let mut raw = Vec::new();
        GzDecoder::new(gz.as_slice())
            .read_to_end(&mut raw)
            .with_context(|| format!("gunzipping {}", path.display()))?;
        let text = std::str::from_utf8(&raw)
            .with_context(|| format!("{} is not UTF-8", path.display()))?;
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let [header, item_header, event] = lines[..] else {
            bail!(
                "{} has {} lines; expected an envelope header, one item header and its payload",
                path.display(),
                lines.len()
            );
        };
        let parse = |what: &str, line: &str| {
            serde_json::from_str::<Value>(line)
                .with_context(|| format!("parsing the {what} of {}", path.display()))
        };
        let template = Template {
            header: parse("envelope header", header)?,
            item_header: parse("item header", item_header)?,
            event: parse("event", event)?,
            raw_len: raw.len(),
        };
        if template.item_header.get("type").and_then(Value::as_str) != Some("event") {
            bail!("the item of {} is not an event", path.display());
        }
        Ok(template)
    }

    fn raw_len(&self) -> usize {
        self.raw_len
    }

    /// `n` gzipped envelopes, each with its own random event id, made on
    /// every CPU (xtask is a debug build, and gzip is most of the work).
    fn bodies(&self, n: usize) -> Result<Vec<Vec<u8>>> {
        let mut random = vec![0u8; 16 * n];
        File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut random))
            .context("reading /dev/urandom")?;
        let threads = thread::available_parallelism().map_or(1, |t| t.get());
        let per_thread = n.div_ceil(threads);
        let parts = thread::scope(|scope| {
            let handles: Vec<_> = random
                .chunks(16 * per_thread)
                .map(|ids| scope.spawn(move || self.encode(ids)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("an envelope-making thread panicked"))
                .collect::<Result<Vec<_>>>()
        })?;
        Ok(parts.into_iter().flatten().collect())
    }

    /// One gzipped envelope per 16 random bytes of `ids`.
    fn encode(&self, ids: &[u8]) -> Result<Vec<Vec<u8>>> {
        let (mut header, mut item_header, mut event) = (
            self.header.clone(),
            self.item_header.clone(),
            self.event.clone(),
        );
        let mut raw = Vec::with_capacity(self.raw_len + 64);
        ids.chunks_exact(16)
            .map(|bytes| {
                let id = Value::String(hex(bytes));
                header["event_id"] = id.clone();
                event["event_id"] = id;
                let payload = serde_json::to_vec(&event)?;
                item_header["length"] = payload.len().into();
                raw.clear();
                serde_json::to_writer(&mut raw, &header)?;
                raw.push(b'\n');
                serde_json::to_writer(&mut raw, &item_header)?;
                raw.push(b'\n');
                raw.extend_from_slice(&payload);
                raw.push(b'\n');
                let mut gz = GzEncoder::new(Vec::with_capacity(raw.len() / 2), Compression::fast());
                gz.write_all(&raw)?;
                Ok(gz.finish()?)
            })
            .collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

// ---------------------------------------------------------------------------
// The devserver

/// What the devserver printed when it came up.
struct ServerInfo {
    addr: SocketAddr,
    public_key: String,
    project_id: String,
    org_slug: String,
    project_slug: String,
}

/// A running devserver; dropping it stops it and deletes its data.
struct Devserver {
    child: Option<Child>,
    data_dir: PathBuf,
    info: ServerInfo,
}

impl Devserver {
    fn start(binary: &Path, bench_dir: &Path, log_path: &Path) -> Result<Devserver> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let data_dir = bench_dir.join(format!("data-{}-{nanos}", std::process::id()));
        let port = free_port()?;
        // Both stdout (copied by a thread below) and stderr append to the
        // log; with separate file offsets they would overwrite each other.
        File::create(log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let append = || {
            OpenOptions::new()
                .append(true)
                .open(log_path)
                .with_context(|| format!("opening {}", log_path.display()))
        };
        eprintln!(
            "xtask: starting {} devserver --bind 127.0.0.1:{port} --data-dir {}",
            binary.display(),
            data_dir.display()
        );
        let mut child = Command::new(binary)
            .arg("devserver")
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(&data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(append()?)
            .env("NO_COLOR", "1")
            .spawn()
            .with_context(|| format!("starting {} devserver", binary.display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        // From here on, dropping `server` stops the child and removes the data.
        let mut server = Devserver {
            child: Some(child),
            data_dir,
            info: ServerInfo {
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                public_key: String::new(),
                project_id: String::new(),
                org_slug: "faultline".into(),
                project_slug: "default".into(),
            },
        };

        // A thread copies stdout into the log (so the pipe never fills up)
        // and hands the lines to us until the DSN has been seen.
        let stdout_log = append()?;
        let (lines_tx, lines_rx) = mpsc::channel::<String>();
        thread::spawn(move || {
            let mut log = stdout_log;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log, "[stdout] {line}");
                let _ = lines_tx.send(line);
            }
        });

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match lines_rx.recv_timeout(left) {
                Ok(line) => line,
                Err(mpsc::RecvTimeoutError::Timeout) => bail!(
                    "the devserver printed no DSN within {} s (see {})",
                    STARTUP_TIMEOUT.as_secs(),
                    log_path.display()
                ),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = server.child.as_mut().and_then(|c| c.wait().ok());
                    bail!(
                        "the devserver closed its stdout before printing a DSN ({}; see {})",
                        status.map_or("no exit status".into(), |s| s.to_string()),
                        log_path.display()
                    );
                }
            };
            let info = &mut server.info;
            if let Some(org) = line.strip_prefix("Organization:") {
                info.org_slug = org.trim().to_owned();
            } else if let Some(project) = line.strip_prefix("Project:") {
                // `Project:        default (id 1)`
                if let Some(slug) = project.split_whitespace().next() {
                    info.project_slug = slug.to_owned();
                }
            } else if let Some(dsn) = line.strip_prefix("DSN:") {
                let dsn = dsn.trim();
                (info.addr, info.public_key, info.project_id) =
                    parse_dsn(dsn).with_context(|| format!("parsing the DSN `{dsn}`"))?;
                break;
            }
        }
        // The stdout thread keeps draining into the log; its channel's
        // receiver goes away here, so its sends just fail from now on.
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// SIGTERM, then wait (up to 30 s, then SIGKILL); delete the data.
    fn stop(&mut self) -> Result<(std::process::ExitStatus, Duration)> {
        let mut child = self
            .child
            .take()
            .context("the devserver was already stopped")?;
        let started = Instant::now();
        let result = terminate(&mut child);
        let removed = fs::remove_dir_all(&self.data_dir)
            .with_context(|| format!("removing {}", self.data_dir.display()));
        let status = result?;
        removed?;
        Ok((status, started.elapsed()))
    }
}

impl Drop for Devserver {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = terminate(&mut child);
            let _ = fs::remove_dir_all(&self.data_dir);
        }
    }
}

fn terminate(child: &mut Child) -> Result<std::process::ExitStatus> {
    if let Some(status) = child.try_wait()? {
        return Ok(status);
    }
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .context("running kill -TERM")?;
    if sent.success() {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            thread::sleep(Duration::from_millis(50));
        }
        eprintln!("xtask: the devserver ignored SIGTERM for 30 s; killing it");
    }
    child.kill().context("killing the devserver")?;
    Ok(child.wait()?)
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// `http://<public key>@<host>:<port>/<project id>`
fn parse_dsn(dsn: &str) -> Result<(SocketAddr, String, String)> {
    let rest = dsn.strip_prefix("http://").context("not an http:// DSN")?;
    let (key, rest) = rest.split_once('@').context("no public key")?;
    let (host, project) = rest.split_once('/').context("no project id")?;
    let addr = host
        .parse::<SocketAddr>()
        .with_context(|| format!("`{host}` is not an IP address and port"))?;
    let project = project.trim_end_matches('/');
    if key.is_empty() || project.is_empty() {
        bail!("empty public key or project id");
    }
    Ok((addr, key.to_owned(), project.to_owned()))
}

fn mint_token(binary: &Path, data_dir: &Path) -> Result<String> {
    let out = Command::new(binary)
        .args(["token", "create", "--email", ADMIN_EMAIL, "--data-dir"])
        .arg(data_dir)
        .stdin(Stdio::null())
        .output()
        .context("running faultline token create")?;
    if !out.status.success() {
        bail!(
            "faultline token create failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let token = String::from_utf8(out.stdout).context("the token is not UTF-8")?;
    let token = token.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        bail!("faultline token create printed `{token}`, not a token");
    }
    Ok(token.to_owned())
}

// ---------------------------------------------------------------------------
// The measurement

#[derive(Default)]
struct ClientStats {
    latencies: Vec<Duration>,
    /// Non-200 responses by status.
    statuses: BTreeMap<u16, usize>,
    transport_errors: usize,
    /// The first few failures, for the report.
    samples: Vec<String>,
}

impl ClientStats {
    fn fail(&mut self, what: String) {
        if self.samples.len() < 5 {
            self.samples.push(what);
        }
    }
}

enum E2e {
    /// Every accepted event was counted, `after` the first send.
    Done {
        after: Duration,
        counted: u64,
    },
    TimedOut {
        counted: u64,
    },
    Failed(String),
}

struct Run {
    events: usize,
    send_wall: Duration,
    stats: ClientStats,
    e2e: E2e,
    /// Events counted in the issues when the last response came in.
    counted_at_send_end: u64,
    polls: usize,
    idle_rss_kb: Option<u64>,
    peak_rss_kb: u64,
    rss_samples: usize,
    idle_cpu: Option<f64>,
    cpu_at_send_end: Option<f64>,
    /// CPU seconds this process (the clients) used in the send phase.
    client_cpu: Option<f64>,
    /// /proc/loadavg's 1-minute figure just before the run.
    loadavg: Option<String>,
}

impl Run {
    fn accepted(&self) -> usize {
        self.stats.latencies.len()
    }
    fn errors(&self) -> usize {
        self.events - self.accepted()
    }
}

fn measure(server: &Devserver, token: &str, bodies: Vec<Vec<u8>>, clients: usize) -> Result<Run> {
    let pid = server.pid();
    let info = &server.info;
    let events = bodies.len();
    let idle_rss_kb = proc_status_kb(pid, "VmRSS");
    let idle_cpu = proc_cpu_seconds(pid);
    let loadavg = fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned));

    // Peak RSS, sampled for the whole run.
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop_sampling.clone();
        thread::spawn(move || {
            let (mut peak, mut samples) = (0u64, 0usize);
            while !stop.load(Ordering::Relaxed) {
                if let Some(kb) = proc_status_kb(pid, "VmRSS") {
                    peak = peak.max(kb);
                    samples += 1;
                }
                thread::sleep(RSS_INTERVAL);
            }
            (peak, samples)
        })
    };

    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    // Accepted so far; the poller waits for the issue count to reach it.
    let accepted = Arc::new(AtomicU64::new(0));
    let sending = Arc::new(AtomicBool::new(true));
    let start = Arc::new(Barrier::new(clients + 2));
    let envelope_path = format!("/api/{}/envelope/", info.project_id);
    let auth = format!(
        "Sentry sentry_key={}, sentry_version=7, sentry_client=bench/1",
        info.public_key
    );

    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (bodies, next, accepted, start) = (
                bodies.clone(),
                next.clone(),
                accepted.clone(),
                start.clone(),
            );
            let (addr, path, auth) = (info.addr, envelope_path.clone(), auth.clone());
            thread::spawn(move || {
                let headers = [
                    ("Content-Type", "application/x-sentry-envelope"),
                    ("Content-Encoding", "gzip"),
                    ("X-Sentry-Auth", auth.as_str()),
                ];
                let mut conn = Conn::new(addr);
                let mut stats = ClientStats::default();
                start.wait();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let sent = Instant::now();
                    match conn.request("POST", &path, &headers, body) {
                        Ok((200, _)) => {
                            stats.latencies.push(sent.elapsed());
                            accepted.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok((status, body)) => {
                            *stats.statuses.entry(status).or_default() += 1;
                            stats.fail(format!(
                                "HTTP {status}: {}",
                                String::from_utf8_lossy(&body[..body.len().min(300)])
                            ));
                        }
                        Err(e) => {
                            stats.transport_errors += 1;
                            stats.fail(format!("{e:#}"));
                        }
                    }
                }
                stats
            })
        })
        .collect();

    // The poller: from the first send until the issues count every accepted event.
    let poller = {
        let (accepted, sending, start) = (accepted.clone(), sending.clone(), start.clone());
        let path = format!(
            "/api/0/projects/{}/{}/issues/?query=",
            info.org_slug, info.project_slug
        );
        let auth = format!("Bearer {token}");
        let addr = info.addr;
        thread::spawn(move || {
            let mut conn = Conn::new(addr);
            let headers = [("Authorization", auth.as_str())];
            start.wait();
            let t0 = Instant::now();
            let (mut polls, mut failed_polls) = (0usize, 0u32);
            let mut counted = 0u64;
            let mut last_progress = t0;
            let mut at_send_end = None;
            loop {
                let tick = Instant::now();
                // Read `sending` before polling: a count taken after the last
                // response must not count as "at send end" too early.
                let was_sending = sending.load(Ordering::Acquire);
                polls += 1;
                match issue_count(&mut conn, &path, &headers) {
                    Ok(n) => {
                        counted = n;
                        failed_polls = 0;
                    }
                    // Give up after a few seconds of failures in a row.
                    Err(e) if failed_polls >= 30 => {
                        return (E2e::Failed(format!("{e:#}")), at_send_end, polls);
                    }
                    Err(e) => {
                        failed_polls += 1;
                        eprintln!("xtask: polling the issues: {e:#}");
                    }
                }
                if !was_sending && at_send_end.is_none() {
                    at_send_end = Some(counted);
                }
                let target = accepted.load(Ordering::Acquire);
                if !was_sending && counted >= target {
                    return (
                        E2e::Done {
                            after: t0.elapsed(),
                            counted,
                        },
                        at_send_end,
                        polls,
                    );
                }
                if t0.elapsed() >= E2E_TIMEOUT {
                    return (E2e::TimedOut { counted }, at_send_end, polls);
                }
                if last_progress.elapsed() >= Duration::from_secs(5) {
                    last_progress = Instant::now();
                    eprintln!(
                        "xtask: {:>5.1} s: {target} accepted, {counted} counted in issues",
                        t0.elapsed().as_secs_f64()
                    );
                }
                thread::sleep(POLL_INTERVAL.saturating_sub(tick.elapsed()));
            }
        })
    };

    eprintln!("xtask: sending {events} envelopes from {clients} clients");
    start.wait();
    let t0 = Instant::now();
    let client_cpu_start = proc_cpu_seconds(std::process::id());
    let mut stats = ClientStats::default();
    for worker in workers {
        let s = worker.join().expect("a client thread panicked");
        stats.latencies.extend(s.latencies);
        for (status, n) in s.statuses {
            *stats.statuses.entry(status).or_default() += n;
        }
        stats.transport_errors += s.transport_errors;
        for sample in s.samples {
            stats.fail(sample);
        }
    }
    let send_wall = t0.elapsed();
    let cpu_at_send_end = proc_cpu_seconds(pid);
    let client_cpu = proc_cpu_seconds(std::process::id())
        .zip(client_cpu_start)
        .map(|(end, start)| end - start);
    sending.store(false, Ordering::Release);
    eprintln!(
        "xtask: send phase done in {:.2} s; waiting for the issue count",
        send_wall.as_secs_f64()
    );

    let (e2e, at_send_end, polls) = poller.join().expect("the poller panicked");
    stop_sampling.store(true, Ordering::Relaxed);
    let (peak_rss_kb, rss_samples) = sampler.join().expect("the RSS sampler panicked");
    stats.latencies.sort_unstable();
    Ok(Run {
        events,
        send_wall,
        stats,
        e2e,
        counted_at_send_end: at_send_end.unwrap_or(0),
        polls,
        idle_rss_kb,
        peak_rss_kb,
        rss_samples,
        idle_cpu,
        cpu_at_send_end,
        client_cpu,
        loadavg,
    })
}

/// The sum of the `count`s of every issue, following the `Link` pages.
fn issue_count(conn: &mut Conn, first: &str, headers: &[(&str, &str)]) -> Result<u64> {
    let mut total = 0u64;
    let mut path = first.to_owned();
    for _ in 0..100 {
        let (status, body, link) = conn
            .request_with_link("GET", &path, headers, &[])
            .or_else(|_| conn.request_with_link("GET", &path, headers, &[]))?;
        if status != 200 {
            bail!(
                "GET {path}: HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            );
        }
        let issues: Vec<Value> = serde_json::from_slice(&body)
            .with_context(|| format!("GET {path}: not a JSON list"))?;
        for issue in &issues {
            let count = issue.get("count").context("an issue without a count")?;
            total += match count {
                Value::String(s) => s.parse::<u64>().ok(),
                other => other.as_u64(),
            }
            .with_context(|| format!("an issue count of {count}"))?;
        }
        match link.as_deref().and_then(next_cursor) {
            Some(cursor) => path = format!("{first}&cursor={cursor}"),
            None => return Ok(total),
        }
    }
    bail!("more than 100 pages of issues")
}

/// The cursor of a `Link` header's `rel="next"` part with `results="true"`.
fn next_cursor(link: &str) -> Option<String> {
    link.split(", <").find_map(|part| {
        if !part.contains("rel=\"next\"") || !part.contains("results=\"true\"") {
            return None;
        }
        let cursor = part.split("cursor=\"").nth(1)?.split('"').next()?;
        Some(cursor.replace(':', "%3A"))
    })
}

// ---------------------------------------------------------------------------
// /proc and the data directory

/// The files directly in `dir` with their sizes.
fn dir_sizes(dir: &Path) -> Vec<(String, u64)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let meta = entry.metadata().ok()?;
            meta.is_file()
                .then(|| (entry.file_name().to_string_lossy().into_owned(), meta.len()))
        })
        .collect()
}

/// A `kB` line of /proc/<pid>/status, e.g. VmRSS or VmHWM.
fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// User + system CPU seconds of a process so far (assuming 100 clock ticks/s).
fn proc_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the `(comm)`, which may itself contain spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

// ---------------------------------------------------------------------------
// Minimal HTTP/1.1 client with keep-alive

struct Conn {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        Conn { addr, stream: None }
    }

    fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>)> {
        let (status, body, _) = self.request_with_link(method, path, headers, body)?;
        Ok((status, body))
    }

    /// Send a request, read the response; also returns its `Link` header.
    /// On any error the connection is dropped, to be reopened next time.
    fn request_with_link(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>, Option<String>)> {
        let result = self.exchange(method, path, headers, body);
        if result.is_err() {
            self.stream = None;
        }
        result.with_context(|| format!("{method} http://{}{path}", self.addr))
    }

    fn exchange(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>, Option<String>)> {
        if self.stream.is_none() {
            let stream = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT)
                .with_context(|| format!("connecting to {}", self.addr))?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(IO_TIMEOUT))?;
            stream.set_write_timeout(Some(IO_TIMEOUT))?;
            self.stream = Some(BufReader::with_capacity(16 * 1024, stream));
        }
        let reader = self.stream.as_mut().expect("connected above");

        let mut request = Vec::with_capacity(256 + body.len());
        write!(
            request,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        )?;
        for (name, value) in headers {
            write!(request, "{name}: {value}\r\n")?;
        }
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(body);
        reader.get_mut().write_all(&request).context("sending")?;

        let mut line = String::new();
        if reader
            .read_line(&mut line)
            .context("reading the status line")?
            == 0
        {
            bail!("the server closed the connection");
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line `{}`", line.trim_end()))?;
        let (mut length, mut chunked, mut close, mut link) = (None, false, false, None);
        loop {
            line.clear();
            if reader.read_line(&mut line).context("reading headers")? == 0 {
                bail!("the server closed the connection in the headers");
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                bail!("bad header line `{header}`");
            };
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => {
                    length = Some(value.parse::<usize>().context("bad Content-Length")?);
                }
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                "link" => link = Some(value.to_owned()),
                _ => {}
            }
        }
        let mut response = Vec::new();
        if chunked {
            loop {
                line.clear();
                reader
                    .read_line(&mut line)
                    .context("reading a chunk size")?;
                let size_hex = line.trim_end().split(';').next().unwrap_or("");
                let size = usize::from_str_radix(size_hex, 16)
                    .with_context(|| format!("bad chunk size `{}`", line.trim_end()))?;
                if size == 0 {
                    // Trailers, up to an empty line.
                    loop {
                        line.clear();
                        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let start = response.len();
                response.resize(start + size, 0);
                reader
                    .read_exact(&mut response[start..])
                    .context("reading a chunk")?;
                let mut crlf = [0u8; 2];
                reader
                    .read_exact(&mut crlf)
                    .context("reading a chunk end")?;
            }
        } else if let Some(length) = length {
            response.resize(length, 0);
            reader
                .read_exact(&mut response)
                .context("reading the body")?;
        } else if !(status == 204 || status == 304 || (100..200).contains(&status)) {
            // No length: the body runs to the end of the connection.
            reader
                .read_to_end(&mut response)
                .context("reading the body")?;
            close = true;
        }
        if close {
            self.stream = None;
        }
        Ok((status, response, link))
    }
}

// ---------------------------------------------------------------------------
// The report

struct Summary<'a> {
    args: &'a IngestArgs,
    binary: &'a Path,
    template: &'a Template,
    gzip_avg: usize,
    run: &'a Run,
    hwm_kb: Option<u64>,
    cpu: Option<f64>,
    /// Files in the data directory with their sizes, at the end.
    disk: Vec<(String, u64)>,
}

impl Summary<'_> {
    fn render(&self) -> String {
        let run = self.run;
        let n = run.events;
        let secs = run.send_wall.as_secs_f64();
        let lat = &run.stats.latencies;
        let mut s = String::new();
        let mut line = |text: String| {
            s.push_str(&text);
            s.push('\n');
        };
        line("== faultline ingest benchmark ==".into());
        line(format!("binary:          {}", self.binary.display()));
        line(format!(
            "workload:        {n} events ({} bytes raw, ~{} bytes gzipped), {} clients, {}",
            self.template.raw_len(),
            self.gzip_avg,
            self.args.clients,
            self.args
                .fixture
                .file_name()
                .map_or("?".into(), |f| f.to_string_lossy())
        ));
        line(format!(
            "machine:         {} CPUs, load average {} just before the run",
            thread::available_parallelism().map_or(0, |n| n.get()),
            run.loadavg.as_deref().unwrap_or("n/a")
        ));
        line(format!(
            "relay:           {:.0} envelopes/s accepted ({} of {n} accepted in {secs:.2} s)",
            run.accepted() as f64 / secs,
            run.accepted()
        ));
        if lat.is_empty() {
            line("latency (200s):  none".into());
        } else {
            line(format!(
                "latency (200s):  p50 {}  p90 {}  p99 {}  max {}",
                ms(percentile(lat, 0.50)),
                ms(percentile(lat, 0.90)),
                ms(percentile(lat, 0.99)),
                ms(*lat.last().expect("not empty")),
            ));
        }
        let mut errors = format!("{}", run.errors());
        if run.errors() > 0 {
            let parts: Vec<String> = run
                .stats
                .statuses
                .iter()
                .map(|(status, count)| format!("HTTP {status}: {count}"))
                .chain(
                    (run.stats.transport_errors > 0)
                        .then(|| format!("transport: {}", run.stats.transport_errors)),
                )
                .collect();
            write!(errors, " ({})", parts.join(", ")).expect("writing to a String");
        }
        line(format!("errors:          {errors}"));
        for sample in &run.stats.samples {
            line(format!("  e.g. {}", sample.replace('\n', " ")));
        }
        let accepted = run.accepted();
        match &run.e2e {
            E2e::Done { after, counted } => {
                let after = after.as_secs_f64();
                line(format!(
                    "end to end:      {:.0} events/s ({counted} counted in the issues {after:.2} s after the first send)",
                    *counted as f64 / after
                ));
                line(format!(
                    "ingest backlog:  {} of {accepted} counted when the send phase ended; the rest took {:.2} s more",
                    run.counted_at_send_end,
                    (after - secs).max(0.0)
                ));
            }
            E2e::TimedOut { counted } => line(format!(
                "end to end:      TIMED OUT: {counted} of {accepted} counted after {} s",
                E2E_TIMEOUT.as_secs()
            )),
            E2e::Failed(e) => line(format!("end to end:      polling failed: {e}")),
        }
        line(format!("issue polls:     {}", run.polls));
        line(format!(
            "devserver RSS:   peak {} (max of {} VmRSS samples), VmHWM {}, idle before the run {}",
            mb(Some(run.peak_rss_kb)),
            run.rss_samples,
            mb(self.hwm_kb),
            mb(run.idle_rss_kb)
        ));
        if let (Some(idle), Some(send_end), Some(end)) =
            (run.idle_cpu, run.cpu_at_send_end, self.cpu)
        {
            line(format!(
                "devserver CPU:   {:.2} s during the send phase, {:.2} s after it",
                send_end - idle,
                end - send_end
            ));
        }
        if !self.disk.is_empty() {
            let total: u64 = self.disk.iter().map(|(_, size)| size).sum();
            let mut files: Vec<_> = self
                .disk
                .iter()
                .filter(|(_, size)| *size >= 1 << 20)
                .collect();
            files.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
            let files: Vec<String> = files
                .iter()
                .map(|(name, size)| format!("{name} {}", mb(Some(size / 1024))))
                .collect();
            line(format!(
                "data directory:  {} at the end ({})",
                mb(Some(total / 1024)),
                files.join(", ")
            ));
        }
        if let Some(client) = run.client_cpu {
            line(format!(
                "bench client CPU: {client:.2} s during the send phase (same machine)"
            ));
        }
        s
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn mb(kb: Option<u64>) -> String {
    kb.map_or("n/a".into(), |kb| format!("{:.1} MB", kb as f64 / 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_fresh_matching_ids_and_lengths() {
        let fixture = Path::new(DEFAULT_FIXTURE);
        if !fixture.exists() {
            eprintln!("skipped: no {}", fixture.display());
            return;
        }
        let template = Template::load(fixture).unwrap();
        let bodies = template.bodies(5).unwrap();
        assert_eq!(bodies.len(), 5);
        let mut ids = Vec::new();
        for body in &bodies {
            let mut raw = String::new();
            GzDecoder::new(body.as_slice())
                .read_to_string(&mut raw)
                .unwrap();
            let lines: Vec<&str> = raw.lines().collect();
            assert_eq!(lines.len(), 3);
            let header: Value = serde_json::from_str(lines[0]).unwrap();
            let item: Value = serde_json::from_str(lines[1]).unwrap();
            let event: Value = serde_json::from_str(lines[2]).unwrap();
            let id = header["event_id"].as_str().unwrap().to_owned();
            assert_eq!(id.len(), 32);
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
            assert_eq!(event["event_id"].as_str(), Some(id.as_str()));
            assert_eq!(item["length"].as_u64(), Some(lines[2].len() as u64));
            ids.push(id);
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 5);
    }

    #[test]
    fn dsn_and_link_parsing() {
        let (addr, key, project) = parse_dsn("http://abc@127.0.0.1:9000/42").unwrap();
        assert_eq!(
            (addr.port(), key.as_str(), project.as_str()),
            (9000, "abc", "42")
        );
        let link = "<http://h/p/?query=&cursor=0:0:1>; rel=\"previous\"; results=\"false\"; cursor=\"0:0:1\", \
                    <http://h/p/?query=&cursor=0:100:0>; rel=\"next\"; results=\"true\"; cursor=\"0:100:0\"";
        assert_eq!(next_cursor(link).as_deref(), Some("0%3A100%3A0"));
        assert_eq!(next_cursor(&link.replace("\"true\"", "\"false\"")), None);
    }
}
