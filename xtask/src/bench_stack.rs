//! `cargo xtask bench ingest --stack`: the ingest benchmark's workload
//! across the production topology. The stack is started as `cargo xtask
//! stack up` starts it, in target/bench/stack with a fresh database; the
//! clients post to relay directly (what "accepted at relay" measures), the
//! issue counts are polled through nginx, and ClickHouse's row count is
//! sampled to time the events into the column store and the consumer lag
//! when the burst ends. RSS is summed over every process of the stack:
//! the services, ClickHouse, tansu, nginx and PostgreSQL's. Each one's peak
//! (PSS sampled every 250 ms) is taken over the burst and over a dashboard
//! load after it (`DASHBOARD_CLIENTS` clients reading issue lists and
//! events through nginx), which is what compose's memory limits are sized
//! from; the bytes on disk per event of ClickHouse and PostgreSQL close it.

use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::bench::measure;
use crate::harness::{ServerInfo, mb, ms, parse_dsn, percentile, proc_cpu_seconds, proc_pss_kb};
use crate::servers::clickhouse_query;
use crate::stack;

const CLICKHOUSE: &str = "http://127.0.0.1:8123";
const DRAIN_TIMEOUT: Duration = Duration::from_secs(180);
/// Let start-up allocations settle before reading the idle figure.
const SETTLE: Duration = Duration::from_secs(5);
const DASHBOARD_CLIENTS: usize = 8;
const DASHBOARD_REQUESTS_EACH: usize = 150;
const PEAK_SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// Every process of the stack with its name: what `up` started, and the
/// PostgreSQL cluster's processes.
fn stack_pids(dir: &Path) -> Vec<(String, u32)> {
    let mut pids = stack::processes(dir);
    if let Ok(out) = Command::new("pgrep").args(["-u", "postgres"]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).lines() {
            if let Ok(pid) = pid.trim().parse() {
                pids.push(("postgres".to_owned(), pid));
            }
        }
    }
    pids
}

/// `measure` of each process, summed by process name.
fn by_name<T: Copy + Default + std::ops::AddAssign>(
    pids: &[(String, u32)],
    measure: impl Fn(u32) -> Option<T>,
) -> Vec<(String, T)> {
    let mut out: Vec<(String, T)> = Vec::new();
    for (name, pid) in pids {
        let value = measure(*pid).unwrap_or_default();
        match out.iter_mut().find(|(n, _)| n == name) {
            Some((_, total)) => *total += value,
            None => out.push((name.clone(), value)),
        }
    }
    out
}

/// CPU seconds per process name.
fn cpu_by_name(pids: &[(String, u32)]) -> Vec<(String, f64)> {
    by_name(pids, proc_cpu_seconds)
}

/// Memory (PSS: shared pages split among their users, so PostgreSQL's
/// shared buffers count once) per process name, in kB.
fn rss_by_name(pids: &[(String, u32)]) -> Vec<(String, u64)> {
    by_name(pids, proc_pss_kb)
}

struct DashboardRun {
    requests: usize,
    errors: usize,
    wall: Duration,
}

