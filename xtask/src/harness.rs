//! What the benchmarks share: building and starting a release devserver,
//! minting an API token, a captured SDK envelope to replay, a minimal
//! HTTP/1.1 client with keep-alive and timings, walking the issue list's
//! pages, and /proc readings.
//!
//! The client is a minimal HTTP/1.1 one over `std::net::TcpStream`, to keep
//! xtask free of an async runtime and an HTTP crate.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::Value;

/// The envelope replayed: an exception event captured from sentry-python.
pub const DEFAULT_FIXTURE: &str =
    "/work/shared/fixtures/sdk/python-sentry-sdk-2.75.0/exception.body";
/// The user `faultline devserver` creates on its first run.
pub const ADMIN_EMAIL: &str = "admin@faultline.local";
/// How long the devserver may take to print its DSN.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a request may wait for its response before it counts as failed.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// Arguments

/// `--flag VALUE` and `--flag=VALUE` pairs; every benchmark flag takes a value.
pub fn flag_pairs(args: &[String]) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (flag, value) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), v.to_owned()),
            _ => {
                let value = args
                    .next()
                    .with_context(|| format!("{arg} needs a value\n{}", crate::USAGE))?;
                (arg.clone(), value.clone())
            }
        };
        pairs.push((flag, value));
    }
    Ok(pairs)
}

pub fn positive(flag: &str, value: &str) -> Result<usize> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("{flag} takes a positive integer, not `{value}`"),
    }
}

// ---------------------------------------------------------------------------
// The binary

/// `given`, or `target/release/faultline` after `cargo build --release -p faultline`.
pub fn release_binary(root: &Path, given: Option<&Path>) -> Result<PathBuf> {
    let binary = match given {
        Some(path) => path.to_path_buf(),
        None => {
            eprintln!("xtask: running cargo build --release -p faultline");
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            crate::run_cmd(
                Command::new(cargo)
                    .args(["build", "--release", "-p", "faultline"])
                    .current_dir(root),
            )?;
            root.join("target/release/faultline")
        }
    };
    if !binary.is_file() {
        bail!("no faultline binary at {}", binary.display());
    }
    Ok(binary)
}

// ---------------------------------------------------------------------------
// Envelopes

/// A one-event envelope, decoded: header, item header and event payload.
pub struct Envelope {
    pub header: Value,
    pub item_header: Value,
    pub event: Value,
    pub raw_len: usize,
}

impl Envelope {
    /// Reads a gzipped envelope as captured from an SDK.
    pub fn load(path: &Path) -> Result<Envelope> {
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
        let envelope = Envelope {
            header: parse("envelope header", header)?,
            item_header: parse("item header", item_header)?,
            event: parse("event", event)?,
            raw_len: raw.len(),
        };
        if envelope.item_header.get("type").and_then(Value::as_str) != Some("event") {
            bail!("the item of {} is not an event", path.display());
        }
        Ok(envelope)
    }
}

/// An envelope of `header`, `item_header` (its `length` set here) and
/// `event`, gzipped as the SDKs send it. `raw` is scratch space.
pub fn gzip_envelope(
    header: &Value,
    item_header: &mut Value,
    event: &Value,
    raw: &mut Vec<u8>,
) -> Result<Vec<u8>> {
    let payload = serde_json::to_vec(event)?;
    item_header["length"] = payload.len().into();
    raw.clear();
    serde_json::to_writer(&mut *raw, header)?;
    raw.push(b'\n');
    serde_json::to_writer(&mut *raw, item_header)?;
    raw.push(b'\n');
    raw.extend_from_slice(&payload);
    raw.push(b'\n');
    let mut gz = GzEncoder::new(Vec::with_capacity(raw.len() / 2), Compression::fast());
    gz.write_all(raw)?;
    Ok(gz.finish()?)
}

pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut random = vec![0u8; n];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .context("reading /dev/urandom")?;
    Ok(random)
}

