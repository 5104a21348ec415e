//! Opens stores on their configured backends, each at most once per
//! process and only when a service (or command) asks for it: web never
//! opens the queue, so a broker outage cannot stop it, and an admin
//! command opens only the metadata store. The embedded SQLite file in the
//! data directory is used where a store's key is unset. An unreachable
//! store stops start-up naming its key.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use faultline_config::Kafka;
use faultline_storage::{
    AlertStore, ArtifactStore, BlobDir, Cache, DiskGuard, EventQueue, EventReader, EventStore,
    MemoryCache, MetaStore,
};
use faultline_storage_clickhouse::ClickHouseEventStore;
use faultline_storage_grpc::RemoteEventReader;
use faultline_storage_kafka::{KafkaOptions, KafkaQueue};
use faultline_storage_redis::RedisCache;
use faultline_storage_sql::{SqlMetaStore, sqlite};
use faultline_symbolicator::grpc::RemoteSymbolicator;
use faultline_symbolicator::{Symbolicate, Symbolicator, SymbolicatorOptions};
use tokio::sync::OnceCell;

use crate::settings::{Settings, create_private_file, make_private_dir};

/// Where a process reads full events: from the event store it has opened
/// itself (the devserver, query, cron), or, when that store is ClickHouse,
/// from the query service over gRPC (web, on its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventsAccess {
    Direct,
    ViaQueryService,
}

/// The blob store's directory inside the data directory.
pub const BLOB_DIR: &str = "files";

pub struct Stores<'a> {
    settings: &'a Settings,
    access: EventsAccess,
    queue: OnceCell<Arc<dyn EventQueue>>,
    meta: OnceCell<Arc<SqlMetaStore>>,
    events: OnceCell<Arc<dyn EventStore>>,
    cache: OnceCell<Arc<dyn Cache>>,
    symbolicator: OnceCell<Arc<Symbolicator>>,
    disk: std::sync::OnceLock<Option<DiskGuard>>,
}

impl<'a> Stores<'a> {
    pub fn new(settings: &'a Settings, access: EventsAccess) -> Self {
        faultline_storage::disk::report_disk_space(
            &settings.data_dir,
            settings.config.storage.min_free,
        );
        Stores {
            settings,
            access,
            queue: OnceCell::new(),
            meta: OnceCell::new(),
            events: OnceCell::new(),
            cache: OnceCell::new(),
            symbolicator: OnceCell::new(),
            disk: std::sync::OnceLock::new(),
        }
    }

    /// The free-space floor of the data directory (`storage.min-free`),
    /// shared by the services of this process; none when no store lives
    /// there (every one on its server) or the floor is 0.
    pub fn disk_guard(&self) -> Option<DiskGuard> {
        self.disk
            .get_or_init(|| {
                let config = &self.settings.config;
                let embedded = config.kafka.brokers.is_none()
                    || config.database.postgres_url().is_none()
                    || config.clickhouse.url.is_none();
                (embedded && config.storage.min_free > 0)
                    .then(|| DiskGuard::new(&self.settings.data_dir, config.storage.min_free))
            })
            .clone()
    }

    /// The path of an embedded store's file, the directory and file made
    /// private first.
    fn embedded(&self, file: &str) -> anyhow::Result<PathBuf> {
        let dir = &self.settings.data_dir;
        make_private_dir(dir, self.settings.data_dir_is_own)?;
        let path = dir.join(file);
        create_private_file(&path)?;
        Ok(path)
    }

    fn in_dir(&self) -> String {
        format!(
            "cannot open the data in {}",
            self.settings.data_dir.display()
        )
    }

    pub async fn queue(&self) -> anyhow::Result<Arc<dyn EventQueue>> {
        let kafka = &self.settings.config.kafka;
        self.queue
            .get_or_try_init(|| async {
                Ok(match &kafka.brokers {
                    Some(brokers) => {
                        Arc::new(open_kafka(kafka, brokers).await?) as Arc<dyn EventQueue>
                    }
                    None => Arc::new(
                        sqlite::SqliteQueue::open_with(
                            &self.embedded(sqlite::QUEUE_FILE)?,
                            sqlite::ReplayWindow {
                                messages: self.settings.config.storage.queue_replay_messages,
                                bytes: self.settings.config.storage.queue_replay_bytes,
                            },
                        )
                        .await
                        .with_context(|| self.in_dir())?,
                    ),
                })
            })
            .await
            .cloned()
    }

    pub async fn meta(&self) -> anyhow::Result<Arc<dyn MetaStore>> {
        Ok(self.sql().await?)
    }

    /// Alert rules and their history, kept in the metadata database.
    pub async fn alerts(&self) -> anyhow::Result<Arc<dyn AlertStore>> {
        Ok(self.sql().await?)
    }

    /// Uploaded chunks and bundles, kept in the metadata database.
    pub async fn artifacts(&self) -> anyhow::Result<Arc<dyn ArtifactStore>> {
        Ok(self.sql().await?)
    }

