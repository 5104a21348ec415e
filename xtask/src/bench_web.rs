//! `cargo xtask bench web [--events N] [--issues K] [--requests R] [--clients C]
//! [--release-binary PATH] [--fixture PATH]`: how fast the dashboard answers
//! with a realistic amount of data (the issue's aim: p99 time to first byte
//! under 100 ms on the devserver, with 100,000 events in 1,000 issues).
//!
//! 1. Unless `--release-binary PATH` is given, runs `cargo build --release -p
//!    faultline`; starts `faultline devserver` on a free port of 127.0.0.1
//!    with a fresh data directory under `target/bench/` (output in
//!    `target/bench/devserver-web.log`), reads the admin password and the DSN
//!    it prints, and mints an API token with `faultline token create`.
//! 2. Seeds N events (default 100,000) in K issues (default 1,000): event `i`
//!    is the captured Python SDK exception `exception.body` (`--fixture PATH`
//!    for another) with a fresh event id and trace id, the fingerprint
//!    `["bench-issue-<i % K>"]`, an exception whose type is one of eight
//!    (`OrderError`, `PaymentDeclined`, ...) and whose value names `shard
//!    <i % K>` and an order number, chained to the fixture's
//!    `ZeroDivisionError` (5 frames with context lines and variables), a
//!    user out of 50, the tags `region` (3 values) and `plan` (4 values),
//!    `server_name` out of 4, 10% of events in `staging`, 3 breadcrumbs
//!    (HTTP call, SQL query, log line), and an RFC 3339 `timestamp` between
//!    30 s and 23 h 50 min ago. The release follows the age: `shop@2.5.0`
//!    for the last 6 hours, `shop@2.4.1` before, `shop@2.4.0` before 14
//!    hours ago; a third of the issues only happened before 2.5.0, a third
//!    only since, a third throughout (with K < 3, all throughout). Envelope
//!    bodies (one event item each, as the SDKs send them, gzipped) are
//!    prepared before sending; then C clients (default 32), each on a
//!    keep-alive connection, POST them to `/api/<project>/envelope/`. A 429
//!    or 503 is retried after a pause (and counted); any other failure ends
//!    the benchmark.
//! 3. Waits (up to 10 minutes) until `GET /api/0/organizations/<org>/issues/
//!    ?query=&limit=100&groupStatsPeriod=48h`, followed page by page through
//!    its `Link` header, lists K issues whose `count`s add up to N (the
//!    metadata store has every event), and their `stats` add up to N too and
//!    `GET /api/0/issues/<id>/events/latest/` answers 200 for ten of them
//!    (the event store has every event). Reported: envelopes/s accepted by
//!    the relay with latency percentiles, and events/s end to end until
//!    counted and until stored.
//! 4. Waits (up to a minute) for the devserver to go idle (under 5% of a CPU
//!    over a second), then signs in to the dashboard: `POST /auth/login/` with
//!    the admin's email and password and an `Origin` header, expecting a 303
//!    with a `faultline_session` cookie.
//! 5. For each page, on its own keep-alive connection: one untimed "cold"
//!    request, then R sequential requests (default 200), each timed from
//!    writing the request to the first byte of the status line (time to
//!    first byte) and to the last byte of the body (full response). Every
//!    response must be a 200 with the whole body read; dashboard pages must
//!    contain `issue-title`, API responses must be JSON. The pages:
//!    * stream: `GET /organizations/<org>/issues/` (is:unresolved, last seen,
//!      25 per page), with the session cookie;
//!    * search: the stream with `?query=is%3Aunresolved+release%3Ashop%402.5.0
//!      &sort=freq` (about two thirds of the issues match);
//!    * detail: `GET /organizations/<org>/issues/<id>/`, cycling over R ids
//!      spread over the API's list;
//!    * for comparison, the REST API with the token: the organization issue
//!      list (`?limit=25`), the same search there, and
//!      `GET /api/0/issues/<id>/events/latest/` over the same ids.
//!
//!    Reported per page: time to first byte p50/p90/p99/max and the cold
//!    request's, full response p50/p99, body size, the devserver's CPU time
//!    per request (near the TTFB: the time is spent computing), and the CPU
//!    other processes used meanwhile (from /proc/stat: on a shared machine,
//!    a sign the figures are disturbed).
//! 6. Reports the devserver's peak RSS (VmHWM, after seeding and at the end)
//!    and the size of its data directory; prints the summary and writes it
//!    to `target/bench/web.txt`; stops the devserver with SIGTERM and deletes
//!    its data directory.
//!
//! The exit status is a failure when anything fails (a request, the seeding,
//! a page check); timings are reported against the aim, never asserted on.
//! No `Accept-Encoding` is sent: the devserver does not compress anyway.

use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::harness::{
    ADMIN_EMAIL, Conn, Devserver, OneEvent, Response, ServerInfo, default_fixture, describe_sizes,
    dir_sizes, flag_pairs, for_each_issue, gzip_envelope, hex, issue_count, mb, mint_token, ms,
    percentile, positive, proc_cpu_seconds, proc_status_kb, random_bytes, release_binary,
};

const DEFAULT_EVENTS: usize = 100_000;
const DEFAULT_ISSUES: usize = 1_000;
const DEFAULT_REQUESTS: usize = 200;
const DEFAULT_CLIENTS: usize = 32;
/// The issue's aim for the dashboard pages' p99 time to first byte.
const AIM: Duration = Duration::from_millis(100);
/// How long the seeded events may take to be counted and stored.
const SEED_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How long to wait for the devserver to go idle after seeding.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A 429 or 503 is retried this many times, pausing a little longer each time.
const MAX_RETRIES: u32 = 20;
/// How many issues' latest event must be served before the event store counts as caught up.
const LATEST_SAMPLES: usize = 10;

