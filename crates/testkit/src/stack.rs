//! The compose topology run natively, where no Docker engine is: the real
//! servers (ClickHouse, a Kafka-protocol broker, nginx; PostgreSQL is the
//! distribution's cluster) and each Faultline service as its own process,
//! on 127.0.0.1.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use crate::process::{free_port, spawn_logged, wait_for_port};

/// A server program Debian puts in /usr/sbin, which is on root's PATH
/// only.
pub fn sbin(program: &str) -> PathBuf {
    let path = Path::new("/usr/sbin").join(program);
    if path.is_file() {
        path
    } else {
        PathBuf::from(program)
    }
}

/// `tansu`, the Kafka-protocol broker: on PATH or where `cargo install`
/// puts it.
pub fn find_tansu() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("tansu"))
            .collect::<Vec<_>>()
    });
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|d| d.join("bin/tansu"));
    on_path.chain(cargo_home).find(|p| p.is_file())
}

/// Starts the tansu broker on `port`, its data in `dir/tansu.db`.
pub fn start_tansu(tansu: &Path, dir: &Path, port: u16) -> io::Result<Child> {
    fs::create_dir_all(dir)?;
    let url = format!("tcp://127.0.0.1:{port}");
    let child = spawn_logged(
        Command::new(tansu)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            // A relative sqlite:// URL is relative to the working directory.
            .args(["--storage-engine", "sqlite://tansu.db"])
            .current_dir(dir),
        &dir.join("tansu.log"),
    )?;
    wait_for_port("tansu", port, Duration::from_secs(30))?;
    Ok(child)
}

/// Starts redis-server on `port` as a cache: nothing saved to disk.
pub fn start_redis(dir: &Path, port: u16) -> io::Result<Child> {
    fs::create_dir_all(dir)?;
    let child = spawn_logged(
        Command::new(sbin("redis-server"))
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir),
        &dir.join("redis.log"),
    )?;
    wait_for_port("redis-server", port, Duration::from_secs(30))?;
    Ok(child)
}

/// The password of the `faultline` user that `start_clickhouse` creates
/// beside the password-less `default`: characters a URL must escape.
pub const CLICKHOUSE_TEST_PASSWORD: &str = "p@ss/w:rd%";

/// Starts clickhouse-server with its data in `dir`, HTTP on `http_port`
/// and the native protocol on `tcp_port` (its default, 9000, is web's).
pub fn start_clickhouse(dir: &Path, http_port: u16, tcp_port: u16) -> io::Result<Child> {
    fs::create_dir_all(dir.join("data"))?;
    let d = dir.display();
    // <yandex> is the root element both 18.16 and current releases read.
    let config = format!(
        r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/clickhouse.log</log><errorlog>{d}/clickhouse.err.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <!-- The caches and bounds of deploy/clickhouse/, so that the native
       stack's memory is compose's. -->
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>0</uncompressed_cache_size>
  <!-- As deploy/clickhouse/compression.xml sets it in compose. -->
  <compression><case><min_part_size>0</min_part_size><min_part_size_ratio>0</min_part_size_ratio><method>zstd</method></case></compression>
</yandex>
"#
    );
    let users = r#"<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>402653184</max_memory_usage><max_threads>2</max_threads></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
    <!-- With a password that needs percent-encoding in clickhouse.url. -->
    <faultline>
      <password>{CLICKHOUSE_TEST_PASSWORD}</password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </faultline>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"#;
    fs::write(dir.join("config.xml"), config)?;
    fs::write(
        dir.join("users.xml"),
        users.replace("{CLICKHOUSE_TEST_PASSWORD}", CLICKHOUSE_TEST_PASSWORD),
    )?;
    let child = spawn_logged(
        Command::new(sbin("clickhouse-server"))
            .arg(format!("--config-file={d}/config.xml"))
            .current_dir(dir),
        &dir.join("stdout.log"),
    )?;
    wait_for_port("clickhouse-server", http_port, Duration::from_secs(60))?;
    Ok(child)
}

/// Starts nginx with deploy/nginx.conf (compose's proxy), its upstreams
/// and listen port turned from compose's service names to 127.0.0.1 ports.
pub fn start_nginx(
    template: &Path,
    dir: &Path,
    listen_port: u16,
    relay_port: u16,
    web_port: u16,
) -> io::Result<Child> {
    fs::create_dir_all(dir)?;
    let conf = native_nginx_conf(
        &fs::read_to_string(template)?,
        listen_port,
        relay_port,
        web_port,
    )?;
    let conf_path = dir.join("nginx.conf");
    fs::write(&conf_path, conf)?;
    let child = spawn_logged(
        Command::new(sbin("nginx"))
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf_path)
            .arg("-g")
            .arg(format!("daemon off; pid {}/nginx.pid;", dir.display())),
        &dir.join("nginx.log"),
    )?;
    wait_for_port("nginx", listen_port, Duration::from_secs(30))?;
    Ok(child)
}

