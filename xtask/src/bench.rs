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
//! The devserver, the HTTP client and the /proc readings are in the
//! `harness` module, shared with `cargo xtask bench web`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::harness::{
    Conn, Devserver, OneEvent, default_fixture, describe_sizes, dir_sizes, flag_pairs,
    for_each_issue, gzip_envelope, hex, issue_count, loadavg, mb, mint_token, ms, percentile,
    positive, proc_cpu_seconds, proc_status_kb, random_bytes, release_binary,
};

const DEFAULT_EVENTS: usize = 20_000;
const DEFAULT_CLIENTS: usize = 16;
/// How long to wait for every event to show up in the issue counts.
const E2E_TIMEOUT: Duration = Duration::from_secs(5 * 60);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
const RSS_INTERVAL: Duration = Duration::from_millis(50);

/// `cargo xtask bench ingest ...`
pub fn ingest(args: &[String]) -> Result<ExitCode> {
    run(&IngestArgs::parse(args)?)
}

struct IngestArgs {
    events: usize,
    clients: usize,
    binary: Option<PathBuf>,
    fixture: PathBuf,
    /// Across the production topology (`cargo xtask stack`) instead of a
    /// devserver.
    stack: bool,
    /// The events' timestamps this many days back (`--days-old D`).
    days_old: Option<u32>,
    /// Then time `faultline cleanup --days D-1` beside the running
    /// devserver and report what it gave back (`--cleanup`, with
    /// `--days-old` of 2 or more).
    cleanup: bool,
    /// With OpenTelemetry traces on, exported to a sink in this process
    /// (`--traces`), to measure what tracing costs.
    traces: bool,
}

impl IngestArgs {
    fn parse(args: &[String]) -> Result<IngestArgs> {
        let mut parsed = IngestArgs {
            events: DEFAULT_EVENTS,
            clients: DEFAULT_CLIENTS,
            binary: None,
            fixture: default_fixture(),
            stack: false,
            days_old: None,
            cleanup: false,
            traces: false,
        };
        let args: Vec<String> = args
            .iter()
            .filter(|a| {
                let (stack, cleanup, traces) =
                    (*a == "--stack", *a == "--cleanup", *a == "--traces");
                parsed.stack |= stack;
                parsed.cleanup |= cleanup;
                parsed.traces |= traces;
                !stack && !cleanup && !traces
            })
            .cloned()
            .collect();
        for (flag, value) in flag_pairs(&args)? {
            match flag.as_str() {
                "--events" => parsed.events = positive(&flag, &value)?,
                "--clients" => parsed.clients = positive(&flag, &value)?,
                "--release-binary" => parsed.binary = Some(PathBuf::from(value)),
                "--fixture" => parsed.fixture = PathBuf::from(value),
                "--days-old" => {
                    let days = positive(&flag, &value)?;
                    parsed.days_old =
                        Some(u32::try_from(days).context("--days-old: too many days")?);
                }
                other => bail!(
                    "unknown option `{other}` for bench ingest\n{}",
                    crate::USAGE
                ),
            }
        }
        if parsed.traces && parsed.stack {
            bail!("--traces is for the devserver");
        }
        if parsed.cleanup && (parsed.stack || parsed.days_old.unwrap_or(0) < 2) {
            bail!("--cleanup needs --days-old 2 or more, on the devserver");
        }
        Ok(parsed)
    }
}