/// Releases, newest first, and how long ago the newer two shipped.
const RELEASES: [&str; 3] = ["shop@2.5.0", "shop@2.4.1", "shop@2.4.0"];
const RELEASE_AGES: [i64; 2] = [6 * HOUR, 14 * HOUR];
/// The release the stream search filters on.
const SEARCH_RELEASE: &str = RELEASES[0];
/// Event ages, in microseconds: within the last day, none in the future.
const HOUR: i64 = 3_600_000_000;
const MIN_AGE: i64 = 30_000_000;
const MAX_AGE: i64 = 23 * HOUR + 50 * 60_000_000;

/// `cargo xtask bench web ...`
pub fn web(args: &[String]) -> Result<ExitCode> {
    run(&WebArgs::parse(args)?)
}

struct WebArgs {
    events: usize,
    issues: usize,
    requests: usize,
    clients: usize,
    binary: Option<PathBuf>,
    fixture: PathBuf,
}

impl WebArgs {
    fn parse(args: &[String]) -> Result<WebArgs> {
        let mut parsed = WebArgs {
            events: DEFAULT_EVENTS,
            issues: DEFAULT_ISSUES,
            requests: DEFAULT_REQUESTS,
            clients: DEFAULT_CLIENTS,
            binary: None,
            fixture: default_fixture(),
        };
        for (flag, value) in flag_pairs(args)? {
            match flag.as_str() {
                "--events" => parsed.events = positive(&flag, &value)?,
                "--issues" => parsed.issues = positive(&flag, &value)?,
                "--requests" => parsed.requests = positive(&flag, &value)?,
                "--clients" => parsed.clients = positive(&flag, &value)?,
                "--release-binary" => parsed.binary = Some(PathBuf::from(value)),
                "--fixture" => parsed.fixture = PathBuf::from(value),
                other => bail!("unknown option `{other}` for bench web\n{}", crate::USAGE),
            }
        }
        if parsed.issues > parsed.events {
            bail!(
                "--issues {} needs at least as many --events, not {}",
                parsed.issues,
                parsed.events
            );
        }
        Ok(parsed)
    }
}

fn run(args: &WebArgs) -> Result<ExitCode> {
    let root = crate::workspace_root();
    let bench_dir = root.join("target/bench");
    fs::create_dir_all(&bench_dir).with_context(|| format!("creating {}", bench_dir.display()))?;
    let binary = release_binary(&root, args.binary.as_deref())?;
    let envelope = OneEvent::load(&args.fixture)?;

    let log_path = bench_dir.join("devserver-web.log");
    let mut server = Devserver::start(&binary, &bench_dir, &log_path)?;
    let pid = server.pid();
    eprintln!(
        "xtask: devserver pid {pid} at {} (data in {}, log in {})",
        server.info.addr,
        server.data_dir.display(),
        log_path.display()
    );
    let password = server
        .info
        .admin_password
        .clone()
        .context("the devserver printed no `Admin password:` line")?;
    let token = mint_token(&binary, &server.data_dir)?;

    eprintln!(
        "xtask: preparing {} gzipped envelopes in {} issues from {}",
        args.events,
        args.issues,
        args.fixture.display()
    );
    let prepare_started = Instant::now();
    let workload = Workload {
        envelope: &envelope,
        issues: args.issues,
        now_us: unix_micros(SystemTime::now()),
        public_key: server.info.public_key.clone(),
    };
    let (bodies, raw_bytes) = workload.bodies(args.events)?;
    let gzip_bytes: usize = bodies.iter().map(Vec::len).sum();
    eprintln!(
        "xtask: prepared in {:.2} s (average {} bytes raw, {} gzipped)",
        prepare_started.elapsed().as_secs_f64(),
        raw_bytes / args.events,
        gzip_bytes / args.events
    );

    let seeding = seed(&server, &token, bodies, args)?;
    let hwm_seeded_kb = proc_status_kb(pid, "VmHWM");
    let settled = settle(pid);
    let cookie = sign_in(&server.info, &password)?;
    eprintln!("xtask: signed in to the dashboard; timing the pages");
    let pages = measure_pages(
        &server.info,
        pid,
        &cookie,
        &token,
        &seeding.ids,
        args.requests,
    )?;

    let summary = Summary {
        args,
        binary: &binary,
        raw_avg: raw_bytes / args.events,
        gzip_avg: gzip_bytes / args.events,
        seeding: &seeding,
        settled,
        pages: &pages,
        hwm_seeded_kb,
        hwm_kb: proc_status_kb(pid, "VmHWM"),
        rss_kb: proc_status_kb(pid, "VmRSS"),
        disk: dir_sizes(&server.data_dir),
    };
    let text = summary.render();
    println!("{text}");
    let report = bench_dir.join("web.txt");
    fs::write(&report, &text).with_context(|| format!("writing {}", report.display()))?;

    let (status, took) = server.stop()?;
    eprintln!(
        "xtask: devserver stopped in {:.2} s ({status}); data directory deleted; summary in {}",
        took.as_secs_f64(),
        report.display()
    );
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------
// The events

/// Event `i` of the seeding, made from the fixture.
struct Workload<'a> {
    envelope: &'a OneEvent,
    issues: usize,
    /// When the events are made, in microseconds since the epoch.
    now_us: i64,
    public_key: String,
}

