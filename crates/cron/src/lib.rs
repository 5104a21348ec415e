//! cron: the scheduled jobs of the production topology. Today that is
//! retention: every `interval`, events older than `retention.days` (whole
//! ClickHouse partitions, or rows in the embedded store) and issues whose
//! last event is that old are deleted, with upload chunks never assembled
//! within a day and artifact bundles no event used within `retention.days`
//! (their index rows and their files). `faultline cleanup --days N` runs
//! the same job once, by hand.

use std::sync::{LazyLock, Once};
use std::time::Duration;

use chrono::Utc;
use std::sync::Arc;

use faultline_storage::{ArtifactStore, BlobDir, EventStore, MetaStore, Probe, StorageError};
use faultline_telemetry::prometheus_client::metrics::counter::Counter;
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum CronError {
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[derive(Debug, Clone, Copy)]
pub struct CronOptions {
    pub retention_days: u32,
    pub interval: Duration,
}

/// What one retention pass deleted, and the bytes each store gave back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deleted {
    pub events: u64,
    pub issues: u64,
    /// Artifact bundles and left-over upload chunks.
    pub bundles: u64,
    pub chunks: u64,
    pub freed: Freed,
}

/// Bytes on disk before minus after, per store (0 when a store grew, or
/// could not say: a pass beside running ingestion may well add more than
/// it deletes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Freed {
    pub events: u64,
    pub metadata: u64,
    pub files: u64,
}

impl Freed {
    pub fn total(&self) -> u64 {
        self.events + self.metadata + self.files
    }
}

/// The stores' sizes, for [`Freed`].
async fn sizes(stores: &Stores) -> [Option<u64>; 3] {
    [
        stores.events.disk_bytes().await.ok(),
        stores.meta.disk_bytes().await.ok(),
        Some(stores.blobs.disk_bytes()),
    ]
}

/// How long an uploaded chunk waits to be assembled (sentry-cli assembles
/// right after uploading; a chunk this old was abandoned).
const CHUNK_LIFETIME: chrono::Duration = chrono::Duration::hours(24);

static EVENTS_DELETED: LazyLock<Counter> = LazyLock::new(Counter::default);
static ISSUES_DELETED: LazyLock<Counter> = LazyLock::new(Counter::default);
static BYTES_FREED: LazyLock<Counter> = LazyLock::new(Counter::default);

fn register_metrics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        faultline_telemetry::register(|r| {
            r.register(
                "cron_retention_deleted_events",
                "Events deleted by retention",
                EVENTS_DELETED.clone(),
            );
            r.register(
                "cron_retention_deleted_issues",
                "Issues deleted by retention",
                ISSUES_DELETED.clone(),
            );
            r.register(
                "cron_retention_freed_bytes",
                "Bytes of disk the stores gave back after retention deleted",
                BYTES_FREED.clone(),
            );
        });
    });
}

/// The stores cron uses: retention deletes from both where they are.
#[derive(Clone)]
pub struct Stores {
    pub meta: Arc<dyn MetaStore>,
    pub events: Arc<dyn EventStore>,
    pub artifacts: Arc<dyn ArtifactStore>,
    /// Where uploads' files are (the volume web and symbolicator share).
    pub blobs: BlobDir,
}

impl Stores {
    pub fn probes(&self) -> Vec<Probe> {
        vec![
            Probe::Metadata(self.meta.clone()),
            Probe::Events(self.events.clone()),
        ]
    }
}

/// cron as the runner starts it, alone or in the devserver.
pub fn service(
    stores: Stores,
    options: CronOptions,
    shutdown: watch::Receiver<bool>,
) -> faultline_service::Service {
    faultline_service::Service::new("cron", stores.probes())
        .with_work("cron", run(stores, options, shutdown))
}

/// Deletes what is older than `days` days.
pub async fn apply_retention(stores: &Stores, days: u32) -> Result<Deleted, CronError> {
    let cutoff = Utc::now() - chrono::Duration::days(i64::from(days));
    let before = sizes(stores).await;
    let events = stores.events.delete_before(cutoff).await?;
    let issues = stores.meta.delete_issues_before(cutoff).await?;
    // Event attachments go with their events: the rows, then their files.
    for attachment in stores.meta.delete_attachments_before(cutoff).await? {
        let key = attachment.blob_key();
        if let Err(e) = stores.blobs.delete(&key) {
            tracing::warn!(error = %e, key, "cannot delete an expired attachment's file");
        }
        stores.blobs.prune_empty_dirs(&key);
    }
    // Chunks of attachments whose last chunk never came (a relay that died
    // mid-publish) wait a day at most.
    let stale = std::time::SystemTime::now() - std::time::Duration::from_secs(86_400);
    if let Err(e) = stores.blobs.delete_older_than("attachment-chunks", stale) {
        tracing::warn!(error = %e, "cannot sweep stale attachment chunks");
    }
    let expired = stores
        .artifacts
        .expire_artifacts(Utc::now() - CHUNK_LIFETIME, cutoff)
        .await?;
    // The rows went first: a file left behind by a crash here is only
    // space, never a bundle on record without its bytes.
    let keys = expired
        .chunks
        .iter()
        .map(|(org, checksum)| faultline_artifacts::chunk_key(org.0, checksum))
        .chain(expired.bundles.iter().cloned());
    for key in keys {
        if let Err(e) = stores.blobs.delete(&key) {
            tracing::warn!(error = %e, key, "cannot delete an expired upload's file");
        }
    }
    EVENTS_DELETED.inc_by(events);
    ISSUES_DELETED.inc_by(issues);
    let after = sizes(stores).await;
    let freed = |i: usize| match (before[i], after[i]) {
        (Some(b), Some(a)) => b.saturating_sub(a),
        _ => 0,
    };
    let freed = Freed {
        events: freed(0),
        metadata: freed(1),
        files: freed(2),
    };
    BYTES_FREED.inc_by(freed.total());
    Ok(Deleted {
        events,
        issues,
        bundles: expired.bundles.len() as u64,
        chunks: expired.chunks.len() as u64,
        freed,
    })
}

/// Runs retention at start and then every `interval` until `shutdown`. A
/// failed pass is logged and retried at the next tick: retention running
/// late loses nothing.
pub async fn run(
    stores: Stores,
    options: CronOptions,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), CronError> {
    register_metrics();
    let mut tick = tokio::time::interval(options.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return Ok(());
                }
                continue;
            }
        }
        match apply_retention(&stores, options.retention_days).await {
            Ok(deleted) => tracing::info!(
                events = deleted.events,
                issues = deleted.issues,
                bundles = deleted.bundles,
                chunks = deleted.chunks,
                freed_bytes = deleted.freed.total(),
                days = options.retention_days,
                "retention pass done"
            ),
            Err(e) => tracing::error!(error = %e, "retention pass failed; will retry"),
        }
    }
}
