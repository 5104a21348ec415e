//! Where the stores are: `database.*`, `clickhouse.*`, `kafka.*`,
//! `redis.*` and `storage.*`. Each unset server means its embedded store in
//! the data directory.

use std::path::PathBuf;
use std::time::Duration;

use crate::raw::is_host_port;
use crate::{ConfigError, RawConfig};

#[derive(Debug, Clone)]
pub struct Database {
    /// `database.url`: `postgres://…` for PostgreSQL; `sqlite:…` (accepted
    /// for Sentry-style files) and unset both mean the embedded store.
    pub url: Option<String>,
}

impl Database {
    pub(crate) fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        let url = raw.text("database.url").map(str::to_owned);
        if let Some(url) = &url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return Err(raw.invalid(
                "database.url",
                format!("`{url}` must be a sqlite: or postgres:// URL"),
            ));
        }
        Ok(Database { url })
    }

    /// The PostgreSQL URL, when the metadata lives there.
    pub fn postgres_url(&self) -> Option<&str> {
        self.url.as_deref().filter(|u| u.starts_with("postgres"))
    }
}

#[derive(Debug, Clone)]
pub struct ClickHouse {
    /// `clickhouse.url`: `http://[user[:password]@]host:8123[/database]`.
    pub url: Option<String>,
}

impl ClickHouse {
    pub(crate) fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        Ok(ClickHouse {
            url: raw.url("clickhouse.url", &["http", "https"])?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Kafka {
    /// `kafka.brokers`: `host:port[,host:port…]`.
    pub brokers: Option<String>,
    /// Partitions of each topic `faultline upgrade` creates.
    pub topic_partitions: i32,
    /// Replicas of each partition of those topics (at most the brokers).
    pub topic_replication_factor: i32,
    /// How long the brokers keep the messages of those topics.
    pub topic_retention: Duration,
    /// Idempotent producers (off only for brokers that mishandle them).
    pub idempotence: bool,
}

impl Kafka {
    pub(crate) fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        let brokers = raw.text("kafka.brokers").map(str::to_owned);
        if let Some(brokers) = &brokers
            && !brokers.split(',').all(|b| is_host_port(b.trim()))
        {
            return Err(raw.invalid(
                "kafka.brokers",
                format!("`{brokers}` is not a list of host:port"),
            ));
        }
        let hours: u32 = raw.number_in("kafka.topic-retention-hours", 1..=87_600)?;
        Ok(Kafka {
            brokers,
            topic_partitions: raw.number_in("kafka.topic-partitions", 1..=1024)?,
            // Kafka keeps the factor in 16 bits.
            topic_replication_factor: raw
                .number_in("kafka.topic-replication-factor", 1..=i32::from(i16::MAX))?,
            topic_retention: Duration::from_secs(u64::from(hours) * 3600),
            idempotence: raw.flag("kafka.idempotence")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Redis {
    /// `redis.url`: `redis://host:6379[/db]`; unset, process memory.
    pub url: Option<String>,
}

impl Redis {
    pub(crate) fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        Ok(Redis {
            url: raw.url("redis.url", &["redis", "rediss"])?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Storage {
    /// `storage.dir`: the data directory, when config.yml is given by path.
    pub dir: Option<PathBuf>,
    /// `storage.min-free`: below this many free bytes under the data
    /// directory, relay refuses events (503) until space returns; 0 turns
    /// the check off.
    pub min_free: u64,
    /// How much the embedded queue keeps of each topic after every consumer
    /// group has committed past it: at most this many messages…
    pub queue_replay_messages: u64,
    /// …and at most this many bytes of them.
    pub queue_replay_bytes: u64,
}

impl Storage {
    pub(crate) fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        Ok(Storage {
            dir: raw.text("storage.dir").map(PathBuf::from),
            min_free: raw.at_least("storage.min-free", 0u64)?,
            queue_replay_messages: raw.at_least("storage.queue-replay-messages", 0u64)?,
            queue_replay_bytes: raw.at_least("storage.queue-replay-bytes", 0u64)?,
        })
    }
}
