//! Project automation, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! `cargo xtask test [ARGS...]` prepares the official Sentry SDKs that the
//! integration tests drive against a Faultline devserver, and the servers
//! the server-backed tests need, then runs
//! `cargo test --workspace --locked ARGS... -- --include-ignored`: the tests
//! that need a server or an SDK are `#[ignore]`d, so that a plain
//! `cargo test` on a fresh clone runs the rest and reports them as ignored.
//! These variables are set:
//!
//! * `FAULTLINE_TEST_PYTHON`: a Python with `sentry-sdk` installed
//!   (a venv under `target/sdk/venv`), to run `tests/sdk/python/send.py`;
//! * `FAULTLINE_TEST_NODE_DIR`: `tests/sdk/node`, with `@sentry/node`
//!   installed from its `package-lock.json`, to run `send.js` there.
//!
//! `cargo xtask sdk-env` only prepares the SDKs and prints these variables as
//! `export` lines, for running some tests by hand:
//! `eval "$(cargo xtask sdk-env)" && cargo test -p faultline-web`.
//!
//! `cargo xtask capture-fixtures [--only SDK]` captures `tests/fixtures/sdk`
//! afresh from the pinned SDKs (`tests/fixtures/capture/capture.py`; see
//! `tests/fixtures/README.md`).
//!
//! `cargo xtask bench ingest [--events N] [--clients C] [--release-binary PATH]`
//! measures ingestion against a release devserver: envelopes/s accepted by the
//! relay with latency percentiles, end-to-end events/s until the issue counts
//! catch up, and the devserver's peak RSS; see the `bench` module.
//!
//! `cargo xtask bench notify` times the notifier's evaluation of 50 alert
//! rules per post-process message, in process, and its delivery throughput
//! from the outbox to a webhook receiver on 127.0.0.1.
//!
//! `cargo xtask bench symbolicate` times the symbolicator on an event of 30
//! JavaScript frames against a bundle of about 1 MB, cold and warm, and
//! reports its peak RSS.
//!
//! `cargo xtask bench web [--events N] [--issues K] [--requests R] [--clients C]
//! [--release-binary PATH] [--fixture PATH]` seeds a release devserver with
//! N events (default 100,000) in K issues (default 1,000) spread over the last
//! 24 hours, signs in to the dashboard, and reports the time to first byte
//! (p50/p90/p99/max over R sequential keep-alive requests, default 200) of the
//! issue stream, the stream with a release search and the issue detail,
//! against the aim of p99 < 100 ms, with the REST API's equivalents for
//! comparison; see the `bench_web` module. The devserver, HTTP client,
//! envelopes and fixtures come from faultline-testkit (shared with the
//! end-to-end tests); the flags, /proc readings and figures both benchmarks
//! use are in the `harness` module.

mod bench;
mod bench_stack;
mod bench_web;
mod harness;
mod otlp_sink;
mod servers;
mod stack;

use std::env;
use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result, bail};