pub fn hex(bytes: &[u8]) -> String {
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
pub struct ServerInfo {
    pub addr: SocketAddr,
    pub public_key: String,
    pub project_id: String,
    pub org_slug: String,
    pub project_slug: String,
    /// Printed on the first run, when the admin user is created.
    pub admin_password: Option<String>,
}

/// A running devserver; dropping it stops it and deletes its data.
pub struct Devserver {
    child: Option<Child>,
    pub data_dir: PathBuf,
    pub info: ServerInfo,
}

impl Devserver {
    /// Starts `binary devserver` on a free port with a fresh data directory
    /// under `bench_dir`, its output going to `log_path`; returns once it
    /// has printed its DSN.
    pub fn start(binary: &Path, bench_dir: &Path, log_path: &Path) -> Result<Devserver> {
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
                admin_password: None,
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
            } else if let Some(password) = line.strip_prefix("Admin password:") {
                info.admin_password = Some(password.trim().to_owned());
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

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// SIGTERM, then wait (up to 30 s, then SIGKILL); delete the data.
    pub fn stop(&mut self) -> Result<(std::process::ExitStatus, Duration)> {
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
pub fn parse_dsn(dsn: &str) -> Result<(SocketAddr, String, String)> {
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

/// `faultline token create` for the admin user: an API token.
pub fn mint_token(binary: &Path, data_dir: &Path) -> Result<String> {
    mint_token_with(binary, &["--data-dir".as_ref(), data_dir.as_os_str()])
}

/// The same, finding the data with `args` (`--data-dir DIR`, `--config FILE`).
pub fn mint_token_with(binary: &Path, args: &[&std::ffi::OsStr]) -> Result<String> {
    let out = Command::new(binary)
        .args(["token", "create", "--email", ADMIN_EMAIL])
        .args(args)
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
// Issue lists

/// Calls `f` with every issue of the list at `first` (a path with a query
/// string), following the `Link` header's `rel="next"` pages; returns the
/// number of pages read. A request failing in transport is retried once.
pub fn for_each_issue(
    conn: &mut Conn,
    first: &str,
    headers: &[(&str, &str)],
    mut f: impl FnMut(&Value) -> Result<()>,
) -> Result<usize> {
    let mut path = first.to_owned();
    for pages in 1..=1000 {
        let response = conn
            .send("GET", &path, headers, &[])
            .or_else(|_| conn.send("GET", &path, headers, &[]))?;
        if response.status != 200 {
            bail!(
                "GET {path}: HTTP {}: {}",
                response.status,
                response.snippet()
            );
        }
        let issues: Vec<Value> = serde_json::from_slice(&response.body)
            .with_context(|| format!("GET {path}: not a JSON list"))?;
        for issue in &issues {
            f(issue)?;
        }
        match response.header("link").and_then(next_cursor) {
            Some(cursor) => path = format!("{first}&cursor={cursor}"),
            None => return Ok(pages),
        }
    }
    bail!("more than 1000 pages of issues")
}

/// An issue's `count` (Sentry sends it as a string).
pub fn issue_count(issue: &Value) -> Result<u64> {
    let count = issue.get("count").context("an issue without a count")?;
    match count {
        Value::String(s) => s.parse::<u64>().ok(),
        other => other.as_u64(),
    }
    .with_context(|| format!("an issue count of {count}"))
}

/// The cursor of a `Link` header's `rel="next"` part with `results="true"`.
pub fn next_cursor(link: &str) -> Option<String> {
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
pub fn dir_sizes(dir: &Path) -> Vec<(String, u64)> {
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

/// "255.4 MB (queue.sqlite 157.4 MB, ...)": the total and the files of 1 MB or more.
pub fn describe_sizes(files: &[(String, u64)]) -> String {
    let total: u64 = files.iter().map(|(_, size)| size).sum();
    let mut big: Vec<_> = files.iter().filter(|(_, size)| *size >= 1 << 20).collect();
    big.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
    let big: Vec<String> = big
        .iter()
        .map(|(name, size)| format!("{name} {}", mb(Some(size / 1024))))
        .collect();
    format!("{} ({})", mb(Some(total / 1024)), big.join(", "))
}

/// A `kB` line of /proc/<pid>/status, e.g. VmRSS or VmHWM.
/// Proportional set size: shared pages divided among the processes that
/// map them, so PostgreSQL's shared buffers are not counted once per
/// backend when summing a stack.
pub fn proc_pss_kb(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

pub fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// User + system CPU seconds of a process so far (assuming 100 clock ticks/s).
pub fn proc_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the `(comm)`, which may itself contain spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// /proc/loadavg's 1-minute figure.
pub fn loadavg() -> Option<String> {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
}

// ---------------------------------------------------------------------------
// Minimal HTTP/1.1 client with keep-alive

/// A response, read in full.
pub struct Response {
    pub status: u16,
    /// Names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// From writing the request to the first byte of the status line.
    pub ttfb: Duration,
    /// From writing the request to the last byte of the body.
    pub total: Duration,
}

impl Response {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The start of the body, for error messages.
    pub fn snippet(&self) -> String {
        String::from_utf8_lossy(&self.body[..self.body.len().min(300)]).into_owned()
    }
}

pub struct Conn {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
    /// Connections opened so far.
    pub connects: usize,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Conn {
        Conn {
            addr,
            stream: None,
            connects: 0,
        }
    }

    /// Send a request and read its response, connecting first if needed
    /// (not part of the timings). On any error the connection is dropped,
    /// to be reopened next time.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response> {
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
    ) -> Result<Response> {
        if self.stream.is_none() {
            let stream = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT)
                .with_context(|| format!("connecting to {}", self.addr))?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(IO_TIMEOUT))?;
            stream.set_write_timeout(Some(IO_TIMEOUT))?;
            self.stream = Some(BufReader::with_capacity(64 * 1024, stream));
            self.connects += 1;
        }
        let reader = self.stream.as_mut().expect("connected above");
        if !reader.buffer().is_empty() {
            bail!("the server sent bytes nobody asked for");
        }

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
        let sent = Instant::now();
        reader.get_mut().write_all(&request).context("sending")?;
        if reader
            .fill_buf()
            .context("waiting for the response")?
            .is_empty()
        {
            bail!("the server closed the connection");
        }
        let ttfb = sent.elapsed();

        let mut line = String::new();
        reader
            .read_line(&mut line)
            .context("reading the status line")?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line `{}`", line.trim_end()))?;
        let (mut length, mut chunked, mut close) = (None, false, false);
        let mut response_headers = Vec::new();
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
            let (name, value) = (name.to_ascii_lowercase(), value.trim());
            match name.as_str() {
                "content-length" => {
                    length = Some(value.parse::<usize>().context("bad Content-Length")?);
                }
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                _ => {}
            }
            response_headers.push((name, value.to_owned()));
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
        let total = sent.elapsed();
        if close {
            self.stream = None;
        }
        Ok(Response {
            status,
            headers: response_headers,
            body: response,
            ttfb,
            total,
        })
    }
}

// ---------------------------------------------------------------------------
// Figures

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

pub fn mb(kb: Option<u64>) -> String {
    kb.map_or("n/a".into(), |kb| format!("{:.1} MB", kb as f64 / 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn flags_take_values_either_way() {
        let args: Vec<String> = ["--events", "5", "--issues=2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            flag_pairs(&args).unwrap(),
            vec![
                ("--events".to_owned(), "5".to_owned()),
                ("--issues".to_owned(), "2".to_owned())
            ]
        );
        assert!(flag_pairs(&args[..1]).is_err());
    }
}