/// Exception types, the messages they come with, and the functions raising them.
const KINDS: [(&str, &str, &str); 8] = [
    ("OrderError", "failed to process order", "process_order"),
    ("PaymentDeclined", "card declined for order", "charge_card"),
    (
        "InventoryError",
        "not enough stock for order",
        "reserve_stock",
    ),
    (
        "ShippingQuoteError",
        "no shipping quote for order",
        "quote_shipping",
    ),
    (
        "TaxCalculationError",
        "tax service rejected order",
        "compute_tax",
    ),
    ("CouponError", "coupon expired for order", "apply_coupon"),
    (
        "FraudCheckTimeout",
        "fraud check timed out for order",
        "check_fraud",
    ),
    (
        "InvoiceRenderError",
        "could not render invoice for order",
        "render_invoice",
    ),
];
const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "ap-southeast-2"];
const PLANS: [&str; 4] = ["free", "team", "business", "enterprise"];
const USERS: u64 = 50;
const SERVERS: u64 = 4;

impl Workload<'_> {
    /// `n` gzipped envelopes and their total raw size, made on every CPU
    /// (xtask is a debug build, and JSON and gzip are most of the work).
    fn bodies(&self, n: usize) -> Result<(Vec<Vec<u8>>, usize)> {
        // 16 random bytes for the event id, 16 for the trace id.
        let random = random_bytes(32 * n)?;
        let threads = thread::available_parallelism().map_or(1, |t| t.get());
        let per_thread = n.div_ceil(threads);
        let parts = thread::scope(|scope| {
            let handles: Vec<_> = random
                .chunks(32 * per_thread)
                .enumerate()
                .map(|(t, ids)| scope.spawn(move || self.encode(t * per_thread, ids)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("an envelope-making thread panicked"))
                .collect::<Result<Vec<_>>>()
        })?;
        let raw = parts.iter().map(|(_, raw)| raw).sum();
        Ok((parts.into_iter().flat_map(|(b, _)| b).collect(), raw))
    }

    /// Envelopes for events `first..`, one per 32 random bytes of `ids`.
    fn encode(&self, first: usize, ids: &[u8]) -> Result<(Vec<Vec<u8>>, usize)> {
        let mut header = self.envelope.header.clone();
        let mut item_header = self.envelope.item_header.clone();
        let mut raw = Vec::new();
        let mut raw_total = 0;
        let bodies = ids
            .chunks_exact(32)
            .enumerate()
            .map(|(k, random)| {
                let event = self.event(first + k, random, &mut header);
                let body = gzip_envelope(&header, &mut item_header, &event, &mut raw)?;
                raw_total += raw.len();
                Ok(body)
            })
            .collect::<Result<_>>()?;
        Ok((bodies, raw_total))
    }

    /// Event `i`, with its envelope header updated to match.
    fn event(&self, i: usize, random: &[u8], header: &mut Value) -> Value {
        let template = &self.envelope.event;
        let mut rng = Rng(i as u64 ^ 0x5eed_f00d_cafe_beef);
        let issue = i % self.issues;
        let (event_id, trace_id) = (hex(&random[..16]), hex(&random[16..32]));

        // A third of the issues were fixed by 2.5.0, a third came with it.
        let class = if self.issues >= 3 { issue % 3 } else { 2 };
        let (young, old) = match class {
            0 => (RELEASE_AGES[0], MAX_AGE),
            1 => (MIN_AGE, RELEASE_AGES[0]),
            _ => (MIN_AGE, MAX_AGE),
        };
        let age = young + (rng.next() % (old - young) as u64) as i64;
        let release = match age {
            a if a < RELEASE_AGES[0] => RELEASES[0],
            a if a < RELEASE_AGES[1] => RELEASES[1],
            _ => RELEASES[2],
        };
        let ts = self.now_us - age;
        let environment = if rng.next().is_multiple_of(10) {
            "staging"
        } else {
            "production"
        };
        let user = rng.next() % USERS;
        let order = 10_000 + rng.next() % 90_000;
        let (kind, message, function) = KINDS[issue % KINDS.len()];
        let value = format!("{message} {order} in shard {issue}");

        // The fixture's chain: the cause (ZeroDivisionError) as captured,
        // then the exception raised, now three frames deep.
        let captured = template["exception"]["values"].as_array();
        let mut cause = captured
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or(Value::Null);
        // The function that raises also called the code that divided by zero.
        if let Some(frame) = cause["stacktrace"]["frames"].get_mut(0) {
            frame["function"] = function.into();
        }
        let outer_frames = captured
            .and_then(|v| v.last())
            .and_then(|e| e["stacktrace"]["frames"].as_array())
            .cloned()
            .unwrap_or_default();
        let module_frame = outer_frames.first().cloned().unwrap_or(Value::Null);
        let mut raising = outer_frames.last().cloned().unwrap_or_else(|| json!({}));
        let lineno = 40 + (issue * 7) % 300;
        raising["function"] = function.into();
        if let Some(lines) = raising["pre_context"].as_array_mut() {
            for line in lines.iter_mut() {
                if line.as_str().is_some_and(|l| l.starts_with("def process(")) {
                    *line = format!("def {function}(order_id, user_email, shard):").into();
                }
            }
        }
        raising["lineno"] = lineno.into();
        raising["context_line"] = format!(
            "        raise {kind}(\"{message} %s in shard %s\" % (order_id, shard)) from e"
        )
        .into();
        raising["vars"] = json!({
            "order_id": order.to_string(),
            "shard": issue.to_string(),
            "user_email": format!("'customer{user}@example.com'"),
            "retries": "2",
        });
        let worker_frame = json!({
            "filename": "app/worker.py",
            "abs_path": "/app/app/worker.py",
            "function": "handle_job",
            "module": "app.worker",
            "lineno": 88,
            "pre_context": [
                "    def handle_job(self, job):",
                "        handler = self.handlers[job.kind]",
                "        started = time.monotonic()",
                "        try:",
            ],
            "context_line": "            result = handler(job.payload[\"order_id\"], job.payload[\"email\"])",
            "post_context": [
                "        finally:",
                "            self.metrics.timing(job.kind, time.monotonic() - started)",
                "        return result",
            ],
            "vars": {
                "self": "<app.worker.Worker object at 0x7f3a5c2e1d90>",
                "job": format!("<Job kind='{function}' id={}>", 900_000 + i),
                "handler": format!("<function {function} at 0x7f3a5c31e520>"),
            },
            "in_app": true,
        });
        let outer = json!({
            "mechanism": {"type": "generic", "handled": true},
            "module": "app.errors",
            "type": kind,
            "value": value,
            "stacktrace": {"frames": [module_frame, worker_frame, raising]},
        });

        let crumb_time = |before_ms: i64| rfc3339(ts - before_ms * 1000);
        let breadcrumbs = json!({"values": [
            {
                "type": "http",
                "category": "httplib",
                "timestamp": crumb_time(2400),
                "data": {
                    "url": format!("https://inventory.internal/api/orders/{order}"),
                    "http.method": "GET",
                    "status_code": 200,
                    "reason": "OK",
                },
            },
            {
                "type": "default",
                "category": "query",
                "timestamp": crumb_time(1100),
                "message": "SELECT id, status, total_cents FROM orders WHERE id = %s FOR UPDATE",
                "data": {"db.system": "postgresql"},
            },
            {
                "type": "log",
                "category": "app.orders",
                "level": "info",
                "timestamp": crumb_time(50),
                "message": format!("{function}: order {order} for customer {user}"),
                "data": {},
            },
        ]});

        let mut event = template.clone();
        event["event_id"] = event_id.clone().into();
        event["timestamp"] = rfc3339(ts).into();
        event["fingerprint"] = json!([format!("bench-issue-{issue}")]);
        event["exception"] = json!({"values": [cause, outer]});
        event["release"] = release.into();
        event["environment"] = environment.into();
        event["server_name"] = format!("web-{}", 1 + rng.next() % SERVERS).into();
        event["tags"] = json!({
            "region": REGIONS[(rng.next() % REGIONS.len() as u64) as usize],
            "plan": PLANS[(rng.next() % PLANS.len() as u64) as usize],
        });
        event["user"] =
            json!({"id": (1000 + user).to_string(), "username": format!("customer{user}")});
        event["breadcrumbs"] = breadcrumbs;
        event["contexts"]["trace"]["trace_id"] = trace_id.clone().into();

        header["event_id"] = event_id.into();
        header["sent_at"] = rfc3339(self.now_us).into();
        header["trace"] = json!({
            "trace_id": trace_id,
            "environment": environment,
            "release": release,
            "public_key": self.public_key,
        });
        event
    }
}