/// The `sentry-sdk` release the Python SDK tests are written against.
const SENTRY_PYTHON_VERSION: &str = "2.75.0";

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test [ARGS...]   prepare the SDKs and servers, then run
                   `cargo test --workspace --locked ARGS... -- --include-ignored`
  sdk-env          prepare the SDKs and print their paths as `export` lines
  capture-fixtures [--only python|node|sentry-cli]
                   capture tests/fixtures/sdk afresh from the pinned SDKs (needs
                   unshare(1); see tests/fixtures/README.md)
  bench ingest [--events N] [--clients C] [--release-binary PATH] [--fixture PATH]
               [--days-old D [--cleanup]] [--traces]
                   start a release devserver (built with `cargo build --release -p faultline`
                   unless --release-binary is given), POST N (default 20000) gzipped copies
                   of a captured SDK envelope from C (default 16) keep-alive clients, and
                   report envelopes/s accepted by the relay, latency p50/p90/p99/max,
                   end-to-end events/s (until the issue counts reach N), the devserver's
                   peak RSS and the data directory's bytes per event once settled; the
                   summary also goes to target/bench/ingest.txt. --days-old D dates the
                   events D days back; --cleanup then times `faultline cleanup --days D-1`
                   beside the running devserver and reports what it gave back
  bench ingest --stack [--events N] [--clients C] [--release-binary PATH]
                   the same workload across the production topology, started as
                   `cargo xtask stack up` does in target/bench/stack (ports 9000, 3000,
                   8123, 9092… must be free): envelopes/s accepted at relay, events/s
                   end to end into the issues and into ClickHouse, the consumer lag when
                   the burst ends, and the RSS of every process and server, idle and
                   peak; the summary also goes to target/bench/ingest-stack.txt
  stack up [--release-binary PATH] | down | status
                   run the compose topology natively (PostgreSQL, ClickHouse, tansu,
                   nginx on :9000, each service its own process), state in target/stack
  bench notify     time the notifier's evaluation of 50 alert rules per post-process
                   message (header and conditions; whole message and filters), in process,
                   and deliveries/s from a SQLite outbox to a local webhook receiver
  bench symbolicate
                   events/s through the symbolicator for an event of 30 JavaScript frames
                   against a ~1 MB bundle (synthetic app and source map, SQLite artifact
                   index): cold (a new symbolicator per event) and warm (map cached),
                   and the process's RSS
  bench web [--events N] [--issues K] [--requests R] [--clients C] [--release-binary PATH]
            [--fixture PATH]
                   start a release devserver, seed it from C (default 32) keep-alive clients
                   with N (default 100000) events in K (default 1000) issues, one per gzipped
                   envelope, made from a captured SDK event (fingerprint bench-issue-<i % K>,
                   5-frame chained exception, 3 breadcrumbs, 50 users, tags, 3 releases,
                   timestamps over the last 24 h), wait until the API counts and stores them
                   all, sign in to the dashboard and time R (default 200) sequential
                   keep-alive requests each of the issue stream, the stream searching
                   `is:unresolved release:shop@2.5.0` by frequency, and issue details (plus
                   the REST API's list, search and latest event for comparison); report time
                   to first byte p50/p90/p99/max against the aim of p99 < 100 ms, full
                   response p50/p99, body sizes, the seeding rate, the devserver's peak RSS
                   and data size; the summary also goes to target/bench/web.txt";

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode> {
    let mut args = env::args().skip(1);
    let command = args.next();
    let rest: Vec<String> = args.collect();
    match command.as_deref() {
        Some("test") => test(&rest),
        Some("sdk-env") => sdk_env(&rest),
        Some("capture-fixtures") => capture_fixtures(&rest),
        Some("bench") => bench(&rest),
        Some("stack") => stack::stack(&rest),
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Some(other) => bail!("unknown command `{other}`\n{USAGE}"),
        None => bail!("no command given\n{USAGE}"),
    }
}

/// `cargo xtask bench notify`: the notifier's rule evaluation, in process
/// (crates/notifier/examples/bench_evaluate.rs), then its delivery
/// throughput to a local webhook receiver (bench_deliver.rs); release
/// builds.
fn bench_notify(args: &[String]) -> Result<ExitCode> {
    if !args.is_empty() {
        bail!("bench notify takes no arguments");
    }
    run_examples("faultline-notifier", &["bench_evaluate", "bench_deliver"])
}

/// `cargo xtask bench symbolicate`: crates/symbolicator/examples/
/// bench_symbolicate.rs, a release build.
fn bench_symbolicate(args: &[String]) -> Result<ExitCode> {
    if !args.is_empty() {
        bail!("bench symbolicate takes no arguments");
    }
    run_examples("faultline-symbolicator", &["bench_symbolicate"])
}

/// Runs each of `package`'s `examples` in a release build, in order,
/// stopping at the first that fails.
fn run_examples(package: &str, examples: &[&str]) -> Result<ExitCode> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    for example in examples {
        let status = Command::new(&cargo)
            .args([
                "run",
                "--release",
                "--locked",
                "-p",
                package,
                "--example",
                example,
            ])
            .current_dir(workspace_root())
            .status()
            .with_context(|| format!("could not run the {example} benchmark"))?;
        if !status.success() {
            return Ok(ExitCode::from(
                u8::try_from(status.code().unwrap_or(1)).unwrap_or(1),
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `cargo xtask bench <name> ...`
fn bench(args: &[String]) -> Result<ExitCode> {
    match args.first().map(String::as_str) {
        Some("ingest") => bench::ingest(&args[1..]),
        Some("web") => bench_web::web(&args[1..]),
        Some("notify") => bench_notify(&args[1..]),
        Some("symbolicate") => bench_symbolicate(&args[1..]),
        Some(other) => bail!("unknown benchmark `{other}`\n{USAGE}"),
        None => bail!("which benchmark?\n{USAGE}"),
    }
}

/// `cargo xtask test`: prepare the SDKs, run the workspace's tests, exit with their status.
fn test(cargo_args: &[String]) -> Result<ExitCode> {
    let root = workspace_root();
    let sdks = prepare_sdks(&root)?;
    let postgres = prepare_postgres().context("preparing PostgreSQL for the storage tests")?;
    let clickhouse = servers::prepare_clickhouse(&root).context("preparing ClickHouse")?;
    let kafka = servers::prepare_kafka(&root).context("preparing the Kafka broker")?;
    let redis = servers::prepare_redis(&root).context("preparing Redis")?;
    let tansu = servers::tansu()?;

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let cargo_args = with_ignored_tests(cargo_args);
    eprintln!(
        "xtask: running cargo test --workspace --locked {}",
        cargo_args.join(" ")
    );
    let mut child = Command::new(&cargo)
        .args(["test", "--workspace", "--locked"])
        .args(&cargo_args)
        .current_dir(&root)
        .envs(sdks.env())
        .env("FAULTLINE_TEST_POSTGRES_URL", &postgres)
        .env("FAULTLINE_TEST_CLICKHOUSE_URL", &clickhouse)
        .env("FAULTLINE_TEST_KAFKA_BROKERS", &kafka)
        .env("FAULTLINE_TEST_REDIS_URL", &redis)
        .env("FAULTLINE_TEST_TANSU", &tansu)
        .stdout(Stdio::piped())
        .spawn()
        .context("could not start cargo test")?;
    // Pass the output through, adding up the per-binary `test result:` lines
    // so the run ends with one total (the last binary is often one with
    // no tests, whose "0 passed" would otherwise be the closing line).
    let stdout = child.stdout.take().context("cargo test stdout")?;
    let mut total = TestCounts::default();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo test output")?;
        println!("{line}");
        if let Some(counts) = parse_test_result(&line) {
            total.passed += counts.passed;
            total.failed += counts.failed;
            total.ignored += counts.ignored;
        }
    }
    let status = child.wait().context("waiting for cargo test")?;
    println!(
        "tests: {} passed, {} failed, {} ignored",
        total.passed, total.failed, total.ignored
    );
    // A test run killed by a signal has no code; report it as a failure.
    let code = status.code().unwrap_or(1);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// `ARGS` with `--include-ignored` among the test binaries' arguments (after
/// `--`, which is added when missing): the server-backed tests are ignored
/// in a plain `cargo test`, and this run has their servers.
fn with_ignored_tests(args: &[String]) -> Vec<String> {
    let mut args = args.to_vec();
    match args.iter().position(|a| a == "--") {
        Some(at) => args.insert(at + 1, "--include-ignored".into()),
        None => args.extend(["--".into(), "--include-ignored".into()]),
    }
    args
}

/// The counts of one `test result:` line, or of a whole run.
#[derive(Debug, Default, PartialEq, Eq)]
struct TestCounts {
    passed: u64,
    failed: u64,
    ignored: u64,
}

/// `test result: ok. 12 passed; 0 failed; 3 ignored; …` → 12, 0, 3.
fn parse_test_result(line: &str) -> Option<TestCounts> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let count = |word: &str| -> Option<u64> {
        rest.split(';').map(str::trim).find_map(|part| {
            part.rsplit_once(". ")
                .map_or(part, |(_, p)| p)
                .strip_suffix(word)?
                .trim()
                .parse()
                .ok()
        })
    };
    Some(TestCounts {
        passed: count(" passed")?,
        failed: count(" failed")?,
        // Older harnesses leave it out; nothing was ignored then.
        ignored: count(" ignored").unwrap_or(0),
    })
}

/// `cargo xtask sdk-env`: prepare the SDKs and print the variables for a shell to `eval`.
fn sdk_env(args: &[String]) -> Result<ExitCode> {
    if !args.is_empty() {
        bail!("sdk-env takes no arguments\n{USAGE}");
    }
    let sdks = prepare_sdks(&workspace_root())?;
    for (name, value) in sdks.env() {
        println!("export {name}='{}'", value.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `cargo xtask capture-fixtures [--only SDK]...`: run the capture scenarios
/// with the pinned SDKs and write `tests/fixtures/sdk` afresh.
fn capture_fixtures(args: &[String]) -> Result<ExitCode> {
    let root = workspace_root();
    let sdks = prepare_sdks(&root)?;
    let capture = root.join("tests/fixtures/capture");
    let brotli = root.join("target/fixtures-capture/brotli");
    install_into(&sdks.python, &capture.join("requirements.txt"), &brotli)
        .context("installing brotli for the Python brotli capture")?;
    let mut cmd = Command::new("python3");
    cmd.arg(capture.join("capture.py"))
        .arg("--python")
        .arg(&sdks.python)
        .arg("--node-modules")
        .arg(sdks.node_dir.join("node_modules"))
        // The sentry-cli wheel puts the binary beside the venv's python.
        .arg("--sentry-cli")
        .arg(sdks.python.with_file_name("sentry-cli"))
        .arg("--brotli")
        .arg(&brotli)
        .arg("--out")
        .arg(root.join("tests/fixtures/sdk"));
    // The capture checks that no payload names the checkout; the home
    // directory is as telling.
    if let Some(home) = env::var_os("HOME").filter(|h| h.len() > 1) {
        cmd.arg("--forbid").arg(home);
    }
    run_cmd(cmd.args(args))?;
    Ok(ExitCode::SUCCESS)
}

/// `pip install --target dir -r requirements` with `python`, unless `dir`
/// already holds exactly that (a stamp file remembers).
fn install_into(python: &Path, requirements: &Path, dir: &Path) -> Result<()> {
    let wanted = fs::read_to_string(requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    let stamp = dir.join(".faultline-requirements");
    if fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    eprintln!(
        "xtask: installing {} into {}",
        requirements.display(),
        dir.display()
    );
    run_cmd(
        Command::new(python)
            .args(["-m", "pip", "install", "--quiet", "--upgrade", "--target"])
            .arg(dir)
            .arg("-r")
            .arg(requirements)
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    )?;
    fs::write(&stamp, wanted).with_context(|| format!("writing {}", stamp.display()))
}

/// Where the prepared SDKs are.
struct Sdks {
    python: PathBuf,
    node_dir: PathBuf,
}

impl Sdks {
    fn env(&self) -> [(&'static str, &Path); 2] {
        [
            ("FAULTLINE_TEST_PYTHON", self.python.as_path()),
            ("FAULTLINE_TEST_NODE_DIR", self.node_dir.as_path()),
        ]
    }
}

pub(crate) fn workspace_root() -> PathBuf {
    // xtask/ sits directly in the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent directory")
        .to_path_buf()
}

/// The PostgreSQL server the storage tests create their databases on:
/// `FAULTLINE_TEST_POSTGRES_URL` if set, else Debian's local cluster,
/// started if it is down, with a `faultline` role; test databases left by
/// earlier runs are dropped.
pub(crate) fn prepare_postgres() -> Result<String> {
    if let Ok(url) = env::var("FAULTLINE_TEST_POSTGRES_URL") {
        eprintln!("xtask: using PostgreSQL at FAULTLINE_TEST_POSTGRES_URL");
        return Ok(url);
    }
    let clusters = Command::new("pg_lsclusters")
        .arg("--no-header")
        .output()
        .context("PostgreSQL is not installed (apt-get install postgresql; .ci/run does this)")?;
    let listing = String::from_utf8_lossy(&clusters.stdout).into_owned();
    let Some(cluster) = listing
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() >= 4)
    else {
        bail!("no PostgreSQL cluster found (pg_lsclusters lists none)");
    };
    let (version, name, port, status) = (cluster[0], cluster[1], cluster[2], cluster[3]);
    if status != "online" {
        eprintln!("xtask: starting PostgreSQL cluster {version}/{name}");
        run_cmd(Command::new("pg_ctlcluster").args([version, name, "start"]))?;
    }
    let psql = |sql: &str| -> Result<String> {
        let out = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                "psql",
                "-p",
                port,
                "-qAt",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .context("running psql as the postgres user")?;
        if !out.status.success() {
            bail!("psql failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    psql(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'faultline') THEN \
         CREATE ROLE faultline LOGIN SUPERUSER PASSWORD 'faultline'; END IF; END $$;",
    )?;
    for db in
        psql("SELECT datname FROM pg_database WHERE datname LIKE 'faultline\\_test\\_%'")?.lines()
    {
        psql(&format!("DROP DATABASE IF EXISTS \"{db}\""))?;
    }
    eprintln!("xtask: PostgreSQL {version}/{name} ready on port {port}");
    Ok(format!(
        "postgres://faultline:faultline@127.0.0.1:{port}/postgres"
    ))
}

fn prepare_sdks(root: &Path) -> Result<Sdks> {
    let python = prepare_python(&root.join("target/sdk/venv"))
        .context("preparing the Python SDK (needs python3 with the venv module)")?;
    let node_dir = root.join("tests/sdk/node");
    prepare_node(&node_dir).context("preparing the Node SDK (needs node and npm)")?;
    Ok(Sdks { python, node_dir })
}

/// Make sure `venv` exists with exactly `tests/requirements.txt` installed;
/// return its python. A stamp file remembers what was installed.
fn prepare_python(venv: &Path) -> Result<PathBuf> {
    let python = venv.join("bin/python");
    let requirements = workspace_root().join("tests/requirements.txt");
    let wanted = fs::read_to_string(&requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    let stamp = venv.join(".faultline-requirements");
    if python.exists() && fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        eprintln!("xtask: python venv {} is up to date", venv.display());
        return Ok(python);
    }
    if installed_sentry_sdk(&python).is_none() {
        eprintln!("xtask: creating python venv {}", venv.display());
        // --clear: start over if a broken venv is in the way.
        run_cmd(
            Command::new("python3")
                .args(["-m", "venv", "--clear"])
                .arg(venv),
        )?;
    }
    eprintln!(
        "xtask: installing {} into {}",
        requirements.display(),
        venv.display()
    );
    run_cmd(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "-r"])
            .arg(&requirements)
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    )?;
    match installed_sentry_sdk(&python) {
        Some(v) if v == SENTRY_PYTHON_VERSION => {}
        other => bail!(
            "{} reports sentry-sdk {other:?} after installing {SENTRY_PYTHON_VERSION}",
            python.display()
        ),
    }
    fs::write(&stamp, wanted).with_context(|| format!("writing {}", stamp.display()))?;
    Ok(python)
}

/// The `sentry-sdk` version importable by `python`, if it runs and has one.
fn installed_sentry_sdk(python: &Path) -> Option<String> {
    if !python.exists() {
        return None;
    }
    let out = Command::new(python)
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('sentry-sdk'))",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Run `npm ci` in `dir` unless its node_modules matches package-lock.json.
fn prepare_node(dir: &Path) -> Result<()> {
    let lock = dir.join("package-lock.json");
    let installed = dir.join("node_modules/.package-lock.json");
    let lock_time = fs::metadata(&lock)
        .and_then(|m| m.modified())
        .with_context(|| format!("reading {}", lock.display()))?;
    let up_to_date = fs::metadata(&installed)
        .and_then(|m| m.modified())
        .is_ok_and(|installed_time| installed_time >= lock_time);
    if up_to_date {
        eprintln!(
            "xtask: node_modules in {} is up to date with package-lock.json",
            dir.display()
        );
        return Ok(());
    }
    eprintln!("xtask: running npm ci in {}", dir.display());
    run_cmd(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(dir),
    )
}

/// Run a command to completion, its output on stderr; fail unless it succeeds.
pub(crate) fn run_cmd(cmd: &mut Command) -> Result<()> {
    let shown = describe(cmd);
    let status = cmd
        .stdout(std::io::stderr())
        .status()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod test_result_tests {
    use super::{TestCounts, parse_test_result, with_ignored_tests};

    #[test]
    fn sums_come_from_result_lines() {
        assert_eq!(
            parse_test_result(
                "test result: ok. 12 passed; 0 failed; 4 ignored; 0 measured; 0 filtered out; finished in 0.00s"
            ),
            Some(TestCounts {
                passed: 12,
                failed: 0,
                ignored: 4
            })
        );
        assert_eq!(
            parse_test_result("test result: FAILED. 3 passed; 2 failed; 0 ignored"),
            Some(TestCounts {
                passed: 3,
                failed: 2,
                ignored: 0
            })
        );
        assert_eq!(parse_test_result("running 3 tests"), None);
    }

    #[test]
    fn ignored_tests_are_included_whatever_else_is_passed() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(with_ignored_tests(&[]), args(&["--", "--include-ignored"]));
        assert_eq!(
            with_ignored_tests(&args(&["-p", "faultline", "--", "ingestion"])),
            args(&["-p", "faultline", "--", "--include-ignored", "ingestion"])
        );
    }
}
