//! notifier: consumes `post-process`, evaluates each project's alert rules
//! against the event and its issue, and delivers what fired.
//!
//! Two loops: the consumer decides (for each message, each active rule of
//! the project: does it fire, and was it not already fired for this event
//! or, for this issue, within its interval) and records each firing with
//! the deliveries it owes in one transaction before committing the batch;
//! the delivery loop sends what is due from that outbox. A redelivered
//! message fires nothing new; a notifier killed while sending leaves its
//! claims to expire and be sent by the next one.

pub mod channels;
pub mod deliver;
pub mod email;
pub mod evaluate;
mod fire;
pub mod http;
pub mod message;
mod metrics;

use std::sync::Arc;

use faultline_storage::{
    AlertStore, BatchHandler, BatchPolicy, Delivery, EventQueue, MetaStore, Probe, StorageError,
    Topic, consume,
};
use tokio::sync::{Notify, watch};

pub use email::Mailer;
pub use http::HttpClient;

/// The consumer group on `post-process`.
pub const GROUP: &str = "notifier";

#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("mail settings: {0}")]
    Mail(String),
    #[error("HTTP client: {0}")]
    Http(String),
}

/// The stores the notifier uses: it consumes `post-process`, reads issues,
/// projects and members, and keeps rules, firings and deliveries.
#[derive(Clone)]
pub struct Stores {
    pub queue: Arc<dyn EventQueue>,
    pub meta: Arc<dyn MetaStore>,
    pub alerts: Arc<dyn AlertStore>,
}

impl Stores {
    pub fn probes(&self) -> Vec<Probe> {
        vec![
            Probe::Queue(self.queue.clone()),
            Probe::Metadata(self.meta.clone()),
        ]
    }
}

/// What the notifier needs besides its stores.
pub struct NotifierOptions {
    /// `system.url-prefix`: links in notifications point there.
    pub url_prefix: String,
    pub mail: faultline_config::Mail,
    pub notifications: faultline_config::Notifications,
}

/// The notifier as the runner starts it, alone or in the devserver.
pub fn service(
    stores: Stores,
    options: NotifierOptions,
    shutdown: watch::Receiver<bool>,
) -> Result<faultline_service::Service, NotifierError> {
    metrics::register();
    let mailer = Mailer::from_config(&options.mail).map_err(NotifierError::Mail)?;
    let wake = Arc::new(Notify::new());
    let http = HttpClient::new(options.notifications.allow_private_targets)
        .map_err(NotifierError::Http)?;
    let channels = deliver::Channels { mailer, http };
    Ok(faultline_service::Service::new("notifier", stores.probes())
        .with_work(
            "notifier deliveries",
            deliver::run(
                stores.alerts.clone(),
                channels,
                wake.clone(),
                shutdown.clone(),
            ),
        )
        .with_work("notifier", run(stores, options.url_prefix, wake, shutdown)))
}

/// Consumes `post-process` until `shutdown`.
async fn run(
    stores: Stores,
    url_prefix: String,
    wake: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), NotifierError> {
    let queue = stores.queue.clone();
    let mut handler = Evaluate {
        stores,
        url_prefix,
        wake,
        pruned: None,
    };
    consume(
        queue.as_ref(),
        Topic::PostProcess,
        GROUP,
        BatchPolicy::default(),
        shutdown,
        &mut handler,
    )
    .await?;
    Ok(())
}

struct Evaluate {
    stores: Stores,
    url_prefix: String,
    wake: Arc<Notify>,
    /// When the frequency counts were last pruned.
    pruned: Option<std::time::Instant>,
}

/// How often counts that no window reaches any more are removed.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

#[async_trait::async_trait]
impl BatchHandler for Evaluate {
    type Error = NotifierError;

    async fn handle(&mut self, deliveries: &[Delivery]) -> Result<(), NotifierError> {
        let batch = fire::Batch {
            meta: self.stores.meta.as_ref(),
            alerts: self.stores.alerts.as_ref(),
            url_prefix: &self.url_prefix,
        };
        if batch.run(deliveries).await? > 0 {
            self.wake.notify_one();
        }
        if self.pruned.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            self.pruned = Some(std::time::Instant::now());
            match self.stores.alerts.prune_counts(chrono::Utc::now()).await {
                Ok(removed) => tracing::debug!(removed, "pruned frequency counts"),
                // Counts no window reaches cost space, not correctness.
                Err(e) => tracing::warn!(error = %e, "cannot prune frequency counts"),
            }
        }
        Ok(())
    }
}
