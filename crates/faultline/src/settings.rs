//! Finds the configuration and the stored data the same way for every
//! command: `--config FILE` / `FAULTLINE_CONFIG`, or `--data-dir DIR`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use faultline_config::{BackendUrls, Config, RawConfig};
use std::sync::Arc;

use faultline_storage::clickhouse::ClickHouseEventStore;
use faultline_storage::grpc::RemoteEventStore;
use faultline_storage::kafka::{KafkaOptions, KafkaQueue};
use faultline_storage::postgres::PgMetaStore;
use faultline_storage::redis::RedisCache;
use faultline_storage::{
    Backends, Cache, EventQueue, EventStore, MemoryCache, MetaStore, NoQueue, sqlite,
};

use crate::DataArgs;

pub const CONFIG_FILE: &str = "config.yml";

pub struct Settings {
    pub config: Config,
    pub data_dir: PathBuf,
}

/// The default data directory of a devserver.
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".faultline")
}

/// Loads config (file, then `FAULTLINE_*` variables) and decides where the
/// embedded data lives. `create` makes a missing data directory and its
/// config.yml with a fresh secret key (the devserver's first run).
pub fn load(args: &DataArgs, create: bool) -> anyhow::Result<Settings> {
    let (mut raw, data_dir) = match (&args.config, &args.data_dir) {
        (Some(path), _) => {
            let mut raw = RawConfig::from_file(path)?;
            raw.apply_env(std::env::vars());
            let dir = raw
                .get("storage.dir")
                .map(PathBuf::from)
                .or_else(|| args.data_dir.clone())
                .unwrap_or_else(|| path.parent().unwrap_or(Path::new(".")).to_path_buf());
            (raw, dir)
        }
        (None, dir) => {
            let dir = dir.clone().unwrap_or_else(default_data_dir);
            let config_path = dir.join(CONFIG_FILE);
            if !config_path.exists() {
                if !create {
                    bail!(
                        "no Faultline data in {} (start `faultline devserver --data-dir {}` first, or pass --config)",
                        dir.display(),
                        dir.display()
                    );
                }
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create data directory {}", dir.display()))?;
                let text = format!(
                    "# Faultline devserver configuration; every key can be overridden by FAULTLINE_* variables.\n\
                     system.secret-key: '{}'\n",
                    generate_secret_key()
                );
                std::fs::write(&config_path, text)
                    .with_context(|| format!("cannot write {}", config_path.display()))?;
            }
            (RawConfig::from_file(&config_path)?, dir)
        }
    };
    raw.apply_env(std::env::vars());
    let config = Config::from_raw(&raw)?;
    Ok(Settings { config, data_dir })
}

/// How a process reaches full events: the query service owns the event
/// store; web asks it over gRPC when the store is ClickHouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventsAccess {
    Direct,
    ViaQueryService,
}

/// Whether a process publishes or consumes at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueUse {
    Used,
    Unused,
}

/// Opens each store on its configured backend (the embedded SQLite file in
/// the data directory when its key is unset), checking each answers; an
/// unreachable one stops start-up naming its key.
pub async fn open_backends(
    settings: &Settings,
    access: EventsAccess,
    queue_use: QueueUse,
) -> anyhow::Result<Backends> {
    let urls = &settings.config.backends;
    let dir = &settings.data_dir;
    let embedded = |file: &str| -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        Ok(dir.join(file))
    };
    let in_dir = || format!("cannot open the data in {}", dir.display());

    let queue: Arc<dyn EventQueue> = match (&urls.kafka_brokers, queue_use) {
        (_, QueueUse::Unused) => Arc::new(NoQueue),
        (Some(brokers), QueueUse::Used) => Arc::new(open_kafka(urls, brokers).await?),
        (None, QueueUse::Used) => Arc::new(
            sqlite::SqliteQueue::open(&embedded(sqlite::QUEUE_FILE)?)
                .await
                .with_context(in_dir)?,
        ),
    };
    let meta: Arc<dyn MetaStore> = match settings
        .config
        .database_url
        .as_deref()
        .filter(|u| u.starts_with("postgres"))
    {
        Some(url) => Arc::new(PgMetaStore::open(url).await.with_context(|| {
            format!("cannot reach PostgreSQL at database.url ({})", redact(url))
        })?),
        None => Arc::new(
            sqlite::SqliteMetaStore::open(&embedded(sqlite::META_FILE)?)
                .await
                .with_context(in_dir)?,
        ),
    };
    let events: Arc<dyn EventStore> = match (&urls.clickhouse_url, access) {
        (Some(_), EventsAccess::ViaQueryService) => {
            Arc::new(RemoteEventStore::connect(&urls.query_url).context("bad query.url")?)
        }
        (Some(url), EventsAccess::Direct) => Arc::new(open_clickhouse(url).await?),
        (None, _) => Arc::new(
            sqlite::SqliteEventStore::open(&embedded(sqlite::EVENTS_FILE)?)
                .await
                .with_context(in_dir)?,
        ),
    };
    let cache: Arc<dyn Cache> = match &urls.redis_url {
        Some(url) => Arc::new(
            RedisCache::open(url)
                .await
                .with_context(|| format!("cannot reach Redis at redis.url ({})", redact(url)))?,
        ),
        None => Arc::new(MemoryCache::new()),
    };
    Ok(Backends {
        queue,
        meta,
        events,
        cache,
    })
}

/// The queue on the brokers of `kafka.brokers`, checked to answer.
pub async fn open_kafka(urls: &BackendUrls, brokers: &str) -> anyhow::Result<KafkaQueue> {
    KafkaQueue::open(KafkaOptions {
        idempotence: urls.kafka_idempotence,
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

/// 50 characters from a URL-safe alphabet, as Sentry's generate-secret-key.
pub fn generate_secret_key() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789!@#%^&*(-_=+)";
    let mut out = String::with_capacity(50);
    while out.len() < 50 {
        for byte in uuid::Uuid::new_v4().as_bytes() {
            if out.len() == 50 {
                break;
            }
            out.push(ALPHABET[*byte as usize % ALPHABET.len()] as char);
        }
    }
    out
}
