//! `cargo xtask stack up|down|status`: the compose topology run natively,
//! where no Docker engine is. Each Faultline service runs as its own
//! process (`faultline run <service>`, the release build) against real
//! servers on 127.0.0.1: the distribution's PostgreSQL cluster (database
//! `faultline_stack`), clickhouse-server, tansu as the Kafka-protocol
//! broker, and nginx with deploy/nginx.conf publishing port 9000 as compose
//! does. State (data, logs, pids, config.yml) lives in `target/stack/`.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use faultline_testkit::{self as testkit, ServerUrls, ServicePorts};

use crate::harness::{self, Conn};

pub const PUBLIC_PORT: u16 = 9000;
const CLICKHOUSE_HTTP_PORT: u16 = 8123;
const CLICKHOUSE_TCP_PORT: u16 = 19002;
const KAFKA_PORT: u16 = 9092;
const REDIS_PORT: u16 = 6379;
const PROMETHEUS_PORT: u16 = 9090;
const DATABASE: &str = "faultline_stack";
const ADMIN_EMAIL: &str = "admin@faultline.local";

pub fn stack(args: &[String]) -> Result<ExitCode> {
    let root = crate::workspace_root();
    let dir = root.join("target/stack");
    match args.first().map(String::as_str) {
        Some("up") => {
            let flags = harness::flag_pairs(&args[1..])?;
            let mut binary = None;
            for (flag, value) in &flags {
                match flag.as_str() {
                    "--release-binary" => binary = Some(PathBuf::from(value)),
                    other => bail!("unknown flag {other} for stack up"),
                }
            }
            let binary = harness::release_binary(&root, binary.as_deref())?;
            up(&root, &dir, &binary, DATABASE, false)?;
            Ok(ExitCode::SUCCESS)
        }
        Some("down") => {
            down(&dir)?;
            Ok(ExitCode::SUCCESS)
        }
        Some("status") => status(&dir),
        _ => bail!("usage: cargo xtask stack up [--release-binary PATH] | down | status"),
    }
}

/// One started process, as recorded in `pids`.
struct Recorded {
    name: String,
    pid: u32,
}

fn pids_file(dir: &Path) -> PathBuf {
    dir.join("pids")
}

/// The pids `up` recorded, by name.
pub fn processes(dir: &Path) -> Vec<(String, u32)> {
    recorded(dir).into_iter().map(|r| (r.name, r.pid)).collect()
}

fn recorded(dir: &Path) -> Vec<Recorded> {
    fs::read_to_string(pids_file(dir))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (name, pid) = l.split_once(' ')?;
            Some(Recorded {
                name: name.to_owned(),
                pid: pid.parse().ok()?,
            })
        })
        .collect()
}

fn record(dir: &Path, name: &str, pid: u32) -> Result<()> {
    use std::io::Write;
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(pids_file(dir))?;
    writeln!(file, "{name} {pid}")?;
    Ok(())
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        })
}

