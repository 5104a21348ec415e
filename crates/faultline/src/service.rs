//! The services and how each is built from the stores it declares, once,
//! for both `faultline run <service>` (one service in its own process, as
//! each container of the production topology runs it) and the devserver
//! (all of them in one). Every service serves `/health` (readiness: the
//! stores it declares answer) and `/metrics`; relay and web also serve
//! their own routes, and query its gRPC API when it runs alone.

use std::net::SocketAddr;

use anyhow::Context;
use clap::ValueEnum;
use faultline_config::Config;
use tokio::sync::watch;

use crate::DataArgs;
use crate::open::{EventsAccess, Stores};
use crate::settings::load;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceKind {
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
    /// Evaluates alert rules on `post-process` and sends notifications.
    Notifier,
    /// Maps JavaScript frames through uploaded source maps, over gRPC (port 3021).
    Symbolicator,
}

impl ServiceKind {
    /// Where the service's HTTP side listens unless `--bind` says
    /// otherwise: its `<service>.bind` key. Consumers and cron have no port
    /// in contracts §1; theirs serve only /health and /metrics.
    fn default_bind(self, config: &Config) -> &str {
        match self {
            ServiceKind::Relay => &config.relay.bind,
            ServiceKind::IngestConsumer => &config.ingest_consumer.bind,
            ServiceKind::Cron => &config.cron.bind,
            ServiceKind::Notifier => &config.notifier.bind,
            ServiceKind::Query => &config.query.bind,
            ServiceKind::Web => &config.web.bind,
            ServiceKind::Symbolicator => &config.symbolicator.bind,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ServiceKind::Relay => "relay",
            ServiceKind::IngestConsumer => "ingest-consumer",
            ServiceKind::Query => "query",
            ServiceKind::Web => "web",
            ServiceKind::Cron => "cron",
            ServiceKind::Notifier => "notifier",
            ServiceKind::Symbolicator => "symbolicator",
        }
    }

    /// Only the query service (and cron, which deletes) open the event
    /// store itself; web asks query.
    fn events_access(self) -> EventsAccess {
        match self {
            ServiceKind::Web => EventsAccess::ViaQueryService,
            _ => EventsAccess::Direct,
        }
    }
}

/// Builds `kind` from the stores it declares, as `faultline run` and the
/// devserver both do. `addr` is where its HTTP side listens (web derives
/// its default URL prefix from it); `grpc` is the query service's or the
/// symbolicator's gRPC listener when it runs alone.
pub async fn build(
    kind: ServiceKind,
    stores: &Stores<'_>,
    config: &Config,
    addr: SocketAddr,
    grpc: Option<std::net::TcpListener>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<faultline_service::Service> {
    Ok(match kind {
        ServiceKind::Relay => faultline_relay::service(
            faultline_relay::Stores {
                meta: stores.meta().await?,
                queue: stores.queue().await?,
                cache: stores.cache().await?,
                disk: stores.disk_guard(),
            },
            config.limits,
        ),
        ServiceKind::Web => faultline_web::service(
            faultline_web::Stores {
                meta: stores.meta().await?,
                alerts: stores.alerts().await?,
                events: stores.event_reader().await?,
                cache: stores.cache().await?,
                artifacts: stores.artifacts().await?,
                blobs: stores.blobs()?,
                disk: stores.disk_guard(),
            },
            config.system.url_prefix_for(addr),
            config,
        ),
        ServiceKind::IngestConsumer => faultline_ingest_consumer::service(
            faultline_ingest_consumer::Stores {
                queue: stores.queue().await?,
                meta: stores.meta().await?,
                symbolicator: stores.symbolicator().await?,
                blobs: stores.blobs()?,
            },
            shutdown,
        ),
        ServiceKind::Query => faultline_query::service(
            faultline_query::Stores {
                queue: stores.queue().await?,
                events: stores.event_store().await?,
            },
            grpc,
            shutdown,
        ),
        ServiceKind::Cron => faultline_cron::service(
            faultline_cron::Stores {
                meta: stores.meta().await?,
                events: stores.event_store().await?,
                artifacts: stores.artifacts().await?,
                blobs: stores.blobs()?,
            },
            faultline_cron::CronOptions {
                retention_days: config.retention.days,
                interval: config.retention.interval,
            },
            shutdown,
        ),
        ServiceKind::Symbolicator => faultline_symbolicator::service::service(
            stores.local_symbolicator().await?,
            stores.meta().await?,
            grpc.context("the symbolicator serves gRPC only on its own")?,
            shutdown,
        ),
        ServiceKind::Notifier => faultline_notifier::service(
            faultline_notifier::Stores {
                queue: stores.queue().await?,
                meta: stores.meta().await?,
                alerts: stores.alerts().await?,
            },
            faultline_notifier::NotifierOptions {
                url_prefix: config.system.url_prefix_for(addr),
                mail: config.mail.clone(),
                notifications: config.notifications.clone(),
            },
            shutdown,
        )?,
    })
}

/// `faultline run <service>`: the one service on its `<service>.bind`.
pub async fn run(
    kind: ServiceKind,
    bind: Option<&str>,
    grpc_bind: Option<&str>,
    data: &DataArgs,
) -> anyhow::Result<()> {
    faultline_telemetry::init(
        kind.name(),
        faultline_telemetry::LogFormat::Json,
        crate::internal::layers(),
    )?;
    let settings = load(data, false)?;
    let config = &settings.config;
    let _reporting = crate::internal::init(config, kind.name())?;
    let stores = Stores::new(&settings, kind.events_access());
    let bind = bind.unwrap_or(kind.default_bind(config));
    let listener =
        std::net::TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(service = kind.name(), %addr, "starting");
    let grpc_default = match kind {
        ServiceKind::Query => Some(&config.query.grpc_bind),
        ServiceKind::Symbolicator => Some(&config.symbolicator.grpc_bind),
        _ => None,
    };
    let grpc = match grpc_default {
        Some(default) => {
            let grpc_bind = grpc_bind.unwrap_or(default);
            Some(
                std::net::TcpListener::bind(grpc_bind)
                    .with_context(|| format!("cannot listen on {grpc_bind}"))?,
            )
        }
        None => None,
    };
    // Links the notifier sends point at web: without system.url-prefix,
    // at web.bind rather than the notifier's own /metrics port.
    let public = match kind {
        ServiceKind::Notifier => config.web.bind.parse().unwrap_or(addr),
        _ => addr,
    };
    let runner = faultline_service::Runner::new();
    let service = build(kind, &stores, config, public, grpc, runner.shutdown()).await?;
    let stopped = runner
        .start(listener, vec![service])?
        .until(faultline_service::shutdown_signal())
        .await;
    // Spans still in the batch go out before the process does.
    faultline_telemetry::traces::flush();
    stopped.with_context(|| format!("{} stopped", kind.name()))
}
