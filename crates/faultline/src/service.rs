//! `faultline run <service>`: one service in its own process, as each
//! container of the production topology runs it, against the configured
//! backends. Every service serves `/health` (readiness: the stores it needs
//! answer) and `/metrics`; relay and web also serve their own routes, and
//! query its gRPC API.

use anyhow::Context;
use clap::ValueEnum;
use faultline_config::Config;
use faultline_service::{Dependency, Readiness};
use faultline_web::WebState;
use tokio::sync::watch;

use crate::DataArgs;
use crate::settings::{EventsAccess, QueueUse, load, open_backends};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Service {
    /// SDK ingestion (contracts §1: port 3000).
    Relay,
    /// Normalises and groups queued events into issues.
    IngestConsumer,
    /// Stores processed events and answers event queries over gRPC (port 1218).
    Query,
    /// Dashboard and REST API (contracts §1: port 9000).
    Web,
    /// Scheduled jobs: retention.
    Cron,
}

impl Service {
    /// Where the service's HTTP side listens unless `--bind` says
    /// otherwise: its `<service>.bind` key. Consumers and cron have no port
    /// in contracts §1; theirs serve only /health and /metrics.
    fn default_bind(self, config: &Config) -> &str {
        match self {
            Service::Relay => &config.relay.bind,
            Service::IngestConsumer => &config.ingest_consumer.bind,
            Service::Cron => &config.cron.bind,
            Service::Query => &config.query.bind,
            Service::Web => &config.web.bind,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Service::Relay => "relay",
            Service::IngestConsumer => "ingest-consumer",
            Service::Query => "query",
            Service::Web => "web",
            Service::Cron => "cron",
        }
    }

    /// The stores the service cannot work without: what `/health` checks.
    fn dependencies(self) -> &'static [Dependency] {
        match self {
            Service::Relay => faultline_relay::NEEDS,
            Service::Web => faultline_web::NEEDS,
            Service::IngestConsumer => &[Dependency::Queue, Dependency::Metadata],
            Service::Query => &[Dependency::Queue, Dependency::Events],
            Service::Cron => &[Dependency::Metadata, Dependency::Events],
        }
    }

    /// web and cron neither publish nor consume, so a broker outage does
    /// not stop them.
    fn queue_use(self) -> QueueUse {
        match self {
            Service::Relay | Service::IngestConsumer | Service::Query => QueueUse::Used,
            Service::Web | Service::Cron => QueueUse::Unused,
        }
    }

    /// Only the query service (and cron, which deletes) talk to the event
    /// store itself; the others ask query.
    fn events_access(self) -> EventsAccess {
        match self {
            Service::Query | Service::Cron => EventsAccess::Direct,
            _ => EventsAccess::ViaQueryService,
        }
    }
}

pub async fn run(
    service: Service,
    bind: Option<&str>,
    grpc_bind: Option<&str>,
    data: &DataArgs,
) -> anyhow::Result<()> {
    faultline_telemetry::init_logging(faultline_telemetry::LogFormat::Json);
    let settings = load(data, false)?;
    let backends = open_backends(&settings, service.events_access(), service.queue_use()).await?;
    let bind = bind.unwrap_or(service.default_bind(&settings.config));
    let listener =
        std::net::TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(service = service.name(), %addr, "starting");

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
            let url_prefix = settings.config.system.url_prefix_for(addr);
            let state = WebState::new(&backends, url_prefix, &settings.config);
            faultline_web::run(state, backends, listener, shutdown)
                .await
                .map_err(anyhow::Error::from)
        }
        Service::IngestConsumer => {
            let http = health_only(
                listener,
                backends.clone(),
                service.dependencies(),
                shutdown.clone(),
            );
            let result = faultline_ingest_consumer::run(backends, shutdown)
                .await
                .map_err(anyhow::Error::from);
            http.abort();
            result
        }
        Service::Query => {
            let grpc_bind = grpc_bind.unwrap_or(&settings.config.query.grpc_bind);
            let grpc_listener = std::net::TcpListener::bind(grpc_bind)
                .with_context(|| format!("cannot listen on {grpc_bind}"))?;
            let http = health_only(
                listener,
                backends.clone(),
                service.dependencies(),
                shutdown.clone(),
            );
            let grpc = tokio::spawn(faultline_query::serve_grpc(
                backends.events.clone(),
                grpc_listener,
                shutdown.clone(),
            ));
            let result = faultline_query::run(backends, shutdown)
                .await
                .map_err(anyhow::Error::from);
            http.abort();
            let _ = grpc.await;
            result
        }
        Service::Cron => {
            let http = health_only(
                listener,
                backends.clone(),
                service.dependencies(),
                shutdown.clone(),
            );
            let options = faultline_cron::CronOptions {
                retention_days: settings.config.retention.days,
                interval: settings.config.retention.interval,
            };
            let result = faultline_cron::run(backends, options, shutdown)
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
    needs: &'static [Dependency],
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    tokio::spawn(faultline_service::serve_until(
        listener,
        Readiness::new(&backends, needs),
        |_| {},
        shutdown,
    ))
}
