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
use faultline_storage::{Cache, DiskGuard, EventQueue, MetaStore, Probe};

pub use error::RelayError;

/// The stores relay uses: project keys come from the metadata store
/// (cached in `cache`, shared with web and other relays), items go to the
/// queue.
#[derive(Clone)]
pub struct Stores {
    pub meta: Arc<dyn MetaStore>,
    pub queue: Arc<dyn EventQueue>,
    pub cache: Arc<dyn Cache>,
    /// The data directory's free-space floor, when the queue is on local
    /// disk (the embedded one): events are refused below it.
    pub disk: Option<DiskGuard>,
}

impl Stores {
    /// What relay's `/health` checks: it cannot accept events without the
    /// queue and the keys. The event store is not one (events go through
    /// the queue), nor the cache: without Redis relay still accepts events
    /// and stops enforcing rate limits.
    pub fn probes(&self) -> Vec<Probe> {
        let mut probes = vec![
            Probe::Queue(self.queue.clone()),
            Probe::Metadata(self.meta.clone()),
        ];
        probes.extend(self.disk.clone().map(Probe::Disk));
        probes
    }
}

/// What the relay handlers share.
pub struct RelayState {
    pub(crate) queue: Arc<dyn EventQueue>,
    pub(crate) keys: keys::KeyCache,
    pub(crate) limits: Limits,
    pub(crate) disk: Option<DiskGuard>,
}

impl RelayState {
    pub fn new(stores: &Stores, limits: Limits) -> Self {
        metrics::register();
        RelayState {
            queue: stores.queue.clone(),
            keys: keys::KeyCache::new(stores.meta.clone(), stores.cache.clone()),
            limits,
            disk: stores.disk.clone(),
        }
    }
}

/// relay as the runner starts it, alone or in the devserver: the
/// ingestion routes, no background work.
pub fn service(stores: Stores, limits: Limits) -> faultline_service::Service {
    let probes = stores.probes();
    let state = web::Data::new(RelayState::new(&stores, limits));
    faultline_service::Service::new("relay", probes)
        .with_routes(move |cfg| configure(cfg, state.clone()))
}

/// Mounts the ingestion routes.
fn configure(cfg: &mut web::ServiceConfig, state: web::Data<RelayState>) {
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