/// deploy/nginx.conf with 127.0.0.1 addresses in place of compose's names.
pub fn native_nginx_conf(
    template: &str,
    listen_port: u16,
    relay_port: u16,
    web_port: u16,
) -> io::Result<String> {
    let mut conf = String::new();
    for line in template.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("resolver ") {
            continue; // Docker's DNS; addresses here are literal.
        }
        let line = if trimmed.starts_with("listen ") {
            line.replace(trimmed, &format!("listen 127.0.0.1:{listen_port};"))
        } else {
            line.replace(
                "http://relay:3000",
                &format!("http://127.0.0.1:{relay_port}"),
            )
            .replace("http://web:9000", &format!("http://127.0.0.1:{web_port}"))
        };
        conf.push_str(&line);
        conf.push('\n');
    }
    for needed in [
        format!("127.0.0.1:{relay_port}"),
        format!("127.0.0.1:{web_port}"),
    ] {
        if !conf.contains(&needed) {
            return Err(io::Error::other(format!(
                "deploy/nginx.conf no longer proxies to http://relay:3000 and http://web:9000; update faultline-testkit ({needed} missing)"
            )));
        }
    }
    Ok(conf)
}

/// The ports one stack's services listen on.
#[derive(Debug, Clone, Copy)]
pub struct ServicePorts {
    pub relay: u16,
    pub web: u16,
    pub query_grpc: u16,
    pub query_http: u16,
    pub ingest_consumer: u16,
    pub cron: u16,
    pub notifier: u16,
    pub symbolicator_grpc: u16,
    pub symbolicator_http: u16,
}

impl ServicePorts {
    /// The ports compose.yaml gives the services, except web's: the proxy
    /// publishes 9000 here, where compose has them on different hosts.
    pub const NATIVE: ServicePorts = ServicePorts {
        relay: 3000,
        web: 9001,
        query_grpc: 1218,
        query_http: 1219,
        ingest_consumer: 3002,
        cron: 3003,
        notifier: 3004,
        symbolicator_grpc: 3021,
        symbolicator_http: 3022,
    };

    pub fn free() -> ServicePorts {
        ServicePorts {
            relay: free_port(),
            web: free_port(),
            query_grpc: free_port(),
            query_http: free_port(),
            ingest_consumer: free_port(),
            cron: free_port(),
            notifier: free_port(),
            symbolicator_grpc: free_port(),
            symbolicator_http: free_port(),
        }
    }
}

/// The services of the topology, in start order (query before web, which
/// asks it; the symbolicator before the ingest-consumer).
pub const SERVICES: [&str; 7] = [
    "query",
    "symbolicator",
    "ingest-consumer",
    "relay",
    "web",
    "cron",
    "notifier",
];

impl ServicePorts {
    /// The HTTP port of `service` (its `/health`).
    pub fn http(&self, service: &str) -> u16 {
        match service {
            "relay" => self.relay,
            "web" => self.web,
            "query" => self.query_http,
            "ingest-consumer" => self.ingest_consumer,
            "cron" => self.cron,
            "notifier" => self.notifier,
            "symbolicator" => self.symbolicator_http,
            other => panic!("unknown service {other}"),
        }
    }
}

/// Starts `faultline run <service>` with `config`, logging to
/// `dir/<service>.log`, and waits for its HTTP port.
pub fn start_service(
    binary: &Path,
    service: &str,
    config: &Path,
    ports: &ServicePorts,
    dir: &Path,
) -> io::Result<Child> {
    start_service_with_env(binary, service, config, ports, dir, &[])
}

/// [`start_service`] with `env` added to the service's environment.
pub fn start_service_with_env(
    binary: &Path,
    service: &str,
    config: &Path,
    ports: &ServicePorts,
    dir: &Path,
    env: &[(String, String)],
) -> io::Result<Child> {
    let mut cmd = Command::new(binary);
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd.args(["run", service, "--bind"])
        .arg(format!("127.0.0.1:{}", ports.http(service)))
        .arg("--config")
        .arg(config)
        .env_remove("FAULTLINE_CONFIG");
    match service {
        "query" => cmd
            .arg("--grpc-bind")
            .arg(format!("127.0.0.1:{}", ports.query_grpc)),
        "symbolicator" => cmd
            .arg("--grpc-bind")
            .arg(format!("127.0.0.1:{}", ports.symbolicator_grpc)),
        _ => &mut cmd,
    };
    let log = dir.join(format!("{service}.log"));
    let mut child = spawn_logged(&mut cmd, &log)?;
    wait_for_port(service, ports.http(service), Duration::from_secs(60))?;
    // Something else on the port would pass the wait while the service
    // itself failed to start.
    if let Some(status) = child.try_wait()? {
        return Err(io::Error::other(format!(
            "{service} exited ({status}) although its port answers; see {}",
            log.display()
        )));
    }
    Ok(child)
}

