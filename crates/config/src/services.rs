//! What each service of `faultline run` needs beyond the stores: where it
//! listens (`<service>.bind`; `--bind` wins), query's addresses, and how
//! often and how far back cron applies retention.

use std::time::Duration;

use crate::{ConfigError, RawConfig};

/// A service whose only setting is its HTTP address: the one its routes are
/// on, or only `/health` and `/metrics` for consumers and cron.
#[derive(Debug, Clone)]
pub struct Listener {
    pub bind: String,
}

impl Listener {
    pub(crate) fn from_raw(raw: &RawConfig, key: &'static str) -> Result<Self, ConfigError> {
        Ok(Listener {
            bind: raw.address(key)?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Query {
    /// `query.url`: the gRPC address web reads events through.
    pub url: String,
    /// `/health` and `/metrics`.
    pub bind: String,
    /// The gRPC API that `query.url` points at.
    pub grpc_bind: String,
}

impl Query {
    pub(crate) fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        Ok(Query {
            url: raw
                .url("query.url", &["http"])?
                .expect("query.url has a default"),
            bind: raw.address("query.bind")?,
            grpc_bind: raw.address("query.grpc-bind")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Symbolicator {
    /// `symbolicator.url`: the gRPC address the ingest-consumer asks; unset,
    /// it symbolicates in its own process (the devserver).
    pub url: Option<String>,
    /// `/health` and `/metrics`.
    pub bind: String,
    /// The gRPC API (contracts §1: port 3021).
    pub grpc_bind: String,
    /// `symbolicator.cache-size`: bytes of parsed source maps kept.
    pub cache_size: u64,
}

impl Symbolicator {
    pub(crate) fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        Ok(Symbolicator {
            url: raw.url("symbolicator.url", &["http"])?,
            bind: raw.address("symbolicator.bind")?,
            grpc_bind: raw.address("symbolicator.grpc-bind")?,
            cache_size: raw.number_in("symbolicator.cache-size", 1024 * 1024..=1 << 40)?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Retention {
    /// `retention.days`: how much data cron keeps.
    pub days: u32,
    /// `retention.interval-minutes`: how often cron deletes what is older.
    pub interval: Duration,
}

impl Retention {
    pub(crate) fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        // A hundred years: far enough, and well inside the dates chrono
        // can subtract the period from.
        let days = raw.number_in("retention.days", 1..=36_500)?;
        let minutes: u32 = raw.number_in("retention.interval-minutes", 1..=1440)?;
        Ok(Retention {
            days,
            interval: Duration::from_secs(u64::from(minutes) * 60),
        })
    }
}
