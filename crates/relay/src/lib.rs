//! relay: the SDK-facing ingestion service (contracts §3).
//!
//! It authenticates the project key, bounds every size (request, decompressed
//! body, item), checks that items are well-formed, and publishes each item to
//! its `ingest-*` topic. It answers 200 only after the queue has stored the
//! items durably; it never normalises or groups — that is the
//! ingest-consumer's job.

mod cors;
mod error;
mod handlers;
mod keys;
mod metrics;

use std::sync::Arc;

use actix_web::web;
use faultline_config::Limits;
use faultline_storage::{Cache, EventQueue, MetaStore};

pub use error::RelayError;

/// What the relay handlers share.
pub struct RelayState {
    pub(crate) queue: Arc<dyn EventQueue>,
    pub(crate) keys: keys::KeyCache,
    pub(crate) limits: Limits,
}

impl RelayState {
    pub fn new(
        meta: Arc<dyn MetaStore>,
        queue: Arc<dyn EventQueue>,
        cache: Arc<dyn Cache>,
        limits: Limits,
    ) -> Self {
        metrics::register();
        RelayState {
            queue,
            keys: keys::KeyCache::new(meta, cache),
            limits,
        }
    }
}

/// Mounts the ingestion routes; the devserver and `faultline run relay` both
/// use this so they serve identical endpoints.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<RelayState>) {
    cfg.app_data(state)
        .service(
            web::resource(["/api/{project_id}/envelope/", "/api/{project_id}/envelope"])
                .route(web::post().to(handlers::envelope))
                .route(web::method(actix_web::http::Method::OPTIONS).to(cors::preflight)),
        )
        .service(
            web::resource(["/api/{project_id}/store/", "/api/{project_id}/store"])
                .route(web::post().to(handlers::store))
                .route(web::method(actix_web::http::Method::OPTIONS).to(cors::preflight)),
        );
}

/// The stores relay cannot accept events without: what its `/health`
/// checks. Events go through the queue, so the event store is not one.
pub const NEEDS: &[faultline_service::Dependency] = &[
    faultline_service::Dependency::Queue,
    faultline_service::Dependency::Metadata,
];

/// Runs relay as its own service (what `faultline run relay` starts):
/// the ingestion routes plus `/health` and `/metrics` on `listener`, until
/// `shutdown` becomes true.
pub async fn run(
    limits: Limits,
    backends: faultline_storage::Backends,
    listener: std::net::TcpListener,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let state = web::Data::new(RelayState::new(
        backends.meta.clone(),
        backends.queue.clone(),
        backends.cache.clone(),
        limits,
    ));
    faultline_service::serve_until(
        listener,
        faultline_service::Readiness::new(&backends, NEEDS),
        move |cfg| configure(cfg, state.clone()),
        shutdown,
    )
    .await
}
