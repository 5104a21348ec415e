//! The storage seams every service is written against, and their backends.
//!
//! Six small traits: [`EventQueue`] (topics with offsets and consumer
//! groups), [`MetaStore`] (users, organizations, projects, keys, issues),
//! [`AlertStore`] (alert rules, their firings and the deliveries owed),
//! [`ArtifactStore`] (upload chunks and artifact bundles, indexed by debug
//! id and URL), [`EventStore`] (full events, searchable) and [`Cache`]
//! (shared entries that expire, such as relay's project keys). Uploaded
//! files themselves live in a [`BlobDir`], a directory services share. [`EventReader`] is the
//! reading half of the event store, all a remote store offers. Backends are
//! chosen once at start-up and each service is handed the stores it
//! declares, with a [`Probe`] per store its `/health` checks; service code
//! never asks which backend it has.
//!
//! This crate holds only the seams (and [`MemoryCache`], the in-process
//! cache): the backends are crates of their own (`faultline-storage-sql`,
//! `-kafka`, `-clickhouse`, `-redis`, `-grpc`) that only the binary and the
//! tests depend on, so a service crate compiles no database driver to use
//! a trait. Each backend maps its driver's errors to [`StorageError`].

pub mod alerts;
pub mod artifacts;
pub mod attachments;
pub mod blobs;
pub mod cache;
pub mod consume;
pub mod disk;
pub mod events;
pub mod feedback;
pub mod health;
pub mod meta;
pub mod metrics;
pub mod monitors;
pub mod queue;
pub mod releases;

pub use alerts::{
    AlertDelivery, AlertRule, AlertStore, AttemptResult, DeliveryStatus, FireOutcome, NewDelivery,
    NewFire, ProjectPlugin, RuleFire, RuleRecord, RuleStatus,
};
pub use artifacts::{
    ArtifactBundle, ArtifactFile, ArtifactStore, ArtifactType, ChunkAdmission, ExpiredArtifacts,
    FoundArtifact, NewArtifactBundle,
};
pub use attachments::{Attachment, NewAttachment};
pub use blobs::{BlobDir, BlobWriter};
pub use cache::{Cache, MemoryCache, cache_keys};
pub use consume::{BatchHandler, BatchPolicy, consume};
pub use disk::{DiskGuard, DiskLow};
pub use events::{EventReader, EventRecord, EventStore, StoredEvent, TagFilter, TagValueCount};
pub use feedback::{NewUserReport, UserReport};
pub use health::Probe;
pub use meta::*;
pub use monitors::{
    CheckIn, CheckInStatus, EnvironmentStatus, IntervalUnit, Monitor, MonitorConfig,
    MonitorEnvironment, MonitorStatus, NewCheckIn, Schedule,
};
pub use queue::{
    Delivery, EventQueue, Headers, Message, QueueConsumer, TRACEPARENT, Topic, poll_batch,
};
pub use releases::{
    Commit, Deploy, NewDeploy, Release, ReleaseChange, ReleaseStatus, is_valid_version,
};

/// Every storage error a backend can report, typed so callers can map them
/// (to HTTP statuses, retries) in one place.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A database error without a meaning of its own here (backends map
    /// the ones that have one to the variants below).
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("storage is shutting down")]
    Closed,
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The change would leave an organization without an owner.
    #[error("an organization keeps at least one owner")]
    LastOwner,
    /// The member is an owner and the actor may not change owners
    /// ([`OwnerChanges::Refused`]), decided in the same statement as the
    /// change.
    #[error("only owners can change or remove an owner")]
    OwnerOnly,
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Milliseconds since the epoch: how timestamps are stored.
pub fn to_millis(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_millis(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
