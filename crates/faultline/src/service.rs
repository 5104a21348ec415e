//! `faultline run <service>`: one service in its own process, as each
//! container of the production topology runs it, against the configured
//! backends. Every service serves `/health` (readiness: its stores answer)
//! and `/metrics`; relay and web also serve their own routes.

use anyhow::Context;
use clap::ValueEnum;
use faultline_web::WebState;
use tokio::sync::watch;

use crate::DataArgs;
use crate::settings::{load, open_backends};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Service {
    /// SDK ingestion (DESIGN port 3000).
    Relay,
    /// Normalises and groups queued events into issues.
    IngestConsumer,
    /// Stores processed events for queries.
    Query,
    /// Dashboard and REST API (DESIGN port 9000).
    Web,
}

impl Service {
    /// Where the service listens unless `--bind` says otherwise. The
    /// consumers have no port in DESIGN §1; theirs serve only /health and
    /// /metrics (query's gRPC port 1218 is kept free for its query API).
    fn default_bind(self) -> &'static str {
        match self {
            Service::Relay => "127.0.0.1:3000",
            Service::IngestConsumer => "127.0.0.1:3002",
            Service::Query => "127.0.0.1:1219",
            Service::Web => "127.0.0.1:9000",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Service::Relay => "relay",
            Service::IngestConsumer => "ingest-consumer",
            Service::Query => "query",
            Service::Web => "web",
        }
    }
}

pub async fn run(service: Service, bind: Option<&str>, data: &DataArgs) -> anyhow::Result<()> {
    faultline_telemetry::init_logging(faultline_telemetry::LogFormat::Json);
    let settings = load(data, false)?;
    let backends = open_backends(&settings).await?;
    let bind = bind.unwrap_or(service.default_bind());
    let listener =
        std::net::TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(service = service.name(), %addr, data_dir = %settings.data_dir.display(), "starting");

    let (stop, shutdown) = watch::channel(false);
    let signal = tokio::spawn(async move {
        faultline_service::shutdown_signal().await;
        let _ = stop.send(true);
    });
    let result = match service {
        Service::Relay => {
            faultline_relay::run(settings.config.limits, backends, listener, shutdown)
                .await
                .map_err(anyhow::Error::from)
        }
        Service::Web => {
            let url_prefix = settings
                .config
                .url_prefix
                .clone()
                .unwrap_or_else(|| format!("http://{addr}"));
            let state = WebState::new(&backends, url_prefix, &settings.config);
            faultline_web::run(state, backends, listener, shutdown)
                .await
                .map_err(anyhow::Error::from)
        }
        Service::IngestConsumer => {
            let http = health_only(listener, backends.clone(), shutdown.clone());
            let result = faultline_ingest_consumer::run(backends, shutdown)
                .await
                .map_err(anyhow::Error::from);
            http.abort();
            result
        }
        Service::Query => {
            let http = health_only(listener, backends.clone(), shutdown.clone());
            let result = faultline_query::run(backends, shutdown)
                .await
                .map_err(anyhow::Error::from);
            http.abort();
            result
        }
    };
    signal.abort();
    result.with_context(|| format!("{} stopped", service.name()))
}

/// A consumer's HTTP side: only `/health` and `/metrics`.
fn health_only(
    listener: std::net::TcpListener,
    backends: faultline_storage::Backends,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    tokio::spawn(faultline_service::serve_until(
        listener,
        backends,
        |_| {},
        shutdown,
    ))
}
