//! Health probes: a store a service cannot work without, named as
//! `/health` reports it. A service lists its probes next to its stores, so
//! readiness checks exactly what that service uses.

use std::sync::Arc;

use crate::{Cache, DiskGuard, EventQueue, EventReader, MetaStore, Result, StorageError};

#[derive(Clone)]
pub enum Probe {
    Queue(Arc<dyn EventQueue>),
    Metadata(Arc<dyn MetaStore>),
    Events(Arc<dyn EventReader>),
    Cache(Arc<dyn Cache>),
    /// The data directory's free space (`storage.min-free`).
    Disk(DiskGuard),
}

impl Probe {
    /// The store's name in `/health` answers.
    pub fn name(&self) -> &'static str {
        match self {
            Probe::Queue(_) => "queue",
            Probe::Metadata(_) => "metadata",
            Probe::Events(_) => "events",
            Probe::Cache(_) => "cache",
            Probe::Disk(_) => "disk",
        }
    }

    pub async fn check(&self) -> Result<()> {
        match self {
            Probe::Queue(queue) => queue.ping().await,
            Probe::Metadata(meta) => meta.ping().await,
            Probe::Events(events) => events.ping().await,
            Probe::Cache(cache) => cache.ping().await,
            Probe::Disk(guard) => guard
                .check()
                .map_err(|low| StorageError::Unavailable(low.to_string())),
        }
    }
}