/// SplitMix64: the same workload on every run, apart from the ids.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn unix_micros(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// `2026-11-23T13:17:13.104545Z`
fn rfc3339(micros: i64) -> String {
    let (secs, us) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
    let (days, second) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{us:06}Z",
        second / 3600,
        second % 3600 / 60,
        second % 60
    )
}

// ---------------------------------------------------------------------------
// Seeding

struct Seeding {
    events: usize,
    clients: usize,
    send_wall: Duration,
    /// Of the accepted envelopes, sorted.
    latencies: Vec<Duration>,
    retries: usize,
    /// From the first send until the issue counts added up to N.
    counted_after: Duration,
    /// From the first send until the event store had every event.
    stored_after: Duration,
    /// Issue ids in the API's order (last seen first).
    ids: Vec<String>,
    pages: usize,
    polls: usize,
    client_cpu: Option<f64>,
    server_cpu: Option<f64>,
}

fn seed(server: &Devserver, token: &str, bodies: Vec<Vec<u8>>, args: &WebArgs) -> Result<Seeding> {
    let info = &server.info;
    let pid = server.pid();
    let events = bodies.len();
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let abort = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(args.clients + 1));
    let path = format!("/api/{}/envelope/", info.project_id);
    let auth = format!(
        "Sentry sentry_key={}, sentry_version=7, sentry_client=sentry.python/2.75.0",
        info.public_key
    );
    let workers: Vec<_> = (0..args.clients)
        .map(|_| {
            let (bodies, next, abort, start) =
                (bodies.clone(), next.clone(), abort.clone(), start.clone());
            let (addr, path, auth) = (info.addr, path.clone(), auth.clone());
            thread::spawn(move || -> Result<(Vec<Duration>, usize)> {
                let headers = [
                    ("Content-Type", "application/x-sentry-envelope"),
                    ("Content-Encoding", "gzip"),
                    ("User-Agent", "sentry.python/2.75.0"),
                    ("X-Sentry-Auth", auth.as_str()),
                ];
                let mut conn = Conn::new(addr);
                let (mut latencies, mut retries) = (Vec::new(), 0);
                start.wait();
                let result = (|| {
                    while !abort.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(body) = bodies.get(i) else { break };
                        let mut attempt = 0;
                        loop {
                            let sent = Instant::now();
                            let response = conn.send("POST", &path, &headers, body)?;
                            match response.status {
                                200 => {
                                    latencies.push(sent.elapsed());
                                    break;
                                }
                                429 | 503 if attempt < MAX_RETRIES => {
                                    attempt += 1;
                                    retries += 1;
                                    thread::sleep(Duration::from_millis(50 * u64::from(attempt)));
                                }
                                status => bail!(
                                    "POST {path} (envelope {i}): HTTP {status}: {}",
                                    response.snippet()
                                ),
                            }
                        }
                    }
                    Ok(())
                })();
                if result.is_err() {
                    abort.store(true, Ordering::Relaxed);
                }
                result.map(|()| (latencies, retries))
            })
        })
        .collect();

    eprintln!(
        "xtask: sending {events} envelopes from {} clients",
        args.clients
    );
    let client_cpu_start = proc_cpu_seconds(std::process::id());
    let server_cpu_start = proc_cpu_seconds(pid);
    start.wait();
    let t0 = Instant::now();
    let (mut latencies, mut retries, mut failure) = (Vec::with_capacity(events), 0, None);
    for worker in workers {
        match worker.join().expect("a client thread panicked") {
            Ok((l, r)) => {
                latencies.extend(l);
                retries += r;
            }
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    if let Some(e) = failure {
        return Err(e.context("seeding"));
    }
    let send_wall = t0.elapsed();
    let client_cpu = proc_cpu_seconds(std::process::id())
        .zip(client_cpu_start)
        .map(|(end, start)| end - start);
    latencies.sort_unstable();
    eprintln!(
        "xtask: {events} envelopes accepted in {:.2} s ({retries} retries); waiting for the issues and the event store",
        send_wall.as_secs_f64()
    );

    // Until the metadata store counts every event and the event store has them.
    let list = format!(
        "/api/0/organizations/{}/issues/?query=&limit=100&groupStatsPeriod=48h",
        info.org_slug
    );
    let bearer = format!("Bearer {token}");
    let headers = [("Authorization", bearer.as_str())];
    let mut conn = Conn::new(info.addr);
    let (mut polls, mut counted_after, mut last_progress) = (0, None, Instant::now());
    let target = events as u64;
    loop {
        let tick = Instant::now();
        polls += 1;
        let (mut ids, mut counted, mut stored) = (Vec::new(), 0u64, 0u64);
        let pages = for_each_issue(&mut conn, &list, &headers, |issue| {
            ids.push(match &issue["id"] {
                Value::String(id) => id.clone(),
                other => other.to_string(),
            });
            counted += issue_count(issue)?;
            let series = issue["stats"]["48h"]
                .as_array()
                .with_context(|| format!("an issue without stats.48h: {issue}"))?;
            stored += series.iter().filter_map(|p| p[1].as_u64()).sum::<u64>();
            Ok(())
        })?;
        if counted > target || stored > target {
            bail!(
                "the issues count {counted} events and their stats {stored}, but {target} were sent"
            );
        }
        if counted == target && counted_after.is_none() {
            counted_after = Some(t0.elapsed());
        }
        if counted == target && stored == target && latest_served(&mut conn, &headers, &ids)? {
            if ids.len() != args.issues {
                bail!(
                    "{target} events with {} fingerprints make {} issues",
                    args.issues,
                    ids.len()
                );
            }
            return Ok(Seeding {
                events,
                clients: args.clients,
                send_wall,
                latencies,
                retries,
                counted_after: counted_after.expect("set above"),
                stored_after: t0.elapsed(),
                ids,
                pages,
                polls,
                client_cpu,
                server_cpu: proc_cpu_seconds(pid)
                    .zip(server_cpu_start)
                    .map(|(end, start)| end - start),
            });
        }
        if t0.elapsed() >= SEED_TIMEOUT {
            bail!(
                "after {} s the issues count {counted} of {target} events, their stats {stored}",
                SEED_TIMEOUT.as_secs()
            );
        }
        if last_progress.elapsed() >= Duration::from_secs(5) {
            last_progress = Instant::now();
            eprintln!(
                "xtask: {:>5.1} s: {counted} of {target} events counted in {} issues, {stored} stored",
                t0.elapsed().as_secs_f64(),
                ids.len()
            );
        }
        thread::sleep(POLL_INTERVAL.saturating_sub(tick.elapsed()));
    }
}

/// Whether the latest event of a few issues spread over `ids` is served.
fn latest_served(conn: &mut Conn, headers: &[(&str, &str)], ids: &[String]) -> Result<bool> {
    let step = ids.len().div_ceil(LATEST_SAMPLES).max(1);
    for id in ids.iter().step_by(step) {
        let path = format!("/api/0/issues/{id}/events/latest/");
        let response = conn.send("GET", &path, headers, &[])?;
        match response.status {
            200 => {}
            404 => return Ok(false),
            status => bail!("GET {path}: HTTP {status}: {}", response.snippet()),
        }
    }
    Ok(true)
}

/// Waits until the devserver uses under 5% of a CPU over a second; returns
/// how long that took and whether it happened.
fn settle(pid: u32) -> (Duration, bool) {
    let started = Instant::now();
    let mut before = proc_cpu_seconds(pid);
    while started.elapsed() < SETTLE_TIMEOUT {
        thread::sleep(Duration::from_secs(1));
        let now = proc_cpu_seconds(pid);
        match (before, now) {
            (Some(b), Some(n)) if n - b < 0.05 => return (started.elapsed(), true),
            (None, _) | (_, None) => return (started.elapsed(), false),
            _ => before = now,
        }
    }
    (started.elapsed(), false)
}

// ---------------------------------------------------------------------------
// The dashboard

/// Signs in as the admin; returns the `faultline_session=...` cookie.
fn sign_in(info: &ServerInfo, password: &str) -> Result<String> {
    let body = format!(
        "email={}&password={}",
        form_encode(ADMIN_EMAIL),
        form_encode(password)
    );
    let origin = format!("http://{}", info.addr);
    let response = Conn::new(info.addr).send(
        "POST",
        "/auth/login/",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", origin.as_str()),
        ],
        body.as_bytes(),
    )?;
    if response.status != 303 {
        bail!(
            "POST /auth/login/: HTTP {}, not 303: {}",
            response.status,
            response.snippet()
        );
    }
    response
        .headers
        .iter()
        .filter(|(name, _)| name == "set-cookie")
        .find_map(|(_, value)| {
            let pair = value.split(';').next()?.trim();
            pair.starts_with("faultline_session=")
                .then(|| pair.to_owned())
        })
        .context("POST /auth/login/ set no faultline_session cookie")
}

fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What a page's responses must be besides a 200.
#[derive(Clone, Copy)]
enum Check {
    /// A dashboard page showing an issue title.
    Html,
    Json,
}

struct PageRun {
    name: &'static str,
    /// The request, for the report.
    shown: String,
    dashboard: bool,
    cold: Duration,
    /// Sorted.
    ttfb: Vec<Duration>,
    /// Sorted.
    total: Vec<Duration>,
    bytes: Vec<usize>,
    /// Devserver CPU seconds per timed request.
    server_cpu: Option<f64>,
    /// CPU used by other processes than the devserver and the benchmark
    /// while the timed requests ran, as a share of one CPU.
    other_cpu: Option<f64>,
    connects: usize,
}

fn measure_pages(
    info: &ServerInfo,
    pid: u32,
    cookie: &str,
    token: &str,
    ids: &[String],
    requests: usize,
) -> Result<Vec<PageRun>> {
    let org = &info.org_slug;
    let search = format!(
        "query={}&sort=freq",
        form_encode(&format!("is:unresolved release:{SEARCH_RELEASE}"))
    );
    // R ids spread over the list (repeating when there are fewer).
    let id = |j: usize| {
        let index = if requests <= ids.len() {
            j * ids.len() / requests
        } else {
            j % ids.len()
        };
        &ids[index % ids.len()]
    };
    let bearer = format!("Bearer {token}");
    let session = [("Cookie", cookie)];
    let api = [("Authorization", bearer.as_str())];
    let stream = format!("/organizations/{org}/issues/");
    let stream_search = format!("/organizations/{org}/issues/?{search}");
    let api_list = format!("/api/0/organizations/{org}/issues/?limit=25");
    let api_search = format!("/api/0/organizations/{org}/issues/?{search}&limit=25");
    let many = |pattern: &str| format!("{pattern} ({} ids)", requests.min(ids.len()));

    let mut runs = Vec::new();
    let mut time = |name, shown: String, dashboard, path: &dyn Fn(usize) -> String| -> Result<()> {
        let (headers, check) = if dashboard {
            (&session[..], Check::Html)
        } else {
            (&api[..], Check::Json)
        };
        let mut run = time_page(info.addr, pid, requests, headers, check, path)
            .with_context(|| format!("timing {name}"))?;
        eprintln!(
            "xtask: {name:<14} TTFB p50 {}  p99 {}",
            ms(percentile(&run.ttfb, 0.50)),
            ms(percentile(&run.ttfb, 0.99))
        );
        (run.name, run.shown, run.dashboard) = (name, shown, dashboard);
        runs.push(run);
        Ok(())
    };
    time("stream", format!("GET {stream}"), true, &|_| stream.clone())?;
    time(
        "stream search",
        format!("GET {stream_search}"),
        true,
        &|_| stream_search.clone(),
    )?;
    time(
        "issue detail",
        many(&format!("GET /organizations/{org}/issues/<id>/")),
        true,
        &|j| format!("/organizations/{org}/issues/{}/", id(j)),
    )?;
    time("api list", format!("GET {api_list}"), false, &|_| {
        api_list.clone()
    })?;
    time("api search", format!("GET {api_search}"), false, &|_| {
        api_search.clone()
    })?;
    time(
        "api latest",
        many("GET /api/0/issues/<id>/events/latest/"),
        false,
        &|j| format!("/api/0/issues/{}/events/latest/", id(j)),
    )?;
    Ok(runs)
}