/// Starts the servers, migrates, creates the admin on first run, starts the
/// services and the proxy. Returns when every service answers /health.
/// `database` is the PostgreSQL database; `fresh` drops it first (the
/// benchmark starts from nothing).
pub fn up(
    root: &Path,
    dir: &Path,
    binary: &Path,
    database: &str,
    fresh: bool,
) -> Result<StackInfo> {
    if recorded(dir).iter().any(|r| alive(r.pid)) {
        bail!("the stack is already running (cargo xtask stack down first)");
    }
    let ports = ServicePorts::NATIVE;
    for port in [
        PUBLIC_PORT,
        CLICKHOUSE_HTTP_PORT,
        KAFKA_PORT,
        REDIS_PORT,
        PROMETHEUS_PORT,
        ports.relay,
        ports.web,
        ports.query_grpc,
        ports.query_http,
        ports.ingest_consumer,
        ports.cron,
        ports.notifier,
        ports.symbolicator_grpc,
        ports.symbolicator_http,
    ] {
        if testkit::port_open(port) {
            bail!(
                "port {port} is in use (is another `cargo xtask stack` running? `cargo xtask stack down`)"
            );
        }
    }
    fs::create_dir_all(dir.join("logs"))?;
    let _ = fs::remove_file(pids_file(dir));
    let logs = dir.join("logs");

    // PostgreSQL: the distribution's cluster, one database for the stack.
    let admin_url = crate::prepare_postgres()?;
    let (base, _) = admin_url
        .rsplit_once('/')
        .context("PostgreSQL URL without a database")?;
    if fresh {
        crate::run_cmd(
            Command::new("psql")
                .arg(&admin_url)
                .args(["-qc", &format!("DROP DATABASE IF EXISTS {database}")]),
        )?;
    }
    let exists = Command::new("psql")
        .arg(&admin_url)
        .args([
            "-qAtc",
            &format!("SELECT 1 FROM pg_database WHERE datname = '{database}'"),
        ])
        .output()
        .context("running psql")?;
    if String::from_utf8_lossy(&exists.stdout).trim() != "1" {
        crate::run_cmd(
            Command::new("psql")
                .arg(&admin_url)
                .args(["-qc", &format!("CREATE DATABASE {database}")]),
        )?;
    }

    let clickhouse = testkit::start_clickhouse(
        &dir.join("clickhouse"),
        CLICKHOUSE_HTTP_PORT,
        CLICKHOUSE_TCP_PORT,
    )
    .context("starting clickhouse-server (apt-get install clickhouse-server)")?;
    record(dir, "clickhouse", clickhouse.id())?;
    let tansu = testkit::start_tansu(&crate::servers::tansu()?, &dir.join("tansu"), KAFKA_PORT)?;
    record(dir, "tansu", tansu.id())?;
    let redis = testkit::start_redis(&dir.join("redis"), REDIS_PORT)
        .context("starting redis-server (apt-get install redis-server)")?;
    record(dir, "redis", redis.id())?;

    let urls = ServerUrls {
        postgres: format!("{base}/{database}"),
        clickhouse: format!("http://127.0.0.1:{CLICKHOUSE_HTTP_PORT}/faultline"),
        kafka: format!("127.0.0.1:{KAFKA_PORT}"),
        redis: format!("redis://127.0.0.1:{REDIS_PORT}"),
    };
    let config = dir.join("config.yml");
    if !config.exists() {
        let key = harness::hex(&harness::random_bytes(25)?);
        fs::write(
            &config,
            testkit::stack_config(&urls, &ports, PUBLIC_PORT, &key),
        )?;
    }
    let faultline = |args: &[&str]| -> Result<String> {
        let out = Command::new(binary)
            .args(args)
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running faultline {}", args.join(" ")))?;
        if !out.status.success() {
            bail!(
                "faultline {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    eprint!("{}", faultline(&["upgrade", "--noinput"])?);
    let password_file = dir.join("admin-password");
    if !password_file.exists() {
        let password = harness::hex(&harness::random_bytes(12)?);
        faultline(&[
            "createuser",
            "--email",
            ADMIN_EMAIL,
            "--password",
            &password,
            "--superuser",
            "--no-input",
        ])?;
        fs::write(&password_file, &password)?;
    }

    for service in testkit::SERVICES {
        let child =
            testkit::start_service(binary, service, &config, &ports, &logs).with_context(|| {
                format!(
                    "starting {service}; see {}",
                    logs.join(format!("{service}.log")).display()
                )
            })?;
        record(dir, service, child.id())?;
    }
    let nginx = testkit::start_nginx(
        &root.join("deploy/nginx.conf"),
        &dir.join("nginx"),
        PUBLIC_PORT,
        ports.relay,
        ports.web,
    )
    .context("starting nginx (apt-get install nginx-light)")?;
    record(dir, "nginx", nginx.id())?;
    wait_healthy(&ports)?;
    // compose's Prometheus, with the same jobs and alerts on the native
    // ports, so the dashboards' queries can be tried on real data.
    let prometheus_dir = root.join("deploy/prometheus");
    let prometheus = testkit::start_prometheus(
        &dir.join("prometheus"),
        &testkit::native_prometheus_config(
            &fs::read_to_string(prometheus_dir.join("prometheus.yml"))?,
            &ports,
            PROMETHEUS_PORT,
            "15s",
        ),
        &fs::read_to_string(prometheus_dir.join("alerts.yml"))?,
        PROMETHEUS_PORT,
    )
    .context("starting prometheus (apt-get install prometheus)")?;
    record(dir, "prometheus", prometheus.id())?;

    let token = faultline(&["token", "create", "--email", ADMIN_EMAIL])?
        .trim()
        .to_owned();
    let info = StackInfo {
        url: format!("http://127.0.0.1:{PUBLIC_PORT}"),
        dsn: default_dsn(&token)?,
        token,
        password: fs::read_to_string(&password_file)?,
        ports,
    };
    println!("Faultline stack is running at {}/", info.url);
    println!("Admin login:    {ADMIN_EMAIL}");
    println!("Admin password: {}", info.password);
    println!("DSN:            {}", info.dsn);
    println!("Prometheus:     http://127.0.0.1:{PROMETHEUS_PORT}/");
    println!("Logs:           {}", logs.display());
    Ok(info)
}

/// What a caller of [`up`] needs to drive the stack.
pub struct StackInfo {
    pub url: String,
    pub dsn: String,
    pub token: String,
    pub password: String,
    pub ports: ServicePorts,
}

fn wait_healthy(ports: &ServicePorts) -> Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    for service in testkit::SERVICES {
        loop {
            let status = health(ports.http(service));
            if status == Some(200) {
                break;
            }
            if std::time::Instant::now() > deadline {
                bail!("{service} is not healthy (GET /health: {status:?})");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(())
}

fn health(port: u16) -> Option<u16> {
    let mut conn = Conn::new(SocketAddr::from(([127, 0, 0, 1], port)));
    conn.send("GET", "/health", &[], b"").ok().map(|r| r.status)
}

/// The default project's DSN, from the REST API through the proxy.
fn default_dsn(token: &str) -> Result<String> {
    let mut conn = Conn::new(SocketAddr::from(([127, 0, 0, 1], PUBLIC_PORT)));
    let auth = format!("Bearer {token}");
    let response = conn.send(
        "GET",
        "/api/0/projects/faultline/default/keys/",
        &[("Authorization", &auth)],
        b"",
    )?;
    if response.status != 200 {
        bail!(
            "listing the default project's keys: {} {}",
            response.status,
            response.snippet()
        );
    }
    let keys: serde_json::Value = serde_json::from_slice(&response.body)?;
    keys[0]["dsn"]["public"]
        .as_str()
        .map(str::to_owned)
        .context("the default project has no key")
}

/// Stops every process `up` started, services first.
pub fn down(dir: &Path) -> Result<()> {
    let mut processes = recorded(dir);
    processes.reverse();
    for process in &processes {
        if alive(process.pid) {
            eprintln!("xtask: stopping {} (pid {})", process.name, process.pid);
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(process.pid.to_string())
                .status();
            let deadline = std::time::Instant::now() + Duration::from_secs(15);
            while alive(process.pid) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            if alive(process.pid) {
                let _ = Command::new("kill")
                    .arg("-KILL")
                    .arg(process.pid.to_string())
                    .status();
            }
        }
    }
    let _ = fs::remove_file(pids_file(dir));
    println!("Faultline stack stopped (data kept in {})", dir.display());
    Ok(())
}

/// One line per process: running or not, and each service's /health.
fn status(dir: &Path) -> Result<ExitCode> {
    let processes = recorded(dir);
    if processes.is_empty() {
        println!("Faultline stack is not running (cargo xtask stack up)");
        return Ok(ExitCode::from(3));
    }
    let ports = ServicePorts::NATIVE;
    let mut all_ok = true;
    for process in &processes {
        let running = alive(process.pid);
        let health = testkit::SERVICES
            .contains(&process.name.as_str())
            .then(|| health(ports.http(&process.name)));
        let ok = running && health.is_none_or(|h| h == Some(200));
        all_ok &= ok;
        let health = match health {
            None => String::new(),
            Some(Some(code)) => format!("  /health {code}"),
            Some(None) => "  /health unreachable".to_owned(),
        };
        println!(
            "{:<16} pid {:<8} {}{health}",
            process.name,
            process.pid,
            if running { "running" } else { "stopped" }
        );
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
