//! `faultline devserver`: relay, ingest-consumer, query consumer and web in
//! one process on embedded storage, relay and web on one port.

use std::time::Instant;

use actix_web::web;
use anyhow::Context;
use faultline_relay::RelayState;
use faultline_web::WebState;
use tokio::sync::watch;

use crate::DataArgs;
use crate::bootstrap::{ADMIN_EMAIL, ensure_defaults};
use crate::settings::{EventsAccess, QueueUse, load, open_backends};

/// `bind` is `--bind`; without it, relay and web share `web.bind`.
pub async fn run(bind: Option<&str>, data: &DataArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    faultline_telemetry::init_logging(faultline_telemetry::LogFormat::Pretty);
    let settings = load(data, true)?;
    let backends = open_backends(&settings, EventsAccess::Direct, QueueUse::Used).await?;
    let defaults = ensure_defaults(&backends).await?;

    let bind = bind.unwrap_or(&settings.config.web.bind);
    let listener =
        std::net::TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    let addr = listener.local_addr()?;
    let url_prefix = settings.config.system.url_prefix_for(addr);

    let relay = web::Data::new(RelayState::new(
        backends.meta.clone(),
        backends.queue.clone(),
        backends.cache.clone(),
        settings.config.limits,
    ));
    let web_state = web::Data::new(WebState::new(
        &backends,
        url_prefix.clone(),
        &settings.config,
    ));
    // Relay and web on one port, as the compose proxy presents them.
    let readiness =
        faultline_service::Readiness::new(&backends, faultline_service::Readiness::EVERY_STORE);
    let serving = faultline_service::serve(listener, readiness, move |cfg| {
        faultline_relay::configure(cfg, relay.clone());
        faultline_web::configure(cfg, web_state.clone());
    })?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let ingest = tokio::spawn(faultline_ingest_consumer::run(
        backends.clone(),
        shutdown_rx.clone(),
    ));
    let query = tokio::spawn(faultline_query::run(backends.clone(), shutdown_rx));

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

    let (mut ingest, mut query) = (ingest, query);
    // A consumer that dies would leave relay accepting events nobody
    // processes: stop the whole process instead, loudly.
    let failure = tokio::select! {
        _ = faultline_service::shutdown_signal() => None,
        result = &mut ingest => Some(("ingest-consumer", flatten(result))),
        result = &mut query => Some(("query consumer", flatten(result))),
    };
    tracing::info!("shutting down");
    serving.handle.stop(true).await;
    let _ = shutdown_tx.send(true);
    let _ = serving.task.await;
    match failure {
        Some((name, reason)) => anyhow::bail!("{name} stopped: {reason}"),
        None => {
            let _ = ingest.await;
            let _ = query.await;
            Ok(())
        }
    }
}

fn flatten<E: std::fmt::Display>(result: Result<Result<(), E>, tokio::task::JoinError>) -> String {
    match result {
        Ok(Ok(())) => "it exited".to_owned(),
        Ok(Err(e)) => e.to_string(),
        Err(e) => format!("it panicked: {e}"),
    }
}
