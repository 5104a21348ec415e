//! Observability shared by every service: one Prometheus registry that
//! services register their metrics into (served as `GET /metrics`), and the
//! `tracing` subscriber set-up (JSON logs in production, readable ones in the
//! devserver).

use std::sync::{LazyLock, Mutex};

pub use prometheus_client;
use prometheus_client::registry::Registry;

static REGISTRY: LazyLock<Mutex<Registry>> =
    LazyLock::new(|| Mutex::new(Registry::with_prefix("faultline")));

/// Registers metrics; call once per metric at service start-up.
pub fn register(f: impl FnOnce(&mut Registry)) {
    let mut registry = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut registry);
}

/// The Prometheus text exposition of every registered metric.
pub fn encode() -> String {
    let registry = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)
        .expect("writing to a String cannot fail");
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Installs the global subscriber; `RUST_LOG` overrides the default filter.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,actix_server=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
