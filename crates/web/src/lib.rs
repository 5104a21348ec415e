//! web: the REST API under `/api/0/` (Sentry's paths, field names and JSON
//! shapes, so existing scripts and `sentry-cli` work; authenticated by API
//! token, `Authorization: Bearer …`) and the dashboard (server-rendered
//! pages; signed-in sessions; see `dashboard`).

mod api;
mod auth;
mod client_ip;
mod dashboard;
mod error;
mod issues;
pub mod names;
pub mod ops;
mod pagination;
pub mod password;
pub mod scopes;
mod search;
mod serialize;
mod slug;

use std::sync::Arc;

use actix_web::web;
use faultline_storage::{
    AlertStore, ArtifactStore, BlobDir, Cache, DiskGuard, EventReader, MetaStore, Probe,
};

pub use auth::{generate_token, hash_token};
pub use error::ApiError;
pub use search::{SearchQuery, parse_search};

/// The public DSN of a key under `url_prefix`.
pub fn dsn(url_prefix: &str, key: &faultline_storage::ProjectKey) -> String {
    serialize::dsn(url_prefix, key, false)
}

/// The stores web uses. It only reads events: from the query service over
/// gRPC in the production topology, from the embedded store in the
/// devserver. It neither publishes nor consumes.
#[derive(Clone)]
pub struct Stores {
    pub meta: Arc<dyn MetaStore>,
    /// Alert rules and their history (the metadata database).
    pub alerts: Arc<dyn AlertStore>,
    pub events: Arc<dyn EventReader>,
    /// Shared with relay, which caches project keys there.
    pub cache: Arc<dyn Cache>,
    /// Uploaded chunks and bundles (the metadata database).
    pub artifacts: Arc<dyn ArtifactStore>,
    /// Where uploads are kept (shared with the symbolicator).
    pub blobs: BlobDir,
    /// The data directory's free-space floor, for the admins' banner.
    pub disk: Option<DiskGuard>,
}

/// The upload limits web applies (`limits.*`).
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    pub max_file_size: u64,
    pub quota: u64,
}

impl Stores {
    /// What web's `/health` checks: a broker outage does not stop it, nor
    /// a cache outage (key changes then reach relays when their copy expires).
    pub fn probes(&self) -> Vec<Probe> {
        vec![
            Probe::Metadata(self.meta.clone()),
            Probe::Events(self.events.clone()),
        ]
    }
}

pub struct WebState {
    pub meta: Arc<dyn MetaStore>,
    pub alerts: Arc<dyn AlertStore>,
    pub events: Arc<dyn EventReader>,
    /// Base URL used in DSNs and permalinks (`system.url-prefix`).
    pub url_prefix: String,
    /// Largest JSON body accepted (`limits.max-api-payload-size`).
    pub max_payload: usize,
    /// Origins whose form posts are accepted besides the request's own host:
    /// `system.url-prefix` and `csrf.trusted-origins`.
    pub trusted_origins: Vec<String>,
    pub throttle: dashboard::LoginThrottle,
    /// Peers whose `X-Forwarded-For` is believed (`system.trusted-proxies`).
    pub trusted_proxies: Vec<faultline_config::IpNet>,
    pub allow_registration: bool,
    /// Shared with relay, which caches project keys there.
    pub cache: Arc<dyn Cache>,
    /// `mail.*`, shown on the admin's mail page.
    pub mail: faultline_config::Mail,
    /// The notifier's mailer for the admin's test email, or why the mail
    /// settings make none.
    pub mailer: Result<faultline_notifier::Mailer, String>,
    /// The notifier's HTTP client, for the plugins' "send test" (the same
    /// timeouts and address checks as deliveries).
    pub http: Result<faultline_notifier::HttpClient, String>,
    pub artifacts: Arc<dyn ArtifactStore>,
    pub blobs: BlobDir,
    pub uploads: UploadLimits,
    pub disk: Option<DiskGuard>,
}

impl WebState {
    pub fn new(stores: &Stores, url_prefix: String, config: &faultline_config::Config) -> Self {
        let mut trusted_origins = config.csrf.trusted_origins.clone();
        trusted_origins.push(url_prefix.clone());
        WebState {
            meta: stores.meta.clone(),
            alerts: stores.alerts.clone(),
            events: stores.events.clone(),
            url_prefix,
            max_payload: config.limits.max_api_payload_size,
            trusted_origins,
            throttle: dashboard::LoginThrottle::default(),
            trusted_proxies: config.system.trusted_proxies.clone(),
            allow_registration: config.auth.allow_registration,
            cache: stores.cache.clone(),
            mail: config.mail.clone(),
            mailer: faultline_notifier::Mailer::from_config(&config.mail),
            http: faultline_notifier::HttpClient::new(config.notifications.allow_private_targets),
            artifacts: stores.artifacts.clone(),
            blobs: stores.blobs.clone(),
            uploads: UploadLimits {
                max_file_size: config.limits.max_upload_file_size,
                quota: config.limits.upload_quota,
            },
            disk: stores.disk.clone(),
        }
    }
}

fn configure(cfg: &mut web::ServiceConfig, state: web::Data<WebState>) {
    let max_payload = state.max_payload;
    cfg.app_data(state)
        .app_data(
            web::JsonConfig::default()
                .limit(max_payload)
                .error_handler(|err, _| {
                    ApiError::BadRequest(format!("invalid JSON body: {err}")).into()
                }),
        )
        // Raw bodies (`web::Bytes`: releases, plugins, assemble) to the
        // same limit as JSON ones, not actix's default of 256 KiB.
        .app_data(web::PayloadConfig::new(max_payload))
        .app_data(
            web::QueryConfig::default()
                .error_handler(|err, _| ApiError::BadRequest(err.to_string()).into()),
        )
        .configure(api::routes)
        .configure(dashboard::routes);
}

/// web as the runner starts it, alone or in the devserver: the API and
/// the dashboard, no background work. `url_prefix` is where users reach it.
pub fn service(
    stores: Stores,
    url_prefix: String,
    config: &faultline_config::Config,
) -> faultline_service::Service {
    let state = web::Data::new(WebState::new(&stores, url_prefix, config));
    faultline_service::Service::new("web", stores.probes())
        .with_routes(move |cfg| configure(cfg, state.clone()))
}
