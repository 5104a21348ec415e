//! The real servers the tests and the native stack run against, started
//! from what the machine has installed: ClickHouse (Debian's
//! clickhouse-server) and tansu (a Kafka-protocol broker, `cargo install
//! --locked tansu --features libsql`). Each keeps running after xtask exits
//! and is reused by the next run while it still listens.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use faultline_testkit as testkit;

/// Ports of the shared test servers, clear of the services' own.
pub const CLICKHOUSE_HTTP_PORT: u16 = 18123;
const CLICKHOUSE_TCP_PORT: u16 = 19001;
pub const KAFKA_PORT: u16 = 19092;
pub const REDIS_PORT: u16 = 16379;

pub fn servers_dir(root: &Path) -> PathBuf {
    root.join("target/test-servers")
}

/// ClickHouse's HTTP URL, starting the server if it is not running; test
/// databases left by earlier runs are dropped.
pub fn prepare_clickhouse(root: &Path) -> Result<String> {
    if let Ok(url) = std::env::var("FAULTLINE_TEST_CLICKHOUSE_URL") {
        eprintln!("xtask: using ClickHouse at FAULTLINE_TEST_CLICKHOUSE_URL");
        return Ok(url);
    }
    let url = format!("http://127.0.0.1:{CLICKHOUSE_HTTP_PORT}");
    if !testkit::port_open(CLICKHOUSE_HTTP_PORT) {
        if Command::new(testkit::sbin("clickhouse-server"))
            .arg("--version")
            .output()
            .is_err()
        {
            bail!(
                "clickhouse-server is not installed (apt-get install clickhouse-server; .ci/run does this)"
            );
        }
        let dir = servers_dir(root).join("clickhouse");
        eprintln!("xtask: starting clickhouse-server in {}", dir.display());
        testkit::start_clickhouse(&dir, CLICKHOUSE_HTTP_PORT, CLICKHOUSE_TCP_PORT)
            .context("starting clickhouse-server")?;
    }
    let query = |sql: &str| -> Result<String> {
        clickhouse_query(&url, sql).with_context(|| format!("ClickHouse at {url}: {sql}"))
    };
    let version = query("SELECT version()")?;
    for db in
        query("SELECT name FROM system.databases WHERE name LIKE 'faultline\\_test\\_%'")?.lines()
    {
        query(&format!("DROP DATABASE IF EXISTS {db}"))?;
    }
    eprintln!("xtask: ClickHouse {} ready at {url}", version.trim());
    Ok(url)
}

/// One statement over ClickHouse's HTTP interface, with the benchmarks'
/// HTTP client.
pub fn clickhouse_query(url: &str, sql: &str) -> Result<String> {
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .parse()
        .with_context(|| format!("`{url}` is not http://IP:port"))?;
    let response = crate::harness::Conn::new(addr).send("POST", "/", &[], sql.as_bytes())?;
    let body = String::from_utf8_lossy(&response.body).into_owned();
    if response.status != 200 {
        bail!("{}", body.trim());
    }
    Ok(body)
}

/// tansu's path, or how to get it.
pub fn tansu() -> Result<PathBuf> {
    testkit::find_tansu().context(
        "tansu (the Kafka-protocol broker) is not installed: cargo install --locked tansu --features libsql (.ci/run does this)",
    )
}

/// A broker's address, starting one if none listens on its port.
pub fn prepare_kafka(root: &Path) -> Result<String> {
    if let Ok(brokers) = std::env::var("FAULTLINE_TEST_KAFKA_BROKERS") {
        eprintln!("xtask: using Kafka at FAULTLINE_TEST_KAFKA_BROKERS");
        return Ok(brokers);
    }
    if !testkit::port_open(KAFKA_PORT) {
        let dir = servers_dir(root).join("tansu");
        // A fresh broker: the storage tests expect no one else's messages.
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!("xtask: starting tansu in {}", dir.display());
        testkit::start_tansu(&tansu()?, &dir, KAFKA_PORT).context("starting tansu")?;
    }
    let brokers = format!("127.0.0.1:{KAFKA_PORT}");
    eprintln!("xtask: Kafka-protocol broker (tansu) ready at {brokers}");
    Ok(brokers)
}

/// A Redis URL, starting redis-server if none listens on its port.
pub fn prepare_redis(root: &Path) -> Result<String> {
    if let Ok(url) = std::env::var("FAULTLINE_TEST_REDIS_URL") {
        eprintln!("xtask: using Redis at FAULTLINE_TEST_REDIS_URL");
        return Ok(url);
    }
    if !testkit::port_open(REDIS_PORT) {
        let dir = servers_dir(root).join("redis");
        eprintln!("xtask: starting redis-server in {}", dir.display());
        testkit::start_redis(&dir, REDIS_PORT)
            .context("starting redis-server (apt-get install redis-server; .ci/run does this)")?;
    }
    let url = format!("redis://127.0.0.1:{REDIS_PORT}");
    eprintln!("xtask: Redis ready at {url}");
    Ok(url)
}