/// One untimed request to `path(0)`, then `path(j)` for j in 0..requests,
/// sequentially on one keep-alive connection.
fn time_page(
    addr: SocketAddr,
    pid: u32,
    requests: usize,
    headers: &[(&str, &str)],
    check: Check,
    path: &dyn Fn(usize) -> String,
) -> Result<PageRun> {
    let mut conn = Conn::new(addr);
    let cold = checked(&mut conn, &path(0), headers, check)?.ttfb;
    let (mut ttfb, mut total, mut bytes) = (
        Vec::with_capacity(requests),
        Vec::with_capacity(requests),
        Vec::with_capacity(requests),
    );
    let me = std::process::id();
    let cpu_before = (
        proc_cpu_seconds(pid),
        proc_cpu_seconds(me),
        busy_cpu_seconds(),
    );
    let started = Instant::now();
    for j in 0..requests {
        let response = checked(&mut conn, &path(j), headers, check)?;
        ttfb.push(response.ttfb);
        total.push(response.total);
        bytes.push(response.body.len());
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu_after = (
        proc_cpu_seconds(pid),
        proc_cpu_seconds(me),
        busy_cpu_seconds(),
    );
    let used = |before: Option<f64>, after: Option<f64>| Some(after? - before?);
    let server = used(cpu_before.0, cpu_after.0);
    let other = (|| {
        let all = used(cpu_before.2, cpu_after.2)?;
        Some((all - server? - used(cpu_before.1, cpu_after.1)?).max(0.0) / wall)
    })();
    ttfb.sort_unstable();
    total.sort_unstable();
    Ok(PageRun {
        name: "",
        shown: String::new(),
        dashboard: false,
        cold,
        ttfb,
        total,
        bytes,
        server_cpu: server.map(|s| s / requests as f64),
        other_cpu: other,
        connects: conn.connects,
    })
}

/// CPU seconds all processes used so far (the busy columns of /proc/stat).
fn busy_cpu_seconds() -> Option<f64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal ...
    let busy: u64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| fields.get(i))
        .sum();
    Some(busy as f64 / 100.0)
}

