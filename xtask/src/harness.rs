//! What the benchmarks and `cargo xtask stack` need beyond testkit (the
//! devserver, HTTP client, envelopes and fixtures all three share): flags,
//! the release binary, a devserver that cleans up its data directory,
//! walking the issue list's pages, /proc readings and figures.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use faultline_testkit::devserver::{self, DevserverCommand};
use faultline_testkit::{fixtures, free_port, process};
use serde_json::Value;

pub use faultline_testkit::devserver::{ADMIN_EMAIL, ServerInfo, parse_dsn};
pub use faultline_testkit::envelope::{OneEvent, gzip_envelope};
pub use faultline_testkit::http::{Conn, Response};

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
// Random ids

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

/// The envelope replayed by default: the exception captured from sentry-python.
pub fn default_fixture() -> PathBuf {
    fixtures::path(fixtures::PYTHON_SDK, "exception")
}

/// A running devserver; dropping it stops it and deletes its data.
pub struct Devserver {
    child: Option<Child>,
    pub data_dir: PathBuf,
    pub info: ServerInfo,
}

impl Devserver {
    /// Starts `binary devserver` on a free port with a fresh data directory
    /// under `bench_dir`, its output going to `log_path` (emptied first);
    /// returns once it has printed its DSN.
    pub fn start(binary: &Path, bench_dir: &Path, log_path: &Path) -> Result<Devserver> {
        Self::start_with_env(binary, bench_dir, log_path, &[])
    }

    /// [`Devserver::start`] with `env` added to its environment.
    pub fn start_with_env(
        binary: &Path,
        bench_dir: &Path,
        log_path: &Path,
        env: &[(String, String)],
    ) -> Result<Devserver> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let data_dir = bench_dir.join(format!("data-{}-{nanos}", std::process::id()));
        File::create(log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let port = free_port();
        eprintln!(
            "xtask: starting {} devserver --bind 127.0.0.1:{port} --data-dir {}",
            binary.display(),
            data_dir.display()
        );
        let started = DevserverCommand {
            binary,
            port,
            data_dir: &data_dir,
            env,
            log: log_path,
        }
        .spawn();
        match started {
            Ok((child, info)) => Ok(Devserver {
                child: Some(child),
                data_dir,
                info,
            }),
            Err(e) => {
                let _ = fs::remove_dir_all(&data_dir);
                Err(e.into())
            }
        }
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
        let result = process::stop(&mut child, Duration::from_secs(30));
        let removed = fs::remove_dir_all(&self.data_dir)
            .with_context(|| format!("removing {}", self.data_dir.display()));
        let (status, killed) = result.context("stopping the devserver")?;
        if killed {
            eprintln!("xtask: the devserver ignored SIGTERM for 30 s; it was killed");
        }
        removed?;
        Ok((status, started.elapsed()))
    }
}

impl Drop for Devserver {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::terminate(&mut child, Duration::from_secs(30));
            let _ = fs::remove_dir_all(&self.data_dir);
        }
    }
}

/// `faultline token create` for the admin user: an API token.
pub fn mint_token(binary: &Path, data_dir: &Path) -> Result<String> {
    let args = ["--data-dir".as_ref(), data_dir.as_os_str()];
    Ok(devserver::mint_token(binary, &args, &[])?)
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
    fn next_pages_come_from_the_link_header() {
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