fn run(args: &IngestArgs) -> Result<ExitCode> {
    let root = crate::workspace_root();
    let bench_dir = root.join("target/bench");
    fs::create_dir_all(&bench_dir).with_context(|| format!("creating {}", bench_dir.display()))?;

    let binary = release_binary(&root, args.binary.as_deref())?;

    // Bodies first: if the fixture is unusable there is no server to stop.
    let template = Template::load(&args.fixture, args.days_old)?;
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

    if args.stack {
        return crate::bench_stack::run(
            args.events,
            args.clients,
            &binary,
            bodies,
            gzip_bytes,
            template.raw_len(),
        );
    }
    let log_path = bench_dir.join("devserver.log");
    let sink = match args.traces {
        true => Some(crate::otlp_sink::start()?),
        false => None,
    };
    let env: Vec<(String, String)> = match &sink {
        Some((endpoint, _)) => vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint.clone()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL".into(), "http/protobuf".into()),
        ],
        None => Vec::new(),
    };
    let mut server = Devserver::start_with_env(&binary, &bench_dir, &log_path, &env)?;
    eprintln!(
        "xtask: devserver pid {} at {} (data in {}, log in {})",
        server.pid(),
        server.info.addr,
        server.data_dir.display(),
        log_path.display()
    );
    let token = mint_token(&binary, &server.data_dir)?;
    let run = measure(
        &server.info,
        server.info.addr,
        &[server.pid()],
        &token,
        bodies,
        args.clients,
    )?;
    let hwm_kb = proc_status_kb(server.pid(), "VmHWM");
    let cpu = proc_cpu_seconds(server.pid());
    let disk = settled_sizes(&server.data_dir);
    let cleanup = match args.cleanup {
        true => Some(time_cleanup(
            &binary,
            &server.data_dir,
            args.days_old.unwrap_or(2) - 1,
            &disk,
            run.accepted(),
        )?),
        false => None,
    };

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
    let mut text = summary.render();
    if let Some(cleanup) = cleanup {
        text.push_str(&cleanup);
    }
    if let Some((endpoint, received)) = &sink {
        // What was exported by the end of the run (the batch processor
        // sends every 5 s, so the last batch may still be on its way).
        use std::sync::atomic::Ordering;
        text.push_str(&format!(
            "traces:          on, OTLP/HTTP to {endpoint}: {} exports, {:.1} MB received\n",
            received.requests.load(Ordering::Relaxed),
            received.bytes.load(Ordering::Relaxed) as f64 / 1e6
        ));
    }
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

/// How long the stores' logs may take to be folded in once ingestion
/// stops (each store truncates its log after 5 s without writes).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The data directory's files once ingestion has settled: the queue
/// pruned and the logs folded in (or `SETTLE_TIMEOUT` passed).
fn settled_sizes(dir: &Path) -> Vec<(String, u64)> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let sizes = dir_sizes(dir);
        let logs: u64 = sizes
            .iter()
            .filter(|(name, _)| name.ends_with("-wal"))
            .map(|(_, size)| size)
            .sum();
        if logs == 0 || Instant::now() >= deadline {
            return sizes;
        }
        thread::sleep(Duration::from_millis(500));
    }
}