fn checked(
    conn: &mut Conn,
    path: &str,
    headers: &[(&str, &str)],
    check: Check,
) -> Result<Response> {
    let response = conn.send("GET", path, headers, &[])?;
    if response.status != 200 {
        bail!(
            "GET {path}: HTTP {}{}: {}",
            response.status,
            response
                .header("location")
                .map_or(String::new(), |l| format!(" (to {l})")),
            response.snippet()
        );
    }
    match check {
        Check::Html => {
            if !response.body.windows(11).any(|w| w == b"issue-title") {
                bail!(
                    "GET {path}: the page ({} bytes) shows no `issue-title`: {}",
                    response.body.len(),
                    response.snippet()
                );
            }
        }
        Check::Json => {
            serde_json::from_slice::<Value>(&response.body)
                .with_context(|| format!("GET {path}: not JSON: {}", response.snippet()))?;
        }
    }
    Ok(response)
}

// ---------------------------------------------------------------------------
// The report

struct Summary<'a> {
    args: &'a WebArgs,
    binary: &'a Path,
    raw_avg: usize,
    gzip_avg: usize,
    seeding: &'a Seeding,
    settled: (Duration, bool),
    pages: &'a [PageRun],
    hwm_seeded_kb: Option<u64>,
    hwm_kb: Option<u64>,
    rss_kb: Option<u64>,
    disk: Vec<(String, u64)>,
}

