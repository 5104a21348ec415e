//! `system.internal-dsn`: Faultline reports its own panics and
//! error-level logs, through the official `sentry` crate, to any
//! Sentry-compatible DSN (a Faultline project included). Off by default.

use tracing::Level;

/// The subscriber layers that turn error logs into Sentry events, with
/// the warnings before them as breadcrumbs. Installed always: with no
/// client bound (no DSN) they do nothing.
pub fn layers() -> Vec<faultline_telemetry::ExtraLayer> {
    use sentry::integrations::tracing::{BreadcrumbLayer, ErrorLayer};
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::{LevelFilter, filter_fn};
    vec![
        BreadcrumbLayer::new()
            .with_filter(filter_fn(|meta| *meta.level() == Level::WARN))
            .boxed(),
        ErrorLayer::new().with_filter(LevelFilter::ERROR).boxed(),
    ]
}

/// Binds the client when `system.internal-dsn` is set; keep the guard for
/// the life of the process (dropping it sends what is queued). `service`
/// tags every event (`relay`, `devserver`, …).
pub fn init(
    config: &faultline_config::Config,
    service: &str,
) -> anyhow::Result<Option<sentry::ClientInitGuard>> {
    let Some(dsn) = &config.system.internal_dsn else {
        return Ok(None);
    };
    let dsn: sentry::types::Dsn = dsn
        .parse()
        .map_err(|e| anyhow::anyhow!("system.internal-dsn: {e}"))?;
    let mut options = sentry::ClientOptions::default();
    options.dsn = Some(dsn);
    options.release = Some(concat!("faultline@", env!("CARGO_PKG_VERSION")).into());
    options.environment = Some(
        if service == "devserver" {
            "development"
        } else {
            "production"
        }
        .into(),
    );
    // Nothing about users leaves the process: Faultline's own errors carry
    // its state, not its users' addresses.
    options.send_default_pii = false;
    let guard = sentry::init(options);
    let service = service.to_owned();
    sentry::configure_scope(|scope| scope.set_tag("service", service));
    tracing::info!("reporting Faultline's own errors to system.internal-dsn");
    Ok(Some(guard))
}