    /// The blob store: `files/` in the data directory (`storage.dir`; in
    /// compose, the volume every service mounts).
    pub fn blobs(&self) -> anyhow::Result<BlobDir> {
        let dir = &self.settings.data_dir;
        make_private_dir(dir, self.settings.data_dir_is_own)?;
        let files = dir.join(BLOB_DIR);
        make_private_dir(&files, true)?;
        Ok(BlobDir::new(files))
    }

    /// The symbolicator in this process, over the artifact index and the
    /// blob store: what the symbolicator service serves, and what the
    /// ingest-consumer calls when `symbolicator.url` is unset.
    pub async fn local_symbolicator(&self) -> anyhow::Result<Arc<Symbolicator>> {
        self.symbolicator
            .get_or_try_init(|| async {
                let config = &self.settings.config;
                Ok(Arc::new(Symbolicator::new(
                    self.artifacts().await?,
                    self.blobs()?,
                    SymbolicatorOptions {
                        max_sourcemap_size: config.limits.max_sourcemap_size,
                        cache_bytes: config.symbolicator.cache_size,
                    },
                )))
            })
            .await
            .cloned()
    }

    /// What the ingest-consumer symbolicates with: the symbolicator
    /// service at `symbolicator.url` (the production topology), else the
    /// one in this process.
    pub async fn symbolicator(&self) -> anyhow::Result<Arc<dyn Symbolicate>> {
        Ok(match &self.settings.config.symbolicator.url {
            Some(url) => {
                Arc::new(RemoteSymbolicator::connect(url).context("bad symbolicator.url")?)
            }
            None => self.local_symbolicator().await?,
        })
    }

    /// The metadata database, on PostgreSQL at `database.url` or the
    /// embedded SQLite file.
    async fn sql(&self) -> anyhow::Result<Arc<SqlMetaStore>> {
        let database = &self.settings.config.database;
        self.meta
            .get_or_try_init(|| async {
                Ok(Arc::new(match database.postgres_url() {
                    Some(url) => SqlMetaStore::open_postgres(url).await.with_context(|| {
                        format!("cannot reach PostgreSQL at database.url ({})", redact(url))
                    })?,
                    None => SqlMetaStore::open_sqlite(&self.embedded(sqlite::META_FILE)?)
                        .await
                        .with_context(|| self.in_dir())?,
                }))
            })
            .await
            .cloned()
    }

    /// The event store itself, for the processes that write to it or
    /// delete from it.
    pub async fn event_store(&self) -> anyhow::Result<Arc<dyn EventStore>> {
        let clickhouse = &self.settings.config.clickhouse;
        self.events
            .get_or_try_init(|| async {
                Ok(match &clickhouse.url {
                    Some(url) => Arc::new(open_clickhouse(url).await?) as Arc<dyn EventStore>,
                    None => Arc::new(
                        sqlite::SqliteEventStore::open(&self.embedded(sqlite::EVENTS_FILE)?)
                            .await
                            .with_context(|| self.in_dir())?,
                    ),
                })
            })
            .await
            .cloned()
    }

    /// Where events are read: see [`EventsAccess`]. The embedded store is
    /// always read directly (it is a file beside the process).
    pub async fn event_reader(&self) -> anyhow::Result<Arc<dyn EventReader>> {
        let config = &self.settings.config;
        match (&config.clickhouse.url, self.access) {
            (Some(_), EventsAccess::ViaQueryService) => Ok(Arc::new(
                RemoteEventReader::connect(&config.query.url).context("bad query.url")?,
            )),
            _ => Ok(self.event_store().await?),
        }
    }

    pub async fn cache(&self) -> anyhow::Result<Arc<dyn Cache>> {
        let redis = &self.settings.config.redis;
        self.cache
            .get_or_try_init(|| async {
                Ok(match &redis.url {
                    Some(url) => Arc::new(RedisCache::open(url).await.with_context(|| {
                        format!("cannot reach Redis at redis.url ({})", redact(url))
                    })?) as Arc<dyn Cache>,
                    None => Arc::new(MemoryCache::new()),
                })
            })
            .await
            .cloned()
    }
}

/// The queue on the brokers of `kafka.brokers`, checked to answer.
pub async fn open_kafka(kafka: &Kafka, brokers: &str) -> anyhow::Result<KafkaQueue> {
    KafkaQueue::open(KafkaOptions {
        idempotence: kafka.idempotence,
        ..KafkaOptions::new(brokers)
    })
    .await
    .with_context(|| format!("cannot reach Kafka at kafka.brokers ({brokers})"))
}

/// The event store at `clickhouse.url`, checked to answer.
pub async fn open_clickhouse(url: &str) -> anyhow::Result<ClickHouseEventStore> {
    ClickHouseEventStore::open(url).await.with_context(|| {
        format!(
            "cannot reach ClickHouse at clickhouse.url ({})",
            redact(url)
        )
    })
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, rest)), Some(at)) => {
            let userinfo = &url[scheme.len() + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***{}", &rest[at - scheme.len() - 3..])
        }
        _ => url.to_owned(),
    }
}