impl Summary<'_> {
    fn render(&self) -> String {
        let (args, seeding) = (self.args, self.seeding);
        let mut s = String::new();
        let mut line = |text: String| {
            s.push_str(&text);
            s.push('\n');
        };
        let secs = |d: Duration| d.as_secs_f64();
        let n = seeding.events;
        line("== faultline web benchmark ==".into());
        line(format!("binary:          {}", self.binary.display()));
        line(format!(
            "machine:         {} CPUs (the devserver and this benchmark share them)",
            thread::available_parallelism().map_or(0, |n| n.get()),
        ));
        line(format!(
            "workload:        {n} events in {} issues over the last 24 h, one event per envelope \
             ({} bytes raw, ~{} gzipped; from {}), releases {}",
            args.issues,
            self.raw_avg,
            self.gzip_avg,
            args.fixture
                .file_name()
                .map_or("?".into(), |f| f.to_string_lossy()),
            RELEASES.join(", ")
        ));
        let lat = &seeding.latencies;
        line(format!(
            "seeding:         {:.0} envelopes/s accepted by the relay ({n} from {} clients in {:.2} s; \
             latency p50 {} p99 {} max {}; {} retried)",
            n as f64 / secs(seeding.send_wall),
            seeding.clients,
            secs(seeding.send_wall),
            ms(percentile(lat, 0.50)),
            ms(percentile(lat, 0.99)),
            ms(*lat.last().expect("every envelope was accepted")),
            seeding.retries
        ));
        line(format!(
            "                 {:.0} events/s end to end: all counted in the issues {:.2} s after the \
             first send, all in the event store after {:.2} s",
            n as f64 / secs(seeding.stored_after),
            secs(seeding.counted_after),
            secs(seeding.stored_after)
        ));
        let mut cpu = String::new();
        if let Some(c) = seeding.server_cpu {
            let _ = write!(cpu, "devserver {c:.1} s");
        }
        if let Some(c) = seeding.client_cpu {
            let _ = write!(cpu, ", bench clients {c:.1} s (same machine)");
        }
        line(format!("                 CPU: {cpu}"));
        line(format!(
            "issues:          {} listed by the API ({} page(s) of up to 100), counts and stats add up to {n}; {} polls",
            seeding.ids.len(),
            seeding.pages,
            seeding.polls
        ));
        let (settle, idle) = self.settled;
        line(format!(
            "settle:          {} {:.1} s after seeding",
            if idle {
                "devserver idle (< 5% CPU over 1 s)"
            } else {
                "devserver STILL BUSY, timing anyway"
            },
            secs(settle)
        ));
        line(String::new());
        line(format!(
            "time to first byte, {} sequential requests per page on one keep-alive connection \
             (after one untimed cold request):",
            args.requests
        ));
        line(format!(
            "  {:<14} {:>9} {:>9} {:>9} {:>9} {:>9} | {:>9} {:>9} | {:>9} | {:>8} | {:>5}",
            "page",
            "p50",
            "p90",
            "p99",
            "max",
            "cold",
            "full p50",
            "full p99",
            "body",
            "CPU/req",
            "other"
        ));
        for page in self.pages {
            let t = &page.ttfb;
            let avg = page.bytes.iter().sum::<usize>() / page.bytes.len().max(1);
            line(format!(
                "  {:<14} {:>9} {:>9} {:>9} {:>9} {:>9} | {:>9} {:>9} | {:>9} | {:>8} | {:>5}",
                page.name,
                ms(percentile(t, 0.50)),
                ms(percentile(t, 0.90)),
                ms(percentile(t, 0.99)),
                ms(*t.last().expect("at least one request")),
                ms(page.cold),
                ms(percentile(&page.total, 0.50)),
                ms(percentile(&page.total, 0.99)),
                format!("{:.1} kB", avg as f64 / 1000.0),
                page.server_cpu
                    .map_or("n/a".into(), |c| format!("{:.1} ms", c * 1000.0)),
                page.other_cpu
                    .map_or("n/a".into(), |c| format!("{:.0}%", c * 100.0)),
            ));
        }
        line(
            "  (body: average size; CPU/req: devserver CPU time per timed request; other: CPU used \
             by other processes meanwhile, in % of one CPU)"
                .into(),
        );
        for page in self.pages {
            let reconnects = page.connects.saturating_sub(1);
            line(format!(
                "  {:<14} {}{}",
                page.name,
                page.shown,
                if reconnects > 0 {
                    format!(" ({reconnects} reconnects)")
                } else {
                    String::new()
                }
            ));
        }
        let verdicts: Vec<String> = self
            .pages
            .iter()
            .filter(|p| p.dashboard)
            .map(|p| {
                let p99 = percentile(&p.ttfb, 0.99);
                format!(
                    "{} {} ({})",
                    p.name,
                    if p99 < AIM { "ok" } else { "SLOW" },
                    ms(p99)
                )
            })
            .collect();
        line(format!(
            "aim:             dashboard p99 TTFB < {} ms: {}",
            AIM.as_millis(),
            verdicts.join(", ")
        ));
        line(String::new());
        line(format!(
            "devserver RSS:   peak (VmHWM) {} ({} after seeding), VmRSS {} at the end",
            mb(self.hwm_kb),
            mb(self.hwm_seeded_kb),
            mb(self.rss_kb)
        ));
        if !self.disk.is_empty() {
            line(format!("data directory:  {}", describe_sizes(&self.disk)));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(951_782_400_000_001), "2000-02-29T00:00:00.000001Z");
        assert_eq!(
            rfc3339(1_795_439_833_104_545),
            "2026-11-23T13:17:13.104545Z"
        );
        assert_eq!(rfc3339(-1_000_000), "1969-12-31T23:59:59.000000Z");
    }

    #[test]
    fn events_vary_as_documented() {
        let fixture = default_fixture();
        let envelope = OneEvent::load(&fixture).unwrap();
        let now_us = 1_795_439_833_104_545;
        let workload = Workload {
            envelope: &envelope,
            issues: 7,
            now_us,
            public_key: "key".into(),
        };
        let (bodies, _) = workload.bodies(21).unwrap();
        assert_eq!(bodies.len(), 21);
        let mut ids = Vec::new();
        for (i, body) in bodies.iter().enumerate() {
            let mut raw = String::new();
            flate2::read::GzDecoder::new(body.as_slice())
                .read_to_string(&mut raw)
                .unwrap();
            let lines: Vec<&str> = raw.lines().collect();
            assert_eq!(lines.len(), 3);
            let header: Value = serde_json::from_str(lines[0]).unwrap();
            let item: Value = serde_json::from_str(lines[1]).unwrap();
            let event: Value = serde_json::from_str(lines[2]).unwrap();
            assert_eq!(item["length"].as_u64(), Some(lines[2].len() as u64));
            assert_eq!(header["event_id"], event["event_id"]);
            assert_eq!(header["trace"]["release"], event["release"]);
            ids.push(event["event_id"].as_str().unwrap().to_owned());
            let issue = i % 7;
            assert_eq!(
                event["fingerprint"],
                json!([format!("bench-issue-{issue}")])
            );
            let values = event["exception"]["values"].as_array().unwrap();
            assert_eq!(values.len(), 2);
            let value = values[1]["value"].as_str().unwrap();
            assert!(value.ends_with(&format!(" in shard {issue}")), "{value}");
            let frames: usize = values
                .iter()
                .map(|v| v["stacktrace"]["frames"].as_array().unwrap().len())
                .sum();
            assert_eq!(frames, 5);
            assert_eq!(event["breadcrumbs"]["values"].as_array().unwrap().len(), 3);
            let ts = event["timestamp"].as_str().unwrap();
            assert!(ts.len() == 27 && ts.ends_with('Z'), "{ts}");
            assert!(ts > rfc3339(now_us - MAX_AGE).as_str() && ts < rfc3339(now_us).as_str());
            // Fixed by 2.5.0 / new in 2.5.0.
            let release = event["release"].as_str().unwrap();
            match issue % 3 {
                0 => assert_ne!(release, RELEASES[0]),
                1 => assert_eq!(release, RELEASES[0]),
                _ => {}
            }
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 21);
    }
}
