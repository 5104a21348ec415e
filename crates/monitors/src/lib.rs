//! Cron monitors (Sentry's Crons): what a check-in does to its monitor,
//! how the sweep finds missed and timed-out check-ins, and the issue a
//! failing monitor opens.
//!
//! A check-in (an SDK's `check_in` item or relay's HTTP endpoint) creates
//! its monitor from `monitor_config` when it is new, records the check-in
//! and moves the environment's schedule on. cron's sweep reads only the
//! environments whose deadline passed (an index on it) and the in-progress
//! check-ins whose run time is up (a partial index), so its cost grows with
//! what is late, not with how many monitors there are.

pub mod checkin;
pub mod config;
mod incident;
mod process;
pub mod schedule;
mod state;
mod sweep;

use std::sync::Arc;

use faultline_storage::{EventQueue, MetaStore, StorageError};

pub use checkin::{CheckInError, CheckInPayload};
pub use incident::failure_hash;
pub use process::{Processed, process_checkin};
pub use sweep::{Swept, sweep};

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A failure event could not be built (cannot happen for the events
    /// this crate writes; kept typed rather than a panic).
    #[error("failure event: {0}")]
    Event(String),
}

/// What check-ins and the sweep need: monitors live in the metadata store,
/// and failures go to `ingest-events` as events, to be grouped, stored and
/// alerted on like any.
#[derive(Clone)]
pub struct MonitorStores {
    pub meta: Arc<dyn MetaStore>,
    pub queue: Arc<dyn EventQueue>,
}