/// Runs `faultline cleanup --days N` beside the running devserver and
/// reports its time and what the data directory gave back.
fn time_cleanup(
    binary: &Path,
    data_dir: &Path,
    days: u32,
    before: &[(String, u64)],
    events: usize,
) -> Result<String> {
    let started = Instant::now();
    let out = std::process::Command::new(binary)
        .args(["cleanup", "--days", &days.to_string(), "--data-dir"])
        .arg(data_dir)
        .output()
        .context("running faultline cleanup")?;
    let took = started.elapsed();
    if !out.status.success() {
        bail!("cleanup failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let after = dir_sizes(data_dir);
    let total = |files: &[(String, u64)]| files.iter().map(|(_, s)| s).sum::<u64>();
    Ok(format!(
        "cleanup:         {:.2} s for {events} events beside the running devserver: {}\n\
         data dir:        before {} ({} bytes per event), after {}\n",
        took.as_secs_f64(),
        String::from_utf8_lossy(&out.stdout).trim(),
        describe_sizes(before),
        total(before) / events.max(1) as u64,
        describe_sizes(&after)
    ))
}

// ---------------------------------------------------------------------------
// Request bodies

/// The fixture envelope, replayed with fresh event ids.
struct Template {
    envelope: OneEvent,
}

impl Template {
    fn load(path: &Path, days_old: Option<u32>) -> Result<Template> {
        let mut envelope = OneEvent::load(path)?;
        if let Some(days) = days_old {
            // SDKs send seconds since the epoch too.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .context("the clock is before 1970")?;
            let at = now.as_secs_f64() - f64::from(days) * 86_400.0;
            envelope.event["timestamp"] = Value::from(at);
        }
        Ok(Template { envelope })
    }

    fn raw_len(&self) -> usize {
        self.envelope.raw_len
    }

    /// `n` gzipped envelopes, each with its own random event id, made on
    /// every CPU (xtask is a debug build, and gzip is most of the work).
    fn bodies(&self, n: usize) -> Result<Vec<Vec<u8>>> {
        let random = random_bytes(16 * n)?;
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
            self.envelope.header.clone(),
            self.envelope.item_header.clone(),
            self.envelope.event.clone(),
        );
        let mut raw = Vec::with_capacity(self.raw_len() + 64);
        ids.chunks_exact(16)
            .map(|bytes| {
                let id = Value::String(hex(bytes));
                header["event_id"] = id.clone();
                event["event_id"] = id;
                Ok(gzip_envelope(&header, &mut item_header, &event, &mut raw)?)
            })
            .collect()
    }
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

pub(crate) struct Run {
    /// When the first request went out.
    pub started: Instant,
    events: usize,
    pub(crate) send_wall: Duration,
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
    /// Latencies of the accepted requests, sorted.
    pub(crate) fn latencies(&self) -> &[Duration] {
        &self.stats.latencies
    }

    pub(crate) fn peak_rss(&self) -> u64 {
        self.peak_rss_kb
    }

    pub(crate) fn e2e_done(&self) -> bool {
        matches!(&self.e2e, E2e::Done { counted, .. } if *counted == self.accepted() as u64)
    }

    /// The end-to-end figure into the issue counts, in words.
    pub(crate) fn e2e_line(&self) -> String {
        match &self.e2e {
            E2e::Done { after, counted } => format!(
                "{:.0} events/s ({counted} counted {:.2} s after the first send; {} when the burst ended)",
                *counted as f64 / after.as_secs_f64(),
                after.as_secs_f64(),
                self.counted_at_send_end
            ),
            E2e::TimedOut { counted } => format!("TIMED OUT with {counted} counted"),
            E2e::Failed(e) => format!("polling failed: {e}"),
        }
    }

    pub(crate) fn accepted(&self) -> usize {
        self.stats.latencies.len()
    }
    pub(crate) fn errors(&self) -> usize {
        self.events - self.accepted()
    }
}

/// Sends `bodies` to relay at `info.addr` from `clients` connections and
/// polls the issue counts over the API at `api`; RSS and CPU are the sums
/// over `pids` (one devserver, or every process of a stack).
pub(crate) fn measure(
    info: &crate::harness::ServerInfo,
    api: std::net::SocketAddr,
    pids: &[u32],
    token: &str,
    bodies: Vec<Vec<u8>>,
    clients: usize,
) -> Result<Run> {
    let pids: Arc<Vec<u32>> = Arc::new(pids.to_vec());
    let events = bodies.len();
    let idle_rss_kb = rss_sum(&pids);
    let idle_cpu = cpu_sum(&pids);
    let loadavg = loadavg();

    // Peak RSS, sampled for the whole run.
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (stop, pids) = (stop_sampling.clone(), pids.clone());
        thread::spawn(move || {
            let (mut peak, mut samples) = (0u64, 0usize);
            while !stop.load(Ordering::Relaxed) {
                if let Some(kb) = rss_sum(&pids) {
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
                    match conn.send("POST", &path, &headers, body) {
                        Ok(response) if response.status == 200 => {
                            stats.latencies.push(sent.elapsed());
                            accepted.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(response) => {
                            *stats.statuses.entry(response.status).or_default() += 1;
                            stats.fail(format!("HTTP {}: {}", response.status, response.snippet()));
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
        thread::spawn(move || {
            let mut conn = Conn::new(api);
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
                match total_count(&mut conn, &path, &headers) {
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
    let cpu_at_send_end = cpu_sum(&pids);
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
        started: t0,
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

/// VmRSS summed over `pids` (those still running).
fn rss_sum(pids: &[u32]) -> Option<u64> {
    let values: Vec<u64> = pids
        .iter()
        .filter_map(|p| proc_status_kb(*p, "VmRSS"))
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

fn cpu_sum(pids: &[u32]) -> Option<f64> {
    let values: Vec<f64> = pids.iter().filter_map(|p| proc_cpu_seconds(*p)).collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// The sum of the `count`s of every issue, following the `Link` pages.
fn total_count(conn: &mut Conn, first: &str, headers: &[(&str, &str)]) -> Result<u64> {
    let mut total = 0u64;
    for_each_issue(conn, first, headers, |issue| {
        total += issue_count(issue)?;
        Ok(())
    })?;
    Ok(total)
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
            line(format!(
                "data directory:  {} once settled, {} bytes per event accepted",
                describe_sizes(&self.disk),
                total / (run.accepted() as u64).max(1)
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

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    #[test]
    fn bodies_have_fresh_matching_ids_and_lengths() {
        let fixture = default_fixture();
        let template = Template::load(&fixture, None).unwrap();
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
}
