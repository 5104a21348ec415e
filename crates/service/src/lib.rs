//! Scaffolding every Faultline service shares, so each service crate only
//! adds its own routes and work: `GET /health` (readiness: the stores the
//! service declares answer), `GET /metrics` (Prometheus text), JSON 404s,
//! `X-Content-Type-Options: nosniff` on every response, and the one
//! [`Runner`] that starts services, alone (`faultline run`) or together
//! (`faultline devserver`).

mod http_metrics;
mod runner;

use std::sync::Arc;

use actix_web::dev::{ServerHandle, Service as _};
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpResponse, HttpServer, web};
use faultline_storage::Probe;

pub use runner::{RunError, Runner, Running};

/// What a service's `/health` checks: the stores it cannot work without
/// (relay does not need the event store to be ready, for instance). Each
/// server is given its own, so two services in one process cannot
/// overwrite each other's answer.
#[derive(Clone, Default)]
pub struct Readiness {
    probes: Vec<Probe>,
}

impl Readiness {
    /// Checks each store once, however many of the services name it.
    pub fn new(probes: impl IntoIterator<Item = Probe>) -> Self {
        let mut readiness = Readiness::default();
        for probe in probes {
            if !readiness.probes.iter().any(|p| p.name() == probe.name()) {
                readiness.probes.push(probe);
            }
        }
        readiness
    }
}

/// Mounts a service's routes on an actix app.
pub type Routes = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// How a service's background work ends: an error it could not go on
/// from. Services keep their own typed errors; the runner only reports.
pub type WorkError = Box<dyn std::error::Error + Send + Sync>;

/// Background work of a service (a consumer, a schedule, a gRPC server):
/// runs until the shutdown signal it was built with, or fails.
pub type Work = std::pin::Pin<Box<dyn Future<Output = Result<(), WorkError>> + Send>>;

/// One service as the [`Runner`] starts it, built by the service crate from
/// the stores it declares: its HTTP routes (if it serves any), its
/// background work, and the stores its `/health` checks.
pub struct Service {
    pub name: &'static str,
    pub routes: Option<Routes>,
    pub work: Vec<(&'static str, Work)>,
    pub probes: Vec<Probe>,
}

impl Service {
    pub fn new(name: &'static str, probes: Vec<Probe>) -> Self {
        Service {
            name,
            routes: None,
            work: Vec::new(),
            probes,
        }
    }

    pub fn with_routes(
        mut self,
        routes: impl Fn(&mut web::ServiceConfig) + Send + Sync + 'static,
    ) -> Self {
        self.routes = Some(Arc::new(routes));
        self
    }

    pub fn with_work<E>(
        mut self,
        name: &'static str,
        work: impl Future<Output = Result<(), E>> + Send + 'static,
    ) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        self.work.push((
            name,
            Box::pin(async move { work.await.map_err(WorkError::from) }),
        ));
        self
    }
}

/// Mounts `/health` and `/metrics`.
pub fn configure(cfg: &mut web::ServiceConfig, readiness: &Readiness) {
    cfg.app_data(web::Data::new(readiness.clone()))
        .route("/health", web::get().to(health_check))
        .route("/health/", web::get().to(health_check))
        .route("/metrics", web::get().to(metrics));
}

async fn health_check(readiness: web::Data<Readiness>) -> HttpResponse {
    let mut checks = Vec::new();
    for probe in &readiness.probes {
        checks.push((probe.name(), probe.check().await.err()));
    }
    let failing: Vec<String> = checks
        .iter()
        .filter_map(|(name, err)| err.as_ref().map(|e| format!("{name}: {e}")))
        .collect();
    if failing.is_empty() {
        HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
    } else {
        HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "unavailable", "failing": failing}))
    }
}

async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(faultline_telemetry::encode())
}

/// Unknown paths answer in JSON like every API error.
pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .json(serde_json::json!({"detail": "The requested resource does not exist"}))
}

/// A running HTTP server.
pub struct Serving {
    pub handle: ServerHandle,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    pub addr: std::net::SocketAddr,
}

/// Serves `routes` (plus `/health`, `/metrics` and JSON 404s) on `listener`.
pub fn serve<F>(
    listener: std::net::TcpListener,
    readiness: Readiness,
    routes: F,
) -> std::io::Result<Serving>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let addr = listener.local_addr()?;
    http_metrics::register();
    faultline_storage::metrics::register();
    let server = HttpServer::new(move || {
        let (routes, readiness) = (routes.clone(), readiness.clone());
        // Bodies carry what SDKs sent (event JSON, attachments' names); a
        // browser must never sniff them into HTML and run them.
        App::new()
            .wrap(DefaultHeaders::new().add((header::X_CONTENT_TYPE_OPTIONS, "nosniff")))
            .wrap_fn(|req, srv| {
                let started = std::time::Instant::now();
                let method = req.method().clone();
                let response = srv.call(req);
                async move {
                    let response = response.await?;
                    http_metrics::observe(
                        response.request().match_pattern().as_deref(),
                        &method,
                        response.status().as_u16(),
                        started.elapsed(),
                    );
                    Ok(response)
                }
            })
            .configure(routes)
            .configure(|cfg| configure(cfg, &readiness))
            .default_service(web::to(not_found))
    })
    .workers(2)
    .disable_signals()
    .shutdown_timeout(5)
    .listen(listener)?
    .run();
    let handle = server.handle();
    Ok(Serving {
        handle,
        task: tokio::spawn(server),
        addr,
    })
}

/// Resolves once `shutdown` turns true (or its sender is gone): what a
/// server of the service's own (gRPC) stops on.
pub async fn shutdown_requested(mut shutdown: tokio::sync::watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            break;
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM (what `docker stop` sends).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