/// The servers a stack's config points at.
#[derive(Debug, Clone)]
pub struct ServerUrls {
    pub postgres: String,
    pub clickhouse: String,
    pub kafka: String,
    pub redis: String,
}

/// A config.yml for one stack.
pub fn stack_config(
    urls: &ServerUrls,
    ports: &ServicePorts,
    public_port: u16,
    secret_key: &str,
) -> String {
    format!(
        "# Written by faultline-testkit: the compose topology on 127.0.0.1.\n\
         system.url-prefix: http://127.0.0.1:{public_port}\n\
         system.secret-key: '{secret_key}'\n\
         # nginx, on 127.0.0.1 here, names the client in X-Forwarded-For,\n\
         # as compose's nginx does for deploy/config.yml's private ranges.\n\
         system.trusted-proxies: 127.0.0.1\n\
         database.url: {}\n\
         clickhouse.url: {}\n\
         kafka.brokers: {}\n\
         redis.url: {}\n\
         query.url: http://127.0.0.1:{}\n\
         symbolicator.url: http://127.0.0.1:{}\n\
         # tansu 0.6 panics when an idempotent producer from before a\n\
         # restart produces again (its storage: \"more or less than one row\"),\n\
         # after which it answers nothing. Real Kafka keeps it on.\n\
         kafka.idempotence: false\n",
        urls.postgres,
        urls.clickhouse,
        urls.kafka,
        urls.redis,
        ports.query_grpc,
        ports.symbolicator_grpc
    )
}

impl ServicePorts {
    /// The ports the services listen on in compose.yaml, each on its own
    /// host (the targets of deploy/prometheus/prometheus.yml).
    pub const COMPOSE: ServicePorts = ServicePorts {
        web: 9000,
        ..ServicePorts::NATIVE
    };
}

/// deploy/prometheus/prometheus.yml (`template`) for services on
/// 127.0.0.1: every compose target (`relay:3000`) becomes the service's
/// port in `ports`, Prometheus' own `localhost:9090` becomes
/// `prometheus_port`, and `interval` replaces the scrape and evaluation
/// intervals (tests scrape every second).
pub fn native_prometheus_config(
    template: &str,
    ports: &ServicePorts,
    prometheus_port: u16,
    interval: &str,
) -> String {
    let mut config = template
        .replace(
            "scrape_interval: 15s",
            &format!("scrape_interval: {interval}"),
        )
        .replace(
            "evaluation_interval: 15s",
            &format!("evaluation_interval: {interval}"),
        )
        .replace(
            "\"localhost:9090\"",
            &format!("\"127.0.0.1:{prometheus_port}\""),
        );
    for service in SERVICES {
        let compose = format!("\"{service}:{}\"", ServicePorts::COMPOSE.http(service));
        let native = format!("\"127.0.0.1:{}\"", ports.http(service));
        config = config.replace(&compose, &native);
    }
    config
}

/// A Prometheus configuration with the one job a devserver is scraped by
/// (`faultline-devserver`, as docs/operations.md says), every `interval`.
pub fn devserver_prometheus_config(devserver: &str, interval: &str) -> String {
    format!(
        "global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n\
         rule_files:\n  - alerts.yml\n\
         scrape_configs:\n  - job_name: faultline-devserver\n    static_configs:\n      \
         - targets: [\"{devserver}\"]\n"
    )
}

/// Starts Debian's `prometheus` on 127.0.0.1:`port` with `config` (written
/// to `dir/prometheus.yml`, beside `alerts`, which it loads as
/// `alerts.yml`) and its data in `dir/data`; returns once it is ready.
pub fn start_prometheus(dir: &Path, config: &str, alerts: &str, port: u16) -> io::Result<Child> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join("prometheus.yml"), config)?;
    fs::write(dir.join("alerts.yml"), alerts)?;
    let child = spawn_logged(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // The test or the stack is short-lived; keep the data small.
            .arg("--storage.tsdb.retention.time=1d"),
        &dir.join("prometheus.log"),
    )?;
    wait_for_port("prometheus", port, Duration::from_secs(30))?;
    Ok(child)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_conf_points_at_local_ports() {
        let template = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nginx.conf"),
        )
        .unwrap();
        let conf = native_nginx_conf(&template, 19000, 13000, 19900).unwrap();
        assert!(conf.contains("listen 127.0.0.1:19000;"));
        let directives: Vec<&str> = conf
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .collect();
        assert!(
            directives
                .iter()
                .all(|l| !l.contains("relay:3000") && !l.contains("web:9000"))
        );
        assert!(directives.iter().all(|l| !l.starts_with("resolver ")));
        assert!(directives.contains(&"set $relay_upstream http://127.0.0.1:13000;"));
    }
}
