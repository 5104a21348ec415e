//! Observability shared by every service: one Prometheus registry that
//! services register their metrics into (served as `GET /metrics`), and the
//! `tracing` subscriber set-up (JSON logs in production, readable ones in the
//! devserver).

pub mod grpc;
mod process;
pub mod traces;

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};

pub use prometheus_client;
use prometheus_client::registry::Registry;

static REGISTRY: LazyLock<Mutex<Registry>> =
    LazyLock::new(|| Mutex::new(Registry::with_prefix("faultline")));

type Sampler = Box<dyn Fn() + Send + Sync>;

static SAMPLERS: LazyLock<Mutex<BTreeMap<String, Sampler>>> = LazyLock::new(Default::default);

/// Runs `sample` before every scrape, to set gauges from state that is
/// cheap to read then (a pool's idle connections). A later call with the
/// same `key` replaces the earlier one, so a process that opens a store
/// many times (a test) keeps only the last one's state alive.
pub fn on_scrape(key: impl Into<String>, sample: impl Fn() + Send + Sync + 'static) {
    SAMPLERS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key.into(), Box::new(sample));
}

/// Registers metrics; call once per metric at service start-up.
pub fn register(f: impl FnOnce(&mut Registry)) {
    let mut registry = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut registry);
}

/// The Prometheus text exposition (format 0.0.4) of every registered
/// metric, which `promtool check metrics` and every scraper read.
pub fn encode() -> String {
    for sample in SAMPLERS.lock().unwrap_or_else(|p| p.into_inner()).values() {
        sample();
    }
    let registry = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)
        .expect("writing to a String cannot fail");
    drop(registry);
    let mut text = openmetrics_to_text(&out);
    process::write_process_metrics(&mut text);
    text
}

/// prometheus-client writes OpenMetrics, where a counter family is named
/// without its `_total` and the exposition ends with `# EOF`; in the 0.0.4
/// text format `/metrics` is served as, HELP and TYPE name the sample
/// (`…_total`), there is no `# EOF`, and no `# UNIT`.
fn openmetrics_to_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 16 * counters.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(line) => out.push_str(&line),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_by_their_samples_in_the_text_format() {
        let openmetrics = "# HELP faultline_x Things.\n# TYPE faultline_x counter\n\
            faultline_x_total{outcome=\"ok\"} 3\n# HELP faultline_t Time.\n\
            # TYPE faultline_t histogram\n# UNIT faultline_t seconds\nfaultline_t_sum 0.5\n# EOF\n";
        assert_eq!(
            openmetrics_to_text(openmetrics),
            "# HELP faultline_x_total Things.\n# TYPE faultline_x_total counter\n\
             faultline_x_total{outcome=\"ok\"} 3\n# HELP faultline_t Time.\n\
             # TYPE faultline_t histogram\nfaultline_t_sum 0.5\n"
        );
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// A layer a caller adds to the subscriber (the internal DSN's).
pub type ExtraLayer =
    Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>;

/// Installs the global subscriber: logs to stderr (`RUST_LOG` overrides the
/// default filter), spans to OpenTelemetry when the `OTEL_*` variables ask
/// for it (see [`traces`]), and `extra`. `service` names the process in
/// traces (`faultline-<service>`). Call inside the tokio runtime.
pub fn init(
    service: &str,
    format: LogFormat,
    extra: Vec<ExtraLayer>,
) -> Result<(), traces::TraceConfigError> {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,actix_server=warn"));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs: ExtraLayer = match format {
        LogFormat::Json => logs.json().with_filter(filter).boxed(),
        LogFormat::Pretty => logs.with_filter(filter).boxed(),
    };
    let mut layers = vec![logs];
    if let Some(otel) = traces::layer(service)? {
        // Faultline's own spans, whatever RUST_LOG says about logs.
        let ours = tracing_subscriber::filter::filter_fn(|meta| {
            meta.target().starts_with("faultline") && *meta.level() <= tracing::Level::INFO
        });
        layers.push(otel.with_filter(ours).boxed());
    }
    layers.extend(extra);
    let _ = tracing_subscriber::registry().with(layers).try_init();
    Ok(())
}
