//! Scaffolding every Faultline service shares, so each service crate only
//! adds its own routes: `GET /health` (readiness: every backend answers),
//! `GET /metrics` (Prometheus text), JSON 404s, `X-Content-Type-Options:
//! nosniff` on every response, and serving an actix app until a shutdown
//! signal.

use actix_web::dev::ServerHandle;
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpResponse, HttpServer, web};
use faultline_storage::Backends;
use tokio::sync::watch;

/// A store `/health` can check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    Queue,
    Metadata,
    Events,
}

/// What a process's `/health` checks: the stores its services cannot work
/// without (relay does not need the event store to be ready, for
/// instance). Each server is given its own, so two services in one process
/// cannot overwrite each other's answer.
#[derive(Clone)]
pub struct Readiness {
    backends: Backends,
    needs: &'static [Dependency],
}

impl Readiness {
    /// Every store: the devserver runs every service.
    pub const EVERY_STORE: &'static [Dependency] =
        &[Dependency::Queue, Dependency::Metadata, Dependency::Events];

    pub fn new(backends: &Backends, needs: &'static [Dependency]) -> Self {
        Readiness {
            backends: backends.clone(),
            needs,
        }
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
    let b = &readiness.backends;
    let mut checks = Vec::new();
    for dependency in readiness.needs {
        let (name, result) = match dependency {
            Dependency::Queue => ("queue", b.queue.ping().await),
            Dependency::Metadata => ("metadata", b.meta.ping().await),
            Dependency::Events => ("events", b.events.ping().await),
        };
        checks.push((name, result.err()));
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
    let server = HttpServer::new(move || {
        let (routes, readiness) = (routes.clone(), readiness.clone());
        // Bodies carry what SDKs sent (event JSON, attachments' names); a
        // browser must never sniff them into HTML and run them.
        App::new()
            .wrap(DefaultHeaders::new().add((header::X_CONTENT_TYPE_OPTIONS, "nosniff")))
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

/// Serves until `shutdown` becomes true, then drains in-flight requests.
pub async fn serve_until<F>(
    listener: std::net::TcpListener,
    readiness: Readiness,
    routes: F,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let serving = serve(listener, readiness, routes)?;
    tracing::info!(addr = %serving.addr, "listening");
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            break;
        }
    }
    serving.handle.stop(true).await;
    serving.task.await.unwrap_or(Ok(()))
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