/// What people reading the dashboard ask of web and the query service:
/// the issue list with its stats, then each issue's latest event.
fn dashboard_load(api: SocketAddr, token: &str) -> Result<DashboardRun> {
    let auth = format!("Bearer {token}");
    let started = Instant::now();
    let results: Vec<(usize, usize)> = thread::scope(|scope| {
        let workers: Vec<_> = (0..DASHBOARD_CLIENTS)
            .map(|_| {
                let auth = &auth;
                scope.spawn(move || {
                    let mut conn = crate::harness::Conn::new(api);
                    let (mut requests, mut errors) = (0, 0);
                    let headers = [("Authorization", auth.as_str())];
                    let mut ids: Vec<String> = Vec::new();
                    for i in 0..DASHBOARD_REQUESTS_EACH {
                        let path = match ids.get(i % ids.len().max(1)) {
                            Some(id) if i % 2 == 1 => format!("/api/0/issues/{id}/events/latest/"),
                            _ => "/api/0/projects/faultline/default/issues/?statsPeriod=24h".into(),
                        };
                        requests += 1;
                        match conn.send("GET", &path, &headers, b"") {
                            Ok(r) if r.status == 200 => {
                                if ids.is_empty()
                                    && let Ok(serde_json::Value::Array(issues)) =
                                        serde_json::from_slice(&r.body)
                                {
                                    ids = issues
                                        .iter()
                                        .filter_map(|i| i["id"].as_str().map(str::to_owned))
                                        .collect();
                                }
                            }
                            _ => errors += 1,
                        }
                    }
                    (requests, errors)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or((0, 1)))
            .collect()
    });
    Ok(DashboardRun {
        requests: results.iter().map(|r| r.0).sum(),
        errors: results.iter().map(|r| r.1).sum(),
        wall: started.elapsed(),
    })
}

/// ClickHouse's active parts and PostgreSQL's database, per event kept.
fn disk_per_event(events: u64) -> String {
    let events = events.max(1);
    let clickhouse = clickhouse_query(
        CLICKHOUSE,
        "SELECT toUInt64(sum(bytes_on_disk)) FROM system.parts WHERE database = 'faultline' AND active",
    )
    .ok()
    .and_then(|s| s.trim().parse::<u64>().ok());
    let postgres = crate::prepare_postgres()
        .ok()
        .and_then(|admin| {
            Command::new("psql")
                .arg(admin)
                .args(["-qAtc", "SELECT pg_database_size('faultline_bench')"])
                .output()
                .ok()
        })
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<u64>()
                .ok()
        });
    let per = |bytes: Option<u64>| bytes.map_or("?".into(), |b| format!("{} bytes", b / events));
    format!(
        "ClickHouse {} (active parts), PostgreSQL {} (the whole database, {} MB)",
        per(clickhouse),
        per(postgres),
        postgres.map_or(0, |b| b / 1_000_000)
    )
}

fn clickhouse_count() -> Option<u64> {
    clickhouse_query(CLICKHOUSE, "SELECT count() FROM faultline.events")
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub fn run(
    events: usize,
    clients: usize,
    binary: &Path,
    bodies: Vec<Vec<u8>>,
    gzip_bytes: usize,
    raw_len: usize,
) -> Result<ExitCode> {
    let root = crate::workspace_root();
    let dir = root.join("target/bench/stack");
    let _ = fs::remove_dir_all(&dir);
    let info = stack::up(&root, &dir, binary, "faultline_bench", true)?;
    let result = measure_stack(
        &dir, &info, events, clients, bodies, gzip_bytes, raw_len, binary,
    );
    let stopped = stack::down(&dir);
    let code = result?;
    stopped?;
    Ok(code)
}

#[allow(clippy::too_many_arguments)]
fn measure_stack(
    dir: &Path,
    info: &stack::StackInfo,
    events: usize,
    clients: usize,
    bodies: Vec<Vec<u8>>,
    gzip_bytes: usize,
    raw_len: usize,
    binary: &Path,
) -> Result<ExitCode> {
    let (_, public_key, project_id) = parse_dsn(&info.dsn)?;
    let relay = SocketAddr::from(([127, 0, 0, 1], info.ports.relay));
    let api = SocketAddr::from(([127, 0, 0, 1], stack::PUBLIC_PORT));
    let server = ServerInfo {
        addr: relay,
        dsn: info.dsn.clone(),
        public_key,
        project_id,
        org_slug: "faultline".into(),
        project_slug: "default".into(),
        admin_password: None,
    };
    let token = info.token.clone();

    thread::sleep(SETTLE);
    let named = stack_pids(dir);
    let idle = rss_by_name(&named);
    let cpu_before = cpu_by_name(&named);
    let pids: Vec<u32> = named.iter().map(|(_, p)| *p).collect();

    // ClickHouse's row count, sampled through the whole run.
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        thread::spawn(move || {
            let t0 = Instant::now();
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if let Some(n) = clickhouse_count() {
                    samples.push((t0.elapsed(), n));
                }
                thread::sleep(Duration::from_millis(100));
            }
            (t0, samples)
        })
    };
    // Each process's peak memory over the burst and the dashboard load.
    let peaks = {
        let (stop, named) = (stop.clone(), named.clone());
        thread::spawn(move || {
            let mut peaks = rss_by_name(&named);
            while !stop.load(Ordering::Relaxed) {
                for (peak, (_, now)) in peaks.iter_mut().zip(rss_by_name(&named)) {
                    peak.1 = peak.1.max(now);
                }
                thread::sleep(PEAK_SAMPLE_EVERY);
            }
            peaks
        })
    };
    let run = measure(&server, api, &pids, &token, bodies, clients)?;
    let accepted = run.accepted() as u64;
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while clickhouse_count().unwrap_or(0) < accepted && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    let peak = rss_by_name(&named);
    let cpu_after = cpu_by_name(&named);
    let dashboard = dashboard_load(api, &token)?;
    stop.store(true, Ordering::Relaxed);
    let (sampler_t0, samples) = sampler.join().expect("the sampler panicked");
    let peaks = peaks.join().expect("the memory sampler panicked");
    let disk = disk_per_event(accepted);

    // Times relative to the first send.
    let offset = run.started.saturating_duration_since(sampler_t0);
    let send_end = offset + run.send_wall;
    let at_send_end = samples
        .iter()
        .take_while(|(t, _)| *t <= send_end)
        .last()
        .map_or(0, |(_, n)| *n);
    let all_in = samples
        .iter()
        .find(|(_, n)| *n >= accepted)
        .map(|(t, _)| t.saturating_sub(offset));
    let in_clickhouse = samples.last().map_or(0, |(_, n)| *n);

    let secs = run.send_wall.as_secs_f64();
    let lat = run.latencies();
    let mut s = String::new();
    let mut line = |text: String| {
        s.push_str(&text);
        s.push('\n');
    };
    line("== faultline ingest benchmark: production topology (cargo xtask stack) ==".into());
    line(format!("binary:          {}", binary.display()));
    line(format!(
        "workload:        {events} events ({raw_len} bytes raw, ~{} bytes gzipped), {clients} clients, straight to relay",
        gzip_bytes / events.max(1)
    ));
    line(format!(
        "machine:         {} CPUs; everything (clients, services, servers) on it",
        thread::available_parallelism().map_or(0, |n| n.get())
    ));
    line(format!(
        "relay:           {:.0} envelopes/s accepted ({accepted} of {events} in {secs:.2} s), {} errors",
        accepted as f64 / secs,
        run.errors()
    ));
    if !lat.is_empty() {
        line(format!(
            "latency (200s):  p50 {}  p90 {}  p99 {}  max {}",
            ms(percentile(lat, 0.50)),
            ms(percentile(lat, 0.90)),
            ms(percentile(lat, 0.99)),
            ms(*lat.last().expect("not empty"))
        ));
    }
    line(format!("into the issues: {}", run.e2e_line()));
    match all_in {
        Some(t) => line(format!(
            "into ClickHouse: {:.0} events/s ({accepted} rows {:.2} s after the first send)",
            accepted as f64 / t.as_secs_f64(),
            t.as_secs_f64()
        )),
        None => line(format!(
            "into ClickHouse: only {in_clickhouse} of {accepted} rows after {} s",
            DRAIN_TIMEOUT.as_secs()
        )),
    }
    line(format!(
        "consumer lag:    {} events not yet in ClickHouse when the burst ended ({at_send_end} of {accepted} in)",
        accepted.saturating_sub(at_send_end)
    ));
    let total = |rows: &[(String, u64)]| rows.iter().map(|(_, kb)| kb).sum::<u64>();
    line(format!(
        "stack memory:    idle {}, after the run {} (PSS summed over every process)",
        mb(Some(total(&idle))),
        mb(Some(total(&peak)))
    ));
    let mut per = String::new();
    for ((name, idle_kb), (_, peak_kb)) in idle.iter().zip(&peak) {
        let _ = write!(
            per,
            "{name} {}/{}  ",
            mb(Some(*idle_kb)),
            mb(Some(*peak_kb))
        );
    }
    line(format!("per process:     (idle/after) {}", per.trim_end()));
    line(format!(
        "dashboard load:  {} requests from {DASHBOARD_CLIENTS} clients in {:.2} s (issue lists and latest events through nginx), {} errors",
        dashboard.requests,
        dashboard.wall.as_secs_f64(),
        dashboard.errors
    ));
    let mut per = String::new();
    for (name, kb) in &peaks {
        let _ = write!(per, "{name} {}  ", mb(Some(*kb)));
    }
    line(format!(
        "peak memory:     {} in all; {} (PSS every {} ms over the burst and the dashboard load)",
        mb(Some(total(&peaks))),
        per.trim_end(),
        PEAK_SAMPLE_EVERY.as_millis()
    ));
    line(format!("disk per event:  {disk}"));
    let mut cpu = String::new();
    for ((name, before), (_, after)) in cpu_before.iter().zip(&cpu_after) {
        let _ = write!(cpu, "{name} {:.1}  ", after - before);
    }
    line(format!("CPU seconds:     {}", cpu.trim_end()));
    line(format!(
        "peak RSS sample: {} (VmRSS sum, sampled during the run; counts shared pages per process)",
        mb(Some(run.peak_rss()))
    ));
    println!("{s}");
    let report = crate::workspace_root().join("target/bench/ingest-stack.txt");
    fs::write(&report, &s).with_context(|| format!("writing {}", report.display()))?;

    let ok = run.errors() == 0 && all_in.is_some() && run.e2e_done();
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
