//! `faultline devserver`: every service in one process on embedded
//! storage, built and started exactly as `faultline run` builds and starts
//! each ([`crate::service::build`], one runner), relay and web on one port
//! as the compose proxy presents them.

use std::time::Instant;

use anyhow::Context;

use crate::DataArgs;
use crate::bootstrap::{ADMIN_EMAIL, ensure_defaults};
use crate::open::{EventsAccess, Stores};
use crate::service::{ServiceKind, build};
use crate::settings::load;

/// Every service, in start order: the consumers before the routes that
/// feed them would make no difference, the runner starts them together.
const SERVICES: [ServiceKind; 6] = [
    ServiceKind::Relay,
    ServiceKind::Web,
    ServiceKind::IngestConsumer,
    ServiceKind::Query,
    ServiceKind::Cron,
    ServiceKind::Notifier,
];

/// `bind` is `--bind`; without it, relay and web share `web.bind`.
pub async fn run(bind: Option<&str>, data: &DataArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    faultline_telemetry::init(
        "devserver",
        faultline_telemetry::LogFormat::Pretty,
        crate::internal::layers(),
    )?;
    let settings = load(data, true)?;
    let config = &settings.config;
    let _reporting = crate::internal::init(config, "devserver")?;
    let stores = Stores::new(&settings, EventsAccess::Direct);
    let defaults = ensure_defaults(
        stores.meta().await?.as_ref(),
        stores.alerts().await?.as_ref(),
    )
    .await?;

    let bind = bind.unwrap_or(&config.web.bind);
    let listener =
        std::net::TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    let addr = listener.local_addr()?;
    let url_prefix = config.system.url_prefix_for(addr);

    let runner = faultline_service::Runner::new();
    let mut services = Vec::new();
    for kind in SERVICES {
        services.push(build(kind, &stores, config, addr, None, runner.shutdown()).await?);
    }
    let running = runner.start(listener, services)?;

    let dsn = faultline_web::dsn(&url_prefix, &defaults.key);
    println!(
        "Faultline is running at {url_prefix}/ (started in {} ms)",
        started.elapsed().as_millis()
    );
    println!("Data directory: {}", settings.data_dir.display());
    if let Some(first) = &defaults.first_run {
        println!("Admin login:    {ADMIN_EMAIL}");
        println!("Admin password: {}", first.password);
    }
    println!("Organization:   {}", defaults.organization.slug);
    println!(
        "Project:        {} (id {})",
        defaults.project.slug, defaults.project.id
    );
    println!("DSN:            {dsn}");
    use std::io::Write;
    let _ = std::io::stdout().flush();

    let stopped = running.until(faultline_service::shutdown_signal()).await;
    faultline_telemetry::traces::flush();
    stopped?;
    Ok(())
}
